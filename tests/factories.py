"""Plain functions that make test data through the public API."""

import itertools
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import select

from app import security
from app.accounts.models import EmailToken
from app.outbox.models import Mail

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


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


def register(
    client: TestClient,
    *,
    email: str | None = None,
    display_name: str | None = None,
    role: str = "partner",
    timezone: str = "Europe/Berlin",
    password: str = PASSWORD,
    verified: bool | None = None,
) -> Account:
    """A new account; a coach's address is verified by default (partners may consent only
    to a verified coach), a partner's only when asked."""
    n = next(_counter)
    body: dict[str, Any] = {
        "email": email or f"person{n}@example.com",
        "password": password,
        "display_name": display_name or f"Person {n}",
        "timezone": timezone,
        "role": role,
    }
    response = client.post("/v1/auth/register", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    account = Account(
        id=data["user"]["id"],
        email=data["user"]["email"],
        password=password,
        access_token=data["access_token"],
        refresh_token=data["refresh_token"],
        display_name=data["user"]["display_name"],
    )
    if verified if verified is not None else role == "coach":
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


def verify_email(client: TestClient, email: str) -> None:
    token = mailed_token(client, email)
    response = client.post("/v1/auth/verify-email", json={"token": token})
    assert response.status_code == 204, response.text


def invite(client: TestClient, inviter: Account) -> str:
    response = client.post("/v1/couple/invites", headers=inviter.headers)
    assert response.status_code == 201, response.text
    code: str = response.json()["code"]
    return code


def pair(
    client: TestClient, a: Account | None = None, b: Account | None = None
) -> tuple[Account, Account]:
    a = a or register(client, display_name="Alex")
    b = b or register(client, display_name="Sam")
    response = client.post("/v1/couple/join", json={"code": invite(client, a)}, headers=b.headers)
    assert response.status_code == 201, response.text
    return a, b


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] and body["title"]
    return body


def login(client: TestClient, account: Account) -> Account:
    """Sign in again, e.g. after the test clock moved past the access token's lifetime."""
    response = client.post(
        "/v1/auth/login", json={"email": account.email, "password": account.password}
    )
    assert response.status_code == 200, response.text
    account.access_token = response.json()["access_token"]
    account.refresh_token = response.json()["refresh_token"]
    return account


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
