import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

# Bumped whenever the words a partner agrees to when granting access change.
CONSENT_TEXT_VERSION = "2026-11-24"
CONSENT_SCOPE = "aggregate_progress"


class CoachProfile(Base):
    """A coach's shareable code; rotating it makes the old one stop working."""

    __tablename__ = "coach_profiles"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime]
    code_rotated_at: Mapped[datetime]


class CoachAccess(Base):
    """A coach's read of a couple's data, shown to both partners."""

    __tablename__ = "coach_access_log"
    __table_args__ = (Index("ix_coach_access_log_couple_at", "couple_id", "at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    couple_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("couples.id", ondelete="CASCADE"))
    coach_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    view: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
