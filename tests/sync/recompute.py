"""The check every sync test ends with: the couple's account equals a full recomputation."""

import uuid
from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.admin import recompute_couple
from app.bank.math import balance_at, scale
from app.bids.models import Bid
from app.clock import FrozenClock
from app.couples.models import Couple


def assert_account_recomputes(session: Session, couple_id: uuid.UUID, now: datetime) -> None:
    """What `tend recompute --check` asks: no day's figures change when the rollups are
    rebuilt from the bids (rolled back here); and the balance now equals every bid's deposit
    decayed to now (the slow, obviously right sum)."""
    deposits = [
        (b.occurred_at, b.deposit)
        for b in session.scalars(select(Bid).where(Bid.couple_id == couple_id))
    ]
    result = recompute_couple(session, couple_id, FrozenClock(now))
    session.rollback()
    assert result.days_fixed == 0
    assert result.balance_after == pytest.approx(result.balance_before, rel=1e-9, abs=1e-9)
    half_life = session.get_one(Couple, couple_id).half_life_hours
    tolerance = 1e-9 * max(1.0, scale(deposits, now, half_life))
    assert result.balance_before == pytest.approx(
        balance_at(deposits, now, half_life), abs=tolerance
    )
