"""Admin tasks over every couple or user: recompute the rollups, export accounts.

Each unit of work is its own short transaction, so a long run never holds a lock for long
and the API keeps answering beside it.
"""

import json
import math
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.accounts import service as accounts
from app.accounts.models import User
from app.accounts.schemas import ExportDocument
from app.bank import service as bank
from app.bank.models import CoupleDay
from app.bids import service as bids
from app.clock import Clock
from app.couples import service as couples
from app.couples.models import Couple
from app.db import transaction
from app.keystore import KeyStore
from app.lifecycle import export
from app.progress import Progress

# Rollups kept one change at a time and a rebuild add the same numbers in another order.
TOLERANCE = 1e-9
BATCH = 500


def _ids(factory: sessionmaker[Session], column: Any) -> Iterator[uuid.UUID]:
    """Every id in ``column``, in order, a batch at a time (keyset): a million rows need
    no list in memory and no long-open transaction."""
    after: uuid.UUID | None = None
    while True:
        with transaction(factory, write=False) as session:
            query = select(column).order_by(column).limit(BATCH)
            if after is not None:
                query = query.where(column > after)
            batch: list[uuid.UUID] = list(session.scalars(query))
        yield from batch
        if len(batch) < BATCH:
            return
        after = batch[-1]


def progress_over(progress: Progress, items: Iterable[uuid.UUID]) -> Iterator[uuid.UUID]:
    """The items, counting each in ``progress`` once it is done."""
    for item in items:
        yield item
        progress.advance()


# --- recompute -------------------------------------------------------------------------


@dataclass(frozen=True)
class DayFigures:
    bids: int
    toward: int
    away: int
    against: int
    deposits: float
    withdrawals: float
    end_balance: float

    def matches(self, other: "DayFigures") -> bool:
        counts = (self.bids, self.toward, self.away, self.against)
        if counts != (other.bids, other.toward, other.away, other.against):
            return False
        return all(
            math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
            for a, b in (
                (self.deposits, other.deposits),
                (self.withdrawals, other.withdrawals),
                (self.end_balance, other.end_balance),
            )
        )


Snapshot = dict[date, DayFigures]


def _snapshot(session: Session, couple: Couple) -> Snapshot:
    rows = session.scalars(select(CoupleDay).where(CoupleDay.couple_id == couple.id)).all()
    return {
        row.day: DayFigures(
            row.bids,
            row.toward,
            row.away,
            row.against,
            row.deposits,
            row.withdrawals,
            row.end_balance,
        )
        for row in rows
    }


def _figures(couple: Couple, rows: Snapshot, days: Iterable[date]) -> Iterator[DayFigures]:
    """What each day shows, whether or not it has a row: a day without bids carries the
    balance of the last day before it (a deleted bid may leave an empty row behind)."""
    last: tuple[date, DayFigures] | None = None
    for day in days:
        row = rows.get(day)
        if row is not None:
            last = (day, row)
            yield row
            continue
        carried = 0.0
        if last is not None:
            carried = bank.rolled_to_end(couple, last[0], last[1].end_balance, day)
        yield DayFigures(0, 0, 0, 0, 0.0, 0.0, carried)


def differing_days(couple: Couple, before: Snapshot, after: Snapshot) -> list[date]:
    days = sorted(before.keys() | after.keys())
    return [
        day
        for day, old, new in zip(
            days, _figures(couple, before, days), _figures(couple, after, days), strict=True
        )
        if not old.matches(new)
    ]


@dataclass(frozen=True)
class Recomputed:
    couple_id: uuid.UUID
    days_fixed: int
    balance_before: float
    balance_after: float


def recompute_couple(session: Session, couple_id: uuid.UUID, clock: Clock) -> Recomputed:
    """Rebuild one couple's day rollups from its bids, under the couple's lock."""
    couple = couples.lock_couple(session, couple_id)
    now = clock.now()
    before = _snapshot(session, couple)
    balance_before = bank.balance_now(session, couple, now)
    bids.rebuild_bank(session, couple)
    after = _snapshot(session, couple)
    return Recomputed(
        couple_id=couple.id,
        days_fixed=len(differing_days(couple, before, after)),
        balance_before=balance_before,
        balance_after=bank.balance_now(session, couple, now),
    )


def recompute_all(
    factory: sessionmaker[Session], clock: Clock, progress: Progress, *, check_only: bool
) -> list[Recomputed]:
    """Every couple, ended ones too (their history stays readable); ``check_only`` rolls
    each rebuild back and only reports. Returns the couples whose rollups had drifted."""
    drifted = []
    for couple_id in progress_over(progress, _ids(factory, Couple.id)):
        with transaction(factory) as session:
            result = recompute_couple(session, couple_id, clock)
            if check_only:
                session.rollback()  # the commit at the block's end then has nothing to write
        if result.days_fixed:
            drifted.append(result)
    return drifted


def count_couples(factory: sessionmaker[Session]) -> int:
    with transaction(factory, write=False) as session:
        return int(session.scalar(select(func.count()).select_from(Couple)) or 0)


# --- export ----------------------------------------------------------------------------


class UnknownEmails(Exception):
    def __init__(self, emails: list[str]) -> None:
        super().__init__(", ".join(emails))
        self.emails = emails


def count_users(factory: sessionmaker[Session]) -> int:
    with transaction(factory, write=False) as session:
        return int(session.scalar(select(func.count()).select_from(User)) or 0)


def all_user_ids(factory: sessionmaker[Session]) -> Iterator[uuid.UUID]:
    return _ids(factory, User.id)


def user_ids_by_email(factory: sessionmaker[Session], emails: Sequence[str]) -> list[uuid.UUID]:
    with transaction(factory, write=False) as session:
        found = {email: accounts.get_user_by_email(session, email) for email in emails}
    unknown = [email for email, user in found.items() if user is None]
    if unknown:
        raise UnknownEmails(unknown)
    return list(dict.fromkeys(user.id for user in found.values() if user is not None))


def export_document(
    session: Session, user: User, clock: Clock, keys: KeyStore
) -> dict[str, object]:
    """The document GET /v1/me/export answers, as JSON-ready values."""
    document = export.export(session, user, now=clock.now(), keys=keys)
    return ExportDocument.model_validate(document).model_dump(mode="json")


def _write_private(path: Path, text: str) -> None:
    """Write atomically, readable by the owner only: an export is personal data."""
    partial = path.with_name(f".{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(partial, path)


def export_path(out: Path, user_id: uuid.UUID) -> Path:
    return out / f"{user_id}.json"


def export_users(
    factory: sessionmaker[Session],
    user_ids: Iterable[uuid.UUID],
    out: Path,
    clock: Clock,
    progress: Progress,
    *,
    keys: KeyStore,
) -> list[Path]:
    """One JSON file per account in ``out``; an account erased meanwhile is skipped."""
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = []
    for user_id in progress_over(progress, user_ids):
        with transaction(factory, write=False) as session:
            user = session.get(User, user_id)
            if user is None:
                continue
            document = export_document(session, user, clock, keys)
        path = export_path(out, user_id)
        _write_private(path, json.dumps(document, ensure_ascii=False, indent=2) + "\n")
        written.append(path)
    return written
