"""The one place that touches passlib and python-jose, so either can be swapped.

Passwords: argon2id at or above OWASP's minimum (m=19 MiB, t=2, p=1).
Access tokens: HS256 JWTs with the algorithm pinned on decode, ``typ`` = "access".
Refresh tokens: opaque random strings; only their SHA-256 is stored.
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from jose import JWTError, jwt
from passlib.context import CryptContext

JWT_ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a claim value
ISSUER = "tend"
# Replicas' clocks may differ by a little; a token issued further ahead than this was not
# issued by any of them at the time it claims, so it is refused.
ISSUED_AT_LEEWAY_SECONDS = 30

_passwords = CryptContext(
    schemes=["argon2"],
    argon2__type="ID",
    argon2__memory_cost=19 * 1024,
    argon2__time_cost=2,
    argon2__parallelism=1,
)
# Verified against when the account does not exist, so a login costs the same either way.
_DUMMY_HASH = _passwords.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return str(_passwords.hash(password))


def verify_password(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        _passwords.verify(password, _DUMMY_HASH)
        return False
    return bool(_passwords.verify(password, password_hash))


def password_hash_needs_update(password_hash: str) -> bool:
    return bool(_passwords.needs_update(password_hash))


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_version: int
    issued_at: datetime
    expires_at: datetime


class InvalidToken(Exception):
    """The token is malformed, expired, of the wrong type or signed with another key."""


def create_access_token(
    user_id: uuid.UUID,
    *,
    session_version: int,
    secret_key: str,
    now: datetime,
    lifetime: timedelta,
) -> str:
    claims = {
        "sub": str(user_id),
        "ver": session_version,
        "typ": ACCESS_TOKEN_TYPE,
        "iss": ISSUER,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": secrets.token_urlsafe(12),
    }
    return str(jwt.encode(claims, secret_key, algorithm=JWT_ALGORITHM))


def decode_access_token(token: str, *, secret_key: str, now: datetime) -> AccessClaims:
    claims = _verified_claims(token, secret_key)
    # Expiry and issue time are checked against Tend's clock, not the library's.
    if now.timestamp() >= claims.expires_at.timestamp():
        raise InvalidToken("expired")
    if claims.issued_at.timestamp() > now.timestamp() + ISSUED_AT_LEEWAY_SECONDS:
        raise InvalidToken("issued in the future")
    return claims


# A phone sends the same access token with every request for its lifetime, and checking
# its signature costs about half a millisecond of CPU: each token is checked once. What
# can change (expiry, the session version) is checked on every use, outside the cache.
@lru_cache(maxsize=4096)
def _verified_claims(token: str, secret_key: str) -> AccessClaims:
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != JWT_ALGORITHM:
            raise InvalidToken("unexpected algorithm")
        claims = jwt.decode(
            token,
            secret_key,
            algorithms=[JWT_ALGORITHM],
            issuer=ISSUER,
            # jose's require_exp would check expiry against the wall clock; presence of
            # exp, iat and sub is checked below instead.
            options={"verify_exp": False, "verify_aud": False, "verify_iat": False},
        )
    except JWTError as exc:
        raise InvalidToken(str(exc)) from exc
    if claims.get("typ") != ACCESS_TOKEN_TYPE:
        raise InvalidToken("not an access token")
    exp, iat, sub, ver = claims.get("exp"), claims.get("iat"), claims.get("sub"), claims.get("ver")
    if not isinstance(exp, int) or not isinstance(iat, int) or not isinstance(ver, int):
        raise InvalidToken("bad exp, iat or ver")
    try:
        user_id = uuid.UUID(str(sub))
    except ValueError as exc:
        raise InvalidToken("bad subject") from exc
    return AccessClaims(
        user_id=user_id,
        session_version=ver,
        issued_at=datetime.fromtimestamp(iat, tz=UTC),
        expires_at=datetime.fromtimestamp(exp, tz=UTC),
    )


def new_opaque_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def hash_opaque_token(token: str) -> str:
    """Refresh tokens and invite codes carry enough entropy that a fast hash suffices."""
    return hashlib.sha256(token.encode()).hexdigest()
