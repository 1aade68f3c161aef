"""Who may see what: the one place that decides it.

Every query that reads relationship data starts from a statement built here, so the rule
lives in exactly one place: a couple's data is visible to its partners, present or
former (history stays readable after a couple ends); its aggregates, never a single bid,
to a coach while both partners consent; and to nobody else.
"""

import uuid

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, func, select
from sqlalchemy.orm import aliased

from app.access.models import CoachConsent
from app.couples.models import Couple, CoupleMember


def couple_ids_of_partner(user_id: uuid.UUID) -> Select[uuid.UUID]:
    """Every couple this user is or was a partner in."""
    return select(CoupleMember.couple_id).where(CoupleMember.user_id == user_id)


def current_partner_ids(user_id: uuid.UUID) -> Select[uuid.UUID]:
    """The other partner of this user's couple while it lasts (nobody once it ends): who
    may learn what the user shares now, such as a gentle day (app.care)."""
    me = aliased(CoupleMember)
    return (
        select(CoupleMember.user_id)
        .join(me, me.couple_id == CoupleMember.couple_id)
        .where(
            me.user_id == user_id,
            me.left_at.is_(None),
            CoupleMember.left_at.is_(None),
            CoupleMember.user_id != user_id,
        )
    )


def readable_couples(user_id: uuid.UUID) -> Select[Couple]:
    return select(Couple).where(Couple.id.in_(couple_ids_of_partner(user_id)))


def partner_may_read(
    user_id: uuid.UUID, couple_id: SQLColumnExpression[uuid.UUID]
) -> ColumnElement[bool]:
    """The condition on a couple's rows (bids, days, ...) under which this user may read them:
    each domain selects its own table and filters it by this, so the rule stays here."""
    return couple_id.in_(couple_ids_of_partner(user_id))


def couple_ids_consenting_to(coach_id: uuid.UUID) -> Select[uuid.UUID]:
    """Couples whose two partners both have a standing (unrevoked) consent for this coach."""
    return (
        select(CoachConsent.couple_id)
        .where(CoachConsent.coach_id == coach_id, CoachConsent.revoked_at.is_(None))
        .group_by(CoachConsent.couple_id)
        .having(func.count(func.distinct(CoachConsent.partner_id)) == 2)
    )


def couples_visible_to_coach(coach_id: uuid.UUID) -> Select[Couple]:
    """A coach sees a couple's aggregates only while it lasts and both partners consent."""
    return select(Couple).where(
        Couple.ended_at.is_(None), Couple.id.in_(couple_ids_consenting_to(coach_id))
    )
