import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class Role(StrEnum):
    partner = "partner"
    coach = "coach"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('partner', 'coach')", name="role"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Stored lower-cased: emails are unique case-insensitively.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(50))
    timezone: Mapped[str] = mapped_column(String(64))
    # A supported BCP 47 language (app.i18n): what Tend writes to this person is in it.
    locale: Mapped[str] = mapped_column(String(35), default="en", server_default="en")
    role: Mapped[str] = mapped_column(String(16), default=Role.partner.value)
    # Carried in every access token; bumping it (password change) ends them all at once.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # Set when a link mailed to ``email`` came back (verification, or a password reset).
    email_verified_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class RefreshToken(Base):
    """One link in a chain of rotated refresh tokens; a chain is a family (one sign-in)."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class TokenPurpose(StrEnum):
    verify = "verify"  # the account's own address
    change = "change"  # a new address, applied when its link comes back
    reset = "reset"  # a forgotten password


class EmailToken(Base):
    """A one-time token mailed as a link: stored as SHA-256 only, single use, expiring.

    ``email`` is the address the link was sent to; it must still be the one the token is
    about when the link comes back. A newer token of one purpose voids the older ones.
    """

    __tablename__ = "email_tokens"
    __table_args__ = (
        CheckConstraint("purpose IN ('verify', 'change', 'reset')", name="purpose"),
        Index("ix_email_tokens_user_purpose", "user_id", "purpose"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))
    email: Mapped[str] = mapped_column(String(254))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]
