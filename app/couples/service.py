"""Pairing two partners into a couple, its settings, ending it, and the lock that serialises
every write to a couple's data."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import ratelimit, security
from app.accounts.models import User
from app.clock import epoch_ms
from app.config import Settings
from app.couples import codes
from app.couples.models import Couple, CoupleInvite, CoupleMember
from app.couples.schemas import CoupleUpdate
from app.db import commit_then_raise
from app.errors import Conflict, Gone, Invalid, NotFound
from app.outbox import service as outbox


@dataclass(frozen=True)
class CoupleView:
    couple: Couple
    partner: User


def join_policy(settings: Settings) -> ratelimit.Policy:
    return ratelimit.Policy(
        free_failures=settings.join_max_failures,
        first_block=timedelta(minutes=1),
        max_block=timedelta(seconds=settings.join_window_seconds),
        window=timedelta(seconds=settings.join_window_seconds),
        message="Too many wrong invite codes.",
    )


def lock_couple(session: Session, couple_id: uuid.UUID) -> Couple:
    """The couple, re-read under a row lock that serialises its writers."""
    return session.scalars(_locking(select(Couple).where(Couple.id == couple_id))).one()


def lock_active_couple_of(session: Session, user_id: uuid.UUID) -> Couple | None:
    """The user's active couple, found and locked in one statement (``lock_couple``); None
    when they are not in one, or when it ended while this waited for the lock."""
    couple = session.scalars(
        _locking(
            select(Couple)
            .join(CoupleMember, CoupleMember.couple_id == Couple.id)
            .where(CoupleMember.user_id == user_id, CoupleMember.left_at.is_(None))
        )
    ).one_or_none()
    return None if couple is None or couple.ended_at is not None else couple


def _locking(query: Select[Couple]) -> Select[Couple]:
    return query.with_for_update(of=Couple).execution_options(populate_existing=True)


def next_stamp(couple: Couple, now: datetime) -> int:
    """A sync stamp for a change to the couple's data, taken under its lock (``lock_couple``).

    Stamps rise strictly within a couple and stay close to milliseconds since the epoch.
    Writers hold the lock until they commit, and a pull takes it too, so a change can never
    commit with a stamp below what a pull that did not see it answered (``app.sync``)."""
    stamp = max(epoch_ms(now), couple.sync_clock + 1)
    couple.sync_clock = stamp
    return stamp


def active_couple_of(session: Session, user_id: uuid.UUID) -> Couple | None:
    return session.scalars(
        select(Couple)
        .join(CoupleMember, CoupleMember.couple_id == Couple.id)
        .where(CoupleMember.user_id == user_id, CoupleMember.left_at.is_(None))
    ).one_or_none()


def latest_couple_of(session: Session, user_id: uuid.UUID) -> Couple | None:
    """The active couple, or else the one joined last."""
    return session.scalars(
        select(Couple)
        .join(CoupleMember, CoupleMember.couple_id == Couple.id)
        .where(CoupleMember.user_id == user_id)
        .order_by(CoupleMember.left_at.is_(None).desc(), CoupleMember.joined_at.desc())
        .limit(1)
    ).first()


def partner_in(session: Session, couple: Couple, user_id: uuid.UUID) -> User:
    return session.scalars(
        select(User)
        .join(CoupleMember, CoupleMember.user_id == User.id)
        .where(CoupleMember.couple_id == couple.id, CoupleMember.user_id != user_id)
    ).one()


def view_for(session: Session, couple: Couple, user_id: uuid.UUID) -> CoupleView:
    return CoupleView(couple=couple, partner=partner_in(session, couple, user_id))


def _revoke_open_invites(session: Session, user_ids: list[uuid.UUID], now: datetime) -> None:
    session.execute(
        update(CoupleInvite)
        .where(
            CoupleInvite.inviter_id.in_(user_ids),
            CoupleInvite.used_at.is_(None),
            CoupleInvite.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


def create_invite(
    session: Session, user: User, *, now: datetime, settings: Settings
) -> tuple[str, datetime]:
    if active_couple_of(session, user.id) is not None:
        raise Conflict("You are already in a couple; end it before inviting someone new.")
    # Only the newest invite works: an old code shared by mistake stops working.
    _revoke_open_invites(session, [user.id], now)
    code = codes.new_code()
    expires_at = now + timedelta(hours=settings.invite_hours)
    session.add(
        CoupleInvite(
            inviter_id=user.id,
            code_hash=security.hash_opaque_token(code),
            created_at=now,
            expires_at=expires_at,
        )
    )
    session.flush()
    return code, expires_at


def join(
    session: Session, user: User, typed_code: str, *, now: datetime, settings: Settings
) -> CoupleView:
    policy = join_policy(settings)
    key = ratelimit.key("join", str(user.id))
    ratelimit.check(session, key, policy, now)
    if active_couple_of(session, user.id) is not None:
        raise Conflict("You are already in a couple.")

    code = codes.normalize(typed_code)
    invite = None
    if code is not None:
        invite = session.scalars(
            select(CoupleInvite).where(CoupleInvite.code_hash == security.hash_opaque_token(code))
        ).one_or_none()
    if invite is None or invite.revoked_at is not None:
        ratelimit.record_failure(session, key, policy, now)
        commit_then_raise(session, NotFound("No invite has this code; check it and try again."))
    assert invite is not None
    if invite.inviter_id == user.id:
        raise Invalid("This is your own invite; send it to your partner.", field="code")
    if invite.used_at is not None:
        raise Gone("This invite has already been used.")
    if invite.expires_at <= now:
        raise Gone("This invite has expired; ask your partner for a new one.")
    if active_couple_of(session, invite.inviter_id) is not None:
        raise Conflict("The person who invited you is already in a couple.")
    inviter = session.get(User, invite.inviter_id)
    assert inviter is not None

    # Compare-and-set keeps the code single-use when two people race for it.
    claimed = session.execute(
        update(CoupleInvite)
        .where(CoupleInvite.id == invite.id, CoupleInvite.used_at.is_(None))
        .values(used_at=now, used_by_id=user.id)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Gone("This invite has already been used.")

    # The new couple's clock starts past every timestamp either partner's phone was given
    # (a pull moves their inbox clocks to it): none of its changes can fall behind a pull.
    partners_clock = max(outbox.inbox_stamps(session, [user.id, inviter.id], now).values())
    couple = Couple(created_at=now, timezone=inviter.timezone, sync_clock=partners_clock)
    couple.created_stamp = couple.stamp = next_stamp(couple, now)
    session.add(couple)
    session.flush()
    session.add_all(
        [
            CoupleMember(couple_id=couple.id, user_id=inviter.id, joined_at=now),
            CoupleMember(couple_id=couple.id, user_id=user.id, joined_at=now),
        ]
    )
    try:
        session.flush()
    except IntegrityError as exc:  # one of the two paired elsewhere at the same moment
        raise Conflict("One of you has just joined another couple.") from exc
    # Once paired, neither partner's other codes may pair them with someone else later.
    _revoke_open_invites(session, [user.id, inviter.id], now)
    ratelimit.reset(session, key)
    return CoupleView(couple=couple, partner=inviter)


# Settings that move day boundaries or every decay factor: the bank's rollups depend on them.
RECKONING_FIELDS = frozenset({"timezone", "day_start_hour", "half_life_hours"})


def update_couple(
    session: Session, couple: Couple, data: CoupleUpdate, *, now: datetime
) -> tuple[Couple, set[str]]:
    """Apply the changes under the couple's lock; answers the couple and the fields changed."""
    couple = lock_couple(session, couple.id)
    changes = {k: v for k, v in data.changes().items() if getattr(couple, k) != v}
    for field, value in changes.items():
        setattr(couple, field, value)
    if changes:
        couple.stamp = next_stamp(couple, now)
    session.flush()
    return couple, set(changes)


def end_couple(session: Session, couple: Couple, *, now: datetime) -> None:
    """End the couple for both partners (the caller holds its lock)."""
    couple.ended_at = now
    couple.stamp = next_stamp(couple, now)
    session.execute(
        update(CoupleMember)
        .where(CoupleMember.couple_id == couple.id, CoupleMember.left_at.is_(None))
        .values(left_at=now)
    )
    session.flush()
