"""Accounts and sessions: register, sign in, rotate refresh tokens, sign out."""

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import ratelimit, security
from app.accounts import links
from app.accounts.models import RefreshToken, User
from app.accounts.schemas import (
    EmailChange,
    LoginRequest,
    MeUpdate,
    PasswordChange,
    RegisterRequest,
    TokenPair,
)
from app.config import Settings
from app.db import commit_then_raise
from app.errors import Conflict, Forbidden, Unauthorized
from app.i18n import DEFAULT_LOCALE


def login_policy(settings: Settings) -> ratelimit.Policy:
    return ratelimit.Policy(
        free_failures=settings.login_free_failures,
        first_block=timedelta(seconds=1),
        max_block=timedelta(seconds=settings.login_max_lockout_seconds),
        window=timedelta(hours=1),
        message="Too many failed sign-in attempts for this account.",
    )


def get_user(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == email.lower())).one_or_none()


def create_account(
    session: Session, data: RegisterRequest, *, now: datetime, locale: str = DEFAULT_LOCALE
) -> User:
    """The new user, not yet signed in (``app.lifecycle.register`` does the rest)."""
    # Hash before touching the database: the write transaction stays short.
    password_hash = security.hash_password(data.password)
    if get_user_by_email(session, data.email) is not None:
        raise Conflict("An account with this email already exists.")
    user = User(
        email=data.email,
        password_hash=password_hash,
        display_name=data.display_name,
        timezone=data.timezone,
        locale=locale,
        role=data.role.value,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise Conflict("An account with this email already exists.") from exc
    return user


def login(session: Session, data: LoginRequest, *, now: datetime, settings: Settings) -> TokenPair:
    policy = login_policy(settings)
    key = ratelimit.key("login", data.email)
    ratelimit.check(session, key, policy, now)
    user = get_user_by_email(session, data.email)
    if not security.verify_password(data.password, user.password_hash if user else None):
        ratelimit.record_failure(session, key, policy, now)
        commit_then_raise(session, Unauthorized("Email or password is incorrect."))
    assert user is not None
    ratelimit.reset(session, key)
    if security.password_hash_needs_update(user.password_hash):
        user.password_hash = security.hash_password(data.password)
    return issue_tokens(session, user, now=now, settings=settings)


def issue_tokens(
    session: Session,
    user: User,
    *,
    now: datetime,
    settings: Settings,
    family_id: uuid.UUID | None = None,
) -> TokenPair:
    lifetime = timedelta(minutes=settings.access_token_minutes)
    refresh_token = security.new_opaque_token()
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id or uuid.uuid4(),
            token_hash=security.hash_opaque_token(refresh_token),
            created_at=now,
            expires_at=now + timedelta(days=settings.refresh_token_days),
        )
    )
    session.flush()
    access_token = security.create_access_token(
        user.id,
        session_version=user.session_version,
        secret_key=settings.secret_key,
        now=now,
        lifetime=lifetime,
    )
    return TokenPair(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_in=int(lifetime.total_seconds()),
    )


def _find_refresh_token(session: Session, token: str) -> RefreshToken | None:
    return session.scalars(
        select(RefreshToken).where(RefreshToken.token_hash == security.hash_opaque_token(token))
    ).one_or_none()


def revoke_family(session: Session, family_id: uuid.UUID, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_all_sessions(session: Session, user_id: uuid.UUID, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def refresh(session: Session, token: str, *, now: datetime, settings: Settings) -> TokenPair:
    stored = _find_refresh_token(session, token)
    if stored is None:
        raise Unauthorized("This refresh token is not valid.")
    if stored.revoked_at is not None:
        raise Unauthorized("This session has ended; sign in again.")
    if stored.used_at is not None:
        # A used token presented again means it was copied: end the whole sign-in.
        revoke_family(session, stored.family_id, now)
        commit_then_raise(
            session, Unauthorized("This refresh token was already used; sign in again.")
        )
    if stored.expires_at <= now:
        raise Unauthorized("This refresh token has expired; sign in again.")
    # Compare-and-set: of two concurrent refreshes with one token, exactly one wins.
    claimed = session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == stored.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        revoke_family(session, stored.family_id, now)
        commit_then_raise(
            session, Unauthorized("This refresh token was already used; sign in again.")
        )
    user = session.get(User, stored.user_id)
    if user is None:
        raise Unauthorized("This account no longer exists.")
    return issue_tokens(session, user, now=now, settings=settings, family_id=stored.family_id)


def logout(session: Session, token: str, *, now: datetime) -> None:
    stored = _find_refresh_token(session, token)
    if stored is not None:
        revoke_family(session, stored.family_id, now)


def update_me(session: Session, user: User, data: MeUpdate, *, now: datetime) -> set[str]:
    """Apply the changes; answers the fields changed."""
    changes = data.changes()
    for field, value in changes.items():
        setattr(user, field, value)
    if changes:
        user.updated_at = now
    session.flush()
    return set(changes)


def confirm_password(
    session: Session, user: User, password: str, *, now: datetime, settings: Settings
) -> None:
    """Check the password of a signed-in user before a grave change; failures count
    towards the same lockout as sign-ins, so a stolen access token cannot guess it."""
    policy = login_policy(settings)
    key = ratelimit.key("login", user.email)
    ratelimit.check(session, key, policy, now)
    if not security.verify_password(password, user.password_hash):
        ratelimit.record_failure(session, key, policy, now)
        commit_then_raise(session, Forbidden("The password is not correct."))
    ratelimit.reset(session, key)


def change_password(
    session: Session,
    user: User,
    data: PasswordChange,
    *,
    now: datetime,
    settings: Settings,
) -> TokenPair:
    """Set a new password and end every other sign-in at once: all refresh families are
    revoked and the session version moves, so older access tokens stop working too.
    The caller gets a fresh token pair so this device stays signed in."""
    new_hash = security.hash_password(data.new_password)
    confirm_password(session, user, data.current_password, now=now, settings=settings)
    _set_password(session, user, new_hash, now)
    return issue_tokens(session, user, now=now, settings=settings)


def _set_password(session: Session, user: User, password_hash: str, now: datetime) -> None:
    """A new password ends every sign-in at once, and the owner is told by mail."""
    user.password_hash = password_hash
    user.session_version += 1
    user.updated_at = now
    revoke_all_sessions(session, user.id, now)
    session.flush()
    links.notify_password_changed(session, user, now=now)


def reset_password(
    session: Session,
    token: str,
    password: str,
    *,
    now: datetime,
    settings: Settings,
    client: str,
) -> None:
    """Set the password from a mailed reset link; every sign-in ends and nobody is signed
    in (the person signs in with the new password). The wait after failed sign-ins is
    lifted: whoever holds the link holds the address."""
    new_hash = security.hash_password(password)
    user = links.redeem_reset(session, token, now=now, client=client)
    _set_password(session, user, new_hash, now)
    ratelimit.reset(session, ratelimit.key("login", user.email))


def request_email_change(
    session: Session, user: User, data: EmailChange, *, now: datetime, settings: Settings
) -> None:
    """With the password: mail the new address a link and the old one a notice."""
    confirm_password(session, user, data.password, now=now, settings=settings)
    links.request_email_change(session, user, data.email, now=now, settings=settings)
