"""GET /v1/me/export: everything Tend stores about a user and their couples' shared history,
as one JSON document (GDPR art. 15 and 20).

Rows are exported column by column, so a column added later is exported without anyone
remembering to; what is left out is listed here with the reason. Couple data is read
through app.access like every other read of relationship data.
"""

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import inspect, or_, select
from sqlalchemy.orm import Session

from app import access
from app.access.models import CoachConsent
from app.accounts.models import EmailToken, RefreshToken, User
from app.bank.models import CoupleDay
from app.bids import service as bids_service
from app.bids.models import Bid
from app.care import service as care
from app.coaching.models import CoachAccess, CoachProfile
from app.couples.models import Couple, CoupleInvite, CoupleMember
from app.db import Base
from app.keystore import KeyStore
from app.nudges.models import NudgeSettings
from app.outbox.models import Device, Mail, Notification, PushTicket
from app.practices.models import CouplePractice

FORMAT = "tend-export/1"

# Columns never exported: secrets, or values that only serve the machinery.
HIDDEN_COLUMNS: Mapping[str, frozenset[str]] = {
    "users": frozenset({"password_hash"}),  # a secret, even hashed
    "refresh_tokens": frozenset({"token_hash"}),  # a credential
    "couple_invites": frozenset({"code_hash"}),  # a credential
    "devices": frozenset({"token"}),  # lets anyone push to the phone: a hint is given instead
    # A digest of fields that are exported as they are, and a sync stamp.
    "bids": frozenset({"request_hash", "stamp"}),
    "notifications": frozenset({"claim_id", "claimed_until", "stamp"}),  # a worker's lease
    # A waiting mail's one-time link would let the export's reader verify a new address
    # without owning it; the lease only serves the worker.
    "mails": frozenset({"link", "claim_id", "claimed_until"}),
    "email_tokens": frozenset({"token_hash"}),  # a credential
    # Offline sync's change stamps: counters that order changes, nothing about a person.
    "couples": frozenset({"sync_clock", "created_stamp", "stamp"}),
}

# Tables that hold nothing about a person, with the reason; every other table is exported.
NOT_EXPORTED: Mapping[str, str] = {
    "inbox_clocks": (
        "one counter per person that orders changes to their inbox for offline sync; it "
        "says nothing about them"
    ),
    "bid_tombstones": (
        "the ids of bids already deleted, kept 90 days so that a replayed create cannot bring "
        "one back and phones drop them at their next sync; the bids themselves are gone, and "
        "an erased partner's ids must not outlive their account in anyone's export"
    ),
    "notification_tombstones": (
        "the ids of notifications already deleted, kept 90 days so that phones drop them "
        "at their next sync; the notifications themselves are gone"
    ),
    "care_profiles": (
        "exported opened, under care: the sealed columns would mean nothing to the person, "
        "and only the person's own export opens them"
    ),
    "person_keys": (
        "the person's data key, wrapped: a secret like a password hash; in an export it would "
        "open the care data for whoever holds the file"
    ),
    "rate_limits": (
        "counters of failed attempts keyed by a one-way hash, kept at most an hour after "
        "the last failure; they hold no content and identify nobody by themselves"
    ),
}


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def row(obj: Base) -> dict[str, Any]:
    table = obj.__table__.name  # type: ignore[attr-defined]
    hidden = HIDDEN_COLUMNS.get(table, frozenset())
    return {
        column.key: _value(getattr(obj, column.key))
        for column in inspect(type(obj)).column_attrs
        if column.key not in hidden
    }


def rows(objects: Iterable[Base]) -> list[dict[str, Any]]:
    return [row(obj) for obj in objects]


def _device(device: Device) -> dict[str, Any]:
    return {**row(device), "token_hint": "…" + device.token[-4:]}


def _couple(session: Session, couple: Couple, user_id: uuid.UUID) -> dict[str, Any]:
    members = session.scalars(select(CoupleMember).where(CoupleMember.couple_id == couple.id)).all()
    partner_ids = [m.user_id for m in members if m.user_id != user_id]
    partners = session.scalars(select(User).where(User.id.in_(partner_ids))).all()
    bids = session.scalars(
        bids_service.readable_bids(user_id)
        .where(Bid.couple_id == couple.id)
        .order_by(Bid.occurred_at, Bid.id)
    ).all()
    days = session.scalars(
        select(CoupleDay).where(CoupleDay.couple_id == couple.id).order_by(CoupleDay.day)
    ).all()
    consents = session.scalars(
        select(CoachConsent)
        .where(CoachConsent.couple_id == couple.id)
        .order_by(CoachConsent.granted_at)
    ).all()
    practices = session.scalars(
        select(CouplePractice)
        .where(CouplePractice.couple_id == couple.id)
        .order_by(CouplePractice.created_at, CouplePractice.id)
    ).all()
    coach_reads = session.scalars(
        select(CoachAccess).where(CoachAccess.couple_id == couple.id).order_by(CoachAccess.at)
    ).all()
    return {
        **row(couple),
        "members": rows(members),
        # Of a partner, only what they show inside the couple: never their email or settings.
        "partners": [{"id": str(p.id), "display_name": p.display_name} for p in partners],
        "bids": rows(bids),
        "days": rows(days),
        "coach_consents": rows(consents),
        "practices": rows(practices),
        "coach_access_log": rows(coach_reads),
    }


def export(session: Session, user: User, *, now: datetime, keys: KeyStore) -> dict[str, Any]:
    couples = session.scalars(access.readable_couples(user.id).order_by(Couple.created_at)).all()
    notifications = session.scalars(
        select(Notification).where(Notification.user_id == user.id).order_by(Notification.due_at)
    ).all()
    tickets = session.scalars(
        select(PushTicket)
        .where(PushTicket.notification_id.in_([n.id for n in notifications]))
        .order_by(PushTicket.created_at)
    ).all()
    profile = session.get(CoachProfile, user.id)
    return {
        "format": FORMAT,
        "exported_at": now.isoformat(),
        "account": row(user),
        "sign_ins": rows(
            session.scalars(
                select(RefreshToken)
                .where(RefreshToken.user_id == user.id)
                .order_by(RefreshToken.created_at)
            )
        ),
        "email_links": rows(
            session.scalars(
                select(EmailToken)
                .where(EmailToken.user_id == user.id)
                .order_by(EmailToken.created_at, EmailToken.id)
            )
        ),
        "mails": rows(
            session.scalars(
                select(Mail).where(Mail.user_id == user.id).order_by(Mail.created_at, Mail.id)
            )
        ),
        "nudge_settings": _optional(session.get(NudgeSettings, user.id)),
        "care": care.export_of(session, keys, user.id),
        "devices": [
            _device(d)
            for d in session.scalars(
                select(Device).where(Device.user_id == user.id).order_by(Device.created_at)
            )
        ],
        "notifications": rows(notifications),
        "push_tickets": rows(tickets),
        "invites": rows(
            session.scalars(
                select(CoupleInvite)
                .where(or_(CoupleInvite.inviter_id == user.id, CoupleInvite.used_by_id == user.id))
                .order_by(CoupleInvite.created_at)
            )
        ),
        "couples": [_couple(session, couple, user.id) for couple in couples],
        "coach_profile": _optional(profile),
        "coaching": {
            "consents_received": rows(
                session.scalars(
                    select(CoachConsent)
                    .where(CoachConsent.coach_id == user.id)
                    .order_by(CoachConsent.granted_at)
                )
            ),
            # Practices this coach proposed: which couple, what and when, nothing of its bids.
            "practices_proposed": rows(
                session.scalars(
                    select(CouplePractice)
                    .where(CouplePractice.coach_id == user.id)
                    .order_by(CouplePractice.created_at, CouplePractice.id)
                )
            ),
            "reads": rows(
                session.scalars(
                    select(CoachAccess)
                    .where(CoachAccess.coach_id == user.id)
                    .order_by(CoachAccess.at)
                )
            ),
        },
    }


def _optional(obj: Base | None) -> dict[str, Any] | None:
    return None if obj is None else row(obj)
