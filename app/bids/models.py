import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

NOTE_MAX_LENGTH = 1000
MAX_DURATION_SECONDS = 12 * 60 * 60


class Bid(Base):
    """One bid for connection. Its id is made by the phone, so an offline sync can replay."""

    __tablename__ = "bids"
    __table_args__ = (
        CheckConstraint("response IN ('pending', 'toward', 'away', 'against')", name="response"),
        CheckConstraint(
            f"duration_seconds IS NULL OR duration_seconds BETWEEN 0 AND {MAX_DURATION_SECONDS}",
            name="duration_seconds",
        ),
        Index("ix_bids_couple_occurred", "couple_id", "occurred_at", "id"),
        Index("ix_bids_couple_stamp", "couple_id", "stamp"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    couple_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("couples.id", ondelete="CASCADE"))
    logged_by_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    initiator_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime]
    duration_seconds: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(Text)
    response: Mapped[str] = mapped_column(String(8), default="pending")
    responded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    responded_at: Mapped[datetime | None]
    deposit: Mapped[float]
    # SHA-256 of the create request as sent: a replay with the same content is recognised.
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The couple's sync stamp of its last change (``app.couples.service.next_stamp``).
    stamp: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class BidTombstone(Base):
    """A deleted bid's id, so that a phone replaying its offline create cannot revive it."""

    __tablename__ = "bid_tombstones"
    __table_args__ = (Index("ix_bid_tombstones_couple_stamp", "couple_id", "stamp"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    couple_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("couples.id", ondelete="CASCADE"), index=True
    )
    deleted_at: Mapped[datetime]
    stamp: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
