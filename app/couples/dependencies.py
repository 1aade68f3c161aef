"""The caller's couple, loaded or 404, and the local-days window that couple views take."""

from typing import Annotated

from fastapi import Depends, Query

from app.accounts.dependencies import CurrentPartner
from app.couples import service
from app.couples.models import Couple
from app.deps import SessionDep
from app.errors import NotFound

LocalDays = Annotated[int, Query(ge=1, le=365, description="Local days, today included")]


def get_current_couple(user: CurrentPartner, session: SessionDep) -> Couple:
    couple = service.active_couple_of(session, user.id)
    if couple is None:
        raise NotFound("You are not in a couple yet; create an invite or join one.")
    return couple


CurrentCouple = Annotated[Couple, Depends(get_current_couple)]


def get_history_couple(user: CurrentPartner, session: SessionDep) -> Couple:
    """The active couple, or else the latest one: its history stays readable after it ends."""
    couple = service.latest_couple_of(session, user.id)
    if couple is None:
        raise NotFound("You have not been in a couple yet.")
    return couple


HistoryCouple = Annotated[Couple, Depends(get_history_couple)]
