"""The relational bank account's math, free of any database.

A bid's deposit ``a`` decays with the couple's half-life ``H``: its contribution at time
``t`` is ``a · 2^(−(t − t_i)/H)``. Because the decay is linear, a balance kept at one
instant can be rolled to another by one multiplication, and a single bid can be added or
removed by its own decayed contribution.
"""

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

AWAY_DEPOSIT = -1.0
AGAINST_DEPOSIT = -5.0
LINGER_BONUS = 1.5


class Response(StrEnum):
    pending = "pending"
    toward = "toward"
    away = "away"
    against = "against"


def deposit(
    response: Response | str,
    *,
    weight: float,
    linger_seconds: int | None,
    duration_seconds: int | None,
) -> float:
    """What one bid puts into (or takes from) the account."""
    match Response(response):
        case Response.toward:
            lingered = (
                linger_seconds is not None
                and duration_seconds is not None
                and duration_seconds >= linger_seconds
            )
            return weight * LINGER_BONUS if lingered else weight
        case Response.away:
            return AWAY_DEPOSIT
        case Response.against:
            return AGAINST_DEPOSIT
        case Response.pending:
            return 0.0


def decay_factor(start: datetime, end: datetime, half_life_hours: float) -> float:
    """How much of a value at ``start`` is left at ``end`` (more than 1 if end is earlier)."""
    hours = (end - start).total_seconds() / 3600.0
    return float(2.0 ** (-hours / half_life_hours))


def roll(value: float, start: datetime, end: datetime, half_life_hours: float) -> float:
    return value * decay_factor(start, end, half_life_hours)


def balance_at(
    deposits: Iterable[tuple[datetime, float]], at: datetime, half_life_hours: float
) -> float:
    """The slow, obviously right balance: every given deposit, decayed to ``at``."""
    return sum(
        amount * decay_factor(occurred_at, at, half_life_hours) for occurred_at, amount in deposits
    )


def scale(
    deposits: Iterable[tuple[datetime, float]], at: datetime, half_life_hours: float
) -> float:
    """The size against which a balance's rounding is judged: Σ |a_i| decayed to ``at``."""
    return sum(
        abs(amount) * decay_factor(occurred_at, at, half_life_hours)
        for occurred_at, amount in deposits
    )
