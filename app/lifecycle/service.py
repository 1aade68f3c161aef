"""The flows that touch several domains, each in the request's one transaction."""

from datetime import datetime

from sqlalchemy.orm import Session

from app import access
from app.accounts import links
from app.accounts import service as accounts
from app.accounts.models import Role, User
from app.accounts.schemas import MeUpdate, RegisterRequest, TokenPair
from app.bids import service as bids
from app.care import service as care
from app.coaching import service as coaching
from app.config import Settings
from app.couples import service as couples
from app.couples.models import Couple
from app.couples.schemas import CoupleUpdate
from app.i18n import DEFAULT_LOCALE
from app.keystore import KeyStore
from app.nudges import service as nudges
from app.practices import service as practices


def register(
    session: Session,
    data: RegisterRequest,
    *,
    now: datetime,
    settings: Settings,
    locale: str = DEFAULT_LOCALE,
    address_verified: bool = False,
) -> tuple[User, TokenPair]:
    """A new account, signed in: a partner gets the default nudge settings, a coach a code,
    and the address a verification mail (unless it is known to be the owner's: the demo),
    in ``locale``, the best match of the phone's languages."""
    user = accounts.create_account(session, data, now=now, locale=locale)
    if address_verified:
        user.email_verified_at = now
    else:
        links.send_verification(session, user, now=now, settings=settings)
    if user.role == Role.partner:
        nudges.create_defaults(session, user, now)
    else:
        coaching.create_profile(session, user, now)
    return user, accounts.issue_tokens(session, user, now=now, settings=settings)


def update_me(session: Session, user: User, data: MeUpdate, *, now: datetime) -> User:
    """A new time zone moves the next daily nudge to the same local time there; a new name
    reaches the partner's phone with the couple's row at its next sync."""
    changed = accounts.update_me(session, user, data, now=now)
    if "timezone" in changed:
        nudges.reschedule(session, user, now)
    if "display_name" in changed:
        latest = couples.latest_couple_of(session, user.id)
        if latest is not None:
            locked = couples.lock_couple(session, latest.id)
            locked.stamp = couples.next_stamp(locked, now)
    return user


def change_couple(session: Session, couple: Couple, data: CoupleUpdate, *, now: datetime) -> Couple:
    """Day boundaries or every decay factor moved: the account is recomputed once."""
    couple, changed = couples.update_couple(session, couple, data, now=now)
    if changed & couples.RECKONING_FIELDS:
        bids.rebuild_bank(session, couple)
    return couple


def end_couple(session: Session, couple: Couple, by: User, *, now: datetime) -> None:
    """End the couple for both; every coach's access ends with it."""
    couple = couples.lock_couple(session, couple.id)
    coaching.revoke_all_for_couple(session, couple.id, "couple_ended", now, by=by.id)
    practices.end_all_for_couple(session, couple.id, now, by=by.id)
    couples.end_couple(session, couple, now=now)


def erase(
    session: Session,
    user: User,
    password: str,
    *,
    now: datetime,
    settings: Settings,
    keys: KeyStore,
) -> None:
    """Erase an account (GDPR art. 17): its tokens, devices, nudges, consents and the bids it
    logged; its active couple ends. A partner keeps the bids they logged, and the couple's
    balance is recomputed without the erased ones."""
    accounts.confirm_password(session, user, password, now=now, settings=settings)
    for couple_id in session.scalars(access.couple_ids_of_partner(user.id)).all():
        couple = couples.lock_couple(session, couple_id)
        coaching.revoke_all_for_couple(session, couple.id, "account_deleted", now, by=user.id)
        if couple.ended_at is None:
            practices.end_all_for_couple(session, couple.id, now, by=user.id)
            couples.end_couple(session, couple, now=now)
        bids.erase_logged_by(session, couple, user.id, now=now)
    # A coach's consents stay as history with the coach as null; revoke what stands.
    coaching.revoke_all_for_coach(session, user.id, "account_deleted", now)
    # Care data: the person's key is destroyed, so any copy of what it sealed stays sealed.
    care.erase(session, keys, user.id)
    session.delete(user)  # tokens, devices, nudges and memberships go with it (cascade)
    session.flush()
