"""Creating nudges: outbox rows with a unique dedupe key, so creating one twice is harmless.

``plan_due`` is the scheduler's planning step: it takes the users whose daily slot has come
(batches locked with SKIP LOCKED, so several workers share the work), creates their daily
suggestion, reconnect or weekly summary, and moves each user's slot to the next local day.
"""

import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, aliased

from app.accounts.models import User
from app.bank import service as bank
from app.bank.models import CoupleDay
from app.bids.models import Bid
from app.couples.models import Couple, CoupleMember
from app.db import among, insert_for, table_of
from app.nudges import planner, texts
from app.nudges.catalogue import GESTURES, Gesture
from app.nudges.models import Notification, NudgeSettings
from app.stats.days import local_day

log = logging.getLogger(__name__)

NO_REPEAT = timedelta(days=14)
KIND_WINDOW = timedelta(days=30)
RECONNECT_SILENCE = timedelta(hours=48)
RECONNECT_EVERY = timedelta(days=3)
WEEKLY_ON = 6  # Sunday


def enqueue(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert nudges; one whose dedupe key exists already is skipped, not an error."""
    if rows:
        # Core, not ORM: the planner inserts thousands of rows a batch.
        session.execute(
            insert_for(session)(table_of(Notification)).on_conflict_do_nothing(
                index_elements=["dedupe_key"]
            ),
            rows,
        )


def _row(
    *,
    user_id: uuid.UUID,
    kind: str,
    dedupe_key: str,
    words: texts.Texts,
    due_at: datetime,
    now: datetime,
    data: dict[str, Any],
    gesture: str | None = None,
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "user_id": user_id,
        "kind": kind,
        "dedupe_key": dedupe_key,
        "title": words.title,
        "body": words.body,
        "push_title": words.push_title,
        "push_body": words.push_body,
        "data": data,
        "gesture": gesture,
        "created_at": now,
        "due_at": due_at,
        "next_attempt_at": due_at,
        "status": "pending",
        "attempts": 0,
    }


def on_bid_logged(
    session: Session, bid: Bid, author: User, recipient_id: uuid.UUID, now: datetime
) -> None:
    """Tell the partner soon after a bid that waits for their answer (same transaction)."""
    if bid.response != "pending":
        return
    found = session.execute(
        select(NudgeSettings, User.timezone)
        .join(User, User.id == NudgeSettings.user_id)
        .where(NudgeSettings.user_id == recipient_id)
    ).one_or_none()
    if found is None:
        return
    prefs, tz = found
    if not (prefs.enabled and prefs.partner_bid):
        return
    due = planner.release_time(now, prefs.quiet_start, prefs.quiet_end, tz)
    enqueue(
        session,
        [
            _row(
                user_id=recipient_id,
                kind="partner_bid",
                dedupe_key=f"partner_bid:{recipient_id}:{bid.id}",
                words=texts.partner_bid(author.display_name, bid.kind, prefs.discreet),
                due_at=due,
                now=now,
                data={"bid_id": str(bid.id)},
            )
        ],
    )


def forget_bids(
    session: Session, couple_id: uuid.UUID, author_id: uuid.UUID, bid_ids: Sequence[uuid.UUID]
) -> None:
    """Bids that are deleted take the partner's "your partner logged …" nudges with them,
    sent or not: they name the bid, and the author chose to take it back."""
    partner_ids = session.scalars(
        select(CoupleMember.user_id).where(
            CoupleMember.couple_id == couple_id, CoupleMember.user_id != author_id
        )
    ).all()
    keys = [f"partner_bid:{partner}:{bid}" for partner in partner_ids for bid in bid_ids]
    for start in range(0, len(keys), 500):
        session.execute(
            delete(Notification).where(
                Notification.user_id.in_(partner_ids),
                Notification.dedupe_key.in_(keys[start : start + 500]),
            )
        )


@dataclass
class _Due:
    prefs: Any  # a nudge_settings row (plain columns, no ORM object: thousands a batch)
    timezone: str
    slot: datetime


@dataclass
class _Pairing:
    couple: Couple
    partner_name: str


@dataclass(frozen=True)
class PlanResult:
    users: int
    planned: int
    dropped: int


def choose_gesture(rng: random.Random, recent: set[str], kind_counts: dict[str, int]) -> Gesture:
    """A gesture not suggested in two weeks, of a kind the couple made least lately."""
    best: list[Gesture] = []
    fewest = 0
    for gesture in GESTURES:
        if gesture.key in recent:
            continue
        made = kind_counts.get(gesture.kind, 0)
        if not best or made < fewest:
            best, fewest = [gesture], made
        elif made == fewest:
            best.append(gesture)
    if not best:  # every gesture was suggested lately: any may come again
        return choose_gesture(rng, set(), kind_counts)
    return rng.choice(best)


def _pairings(session: Session, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, _Pairing]:
    me, other = aliased(CoupleMember), aliased(CoupleMember)
    rows = session.execute(
        select(me.user_id, Couple, User.display_name)
        .join(Couple, Couple.id == me.couple_id)
        .join(other, (other.couple_id == me.couple_id) & (other.user_id != me.user_id))
        .join(User, User.id == other.user_id)
        .where(among(session, me.user_id, user_ids), me.left_at.is_(None))
    ).all()
    return {user_id: _Pairing(couple, name) for user_id, couple, name in rows}


def _recent_gestures(
    session: Session, user_ids: list[uuid.UUID], now: datetime
) -> dict[uuid.UUID, set[str]]:
    recent: dict[uuid.UUID, set[str]] = defaultdict(set)
    for user_id, gesture in session.execute(
        select(Notification.user_id, Notification.gesture).where(
            among(session, Notification.user_id, user_ids),
            Notification.gesture.is_not(None),
            Notification.created_at > now - NO_REPEAT,
        )
    ):
        if gesture is not None:
            recent[user_id].add(gesture)
    return recent


def _kind_counts(
    session: Session, couple_ids: list[uuid.UUID], now: datetime
) -> dict[uuid.UUID, dict[str, int]]:
    counts: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    for couple_id, kind, n in session.execute(
        select(Bid.couple_id, Bid.kind, func.count())
        .where(among(session, Bid.couple_id, couple_ids), Bid.occurred_at > now - KIND_WINDOW)
        .group_by(Bid.couple_id, Bid.kind)
    ):
        counts[couple_id][kind] = n
    return counts


def _last_bid_at(session: Session, couple_ids: list[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    return dict(
        session.execute(
            select(Bid.couple_id, func.max(Bid.occurred_at))
            .where(among(session, Bid.couple_id, couple_ids))
            .group_by(Bid.couple_id)
        ).all()
    )


def _last_reconnect(session: Session, user_ids: list[uuid.UUID], now: datetime) -> set[uuid.UUID]:
    return set(
        session.scalars(
            select(Notification.user_id).where(
                among(session, Notification.user_id, user_ids),
                Notification.kind == "reconnect",
                Notification.created_at > now - RECONNECT_EVERY,
            )
        )
    )


def needs_reconnect(
    session: Session, couple: Couple, last_bid_at: datetime | None, now: datetime
) -> bool:
    """No bid for 48 hours (once the couple is that old), or the balance now is at most half
    what it was at the end of the couple's day three days ago."""
    if now - couple.created_at < RECONNECT_SILENCE:
        return False
    last = last_bid_at or couple.created_at
    if now - last >= RECONNECT_SILENCE:
        return True
    today = local_day(now, couple.timezone, couple.day_start_hour)
    before = bank.balance_at_end_of(session, couple, today - timedelta(days=3))
    return before > 0 and bank.balance_now(session, couple, now) <= before / 2


def _week_in_numbers(
    session: Session, couple: Couple, day: date, now: datetime
) -> tuple[int, int, int, float]:
    row = session.execute(
        select(
            func.coalesce(func.sum(CoupleDay.bids), 0),
            func.coalesce(func.sum(CoupleDay.toward), 0),
            func.coalesce(func.sum(CoupleDay.toward + CoupleDay.away + CoupleDay.against), 0),
        ).where(
            CoupleDay.couple_id == couple.id,
            CoupleDay.day > day - timedelta(days=7),
            CoupleDay.day <= day,
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2]), bank.balance_now(session, couple, now)


def _plan_user(
    session: Session,
    due: _Due,
    pairing: _Pairing,
    recent: set[str],
    kind_counts: dict[str, int],
    last_bid_at: datetime | None,
    reconnected_lately: bool,
    now: datetime,
) -> list[dict[str, Any]]:
    prefs, user_id = due.prefs, due.prefs.user_id
    day = planner.local_date(due.slot, due.timezone)
    # Seeded, so every worker makes the same choice (not a secret: S311 does not apply).
    rng = random.Random(user_id.int ^ day.toordinal())  # noqa: S311
    rows = []
    wants_reconnect = (
        prefs.reconnect
        and not reconnected_lately
        and needs_reconnect(session, pairing.couple, last_bid_at, now)
    )
    if wants_reconnect or prefs.daily_suggestion:
        gesture = choose_gesture(rng, recent, kind_counts)
        if wants_reconnect:
            kind = "reconnect"
            words = texts.reconnect(pairing.partner_name, gesture.text, prefs.discreet)
        else:
            kind = "daily_suggestion"
            words = texts.daily_suggestion(gesture.text, prefs.discreet)
        rows.append(
            _row(
                user_id=user_id,
                kind=kind,
                # One of the two per local day: reconnect takes the daily slot's place.
                dedupe_key=f"daily:{user_id}:{day.isoformat()}",
                words=words,
                due_at=due.slot,
                now=now,
                data={"gesture": gesture.key, "suggested_kind": gesture.kind},
                gesture=gesture.key,
            )
        )
    if prefs.weekly_summary and day.weekday() == WEEKLY_ON:
        bids, toward, answered, balance = _week_in_numbers(session, pairing.couple, day, now)
        iso_year, iso_week, _ = day.isocalendar()
        rows.append(
            _row(
                user_id=user_id,
                kind="weekly_summary",
                dedupe_key=f"weekly:{user_id}:{iso_year}-W{iso_week:02d}",
                words=texts.weekly_summary(
                    pairing.partner_name, bids, toward, answered, balance, prefs.discreet
                ),
                due_at=due.slot,
                now=now,
                data={"bids": bids, "toward": toward, "answered": answered},
            )
        )
    return rows


def plan_due(session: Session, now: datetime, *, grace: timedelta, batch_size: int) -> PlanResult:
    """Plan one batch of users whose daily slot has come; an empty result means done."""
    table = table_of(NudgeSettings)
    found = session.execute(
        select(table, User.timezone)
        .join(User, User.id == table.c.user_id)
        .where(table.c.next_daily_at <= now)
        .order_by(table.c.next_daily_at)
        .limit(batch_size)
        .with_for_update(skip_locked=True, of=table)
    ).all()
    if not found:
        return PlanResult(0, 0, 0)
    dues = [_Due(row, row.timezone, row.next_daily_at) for row in found]
    live = [d for d in dues if d.prefs.enabled and now - d.slot <= grace]
    user_ids = [d.prefs.user_id for d in live]
    pairings = _pairings(session, user_ids)
    couple_ids = list({p.couple.id for p in pairings.values()})
    recent = _recent_gestures(session, user_ids, now)
    kind_counts = _kind_counts(session, couple_ids, now)
    last_bids = _last_bid_at(session, couple_ids)
    reconnected = _last_reconnect(session, user_ids, now)

    rows: list[dict[str, Any]] = []
    for due in live:
        pairing = pairings.get(due.prefs.user_id)
        if pairing is None:
            continue  # nudges are about a couple; an unpaired partner gets none
        rows += _plan_user(
            session,
            due,
            pairing,
            recent[due.prefs.user_id],
            kind_counts[pairing.couple.id],
            last_bids.get(pairing.couple.id),
            due.prefs.user_id in reconnected,
            now,
        )
    enqueue(session, rows)

    # Users of one batch mostly share their next slot: one UPDATE per distinct slot.
    moves: dict[datetime, list[uuid.UUID]] = defaultdict(list)
    for due in dues:
        prefs = due.prefs
        upcoming = planner.next_daily_slot(
            due.slot, prefs.daily_time, prefs.quiet_start, prefs.quiet_end, due.timezone
        )
        if now - upcoming > grace:  # long downtime: skip what can no longer be sent
            upcoming = planner.next_daily_slot(
                now - grace, prefs.daily_time, prefs.quiet_start, prefs.quiet_end, due.timezone
            )
        moves[upcoming].append(prefs.user_id)
    for upcoming, user_ids_moving in moves.items():
        session.execute(
            update(table)
            .where(among(session, table.c.user_id, user_ids_moving))
            .values(next_daily_at=upcoming)
        )
    dropped = sum(1 for d in dues if d.prefs.enabled and now - d.slot > grace)
    if dropped:
        log.info("nudge slots missed beyond the grace window", extra={"dropped": dropped})
    return PlanResult(users=len(dues), planned=len(rows), dropped=dropped)
