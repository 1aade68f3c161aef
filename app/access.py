"""Who may see what: the one place that decides it.

Every query that reads relationship data starts from a statement built here, so the rule
lives in exactly one place: a couple's data is visible to its partners, present or
former (history stays readable after a couple ends), and to nobody else.
"""

import uuid

from sqlalchemy import Select, select

from app.bids.models import Bid
from app.couples.models import Couple, CoupleMember


def couple_ids_of_partner(user_id: uuid.UUID) -> Select[uuid.UUID]:
    """Every couple this user is or was a partner in."""
    return select(CoupleMember.couple_id).where(CoupleMember.user_id == user_id)


def readable_couples(user_id: uuid.UUID) -> Select[Couple]:
    return select(Couple).where(Couple.id.in_(couple_ids_of_partner(user_id)))


def readable_bids(user_id: uuid.UUID) -> Select[Bid]:
    return select(Bid).where(Bid.couple_id.in_(couple_ids_of_partner(user_id)))
