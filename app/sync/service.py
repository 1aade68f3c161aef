"""Offline sync with WatermelonDB's protocol: pull what changed since a phone's last pull,
push what the phone changed, through the same services as the REST endpoints.

Every change to a couple's bids (and to the couple's row) is stamped from the couple's
clock under the couple's lock, and every change to a person's inbox from their inbox
clock under its lock (``app.couples.service.next_stamp``, ``app.outbox.service``). A pull
takes both locks, so it waits for any writer that has taken a stamp to commit; it answers
a timestamp no lower than every stamp it saw, and moves both clocks to it, so whatever
commits later gets a higher stamp and reaches the next pull. Stamps are milliseconds since
the epoch, pushed up by one where two changes share a millisecond.
"""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.bids import service as bids
from app.bids.models import Bid, BidTombstone
from app.bids.schemas import BidCreate, BidUpdate
from app.clock import epoch_ms, from_epoch_ms
from app.config import Settings
from app.couples import service as couples
from app.couples.models import Couple, CoupleMember
from app.errors import AppError, Conflict, Invalid
from app.i18n import N_
from app.nudges import service as nudges
from app.outbox import service as outbox
from app.outbox.models import InboxClock, Notification, NotificationTombstone
from app.sync.schemas import PushChanges, PushedBid

# A notification that became due since the last pull is sent again if it became due this
# close before it, against clocks of different processes that disagree by that much.
DUE_MARGIN = timedelta(minutes=1)
# What a bid's owner may change, and what either partner may (the answer).
OWNER_COLUMNS = ("kind", "initiator", "occurred_at", "duration_seconds", "note")


@dataclass
class Changes:
    """One table's changes in a pull: live records (sent as updated) and deleted ids."""

    updated: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[uuid.UUID] = field(default_factory=list)


@dataclass
class Pulled:
    changes: dict[str, Changes]
    timestamp: int
    replacement: bool


@dataclass
class _Scope:
    couple: Couple | None
    inbox: InboxClock

    def clock(self) -> int:
        return max(self.inbox.clock, self.couple.sync_clock if self.couple else 0)


def _lock(session: Session, user: User) -> _Scope:
    """The user's couple (the active one, else the latest) and inbox, locked in that order,
    as every writer takes them."""
    latest = couples.latest_couple_of(session, user.id)
    couple = couples.lock_couple(session, latest.id) if latest is not None else None
    return _Scope(couple, outbox.lock_inbox(session, user.id))


def _check_not_ahead(last_pulled_at: int | None, scope: _Scope, now: datetime) -> None:
    if last_pulled_at is not None and last_pulled_at > max(epoch_ms(now), scope.clock()):
        raise Invalid(
            "last_pulled_at is later than any timestamp Tend has given; send the timestamp "
            "of your last pull, or null for a first sync.",
            field="last_pulled_at",
        )


def pull(
    session: Session, user: User, last_pulled_at: int | None, *, now: datetime, settings: Settings
) -> Pulled:
    scope = _lock(session, user)
    _check_not_ahead(last_pulled_at, scope, now)
    timestamp = max(epoch_ms(now), scope.clock())
    scope.inbox.clock = timestamp
    if scope.couple is not None:
        scope.couple.sync_clock = timestamp
    forgotten = epoch_ms(now - timedelta(days=settings.sync_tombstone_days))
    # A pull older than the tombstones, or from before the phone's couple existed, cannot
    # be answered with changes: the full set replaces what the phone holds.
    replacement = last_pulled_at is not None and (
        last_pulled_at < forgotten
        or (scope.couple is not None and scope.couple.created_stamp > last_pulled_at)
    )
    since = None if replacement else last_pulled_at
    changes = {
        "bids": _bid_changes(session, user, scope.couple, since),
        "notifications": _inbox_changes(session, user, since, now),
        "couples": _couple_changes(session, user, scope.couple, since),
    }
    session.flush()
    return Pulled(changes, timestamp, replacement)


def _bid_changes(session: Session, user: User, couple: Couple | None, since: int | None) -> Changes:
    changes = Changes()
    if couple is None:
        return changes
    live = bids.readable_bids(user.id).where(Bid.couple_id == couple.id)
    if since is not None:
        live = live.where(Bid.stamp > since)
        changes.deleted = list(
            session.scalars(
                select(BidTombstone.id).where(
                    BidTombstone.couple_id == couple.id, BidTombstone.stamp > since
                )
            )
        )
    changes.updated = [bid_raw(bid, user.id) for bid in session.scalars(live.order_by(Bid.id))]
    return changes


def bid_raw(bid: Bid, viewer_id: uuid.UUID) -> dict[str, Any]:
    public = bids.to_public(bid, viewer_id)
    return {
        "id": public.id,
        "couple_id": public.couple_id,
        "kind": public.kind,
        "initiator": public.initiator,
        "logged_by": public.logged_by,
        "occurred_at": epoch_ms(public.occurred_at),
        "duration_seconds": public.duration_seconds,
        "note": public.note,
        "response": public.response,
        "responded_by": public.responded_by,
        "responded_at": _ms(public.responded_at),
        "deposit": public.deposit,
        "created_at": epoch_ms(public.created_at),
        "updated_at": epoch_ms(public.updated_at),
    }


def _inbox_changes(session: Session, user: User, since: int | None, now: datetime) -> Changes:
    changes = Changes()
    live = nudges.inbox_query(user.id, now)
    if since is not None:
        became_due = from_epoch_ms(since) - DUE_MARGIN
        live = live.where((Notification.stamp > since) | (Notification.due_at > became_due))
        changes.deleted = list(
            session.scalars(
                select(NotificationTombstone.id).where(
                    NotificationTombstone.user_id == user.id, NotificationTombstone.stamp > since
                )
            )
        )
    changes.updated = [
        {
            "id": n.id,
            "kind": n.kind,
            "title": n.title,
            "body": n.body,
            "data": json.dumps(n.data, sort_keys=True),
            "created_at": epoch_ms(n.created_at),
            "due_at": epoch_ms(n.due_at),
            "read_at": _ms(n.read_at),
        }
        for n in session.scalars(live.order_by(Notification.id))
    ]
    return changes


def _couple_changes(
    session: Session, user: User, couple: Couple | None, since: int | None
) -> Changes:
    if couple is None or (since is not None and couple.stamp <= since):
        return Changes()
    partner = session.scalars(
        select(User)
        .join(CoupleMember, CoupleMember.user_id == User.id)
        .where(CoupleMember.couple_id == couple.id, CoupleMember.user_id != user.id)
    ).one_or_none()
    raw = {
        "id": couple.id,
        "partner_id": partner.id if partner else None,
        "partner_name": partner.display_name if partner else None,
        "created_at": epoch_ms(couple.created_at),
        "ended_at": _ms(couple.ended_at),
        "timezone": couple.timezone,
        "day_start_hour": couple.day_start_hour,
        "half_life_hours": couple.half_life_hours,
    }
    return Changes(updated=[raw])


def _ms(instant: datetime | None) -> int | None:
    return None if instant is None else epoch_ms(instant)


# --- push -------------------------------------------------------------------------------


@dataclass
class _Push:
    session: Session
    user: User
    now: datetime
    rejected: dict[str, list[uuid.UUID]] = field(default_factory=dict)

    def attempt(self, table: str, record_id: uuid.UUID, change: Callable[[], None]) -> None:
        """Apply one record's change on its own savepoint; one the user may not make is
        rolled back and rejected by id, and the rest of the push goes on."""
        try:
            with self.session.begin_nested():
                change()
        except AppError:
            self.rejected.setdefault(table, []).append(record_id)


def push(
    session: Session,
    user: User,
    last_pulled_at: int | None,
    changes: PushChanges,
    *,
    now: datetime,
    settings: Settings,
) -> dict[str, list[uuid.UUID]]:
    """Apply a phone's changes in one transaction; answers the ids rejected, by table."""
    if changes.count() > settings.sync_max_records:
        raise TooManyRecords(settings.sync_max_records)
    scope = _lock(session, user)
    _check_not_ahead(last_pulled_at, scope, now)
    # Never pulled: every record it claims to change changed since (a push can only create).
    _refuse_conflicts(
        session, user, scope, -1 if last_pulled_at is None else last_pulled_at, changes
    )
    run = _Push(session, user, now)
    for pushed in [*changes.bids.created, *changes.bids.updated]:
        run.attempt("bids", pushed.id, partial(_save_bid, run, pushed))
    for bid_id in changes.bids.deleted:
        run.attempt("bids", bid_id, partial(_delete_bid, run, bid_id))
    inbox = changes.notifications
    for read in inbox.updated:
        if read.read_at is not None:
            run.attempt("notifications", read.id, partial(_mark_read, run, read.id))
    # Inbox entries are Tend's to make and take back, and the couple's row is read-only.
    for name, ids in (
        ("notifications", [r.id for r in inbox.created] + inbox.deleted),
        ("couples", [r.id for r in changes.couples.created + changes.couples.updated]),
        ("couples", changes.couples.deleted),
    ):
        if ids:
            run.rejected.setdefault(name, []).extend(ids)
    session.flush()
    return run.rejected


class TooManyRecords(AppError):
    status = 413
    slug = "payload-too-large"
    title = N_("Payload too large")

    def __init__(self, limit: int) -> None:
        super().__init__(f"A push carries at most {limit:,} records; send them in parts.")


def _refuse_conflicts(
    session: Session, user: User, scope: _Scope, last_pulled_at: int, changes: PushChanges
) -> None:
    """409, nothing applied, when a record pushed as changed has changed on the server since
    the phone's last pull: the phone pulls (merging) and pushes again."""
    bid_ids = [r.id for r in changes.bids.updated] + changes.bids.deleted
    newer: list[Any] = []
    if bid_ids and scope.couple is not None:
        newer += session.scalars(
            select(Bid.id).where(
                Bid.couple_id == scope.couple.id, Bid.id.in_(bid_ids), Bid.stamp > last_pulled_at
            )
        ).all()
        newer += session.scalars(
            select(BidTombstone.id).where(
                BidTombstone.couple_id == scope.couple.id,
                BidTombstone.id.in_(bid_ids),
                BidTombstone.stamp > last_pulled_at,
            )
        ).all()
    read_ids = [r.id for r in changes.notifications.updated]
    if read_ids:
        newer += session.scalars(
            select(Notification.id).where(
                Notification.user_id == user.id,
                Notification.id.in_(read_ids),
                Notification.stamp > last_pulled_at,
            )
        ).all()
    if newer:
        raise Conflict(
            f"{len(newer)} of the records pushed changed on the server since your last pull; "
            "pull, then push again."
        )


def _save_bid(run: _Push, record: PushedBid) -> None:
    """A created or updated record: a replay, an edit or an answer of a stored bid, or a new
    bid (an update of one this server never had creates it, unless it was deleted)."""
    session, user = run.session, run.user
    stored = session.scalars(bids.readable_bids(user.id).where(Bid.id == record.id)).one_or_none()
    if stored is None:
        if session.get(BidTombstone, record.id) is not None:
            return  # deleted: the deletion wins, and the phone learns of it at its next pull
        if session.get(Bid, record.id) is not None:
            raise Conflict("A bid with this id belongs to another couple.")
        bids.create(session, user, _create(record), now=run.now)
        return
    edits = _owner_edits(stored, record, user.id)
    if edits:
        bids.update(session, user, stored, BidUpdate.model_validate(edits), now=run.now)
    if record.response != stored.response:
        bids.respond(session, user, stored, record.response, now=run.now)


def _create(record: PushedBid) -> BidCreate:
    return BidCreate.model_validate(
        {
            "id": record.id,
            "kind": record.kind,
            "initiator": record.initiator,
            "occurred_at": from_epoch_ms(record.occurred_at).isoformat(),
            "duration_seconds": record.duration_seconds,
            "note": record.note,
            "response": record.response,
        }
    )


def _owner_edits(stored: Bid, record: PushedBid, viewer_id: uuid.UUID) -> dict[str, Any]:
    """The owner's columns that differ from the stored bid, as a BidUpdate body."""
    current = bid_raw(stored, viewer_id)
    edits: dict[str, Any] = {}
    for column in OWNER_COLUMNS:
        value = getattr(record, column)
        if value != current[column]:
            edits[column] = from_epoch_ms(value).isoformat() if column == "occurred_at" else value
    return edits


def _mark_read(run: _Push, notification_id: uuid.UUID) -> None:
    nudges.mark_read(run.session, run.user, notification_id, run.now)


def _delete_bid(run: _Push, bid_id: uuid.UUID) -> None:
    """Deleting a bid the server does not have (never synced, or deleted) changes nothing."""
    stored = run.session.scalars(
        bids.readable_bids(run.user.id).where(Bid.id == bid_id)
    ).one_or_none()
    if stored is not None:
        bids.delete(run.session, run.user, stored, now=run.now)
