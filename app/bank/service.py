"""The relational bank account: a ledger of entries, kept in per-day rollups.

Reading the balance is O(1) in the history's length: the latest ``CoupleDay`` holds the
balance at its day's end, rolled to now by one multiplication. A created, edited, answered,
backdated or deleted bid changes its own day's counts and the end balance of its day and
every later day by exactly its own decayed contribution. The bank knows entries, not bids:
whoever changes one hands it the old and new entry, under the couple's lock
(``app.couples.service.lock_couple``), so two partners never lose an update.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.bank.math import Response, decay_factor
from app.bank.models import CoupleDay
from app.couples import calendar
from app.couples.models import Couple

WEEK_DAYS = 7


@dataclass(frozen=True)
class Entry:
    """One change to the account (a bid's effect): its local day, when it happened, what it
    deposits (negative: withdraws) and how it was answered, for the day's counts."""

    day: date
    occurred_at: datetime
    deposit: float
    response: str


def _latest_row(
    session: Session, couple_id: uuid.UUID, *, on_or_before: date | None = None
) -> CoupleDay | None:
    query = select(CoupleDay).where(CoupleDay.couple_id == couple_id)
    if on_or_before is not None:
        query = query.where(CoupleDay.day <= on_or_before)
    return session.scalars(query.order_by(CoupleDay.day.desc()).limit(1)).first()


def _new_day(couple: Couple, day: date, previous: CoupleDay | None) -> CoupleDay:
    """An empty day whose end balance is the previous day's, decayed to this day's end."""
    carried = 0.0
    if previous is not None:
        carried = rolled_to_end(couple, previous.day, previous.end_balance, day)
    return CoupleDay(
        couple_id=couple.id,
        day=day,
        bids=0,
        toward=0,
        away=0,
        against=0,
        deposits=0.0,
        withdrawals=0.0,
        end_balance=carried,
    )


def _rows_from(session: Session, couple: Couple, day: date) -> list[CoupleDay]:
    """``day``'s row (created if missing, its end balance carried from the day before) and
    every later row, in day order: one query, whether ``day`` is new, today or backdated."""
    previous_day = (
        select(func.max(CoupleDay.day))
        .where(CoupleDay.couple_id == couple.id, CoupleDay.day < day)
        .scalar_subquery()
    )
    rows = list(
        session.scalars(
            select(CoupleDay)
            .where(
                CoupleDay.couple_id == couple.id,
                CoupleDay.day >= func.coalesce(previous_day, day),
            )
            .order_by(CoupleDay.day)
        )
    )
    previous = rows.pop(0) if rows and rows[0].day < day else None
    if rows and rows[0].day == day:
        return rows
    row = _new_day(couple, day, previous)
    session.add(row)
    return [row, *rows]


def _count(row: CoupleDay, entry: Entry, sign: int) -> None:
    """Add (+1) or remove (-1) a bid in its day's counts and sums."""
    row.bids += sign
    if entry.response == Response.toward:
        row.toward += sign
    elif entry.response == Response.away:
        row.away += sign
    elif entry.response == Response.against:
        row.against += sign
    if entry.deposit > 0:
        row.deposits += sign * entry.deposit
    elif entry.deposit < 0:
        row.withdrawals += sign * -entry.deposit


def _apply(session: Session, couple: Couple, entry: Entry, sign: int) -> None:
    rows = _rows_from(session, couple, entry.day)
    _count(rows[0], entry, sign)
    if entry.deposit == 0:
        return
    for day_row in rows:
        day_row.end_balance += (
            sign
            * entry.deposit
            * decay_factor(
                entry.occurred_at, calendar.end_of(couple, day_row.day), couple.half_life_hours
            )
        )


def record_change(session: Session, couple: Couple, old: Entry | None, new: Entry | None) -> None:
    """Move the account from a bid's old effect to its new one (None: no bid)."""
    if old is not None:
        _apply(session, couple, old, -1)
    if new is not None:
        _apply(session, couple, new, +1)
    session.flush()


def rebuild(session: Session, couple: Couple, entries: Iterable[Entry]) -> None:
    """Recompute every day from all the couple's entries, in time order: after the time zone,
    day start or half-life changed (they move day boundaries or every decay factor), or
    after many entries went at once."""
    session.execute(delete(CoupleDay).where(CoupleDay.couple_id == couple.id))
    rows: dict[date, CoupleDay] = {}
    previous: CoupleDay | None = None
    for entry in entries:
        row = rows.get(entry.day)
        if row is None:
            row = rows[entry.day] = _new_day(couple, entry.day, previous)
            previous = row
        _count(row, entry, +1)
        row.end_balance += entry.deposit * decay_factor(
            entry.occurred_at, calendar.end_of(couple, entry.day), couple.half_life_hours
        )
    session.add_all(rows.values())
    session.flush()


def balance_now(session: Session, couple: Couple, now: datetime) -> float:
    latest = _latest_row(session, couple.id)
    if latest is None:
        return 0.0
    return latest.end_balance * decay_factor(
        calendar.end_of(couple, latest.day), now, couple.half_life_hours
    )


def balance_at_end_of(session: Session, couple: Couple, day: date) -> float:
    """The balance when ``day`` ended: every bid of that day and before, decayed to then."""
    row = _latest_row(session, couple.id, on_or_before=day)
    return 0.0 if row is None else rolled_to_end(couple, row.day, row.end_balance, day)


def balances_at_end_of(session: Session, couple: Couple, days: list[date]) -> list[float]:
    """``balance_at_end_of`` each of ``days`` (ascending), in two queries rather than one a
    day: the row before the first day and the rows up to the last, swept once."""
    if not days:
        return []
    before = _latest_row(session, couple.id, on_or_before=days[0])
    latest = None if before is None else (before.day, before.end_balance)
    rows = session.execute(
        select(CoupleDay.day, CoupleDay.end_balance)
        .where(CoupleDay.couple_id == couple.id)
        .where(CoupleDay.day > days[0], CoupleDay.day <= days[-1])
        .order_by(CoupleDay.day)
    ).all()
    balances, position = [], 0
    for day in days:
        while position < len(rows) and rows[position].day <= day:
            latest = (rows[position].day, rows[position].end_balance)
            position += 1
        balances.append(0.0 if latest is None else rolled_to_end(couple, *latest, day))
    return balances


def rolled_to_end(couple: Couple, row_day: date, end_balance: float, day: date) -> float:
    """``end_balance``, the balance at the end of ``row_day``, decayed to the end of the
    later ``day`` (no bid in between): how a day without bids carries the balance."""
    return end_balance * decay_factor(
        calendar.end_of(couple, row_day), calendar.end_of(couple, day), couple.half_life_hours
    )


@dataclass(frozen=True)
class Summary:
    balance: float
    as_of: datetime
    half_life_hours: int
    change_7d: float
    deposits_7d: float
    withdrawals_7d: float


def summary(session: Session, couple: Couple, now: datetime) -> Summary:
    """The balance now, and the couple's last seven days (today included) in numbers."""
    today = calendar.day_of(couple, now)
    first = today - timedelta(days=WEEK_DAYS - 1)
    current = balance_now(session, couple, now)
    before = balance_at_end_of(session, couple, first - timedelta(days=1))
    deposits, withdrawals = session.execute(
        select(
            func.coalesce(func.sum(CoupleDay.deposits), 0.0),
            func.coalesce(func.sum(CoupleDay.withdrawals), 0.0),
        ).where(CoupleDay.couple_id == couple.id, CoupleDay.day >= first)
    ).one()
    return Summary(
        balance=current,
        as_of=now,
        half_life_hours=couple.half_life_hours,
        change_7d=current - before,
        deposits_7d=float(deposits),
        withdrawals_7d=float(withdrawals),
    )


def history(session: Session, couple: Couple, days: int, now: datetime) -> list[tuple[date, float]]:
    """The balance at the end of each of the last ``days`` local days; today's is as of now."""
    today = calendar.day_of(couple, now)
    first = today - timedelta(days=days - 1)
    rows = {
        r.day: r
        for r in session.scalars(
            select(CoupleDay).where(
                CoupleDay.couple_id == couple.id, CoupleDay.day >= first, CoupleDay.day <= today
            )
        )
    }
    carry_day = first - timedelta(days=1)
    carry = balance_at_end_of(session, couple, carry_day)
    points = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        if day in rows:
            carry, carry_day = rows[day].end_balance, day
        if day == today:
            value = balance_now(session, couple, now)
        else:
            value = carry * decay_factor(
                calendar.end_of(couple, carry_day),
                calendar.end_of(couple, day),
                couple.half_life_hours,
            )
        points.append((day, value))
    return points
