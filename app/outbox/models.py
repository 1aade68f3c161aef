"""The outbox's tables: messages to send (``notifications``, which are also the in-app
inbox, and ``mails``), the devices they go to, and the receipts a push provider gives
back."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (CheckConstraint("provider IN ('expo', 'fcm', 'webhook')", name="provider"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(16))
    token: Mapped[str] = mapped_column(String(512), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(200))


class Notification(Base):
    """One nudge: the in-app inbox entry and the outbox row the dispatcher sends.

    ``dedupe_key`` is unique, so creating the same nudge twice is harmless.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'sending', 'delivered', 'dead', 'dropped')", name="status"
        ),
        Index("ix_notifications_due", "status", "next_attempt_at"),
        Index("ix_notifications_user_created", "user_id", "created_at", "id"),
        Index("ix_notifications_user_stamp", "user_id", "stamp"),
        Index("ix_notifications_user_due", "user_id", "due_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    # What the inbox shows, and what a lock screen may show (discreet unless turned off).
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    push_title: Mapped[str] = mapped_column(String(200))
    push_body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The suggested gesture, so that none repeats within two weeks.
    gesture: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    claim_id: Mapped[uuid.UUID | None]
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    # The user's inbox stamp of its creation or last change seen by a phone (``read_at``).
    stamp: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class InboxClock(Base):
    """A person's inbox clock for offline sync: the highest stamp given to a change of their
    notifications, moved under this row's lock, like a couple's clock for its bids."""

    __tablename__ = "inbox_clocks"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    clock: Mapped[int] = mapped_column(BigInteger, default=0)


class NotificationTombstone(Base):
    """A notification taken back (its bid was deleted, or it was never sent), so that a
    phone's inbox drops it at the next sync."""

    __tablename__ = "notification_tombstones"
    __table_args__ = (Index("ix_notification_tombstones_user_stamp", "user_id", "stamp"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    deleted_at: Mapped[datetime] = mapped_column(index=True)
    stamp: Mapped[int] = mapped_column(BigInteger)


class PushTicket(Base):
    """A message the provider accepted for one device; its receipt is checked later."""

    __tablename__ = "push_tickets"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    ticket: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    receipt_checked_at: Mapped[datetime | None] = mapped_column(index=True)
    receipt_status: Mapped[str | None] = mapped_column(String(32))


class Mail(Base):
    """One mail: a row type of the outbox beside ``notifications``, sent by the same
    dispatcher with the same claim, backoff and outcome record, but kept in a table of
    its own so that it never shows in the in-app inbox and carries what only a mail has.

    ``link`` holds the one-time link (its token is otherwise stored only hashed) while the
    mail waits, and is cleared once the mail is delivered or dead; the bodies carry
    ``{link}`` where it goes. ``dedupe_key`` is unique, so enqueueing one twice is harmless.
    """

    __tablename__ = "mails"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sending', 'delivered', 'dead')", name="status"),
        Index("ix_mails_due", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    claim_id: Mapped[uuid.UUID | None]
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None]
