"""Every model, imported in one place so that Alembic and the tests see the whole schema."""

from app.access.models import CoachConsent
from app.accounts.models import EmailToken, RefreshToken, User
from app.bank.models import CoupleDay
from app.bids.models import Bid, BidTombstone
from app.care.models import CareProfile
from app.coaching.models import CoachAccess, CoachProfile
from app.couples.models import Couple, CoupleInvite, CoupleMember
from app.db import Base
from app.keystore import PersonKey
from app.nudges.models import NudgeSettings
from app.outbox.models import (
    Device,
    InboxClock,
    Mail,
    Notification,
    NotificationTombstone,
    PushTicket,
)
from app.practices.models import CouplePractice
from app.ratelimit import RateLimit

__all__ = [
    "Base",
    "Bid",
    "BidTombstone",
    "CareProfile",
    "CoachAccess",
    "CoachConsent",
    "CoachProfile",
    "Couple",
    "CoupleDay",
    "CoupleInvite",
    "CoupleMember",
    "CouplePractice",
    "Device",
    "EmailToken",
    "InboxClock",
    "Mail",
    "Notification",
    "NotificationTombstone",
    "NudgeSettings",
    "PersonKey",
    "PushTicket",
    "RateLimit",
    "RefreshToken",
    "User",
]
