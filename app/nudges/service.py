"""Nudge settings, devices, the in-app inbox, and the nudge a partner gets when a bid waits
for their answer."""

import uuid
from collections.abc import Sequence
from datetime import datetime, time

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.accounts.models import Role, User
from app.couples.models import CoupleMember
from app.errors import NotFound
from app.nudges import planner, texts
from app.nudges.models import NudgeSettings
from app.nudges.schemas import DeviceCreate, NudgeKinds, NudgeSettingsPublic, NudgeSettingsUpdate
from app.outbox import service as outbox
from app.outbox.models import Device, Notification
from app.pagination import decode_instant_cursor, encode_instant_cursor, page_of

DEFAULT_DAILY_TIME = time(19, 0)
DEFAULT_QUIET_START = time(22, 0)
DEFAULT_QUIET_END = time(7, 0)


def _schedule(prefs: NudgeSettings, user: User, now: datetime) -> None:
    """Set the next daily slot; coaches have none, daily nudges are about a couple."""
    prefs.next_daily_at = (
        planner.next_daily_slot(
            now, prefs.daily_time, prefs.quiet_start, prefs.quiet_end, user.timezone
        )
        if prefs.enabled and user.role == Role.partner
        else None
    )


def _defaults(user: User, now: datetime) -> NudgeSettings:
    prefs = NudgeSettings(
        user_id=user.id,
        enabled=True,
        discreet=True,
        daily_time=DEFAULT_DAILY_TIME,
        quiet_start=DEFAULT_QUIET_START,
        quiet_end=DEFAULT_QUIET_END,
        daily_suggestion=True,
        partner_bid=True,
        reconnect=True,
        weekly_summary=True,
        updated_at=now,
    )
    _schedule(prefs, user, now)
    return prefs


def create_defaults(session: Session, user: User, now: datetime) -> NudgeSettings:
    prefs = _defaults(user, now)
    session.add(prefs)
    session.flush()
    return prefs


def settings_of(session: Session, user: User, now: datetime) -> NudgeSettings:
    """The user's settings, or the defaults they would get (not stored: a read writes nothing)."""
    return session.get(NudgeSettings, user.id) or _defaults(user, now)


def to_public(prefs: NudgeSettings) -> NudgeSettingsPublic:
    return NudgeSettingsPublic(
        enabled=prefs.enabled,
        discreet=prefs.discreet,
        daily_time=prefs.daily_time,
        quiet_start=prefs.quiet_start,
        quiet_end=prefs.quiet_end,
        kinds=NudgeKinds(
            daily_suggestion=prefs.daily_suggestion,
            partner_bid=prefs.partner_bid,
            reconnect=prefs.reconnect,
            weekly_summary=prefs.weekly_summary,
        ),
        next_daily_at=prefs.next_daily_at,
    )


def replace_settings(
    session: Session, user: User, data: NudgeSettingsUpdate, now: datetime
) -> NudgeSettings:
    prefs = session.get(NudgeSettings, user.id) or create_defaults(session, user, now)
    prefs.enabled, prefs.discreet = data.enabled, data.discreet
    prefs.daily_time, prefs.quiet_start, prefs.quiet_end = (
        data.daily_time,
        data.quiet_start,
        data.quiet_end,
    )
    for kind, wanted in data.kinds.model_dump().items():
        setattr(prefs, kind, wanted)
    prefs.updated_at = now
    # Re-planning today is harmless: the daily dedupe key allows one per local date.
    _schedule(prefs, user, now)
    session.flush()
    return prefs


def reschedule(session: Session, user: User, now: datetime) -> None:
    """After the user's time zone changed."""
    prefs = session.get(NudgeSettings, user.id)
    if prefs is not None:
        _schedule(prefs, user, now)
        session.flush()


MAX_DEVICES_PER_USER = 10


def register_device(
    session: Session, user: User, data: DeviceCreate, now: datetime
) -> tuple[Device, bool]:
    """Upsert by token: a token seen before moves to this user and is enabled again."""
    device = session.scalars(select(Device).where(Device.token == data.token)).one_or_none()
    created = device is None
    if device is None:
        device = Device(token=data.token, created_at=now)
        session.add(device)
    device.user_id, device.provider, device.platform = user.id, data.provider, data.platform
    device.last_seen_at, device.disabled_at, device.disabled_reason = now, None, None
    session.flush()
    _forget_devices_beyond_the_limit(session, user, keep=device)
    return device, created


def _forget_devices_beyond_the_limit(session: Session, user: User, keep: Device) -> None:
    """A person has a few phones, not hundreds: past the limit the device seen longest ago
    is forgotten (never the one just registered), so the list stays short and a push never
    fans out without bound."""
    stale = session.scalars(
        select(Device)
        .where(Device.user_id == user.id, Device.id != keep.id)
        .order_by(Device.last_seen_at.desc(), Device.id.desc())
        .offset(MAX_DEVICES_PER_USER - 1)
    ).all()
    for device in stale:
        session.delete(device)
    session.flush()


def devices_of(session: Session, user: User) -> list[Device]:
    return list(
        session.scalars(
            select(Device).where(Device.user_id == user.id).order_by(Device.created_at, Device.id)
        )
    )


def delete_device(session: Session, user: User, device_id: uuid.UUID) -> None:
    device = session.get(Device, device_id)
    if device is None or device.user_id != user.id:
        raise NotFound("No device with this id.")
    session.delete(device)
    session.flush()


def inbox_query(user_id: uuid.UUID, now: datetime) -> Select[Notification]:
    """What the user's inbox holds: their nudges that are due, and were not dropped."""
    return select(Notification).where(
        Notification.user_id == user_id,
        Notification.due_at <= now,
        Notification.status != "dropped",
    )


def inbox(
    session: Session, user: User, now: datetime, *, limit: int, cursor: str | None
) -> tuple[list[Notification], str | None]:
    """The user's nudges that are due, newest first (one held back by quiet hours waits)."""
    query = inbox_query(user.id, now)
    if cursor is not None:
        after_at, after_id = decode_instant_cursor(cursor)
        query = query.where(
            (Notification.due_at < after_at)
            | ((Notification.due_at == after_at) & (Notification.id < after_id))
        )
    rows = list(
        session.scalars(
            query.order_by(Notification.due_at.desc(), Notification.id.desc()).limit(limit + 1)
        )
    )
    return page_of(rows, limit, lambda n: encode_instant_cursor(n.due_at, n.id))


def mark_read(
    session: Session, user: User, notification_id: uuid.UUID, now: datetime
) -> Notification:
    notification = session.scalars(
        select(Notification).where(Notification.id == notification_id).with_for_update()
    ).one_or_none()
    if notification is None or notification.user_id != user.id or notification.due_at > now:
        raise NotFound("No notification with this id.")
    if notification.read_at is None:
        notification.read_at = now
        # The row is locked first, then the inbox clock, as everywhere.
        notification.stamp = outbox.inbox_stamps(session, [user.id], now)[user.id]
        session.flush()
    return notification


def _partner_bid_key(recipient_id: uuid.UUID, bid_id: uuid.UUID) -> str:
    return f"partner_bid:{recipient_id}:{bid_id}"


def on_bid_logged(
    session: Session,
    *,
    bid_id: uuid.UUID,
    kind_label: str,
    author_name: str,
    recipient_id: uuid.UUID,
    now: datetime,
) -> None:
    """Tell the partner soon after a bid that waits for their answer (same transaction), in
    the partner's language: ``kind_label`` is the kind's English label, its message id."""
    found = session.execute(
        select(NudgeSettings, User.timezone, User.locale)
        .join(User, User.id == NudgeSettings.user_id)
        .where(NudgeSettings.user_id == recipient_id)
    ).one_or_none()
    if found is None:
        return
    prefs, tz, locale = found
    if not (prefs.enabled and prefs.partner_bid):
        return
    due = planner.release_time(now, prefs.quiet_start, prefs.quiet_end, tz)
    outbox.enqueue(
        session,
        [
            outbox.message(
                user_id=recipient_id,
                kind="partner_bid",
                dedupe_key=_partner_bid_key(recipient_id, bid_id),
                words=texts.partner_bid(author_name, kind_label, prefs.discreet, locale),
                due_at=due,
                now=now,
                data={"bid_id": str(bid_id)},
            )
        ],
    )


def forget_bids(
    session: Session,
    couple_id: uuid.UUID,
    author_id: uuid.UUID,
    bid_ids: Sequence[uuid.UUID],
    *,
    now: datetime,
) -> None:
    """Bids that are deleted take the partner's "your partner logged …" nudges with them,
    sent or not: they name the bid, and the author chose to take it back."""
    partner_ids = session.scalars(
        select(CoupleMember.user_id).where(
            CoupleMember.couple_id == couple_id, CoupleMember.user_id != author_id
        )
    ).all()
    keys = [_partner_bid_key(partner, bid) for partner in partner_ids for bid in bid_ids]
    outbox.withdraw(session, partner_ids, keys, now)
