import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

DEFAULT_DAY_START_HOUR = 4
DEFAULT_HALF_LIFE_HOURS = 72
MIN_HALF_LIFE_HOURS = 24
MAX_HALF_LIFE_HOURS = 30 * 24


class Couple(Base):
    __tablename__ = "couples"
    __table_args__ = (
        CheckConstraint("day_start_hour BETWEEN 0 AND 23", name="day_start_hour"),
        CheckConstraint(
            f"half_life_hours BETWEEN {MIN_HALF_LIFE_HOURS} AND {MAX_HALF_LIFE_HOURS}",
            name="half_life_hours",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    timezone: Mapped[str] = mapped_column(String(64))
    day_start_hour: Mapped[int] = mapped_column(default=DEFAULT_DAY_START_HOUR)
    half_life_hours: Mapped[int] = mapped_column(default=DEFAULT_HALF_LIFE_HOURS)
    # Offline sync: the couple's clock (the highest stamp given to any change of its data,
    # moved only under its lock), and the stamps of the row's own creation and last change.
    sync_clock: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_stamp: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    stamp: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class CoupleMember(Base):
    """A partner's place in a couple; left_at is set when the couple ends."""

    __tablename__ = "couple_members"
    __table_args__ = (
        # A partner is in at most one active couple, enforced by the database itself.
        Index(
            "uq_couple_members_active_user",
            "user_id",
            unique=True,
            sqlite_where=text("left_at IS NULL"),
            postgresql_where=text("left_at IS NULL"),
        ),
    )

    couple_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("couples.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    joined_at: Mapped[datetime]
    left_at: Mapped[datetime | None]


class CoupleInvite(Base):
    __tablename__ = "couple_invites"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    inviter_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None]
