"""Failure-based rate limits kept in the database, so they hold across API replicas.

A key (``login:<email>``, ``join:<user id>``, …) may fail ``free_failures`` times within
``window``; each failure after that blocks the key for an exponentially growing time,
capped at ``max_block``. A success resets the key.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, insert_for
from app.errors import TooManyRequests


class RateLimit(Base):
    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime]
    blocked_until: Mapped[datetime | None]


@dataclass(frozen=True)
class Policy:
    free_failures: int
    first_block: timedelta
    max_block: timedelta
    window: timedelta
    message: str

    def block_after(self, failures: int) -> timedelta | None:
        over = failures - self.free_failures
        if over < 0:
            return None
        block: timedelta = min(self.first_block * (2**over), self.max_block)
        return block


def key(purpose: str, subject: str) -> str:
    """A fixed-length key that keeps no email or code in the table."""
    return f"{purpose}:{hashlib.sha256(subject.encode()).hexdigest()}"


def check(session: Session, key: str, policy: Policy, now: datetime) -> None:
    row = session.get(RateLimit, key)
    if row is not None and row.blocked_until is not None and row.blocked_until > now:
        wait = int((row.blocked_until - now).total_seconds() + 0.999)
        raise TooManyRequests(
            f"{policy.message} Try again in {wait} seconds.", retry_after_seconds=wait
        )


def record_failure(session: Session, key: str, policy: Policy, now: datetime) -> None:
    session.execute(
        insert_for(session)(RateLimit)
        .values(key=key, failures=0, window_started_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    # The row lock makes concurrent failures on PostgreSQL count one by one.
    row = session.scalars(select(RateLimit).where(RateLimit.key == key).with_for_update()).one()
    if now - row.window_started_at > policy.window:
        row.failures, row.window_started_at, row.blocked_until = 0, now, None
    row.failures += 1
    block = policy.block_after(row.failures)
    if block is not None:
        row.blocked_until = now + block
    session.flush()


def reset(session: Session, key: str) -> None:
    session.execute(delete(RateLimit).where(RateLimit.key == key))


def purge_expired(session: Session, now: datetime, older_than: timedelta) -> int:
    """Forget keys that are neither blocked nor inside a recent window."""
    result = session.execute(
        delete(RateLimit).where(
            RateLimit.window_started_at < now - older_than,
            (RateLimit.blocked_until.is_(None)) | (RateLimit.blocked_until < now),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
