"""Removes what has expired: refresh tokens, mailed link tokens, sent mails, invites,
old rate-limit keys, and the tombstones of deletions older than offline sync remembers
them (a pull from before gets the full set instead)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from app import ratelimit
from app.accounts.models import EmailToken, RefreshToken
from app.bids.models import BidTombstone
from app.couples.models import CoupleInvite
from app.outbox.models import Mail, NotificationTombstone

# Used and revoked tokens are kept a while so that reuse is still recognised as theft.
KEEP_SPENT_TOKENS = timedelta(days=7)
# A sent or dead mail names an address; a month is enough to answer "did it go out?".
KEEP_SENT_MAILS = timedelta(days=30)


@dataclass(frozen=True)
class Purged:
    refresh_tokens: int
    email_tokens: int
    mails: int
    invites: int
    rate_limits: int
    bid_tombstones: int
    notification_tombstones: int


def purge(session: Session, now: datetime, *, keep_tombstones: timedelta) -> Purged:
    tokens = session.execute(
        delete(RefreshToken).where(
            or_(
                RefreshToken.expires_at < now,
                RefreshToken.revoked_at < now - KEEP_SPENT_TOKENS,
            )
        )
    )
    # Kept a week past expiry so a late click is told "expired", not "not valid".
    email_tokens = session.execute(
        delete(EmailToken).where(EmailToken.expires_at < now - KEEP_SPENT_TOKENS)
    )
    mails = session.execute(
        delete(Mail).where(
            Mail.status.in_(("delivered", "dead")), Mail.created_at < now - KEEP_SENT_MAILS
        )
    )
    invites = session.execute(
        delete(CoupleInvite).where(
            CoupleInvite.used_at.is_(None), CoupleInvite.expires_at < now - timedelta(days=1)
        )
    )
    tombstones = session.execute(
        delete(BidTombstone).where(BidTombstone.deleted_at < now - keep_tombstones)
    )
    taken_back = session.execute(
        delete(NotificationTombstone).where(
            NotificationTombstone.deleted_at < now - keep_tombstones
        )
    )
    limits = ratelimit.purge_expired(session, now, older_than=timedelta(days=1))
    return Purged(
        refresh_tokens=int(getattr(tokens, "rowcount", 0) or 0),
        email_tokens=int(getattr(email_tokens, "rowcount", 0) or 0),
        mails=int(getattr(mails, "rowcount", 0) or 0),
        invites=int(getattr(invites, "rowcount", 0) or 0),
        rate_limits=limits,
        bid_tombstones=int(getattr(tombstones, "rowcount", 0) or 0),
        notification_tombstones=int(getattr(taken_back, "rowcount", 0) or 0),
    )
