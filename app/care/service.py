"""Care settings, sealed per person, and what they mean today for the person and partner.

Values are sealed with the person's key (app.keystore) before they reach the database and
opened only here; nothing here logs a value. Turning care off deletes the row and the key.
"""

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app import crypto
from app.access import current_partner_ids
from app.accounts.models import User
from app.care import consent, windows
from app.care.models import CareProfile
from app.care.schemas import CareDaysIn, CareSettingsIn, CycleSettings, SteadySettings
from app.db import among
from app.errors import AppError, Conflict, Invalid
from app.i18n import N_
from app.keystore import KeyStore

log = logging.getLogger(__name__)

MAX_MARK_AHEAD_DAYS = 366
SETTINGS, DAYS = "care.settings", "care.days"


class CareUnreadable(AppError):
    status = 409
    slug = "care-unreadable"
    title = N_("Care data cannot be opened")


@dataclass(frozen=True)
class Care:
    """A person's opened care settings."""

    mode: str
    share_with_partner: bool
    cycle: CycleSettings | None
    steady: SteadySettings | None
    marked: frozenset[date]
    consented_at: datetime
    consent_version: str

    def plan(self) -> windows.Plan:
        cycle = None
        if self.cycle is not None:
            cycle = windows.Cycle(
                tuple(self.cycle.period_starts),
                self.cycle.typical_length_days,
                self.cycle.days_before,
                self.cycle.days_after,
            )
        weekdays = frozenset(self.steady.weekdays) if self.steady else frozenset()
        return windows.Plan(self.mode, cycle, weekdays, self.marked)


def _settings(source: "Care | CareSettingsIn") -> dict[str, Any]:
    """The settings document that is sealed (and exported), from what a person sent or has."""
    return {
        "mode": source.mode,
        "share_with_partner": source.share_with_partner,
        "cycle": source.cycle.model_dump(mode="json") if source.cycle else None,
        "steady": source.steady.model_dump(mode="json") if source.steady else None,
    }


def local_today(timezone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


def _seal(key: bytes, user_id: uuid.UUID, field: str, value: Any) -> bytes:
    return crypto.seal(
        key, json.dumps(value, sort_keys=True).encode(), user_id=user_id, field=field
    )


def _open(key: bytes, user_id: uuid.UUID, field: str, sealed: bytes) -> Any:
    return json.loads(crypto.open_sealed(key, sealed, user_id=user_id, field=field))


def _opened(keys: KeyStore, session: Session, profile: CareProfile) -> Care:
    key = keys.key(session, profile.user_id)
    settings = _open(key, profile.user_id, SETTINGS, profile.sealed_settings)
    marked = _open(key, profile.user_id, DAYS, profile.sealed_days)
    return Care(
        mode=settings["mode"],
        share_with_partner=settings["share_with_partner"],
        cycle=CycleSettings.model_validate(settings["cycle"]) if settings["cycle"] else None,
        steady=SteadySettings.model_validate(settings["steady"]) if settings["steady"] else None,
        marked=frozenset(date.fromisoformat(d) for d in marked),
        consented_at=profile.consented_at,
        consent_version=profile.consent_version,
    )


def care_of(session: Session, keys: KeyStore, user_id: uuid.UUID) -> Care | None:
    """The person's care settings, or None while care is off."""
    profile = session.get(CareProfile, user_id)
    if profile is None:
        return None
    try:
        return _opened(keys, session, profile)
    except crypto.Undecryptable as exc:
        # Said without any value: only that this person's care data cannot be opened.
        log.warning("care data cannot be opened (data key changed or missing)")
        raise CareUnreadable(
            "Your care settings cannot be opened (the server's data key changed). "
            "Turn care off and on again to start afresh."
        ) from exc


def _store(
    session: Session,
    keys: KeyStore,
    user: User,
    profile: CareProfile | None,
    settings: dict[str, Any],
    marked: set[date],
    now: datetime,
) -> None:
    key = keys.key(session, user.id, now=now)
    sealed_settings = _seal(key, user.id, SETTINGS, settings)
    sealed_days = _seal(key, user.id, DAYS, sorted(d.isoformat() for d in marked))
    if profile is None:
        session.add(
            CareProfile(
                user_id=user.id,
                sealed_settings=sealed_settings,
                sealed_days=sealed_days,
                consent_version=consent.VERSION,
                consented_at=now,
                updated_at=now,
            )
        )
    else:
        profile.sealed_settings, profile.sealed_days = sealed_settings, sealed_days
        profile.updated_at = now
    session.flush()


def put_settings(
    session: Session, keys: KeyStore, user: User, data: CareSettingsIn, now: datetime
) -> Care | None:
    """Turn care on (recording consent the first time), change it, or turn it off (which
    deletes every care record and the person's key)."""
    if not data.enabled:
        turn_off(session, keys, user.id)
        return None
    today = local_today(user.timezone, now)
    if data.cycle is not None:
        cycle = windows.Cycle(tuple(data.cycle.period_starts), data.cycle.typical_length_days)
        problems = windows.cycle_problems(cycle, today)
        if problems:
            raise Invalid("; ".join(problems) + ".", field="cycle.period_starts")
    profile = session.get(CareProfile, user.id)
    marked: set[date] = set()
    if profile is not None:
        existing = care_of(session, keys, user.id)
        marked = set(existing.marked) if existing else set()
    settings = _settings(data)
    _store(session, keys, user, profile, settings, _current(marked, today), now)
    return care_of(session, keys, user.id)


def _current(marked: set[date], today: date) -> set[date]:
    return {d for d in marked if d >= today}


def turn_off(session: Session, keys: KeyStore, user_id: uuid.UUID) -> None:
    session.execute(delete(CareProfile).where(CareProfile.user_id == user_id))
    keys.destroy(session, user_id)


def _span(data: CareDaysIn, today: date) -> list[date]:
    until = data.until or data.date
    if until < data.date:
        raise Invalid("until must be on or after date.", field="until")
    days = (until - data.date).days + 1
    if days > windows.MAX_MARKED_SPAN_DAYS:
        raise Invalid(
            f"A range marks at most {windows.MAX_MARKED_SPAN_DAYS} days; this one has {days}.",
            field="until",
        )
    if data.date < today:
        raise Invalid("Care days are marked from today on.", field="date")
    if until > today + timedelta(days=MAX_MARK_AHEAD_DAYS):
        raise Invalid(f"Care days can be marked up to {MAX_MARK_AHEAD_DAYS} days ahead.")
    return [data.date + timedelta(days=i) for i in range(days)]


def mark_days(
    session: Session, keys: KeyStore, user: User, data: CareDaysIn, now: datetime, *, add: bool
) -> Care:
    care = care_of(session, keys, user.id)
    if care is None:
        raise Conflict("Care is off: turn it on (PUT /v1/me/care) before marking days.")
    today = local_today(user.timezone, now)
    span = set(_span(data, today))
    marked = (set(care.marked) | span) if add else (set(care.marked) - span)
    settings = _settings(care)
    profile = session.get(CareProfile, user.id)
    _store(session, keys, user, profile, settings, _current(marked, today), now)
    opened = care_of(session, keys, user.id)
    assert opened is not None
    return opened


def status_of(care: Care | None, timezone: str, now: datetime) -> windows.Status:
    if care is None:
        return windows.Status(False, None, None)
    return windows.status(care.plan(), local_today(timezone, now))


@dataclass(frozen=True)
class Gentle:
    """What a partner may learn: a shared window runs, and until when."""

    partner_id: uuid.UUID
    until: date
    since: date


def shared_windows(
    session: Session, keys: KeyStore, people: dict[uuid.UUID, str], now: datetime
) -> dict[uuid.UUID, Gentle]:
    """For these people (id: time zone), those sharing a care window that runs today."""
    if not people:
        return {}
    found: dict[uuid.UUID, Gentle] = {}
    profiles = session.scalars(
        select(CareProfile).where(among(session, CareProfile.user_id, list(people)))
    ).all()
    for profile in profiles:
        try:
            care = _opened(keys, session, profile)
        except crypto.Undecryptable:
            log.warning("care data cannot be opened (data key changed or missing)")
            continue
        if not care.share_with_partner:
            continue
        state = status_of(care, people[profile.user_id], now)
        if state.in_window and state.window is not None:
            found[profile.user_id] = Gentle(profile.user_id, state.window.end, state.window.start)
    return found


def partner_view(session: Session, keys: KeyStore, user: User, now: datetime) -> Gentle | None:
    """The running shared window of the caller's partner, if any: nothing else. Not sharing,
    care off and no window all look the same."""
    partners = session.execute(
        select(User.id, User.timezone).where(User.id.in_(current_partner_ids(user.id)))
    ).all()
    gentle = shared_windows(session, keys, {p.id: p.timezone for p in partners}, now)
    return next(iter(gentle.values()), None)


def export_of(session: Session, keys: KeyStore, user_id: uuid.UUID) -> dict[str, Any] | None:
    """The person's own care data, opened, for their export (never the partner's)."""
    try:
        care = care_of(session, keys, user_id)
    except CareUnreadable:
        return {"unreadable": True}
    if care is None:
        return None
    return {
        **_settings(care),
        "marked_days": sorted(d.isoformat() for d in care.marked),
        "consented_at": care.consented_at.isoformat(),
        "consent_version": care.consent_version,
    }


def erase(session: Session, keys: KeyStore, user_id: uuid.UUID) -> None:
    """An erased account's care data: its key destroyed (so copies stay sealed), rows gone."""
    turn_off(session, keys, user_id)
