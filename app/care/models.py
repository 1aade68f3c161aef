import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class CareProfile(Base):
    """A person's care settings and hand-marked days, sealed with their key (app.crypto);
    a row exists only while care is on. Only the consent record is in the clear: when and
    to which version of the text the person agreed."""

    __tablename__ = "care_profiles"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    sealed_settings: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_days: Mapped[bytes] = mapped_column(LargeBinary)
    consent_version: Mapped[str] = mapped_column(String(32))
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
