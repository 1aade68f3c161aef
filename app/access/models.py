"""Consents: the record of which coach each partner let see their couple's aggregates.

They live with the rules in ``app.access`` rather than with coaching, because who may see a
couple is decided here, below every domain that reads a couple's data.
"""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class CoachConsent(Base):
    """One partner's grant of a coach's access to their couple. Never deleted: a revocation
    sets ``revoked_at``, and granting again makes a new row, so the history is complete."""

    __tablename__ = "coach_consents"
    __table_args__ = (Index("ix_coach_consents_couple_coach", "couple_id", "coach_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    couple_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("couples.id", ondelete="CASCADE"))
    # Both ids survive an erased account as null: the history of consent stays.
    coach_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    partner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    scope: Mapped[str] = mapped_column(String(32))
    consent_version: Mapped[str] = mapped_column(String(32))
    granted_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    revoke_reason: Mapped[str | None] = mapped_column(String(32))
