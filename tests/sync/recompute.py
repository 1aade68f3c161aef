"""The check every sync test ends with: the couple's account equals a full recomputation."""

import uuid
from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.bank import service as bank
from app.bank.math import balance_at, scale
from app.bank.models import CoupleDay
from app.bids import service as bids
from app.bids.models import Bid
from app.couples.models import Couple


def _days(session: Session, couple_id: uuid.UUID) -> dict[object, tuple[object, ...]]:
    rows = session.scalars(select(CoupleDay).where(CoupleDay.couple_id == couple_id))
    return {r.day: (r.bids, r.toward, r.away, r.against, round(r.end_balance, 9)) for r in rows}


def assert_account_recomputes(session: Session, couple_id: uuid.UUID, now: datetime) -> None:
    """The kept day rollups equal a rebuild from the bids, and the balance now equals every
    bid's deposit decayed to now (the slow, obviously right sum)."""
    couple = session.get_one(Couple, couple_id)
    session.refresh(couple)
    kept = _days(session, couple_id)
    deposits = [
        (b.occurred_at, b.deposit)
        for b in session.scalars(select(Bid).where(Bid.couple_id == couple_id))
    ]
    balance = bank.balance_now(session, couple, now)
    bids.rebuild_bank(session, couple)
    rebuilt = _days(session, couple_id)
    session.rollback()
    assert kept == rebuilt
    expected = balance_at(deposits, now, couple.half_life_hours)
    tolerance = 1e-9 * max(1.0, scale(deposits, now, couple.half_life_hours))
    assert balance == pytest.approx(expected, abs=tolerance)
