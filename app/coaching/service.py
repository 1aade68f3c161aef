"""Coaches: a shareable code, each partner's consent, and aggregate views of a couple.

A coach sees a couple only while both partners have a standing consent and the couple
lasts (``app.access.couples_visible_to_coach``); otherwise the couple answers 404, as if it
did not exist. Coach views are weekly or daily aggregates, never a bid or a note, and
every read is written to an access log both partners can see.
"""

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app import access, ratelimit
from app.access.models import CoachConsent
from app.accounts.models import User
from app.bank import service as bank
from app.coaching.models import CONSENT_SCOPE, CONSENT_TEXT_VERSION, CoachAccess, CoachProfile
from app.couples import calendar, codes
from app.couples.models import Couple, CoupleMember
from app.db import commit_then_raise
from app.errors import Conflict, NotFound
from app.practices import progress as practice_math
from app.practices import service as practices
from app.practices.models import CouplePractice
from app.practices.schemas import PlanCreate
from app.stats import service as stats

COACH_CODE_LENGTH = 10
CODE_GUESS_POLICY = ratelimit.Policy(
    free_failures=10,
    first_block=timedelta(minutes=1),
    max_block=timedelta(hours=1),
    window=timedelta(hours=1),
    message="Too many wrong coach codes.",
)


def first_name(display_name: str) -> str:
    return display_name.split()[0] if display_name.split() else display_name


# --- the coach's profile ---------------------------------------------------------------


def create_profile(session: Session, coach: User, now: datetime) -> CoachProfile:
    profile = CoachProfile(
        user_id=coach.id,
        code=codes.new_code(COACH_CODE_LENGTH),
        created_at=now,
        code_rotated_at=now,
    )
    session.add(profile)
    session.flush()
    return profile


def profile_of(session: Session, coach: User, now: datetime) -> CoachProfile:
    return session.get(CoachProfile, coach.id) or create_profile(session, coach, now)


def rotate_code(session: Session, coach: User, now: datetime) -> CoachProfile:
    """A new code; the old one stops working (consents already given stay)."""
    profile = profile_of(session, coach, now)
    profile.code, profile.code_rotated_at = codes.new_code(COACH_CODE_LENGTH), now
    session.flush()
    return profile


# --- consent, from the partners' side --------------------------------------------------


@dataclass(frozen=True)
class CoachState:
    coach_id: uuid.UUID
    coach_name: str
    state: str  # active | waiting_for_partner | waiting_for_you | revoked
    since: datetime | None
    history: list[CoachConsent]


def grant(
    session: Session, partner: User, couple: Couple, typed_code: str, now: datetime
) -> CoachState:
    key = ratelimit.key("coach_code", str(partner.id))
    ratelimit.check(session, key, CODE_GUESS_POLICY, now)
    code = codes.normalize(typed_code, COACH_CODE_LENGTH)
    profile = (
        session.scalars(select(CoachProfile).where(CoachProfile.code == code)).one_or_none()
        if code
        else None
    )
    if profile is None:
        ratelimit.record_failure(session, key, CODE_GUESS_POLICY, now)
        commit_then_raise(session, NotFound("No coach has this code; check it with your coach."))
    assert profile is not None
    coach = session.get(User, profile.user_id)
    if coach is None or coach.email_verified_at is None:
        # Anyone can register as a coach; a verified address is the least a couple can
        # know about who will see their progress.
        raise Conflict("This coach has not verified their email address yet; ask them to.")
    standing = session.scalars(
        select(CoachConsent).where(
            CoachConsent.couple_id == couple.id,
            CoachConsent.coach_id == profile.user_id,
            CoachConsent.partner_id == partner.id,
            CoachConsent.revoked_at.is_(None),
        )
    ).first()
    if standing is not None:
        raise Conflict("You have already given this coach access.")
    session.add(
        CoachConsent(
            couple_id=couple.id,
            coach_id=profile.user_id,
            partner_id=partner.id,
            scope=CONSENT_SCOPE,
            consent_version=CONSENT_TEXT_VERSION,
            granted_at=now,
        )
    )
    session.flush()
    ratelimit.reset(session, key)
    return _state(session, couple, partner.id, profile.user_id)


def revoke(
    session: Session, partner: User, couple: Couple, coach_id: uuid.UUID, now: datetime
) -> None:
    """End this partner's consent; the coach's access ends at once (both are needed)."""
    revoked = session.execute(
        update(CoachConsent)
        .where(
            CoachConsent.couple_id == couple.id,
            CoachConsent.coach_id == coach_id,
            CoachConsent.partner_id == partner.id,
            CoachConsent.revoked_at.is_(None),
        )
        .values(revoked_at=now, revoked_by_id=partner.id, revoke_reason="revoked")
    )
    if revoked.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("You have not given this coach access.")
    practices.withdraw_coach_proposals(session, now, coach_id=coach_id, couple_id=couple.id)


def revoke_all_for_couple(
    session: Session, couple_id: uuid.UUID, reason: str, now: datetime, by: uuid.UUID | None = None
) -> None:
    coaches = session.scalars(
        update(CoachConsent)
        .where(CoachConsent.couple_id == couple_id, CoachConsent.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by_id=by, revoke_reason=reason)
        .returning(CoachConsent.coach_id)
    ).all()
    for coach_id in {c for c in coaches if c is not None}:
        practices.withdraw_coach_proposals(session, now, coach_id=coach_id, couple_id=couple_id)


def revoke_all_for_coach(session: Session, coach_id: uuid.UUID, reason: str, now: datetime) -> None:
    session.execute(
        update(CoachConsent)
        .where(CoachConsent.coach_id == coach_id, CoachConsent.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason=reason)
    )
    practices.withdraw_coach_proposals(session, now, coach_id=coach_id)


def _state(session: Session, couple: Couple, me: uuid.UUID, coach_id: uuid.UUID) -> CoachState:
    history = list(
        session.scalars(
            select(CoachConsent)
            .where(CoachConsent.couple_id == couple.id, CoachConsent.coach_id == coach_id)
            .order_by(CoachConsent.granted_at, CoachConsent.id)
        )
    )
    standing = {c.partner_id: c for c in history if c.revoked_at is None}
    if len(standing) == 2:
        state, since = "active", max(c.granted_at for c in standing.values())
    elif me in standing:
        state, since = "waiting_for_partner", None
    elif standing:
        state, since = "waiting_for_you", None
    else:
        state, since = "revoked", None
    coach = session.get(User, coach_id)
    return CoachState(coach_id, coach.display_name if coach else "", state, since, history)


def coaches_of(session: Session, couple: Couple, me: uuid.UUID) -> list[CoachState]:
    coach_ids = session.scalars(
        select(CoachConsent.coach_id)
        .where(CoachConsent.couple_id == couple.id, CoachConsent.coach_id.is_not(None))
        .distinct()
    ).all()
    return [_state(session, couple, me, coach_id) for coach_id in coach_ids if coach_id]


def access_log(
    session: Session, couple: Couple, *, limit: int, after: tuple[datetime, uuid.UUID] | None
) -> list[tuple[CoachAccess, str]]:
    query = (
        select(CoachAccess, func.coalesce(User.display_name, ""))
        .outerjoin(User, User.id == CoachAccess.coach_id)
        .where(CoachAccess.couple_id == couple.id)
    )
    if after is not None:
        at, access_id = after
        query = query.where(
            (CoachAccess.at < at) | ((CoachAccess.at == at) & (CoachAccess.id < access_id))
        )
    rows = session.execute(
        query.order_by(CoachAccess.at.desc(), CoachAccess.id.desc()).limit(limit + 1)
    ).all()
    return [(row[0], row[1]) for row in rows]


# --- the coach's views -----------------------------------------------------------------


def _log(
    session: Session, coach: User, couple_ids: list[uuid.UUID], view: str, now: datetime
) -> None:
    session.add_all(
        CoachAccess(couple_id=couple_id, coach_id=coach.id, view=view, at=now)
        for couple_id in couple_ids
    )
    session.flush()


def visible_couple(session: Session, coach: User, couple_id: uuid.UUID) -> Couple:
    couple = session.scalars(
        access.couples_visible_to_coach(coach.id).where(Couple.id == couple_id)
    ).one_or_none()
    if couple is None:
        raise NotFound("No couple with this id.")
    return couple


@dataclass(frozen=True)
class CoupleSummary:
    couple_id: uuid.UUID
    first_names: list[str]
    since: date
    last_active_day: date | None
    balance: float
    toward_rate_30d: float | None


def _partners(session: Session, couple_id: uuid.UUID) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(CoupleMember, CoupleMember.user_id == User.id)
            .where(CoupleMember.couple_id == couple_id)
            .order_by(CoupleMember.joined_at, User.display_name, User.id)
        )
    )


def consenting_couples(
    session: Session, coach: User, now: datetime, *, limit: int, after: uuid.UUID | None
) -> list[CoupleSummary]:
    """Up to ``limit + 1`` consenting couples in id order, after the couple ``after``; only
    the couples answered (``limit`` of them) are written to the access log."""
    query = access.couples_visible_to_coach(coach.id).order_by(Couple.id).limit(limit + 1)
    if after is not None:
        query = query.where(Couple.id > after)
    couples = session.scalars(query).all()
    summaries = []
    for couple in couples:
        since = session.scalar(
            select(func.max(CoachConsent.granted_at)).where(
                CoachConsent.couple_id == couple.id,
                CoachConsent.coach_id == coach.id,
                CoachConsent.revoked_at.is_(None),
            )
        )
        summaries.append(
            CoupleSummary(
                couple_id=couple.id,
                first_names=[first_name(p.display_name) for p in _partners(session, couple.id)],
                since=calendar.day_of(couple, since or couple.created_at),
                last_active_day=stats.last_active_day(session, couple),
                balance=bank.balance_now(session, couple, now),
                toward_rate_30d=stats.toward_rate_over(session, couple, 30, now),
            )
        )
    _log(session, coach, [s.couple_id for s in summaries[:limit]], "couples", now)
    return summaries


def progress(
    session: Session, coach: User, couple_id: uuid.UUID, weeks: int, now: datetime
) -> tuple[Couple, list[User], list[stats.Week]]:
    """The couple's last ``weeks`` local weeks (``stats.weeks``), this one so far last."""
    couple = visible_couple(session, coach, couple_id)
    partners = _partners(session, couple.id)
    result = stats.weeks(session, couple, [p.id for p in partners], weeks, now)
    _log(session, coach, [couple.id], "progress", now)
    return couple, partners, result


def propose_practice(
    session: Session, coach: User, couple_id: uuid.UUID, body: PlanCreate, now: datetime
) -> CouplePractice:
    """A practice for a consenting couple; it starts once both partners have accepted it."""
    couple = visible_couple(session, coach, couple_id)
    return practices.propose(session, couple, body, now, coach=coach)


def practice_adherence(
    session: Session, coach: User, couple_id: uuid.UUID, weeks: int, now: datetime
) -> list[tuple[CouplePractice, list[practice_math.WeekDone]]]:
    """Each of the couple's plans with done / target per week: never a day, never a bid."""
    couple = visible_couple(session, coach, couple_id)
    result = practices.weekly_adherence(session, couple, weeks, now)
    _log(session, coach, [couple.id], "practices", now)
    return result
