"""The daily planning of nudges, from what the couple's figures say.

``plan_due`` is the scheduler's planning step: it takes the users whose daily slot has come
(batches locked with SKIP LOCKED, so several workers share the work), creates their daily
suggestion, reconnect or weekly summary, and moves each user's slot to the next local day.
"""

import logging
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, aliased

from app.accounts.models import User
from app.bank import service as bank
from app.care import service as care
from app.couples import calendar
from app.couples.models import Couple, CoupleMember
from app.db import among, table_of
from app.keystore import KeyStore
from app.nudges import planner, texts
from app.nudges.models import NudgeSettings
from app.outbox import service as outbox
from app.outbox.models import Notification
from app.planning.catalogue import GESTURES, SOOTHING_KINDS, Gesture
from app.practices import service as practices
from app.practices.catalogue import BY_PRACTICE
from app.practices.models import CouplePractice
from app.stats import service as stats

log = logging.getLogger(__name__)

NO_REPEAT = timedelta(days=14)
KIND_WINDOW = timedelta(days=30)
RECONNECT_SILENCE = timedelta(hours=48)
RECONNECT_EVERY = timedelta(days=3)
WEEKLY_ON = 6  # Sunday


@dataclass
class _Due:
    prefs: Any  # a nudge_settings row (plain columns, no ORM object: thousands a batch)
    timezone: str
    locale: str  # each partner reads their own nudges in their own language
    slot: datetime


@dataclass
class _Pairing:
    couple: Couple
    partner_name: str
    partner_id: uuid.UUID
    partner_timezone: str


@dataclass(frozen=True)
class PlanResult:
    users: int
    planned: int
    dropped: int


def choose_gesture(
    rng: random.Random,
    recent: set[str],
    kind_counts: dict[str, int],
    kinds: frozenset[str] | None = None,
) -> Gesture:
    """A gesture not suggested in two weeks, of a kind the couple made least lately (of
    ``kinds`` only, when given: the soothing ones on a partner's gentle day)."""
    best: list[Gesture] = []
    fewest = 0
    for gesture in GESTURES:
        if kinds is not None and gesture.kind not in kinds:
            continue
        if gesture.key in recent:
            continue
        made = kind_counts.get(gesture.kind, 0)
        if not best or made < fewest:
            best, fewest = [gesture], made
        elif made == fewest:
            best.append(gesture)
    if not best:  # every gesture was suggested lately: any may come again
        return choose_gesture(rng, set(), kind_counts, kinds)
    return rng.choice(best)


def _pairings(session: Session, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, _Pairing]:
    me, other = aliased(CoupleMember), aliased(CoupleMember)
    rows = session.execute(
        select(me.user_id, Couple, User.display_name, User.id, User.timezone)
        .join(Couple, Couple.id == me.couple_id)
        .join(other, (other.couple_id == me.couple_id) & (other.user_id != me.user_id))
        .join(User, User.id == other.user_id)
        .where(among(session, me.user_id, user_ids), me.left_at.is_(None))
    ).all()
    return {
        user_id: _Pairing(couple, name, partner_id, timezone)
        for user_id, couple, name, partner_id, timezone in rows
    }


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
    today = calendar.day_of(couple, now)
    before = bank.balance_at_end_of(session, couple, today - timedelta(days=3))
    return before > 0 and bank.balance_now(session, couple, now) <= before / 2


def _plan_user(
    session: Session,
    due: _Due,
    pairing: _Pairing,
    recent: set[str],
    kind_counts: dict[str, int],
    last_bid_at: datetime | None,
    reconnected_lately: bool,
    gentle: care.Gentle | None,
    plans: list[CouplePractice],
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
    if gentle is not None:
        # The partner shares a gentle day: once per window, said in the inbox; the lock
        # screen says only that Tend has something (app.nudges.texts.care).
        rows.append(
            outbox.message(
                user_id=user_id,
                kind="care",
                dedupe_key=f"care:{user_id}:{gentle.partner_id}:{gentle.since.isoformat()}",
                words=texts.care(pairing.partner_name, due.locale),
                due_at=due.slot,
                now=now,
                data={},
            )
        )
    # On a day one of the couple's practices is kept, it takes the daily suggestion's place.
    practice = practices.practice_of_the_day(plans, day) if prefs.daily_suggestion else None
    if practice is not None and not wants_reconnect:
        rows.append(
            outbox.message(
                user_id=user_id,
                kind="practice",
                dedupe_key=f"daily:{user_id}:{day.isoformat()}",
                words=texts.practice(
                    BY_PRACTICE[practice.practice].nudge, prefs.discreet, due.locale
                ),
                due_at=due.slot,
                now=now,
                data={"practice": practice.practice, "practice_id": str(practice.id)},
            )
        )
    elif wants_reconnect or prefs.daily_suggestion:
        soothing = SOOTHING_KINDS if gentle is not None else None
        gesture = choose_gesture(rng, recent, kind_counts, soothing)
        if wants_reconnect:
            kind = "reconnect"
            words = texts.reconnect(pairing.partner_name, gesture.text, prefs.discreet, due.locale)
        else:
            kind = "daily_suggestion"
            words = texts.daily_suggestion(gesture.text, prefs.discreet, due.locale)
        rows.append(
            outbox.message(
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
        week = stats.week_ending(session, pairing.couple, day)
        balance = bank.balance_now(session, pairing.couple, now)
        iso_year, iso_week, _ = day.isocalendar()
        rows.append(
            outbox.message(
                user_id=user_id,
                kind="weekly_summary",
                dedupe_key=f"weekly:{user_id}:{iso_year}-W{iso_week:02d}",
                words=texts.weekly_summary(
                    pairing.partner_name,
                    week.bids,
                    week.toward_rate,
                    balance,
                    prefs.discreet,
                    due.locale,
                ),
                due_at=due.slot,
                now=now,
                data={"bids": week.bids, "toward": week.toward, "answered": week.answered},
            )
        )
    return rows


def plan_due(
    session: Session,
    now: datetime,
    *,
    grace: timedelta,
    batch_size: int,
    keys: KeyStore | None = None,
) -> PlanResult:
    """Plan one batch of users whose daily slot has come; an empty result means done.
    ``keys`` open partners' care settings (without them no gentle day is planned)."""
    table = table_of(NudgeSettings)
    found = session.execute(
        select(table, User.timezone, User.locale)
        .join(User, User.id == table.c.user_id)
        .where(table.c.next_daily_at <= now)
        .order_by(table.c.next_daily_at)
        .limit(batch_size)
        .with_for_update(skip_locked=True, of=table)
    ).all()
    if not found:
        return PlanResult(0, 0, 0)
    dues = [_Due(row, row.timezone, row.locale, row.next_daily_at) for row in found]
    live = [d for d in dues if d.prefs.enabled and now - d.slot <= grace]
    user_ids = [d.prefs.user_id for d in live]
    pairings = _pairings(session, user_ids)
    couple_ids = list({p.couple.id for p in pairings.values()})
    recent = _recent_gestures(session, user_ids, now)
    kind_counts = stats.kind_counts(session, couple_ids, since=now - KIND_WINDOW)
    last_bids = stats.last_bid_at(session, couple_ids)
    reconnected = _last_reconnect(session, user_ids, now)
    plans = practices.active_plans(session, couple_ids)
    gentle: dict[uuid.UUID, care.Gentle] = {}
    if keys is not None:
        people = {p.partner_id: p.partner_timezone for p in pairings.values()}
        gentle = care.shared_windows(session, keys, people, now)

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
            gentle.get(pairing.partner_id),
            plans.get(pairing.couple.id, []),
            now,
        )
    outbox.enqueue(session, rows)

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
