"""One-time links by mail (SPEC §3): verifying an address, resetting a forgotten password,
moving the account to another address.

A token is 256 random bits, mailed as ``{TEND_APP_URL}/<page>?token=…`` and stored only as
its SHA-256; it works once, expires (reset: 30 minutes, verification: 7 days), and a newer
token of the same purpose voids the older ones. Links are built from the settings, never
from the request. Asking for mail is limited per address, per account and per client
(429 with Retry-After), and wrong tokens are counted per client.
"""

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import ratelimit, security
from app.accounts import mails
from app.accounts.models import EmailToken, TokenPurpose, User
from app.config import Settings
from app.db import commit_then_raise
from app.errors import AppError, Conflict, Gone, Invalid
from app.i18n import N_
from app.outbox import service as outbox

RESET_LIFETIME = timedelta(minutes=30)
VERIFY_LIFETIME = timedelta(days=7)
TOKEN_BYTES = 32  # 256 bits

VERIFY_PAGE = "verify-email"
RESET_PAGE = "reset-password"

# Each request for a mail counts; past the free ones the key waits, doubling.
RESET_PER_ADDRESS = ratelimit.Policy(
    free_failures=3,
    first_block=timedelta(minutes=10),
    max_block=timedelta(hours=1),
    window=timedelta(hours=1),
    message="Too many password reset requests for this address.",
)
RESET_PER_CLIENT = ratelimit.Policy(
    free_failures=20,
    first_block=timedelta(minutes=1),
    max_block=timedelta(hours=1),
    window=timedelta(hours=1),
    message="Too many password reset requests from here.",
)
MAIL_PER_ACCOUNT = ratelimit.Policy(
    free_failures=3,
    first_block=timedelta(minutes=10),
    max_block=timedelta(hours=1),
    window=timedelta(hours=1),
    message="Too many mails asked for this account.",
)
WRONG_TOKENS_PER_CLIENT = ratelimit.Policy(
    free_failures=20,
    first_block=timedelta(minutes=1),
    max_block=timedelta(hours=1),
    window=timedelta(hours=1),
    message="Too many links that are not valid.",
)


class InvalidToken(AppError):
    status = 400
    slug = "invalid-token"
    title = N_("Invalid token")


def _count(session: Session, key: str, policy: ratelimit.Policy, now: datetime) -> None:
    """One more request against a limit; 429 once it is spent."""
    ratelimit.check(session, key, policy, now)
    ratelimit.record_failure(session, key, policy, now)


def _issue(
    session: Session,
    user: User,
    purpose: TokenPurpose,
    email: str,
    *,
    now: datetime,
    lifetime: timedelta,
) -> tuple[uuid.UUID, str]:
    """A new token (its id and the raw value for the link); older ones of this purpose
    stop working."""
    session.execute(
        update(EmailToken)
        .where(
            EmailToken.user_id == user.id,
            EmailToken.purpose == purpose.value,
            EmailToken.used_at.is_(None),
            EmailToken.voided_at.is_(None),
        )
        .values(voided_at=now)
    )
    raw = security.new_opaque_token(TOKEN_BYTES)
    token = EmailToken(
        user_id=user.id,
        purpose=purpose.value,
        email=email,
        token_hash=security.hash_opaque_token(raw),
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(token)
    session.flush()
    return token.id, raw


def _link(settings: Settings, page: str, token: str) -> str:
    return f"{settings.app_base_url}/{page}?token={token}"


def _days(lifetime: timedelta) -> int:
    return lifetime.days


# --- verification --------------------------------------------------------------------


def send_verification(session: Session, user: User, *, now: datetime, settings: Settings) -> None:
    """Mail a link that proves the account's address is the owner's."""
    token_id, raw = _issue(
        session, user, TokenPurpose.verify, user.email, now=now, lifetime=VERIFY_LIFETIME
    )
    outbox.enqueue_mail(
        session,
        user_id=user.id,
        kind="verify_email",
        dedupe_key=f"mail:verify:{token_id}",
        to=user.email,
        words=mails.verify_email(user.display_name, _days(VERIFY_LIFETIME), user.locale),
        now=now,
        link=_link(settings, VERIFY_PAGE, raw),
    )


def resend_verification(session: Session, user: User, *, now: datetime, settings: Settings) -> None:
    if user.email_verified_at is not None:
        raise Conflict("Your email address is verified already.")
    _count(session, ratelimit.key("mail", str(user.id)), MAIL_PER_ACCOUNT, now)
    send_verification(session, user, now=now, settings=settings)


def _redeem(
    session: Session,
    raw: str,
    purposes: tuple[TokenPurpose, ...],
    *,
    now: datetime,
    client: str,
) -> tuple[EmailToken, User]:
    """The stored token and its user, or a 4xx saying why the link does not work. Unknown
    tokens (truncated, made up, of another purpose) count against the client."""
    key = ratelimit.key("email_token", client)
    ratelimit.check(session, key, WRONG_TOKENS_PER_CLIENT, now)
    token = session.scalars(
        select(EmailToken)
        .where(
            EmailToken.token_hash == security.hash_opaque_token(raw),
            EmailToken.purpose.in_([p.value for p in purposes]),
        )
        .with_for_update()
    ).one_or_none()
    user = session.get(User, token.user_id) if token is not None else None
    if token is None or user is None:
        ratelimit.record_failure(session, key, WRONG_TOKENS_PER_CLIENT, now)
        commit_then_raise(
            session, InvalidToken("This link is not valid; check that it was copied whole.")
        )
    assert token is not None and user is not None
    if token.used_at is not None:
        raise Gone("This link was used already; ask for a new one if you need it.")
    if token.voided_at is not None:
        raise Gone("A newer link was sent since; use the latest one.")
    if token.expires_at <= now:
        raise Gone("This link has expired; ask for a new one.")
    if token.purpose != TokenPurpose.change and token.email != user.email:
        raise Gone("This link was sent to an address that is no longer on the account.")
    return token, user


def verify_email(session: Session, raw: str, *, now: datetime, client: str) -> User:
    """Mark the address verified, or move the account to the new address it names; a new
    address taken by another account since is a 409 and nothing changes."""
    token, user = _redeem(
        session, raw, (TokenPurpose.verify, TokenPurpose.change), now=now, client=client
    )
    if token.purpose == TokenPurpose.change and token.email != user.email:
        holder = session.scalars(select(User).where(User.email == token.email)).one_or_none()
        if holder is not None:
            raise Conflict("This address belongs to another account now.")
        user.email = token.email
        _void_all(session, user.id, now, keep=token.id)
    token.used_at = now
    user.email_verified_at = now
    user.updated_at = now
    session.flush()
    return user


def _void_all(session: Session, user_id: uuid.UUID, now: datetime, keep: uuid.UUID) -> None:
    """After the address changed, no link sent before may act on the account."""
    session.execute(
        update(EmailToken)
        .where(
            EmailToken.user_id == user_id,
            EmailToken.id != keep,
            EmailToken.used_at.is_(None),
            EmailToken.voided_at.is_(None),
        )
        .values(voided_at=now)
    )


# --- email change --------------------------------------------------------------------


def request_email_change(
    session: Session, user: User, new_email: str, *, now: datetime, settings: Settings
) -> None:
    """Mail a link to the new address and a notice to the old one; nothing changes until
    the link comes back (``verify_email``). The password was checked by the caller."""
    if new_email == user.email:
        raise Invalid("This is already your email address.", field="email")
    if session.scalars(select(User.id).where(User.email == new_email)).first() is not None:
        raise Conflict("An account with this email already exists.")
    _count(session, ratelimit.key("mail", str(user.id)), MAIL_PER_ACCOUNT, now)
    token_id, raw = _issue(
        session, user, TokenPurpose.change, new_email, now=now, lifetime=VERIFY_LIFETIME
    )
    outbox.enqueue_mail(
        session,
        user_id=user.id,
        kind="confirm_new_email",
        dedupe_key=f"mail:change:{token_id}",
        to=new_email,
        words=mails.confirm_new_email(user.display_name, _days(VERIFY_LIFETIME), user.locale),
        now=now,
        link=_link(settings, VERIFY_PAGE, raw),
    )
    outbox.enqueue_mail(
        session,
        user_id=user.id,
        kind="email_change_requested",
        dedupe_key=f"mail:change-notice:{token_id}",
        to=user.email,
        words=mails.email_change_requested(user.display_name, user.locale),
        now=now,
    )


# --- password reset ------------------------------------------------------------------


def request_password_reset(
    session: Session,
    email: str,
    *,
    now: datetime,
    settings: Settings,
    client: str,
) -> None:
    """Mail a reset link if an account has this address. Unknown addresses get the same
    answer after the same limits and lookups, so the answer tells nobody which exist."""
    _count(session, ratelimit.key("reset_client", client), RESET_PER_CLIENT, now)
    _count(session, ratelimit.key("reset", email), RESET_PER_ADDRESS, now)
    user = session.scalars(select(User).where(User.email == email)).one_or_none()
    if user is None:
        return
    token_id, raw = _issue(
        session, user, TokenPurpose.reset, user.email, now=now, lifetime=RESET_LIFETIME
    )
    outbox.enqueue_mail(
        session,
        user_id=user.id,
        kind="reset_password",
        dedupe_key=f"mail:reset:{token_id}",
        to=user.email,
        words=mails.reset_password(
            user.display_name, int(RESET_LIFETIME.total_seconds() // 60), user.locale
        ),
        now=now,
        link=_link(settings, RESET_PAGE, raw),
    )


def redeem_reset(session: Session, raw: str, *, now: datetime, client: str) -> User:
    """The account a reset link is for; the token is spent. The link proves the address."""
    token, user = _redeem(session, raw, (TokenPurpose.reset,), now=now, client=client)
    token.used_at = now
    if user.email_verified_at is None:
        user.email_verified_at = now
    session.flush()
    return user


def notify_password_changed(session: Session, user: User, *, now: datetime) -> None:
    outbox.enqueue_mail(
        session,
        user_id=user.id,
        kind="password_changed",
        dedupe_key=f"mail:password-changed:{user.id}:{user.session_version}",
        to=user.email,
        words=mails.password_changed(
            user.display_name, now.astimezone(ZoneInfo(user.timezone)).date(), user.locale
        ),
        now=now,
    )
