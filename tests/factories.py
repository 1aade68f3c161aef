"""Plain functions that make test data through the public API.

Every test builds its accounts, couples, bids, devices and consents here rather than with
a copy of its own. They take a fastapi TestClient or an httpx.Client pointed at a running
Tend (TestClient is an httpx.Client), and assert that what they make was made.
"""

import itertools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from app import security
from app.accounts.models import EmailToken
from app.db import make_engine
from app.outbox.models import Mail

PASSWORD = "correct horse battery staple"
EXPO_TOKEN = "ExponentPushToken[abc123]"
_counter = itertools.count(1)

# Nudge settings with every kind on (PUT /v1/me/nudge-settings): a partner's bid left
# pending always puts a nudge for them in the outbox.
EVERY_NUDGE: dict[str, Any] = {
    "enabled": True,
    "discreet": True,
    "daily_time": "19:00",
    "quiet_start": "22:00",
    "quiet_end": "07:00",
    "kinds": {
        "daily_suggestion": True,
        "partner_bid": True,
        "reconnect": True,
        "weekly_summary": True,
    },
}


@dataclass
class Account:
    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str
    display_name: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def ok(response: httpx.Response, *statuses: int) -> Any:
    """The JSON of an answer with one of these statuses (200 if none is named), or None
    for an answer without a body."""
    assert response.status_code in (statuses or (200,)), response.text
    return response.json() if response.content else None


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] and body["title"]
    return body


def assert_throttled(response: Any) -> int:
    """A 429 problem with a Retry-After of whole seconds (RFC 9110 delay-seconds); returns
    those seconds."""
    assert_problem(response, 429)
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    seconds = int(retry_after)
    assert seconds >= 1
    return seconds


# --- accounts ----------------------------------------------------------------------------


def register(
    client: httpx.Client,
    *,
    email: str | None = None,
    display_name: str | None = None,
    role: str = "partner",
    timezone: str = "Europe/Berlin",
    password: str = PASSWORD,
    verified: bool | None = None,
    accept_language: str | None = None,
) -> Account:
    """A new account. Over the app in this process (a TestClient), a coach's address is
    verified by default (partners may consent only to a verified coach), a partner's only
    when asked; tests against a server process verify through its mail as they need."""
    n = next(_counter)
    body: dict[str, Any] = {
        "email": email or f"person{n}@example.com",
        "password": password,
        "display_name": display_name or f"Person {n}",
        "timezone": timezone,
        "role": role,
    }
    headers = {"Accept-Language": accept_language} if accept_language else {}
    data = ok(client.post("/v1/auth/register", json=body, headers=headers), 201)
    account = Account(
        id=data["user"]["id"],
        email=data["user"]["email"],
        password=password,
        access_token=data["access_token"],
        refresh_token=data["refresh_token"],
        display_name=data["user"]["display_name"],
    )
    in_process = isinstance(client, TestClient)
    if verified if verified is not None else (role == "coach" and in_process):
        verify_email(client, account.email)
    return account


def mailed_token(client: TestClient, to: str, page: str = "verify-email") -> str:
    """The token of the newest working link mailed to this address for this page, read
    from the outbox as it waits (the mailbox is the edge of the outside world)."""
    factory = client.app.state.session_factory  # type: ignore[attr-defined]
    with factory() as session:
        links = session.scalars(
            select(Mail.link).where(Mail.to_address == to.lower(), Mail.link.is_not(None))
        ).all()
        for link in links:
            parts = urlsplit(link)
            if not parts.path.endswith(f"/{page}"):
                continue
            token = parse_qs(parts.query)["token"][0]
            stored = session.scalars(
                select(EmailToken).where(
                    EmailToken.token_hash == security.hash_opaque_token(token),
                    EmailToken.used_at.is_(None),
                    EmailToken.voided_at.is_(None),
                )
            ).one_or_none()
            if stored is not None:
                return token
    raise AssertionError(f"no working {page} link waits in the outbox")


def verify_email(client: httpx.Client, email: str, database_url: str | None = None) -> None:
    """Confirm the address with the link Tend mailed to it: read from the outbox of the
    app in this process, or of the server process's database at ``database_url``."""
    if database_url is None:
        assert isinstance(client, TestClient), "a server process: give its database_url"
        token = mailed_token(client, email)
    else:
        engine = make_engine(database_url)
        try:
            with engine.connect() as conn:
                links = conn.execute(
                    select(Mail.link).where(Mail.to_address == email.lower())
                ).scalars()
                token = next(
                    parse_qs(urlsplit(link).query)["token"][0]
                    for link in links
                    if link and urlsplit(link).path.endswith("/verify-email")
                )
        finally:
            engine.dispose()
    ok(client.post("/v1/auth/verify-email", json={"token": token}), 204)


def sign_in(client: httpx.Client, account: Account, password: str | None = None) -> Any:
    """A new session for the account (its token pair); the account keeps its old one."""
    body = {"email": account.email, "password": password or account.password}
    return ok(client.post("/v1/auth/login", json=body))


def login(client: httpx.Client, account: Account) -> Account:
    """Sign in again, e.g. after the test clock moved past the access token's lifetime."""
    tokens = sign_in(client, account)
    account.access_token = tokens["access_token"]
    account.refresh_token = tokens["refresh_token"]
    return account


# --- couples -----------------------------------------------------------------------------


def invite(client: httpx.Client, inviter: Account) -> str:
    code: str = ok(client.post("/v1/couple/invites", headers=inviter.headers), 201)["code"]
    return code


def join(client: httpx.Client, joiner: Account, code: str) -> str:
    """The joiner takes an invite; the couple's id."""
    body = {"code": code}
    couple_id: str = ok(client.post("/v1/couple/join", json=body, headers=joiner.headers), 201)[
        "id"
    ]
    return couple_id


def pair(
    client: httpx.Client, a: Account | None = None, b: Account | None = None
) -> tuple[Account, Account]:
    a = a or register(client, display_name="Alex")
    b = b or register(client, display_name="Sam")
    join(client, b, invite(client, a))
    return a, b


def couple_id_of(client: httpx.Client, partner: Account) -> str:
    """The id of the partner's current couple."""
    found: str = ok(client.get("/v1/couple", headers=partner.headers))["id"]
    return found


def end_couple(client: httpx.Client, partner: Account) -> None:
    response = client.delete("/v1/couple", headers=partner.headers)
    assert response.status_code == 204, response.text
    assert response.content == b""


def pair_over_http(
    client: httpx.Client,
    names: tuple[str, str] = ("A", "B"),
    languages: tuple[str | None, str | None] = (None, None),
) -> tuple[Account, Account]:
    """Two partners paired through a running Tend, whose database outlives this process's
    counter: unique emails, and the server's default time zone; ``languages`` are their
    phones' Accept-Language."""
    a, b = (
        register(
            client,
            email=f"{uuid.uuid4().hex}@example.com",
            display_name=name,
            timezone="UTC",
            password="a long test passphrase",
            accept_language=language,
        )
        for name, language in zip(names, languages, strict=True)
    )
    return pair(client, a, b)


# --- bids --------------------------------------------------------------------------------


def wire(values: dict[str, Any]) -> dict[str, Any]:
    """Datetimes as the phone sends them: RFC 3339 strings."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


def post_bid(client: httpx.Client, account: Account, **body: Any) -> httpx.Response:
    """POST /v1/bids: a hug the account initiated unless the body says otherwise."""
    body = {"kind": "hug", "initiator": "me", **body}
    return client.post("/v1/bids", json=wire(body), headers=account.headers)


def log_bid(client: httpx.Client, account: Account, **body: Any) -> dict[str, Any]:
    """A bid logged (201) as post_bid sends it; the bid as the API answers it."""
    bid: dict[str, Any] = ok(post_bid(client, account, **body), 201)
    return bid


# --- devices and the inbox ---------------------------------------------------------------


def post_device(
    client: httpx.Client,
    account: Account,
    token: str = EXPO_TOKEN,
    *,
    provider: str = "expo",
    platform: str = "ios",
) -> httpx.Response:
    body = {"provider": provider, "token": token, "platform": platform}
    return client.post("/v1/me/devices", json=body, headers=account.headers)


def add_device(
    client: httpx.Client, account: Account, token: str = EXPO_TOKEN, **kind: str
) -> dict[str, Any]:
    """A push device registered (201); ``kind`` may name its provider and platform."""
    device: dict[str, Any] = ok(post_device(client, account, token, **kind), 201)
    return device


def notifications_of(client: httpx.Client, account: Account) -> list[dict[str, Any]]:
    """The first page of the account's in-app notifications."""
    items: list[dict[str, Any]] = ok(client.get("/v1/me/notifications", headers=account.headers))[
        "items"
    ]
    return items


# --- coaches -----------------------------------------------------------------------------


def new_coach(client: httpx.Client, display_name: str = "Robin Coach") -> Account:
    return register(client, display_name=display_name, role="coach")


def code_of(client: httpx.Client, coach: Account) -> str:
    code: str = ok(client.get("/v1/coach/profile", headers=coach.headers))["code"]
    return code


def grant(client: httpx.Client, partner: Account, code: Any) -> httpx.Response:
    """The partner's consent to the coach with this code (the answer, whatever it is)."""
    return client.post("/v1/couple/coaches", json={"coach_code": code}, headers=partner.headers)


def consent(client: httpx.Client, code: str, *partners: Account) -> None:
    """Each partner lets the coach with this code see their progress (201)."""
    for partner in partners:
        ok(grant(client, partner, code), 201)


def consenting_couple(
    client: httpx.Client, coach: Account, alex: str = "Alex", sam: str = "Sam"
) -> tuple[Account, Account, str]:
    """A couple whose two partners both let ``coach`` see their progress; and its id."""
    a, b = pair(client, register(client, display_name=alex), register(client, display_name=sam))
    consent(client, code_of(client, coach), a, b)
    return a, b, couple_id_of(client, a)
