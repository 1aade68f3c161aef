import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

MAX_TARGET = 14
STATUSES = ("pending", "active", "declined", "ended")


class CouplePractice(Base):
    """A couple's plan to keep a practice of the catalogue, proposed by a partner or by their
    consenting coach. It becomes active once both partners have accepted it: a partner's
    proposal counts as their own acceptance, a coach's needs both."""

    __tablename__ = "couple_practices"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        CheckConstraint(f"target BETWEEN 1 AND {MAX_TARGET}", name="target"),
        Index("ix_couple_practices_couple_status", "couple_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    couple_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("couples.id", ondelete="CASCADE"))
    practice: Mapped[str] = mapped_column(String(32))
    target: Mapped[int]
    # ISO weekdays the practice is kept on, as digits ("135" is Monday, Wednesday, Friday).
    days_of_week: Mapped[str] = mapped_column(String(7))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    # Who proposed it and who accepted first survive an erased account as null.
    proposed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    coach_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    accepted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    ended_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
