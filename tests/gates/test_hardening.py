"""Security and privacy gates at the edge of the API: request body size, list limits, rate
limits with Retry-After, security headers, CORS, and the interactive docs.

This file is the one place that lists every limit; the per-feature files (test_auth,
test_couples, test_coaching, test_erasure) test the finer behaviour of each of them."""

import base64
import hashlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app import migrations
from app.config import Environment, Settings
from app.main import create_app
from app.models import Base
from tests.conftest import TEST_DATA_KEY, TEST_SECRET, make_settings
from tests.factories import (
    assert_problem,
    assert_throttled,
    code_of,
    log_bid,
    new_coach,
    pair,
    register,
)
from tests.processes import tend_server

DEFAULT_LIMIT = 64 * 1024
API_CSP = "default-src 'none'; frame-ancestors 'none'"
ORIGIN = "https://app.example.com"
WRONG_PASSWORD = "not the password at all"
EXPO_TOKEN = "ExponentPushToken[hardening]"


# --- helpers ---------------------------------------------------------------------------


def padded(payload: dict[str, Any], size: int) -> bytes:
    """``payload`` as JSON followed by spaces up to exactly ``size`` bytes: still valid JSON,
    so a refusal can only be the size limit's."""
    raw = json.dumps(payload).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def chunks(body: bytes, size: int = 1000) -> Iterator[bytes]:
    """A generator body: httpx sends it chunked, without Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def send(
    client: TestClient,
    method: str,
    path: str,
    body: bytes,
    *,
    chunked: bool,
    headers: dict[str, str] | None = None,
) -> Any:
    content: bytes | Iterator[bytes] = chunks(body) if chunked else body
    response = client.request(
        method,
        path,
        content=content,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    # Make sure the request really was of the kind the test means.
    assert ("content-length" in response.request.headers) is not chunked
    return response


def snapshot(db: Any) -> dict[str, list[str]]:
    """Every row of every table, to prove that a refused request wrote nothing."""
    with db.engine.connect() as conn:
        return {
            table.name: sorted(repr(tuple(row)) for row in conn.execute(table.select()))
            for table in Base.metadata.sorted_tables
        }


def assert_api_headers(response: Any) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    assert headers.get_list("content-security-policy") == [API_CSP]


@pytest.fixture
def app_with(db: Any, clock: Any) -> Iterator[Callable[..., TestClient]]:
    """Start a TestClient over an app with other settings: ``app_with(max_body_bytes=2048)``."""
    clients: list[TestClient] = []

    def build(*, raise_server_exceptions: bool = True, **overrides: Any) -> TestClient:
        app = create_app(make_settings(db.url, **overrides), clock=clock, engine=db.engine)
        client = TestClient(app, raise_server_exceptions=raise_server_exceptions)
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


# --- 1. request body size ---------------------------------------------------------------

# Write endpoints, each with a body that it accepts: (method, path, body), where the path
# and body may name the bid, the password and a coach code made for the test.
WRITES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "register": (
        "POST",
        "/v1/auth/register",
        {"email": "new@example.com", "password": "a long new passphrase", "display_name": "N"},
    ),
    "login": ("POST", "/v1/auth/login", {"email": "{email}", "password": "{password}"}),
    "create-bid": ("POST", "/v1/bids", {"kind": "kiss", "initiator": "me", "note": "hello"}),
    "edit-bid": ("PATCH", "/v1/bids/{bid_id}", {"note": "changed"}),
    "answer-bid": ("PUT", "/v1/bids/{bid_id}/response", {"response": "toward"}),
    "update-me": ("PATCH", "/v1/me", {"display_name": "Changed"}),
    "nudge-settings": (
        "PUT",
        "/v1/me/nudge-settings",
        {
            "enabled": False,
            "discreet": True,
            "daily_time": "18:00",
            "quiet_start": "22:00",
            "quiet_end": "07:00",
            "kinds": dict.fromkeys(
                ("daily_suggestion", "partner_bid", "reconnect", "weekly_summary"), True
            ),
        },
    ),
    "register-device": (
        "POST",
        "/v1/me/devices",
        {"provider": "expo", "token": EXPO_TOKEN, "platform": "ios"},
    ),
    "grant-coach": ("POST", "/v1/couple/coaches", {"coach_code": "{coach_code}"}),
    "change-password": (
        "POST",
        "/v1/me/password",
        {"current_password": "{password}", "new_password": "another long passphrase"},
    ),
    "erase-me": ("DELETE", "/v1/me", {"password": "{password}"}),
}


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


@pytest.mark.parametrize("write", list(WRITES))
def test_bodies_over_the_limit_are_refused_on_every_write(client, db, write):
    alex, _ = pair(client)
    names = {
        "email": alex.email,
        "password": alex.password,
        "bid_id": log_bid(client, alex)["id"],
        "coach_code": code_of(client, new_coach(client)),
    }
    method, path_template, payload = WRITES[write]
    path, payload = path_template.format(**names), _fill(payload, names)
    before = snapshot(db)

    for chunked in (False, True):
        response = send(
            client,
            method,
            path,
            padded(payload, DEFAULT_LIMIT + 1),
            chunked=chunked,
            headers=alex.headers,
        )
        body = assert_problem(response, 413)
        assert body["type"].endswith("payload-too-large")
        assert str(DEFAULT_LIMIT) in body["detail"]
        assert snapshot(db) == before, f"a refused body wrote to the database (chunked={chunked})"

    # The same request at exactly the limit is served.
    response = send(
        client, method, path, padded(payload, DEFAULT_LIMIT), chunked=True, headers=alex.headers
    )
    assert 200 <= response.status_code < 300, response.text


def test_a_body_just_under_the_limit_is_not_413_whatever_validation_says(client, db):
    alex = register(client)
    for size in (DEFAULT_LIMIT - 1, DEFAULT_LIMIT):
        for chunked in (False, True):
            junk = send(
                client, "POST", "/v1/bids", b"x" * size, chunked=chunked, headers=alex.headers
            )
            assert junk.status_code != 413, junk.text
            assert 400 <= junk.status_code < 500
            invalid = send(
                client,
                "PATCH",
                "/v1/me",
                padded({"display_name": "y" * 500}, size),
                chunked=chunked,
                headers=alex.headers,
            )
            assert_problem(invalid, 422)


def test_a_declared_length_over_the_limit_is_refused_even_where_no_body_is_read(client, db):
    alex = register(client)
    before = snapshot(db)
    body = b"{" * (DEFAULT_LIMIT + 1)
    response = send(client, "POST", "/v1/couple/invites", body, chunked=False, headers=alex.headers)
    assert_problem(response, 413)
    assert snapshot(db) == before


def test_a_configured_smaller_limit_is_honoured(app_with, db):
    client = app_with(max_body_bytes=2048)
    payload = {"email": "kim@example.com", "password": "a long new passphrase", "display_name": "K"}
    for chunked in (False, True):
        response = send(client, "POST", "/v1/auth/register", padded(payload, 2049), chunked=chunked)
        assert "2048" in assert_problem(response, 413)["detail"]
    assert snapshot(db)["users"] == []

    response = send(client, "POST", "/v1/auth/register", padded(payload, 2048), chunked=True)
    assert response.status_code == 201, response.text


def test_settings_refuse_a_limit_below_one_kibibyte():
    with pytest.raises(ValidationError):
        Settings(max_body_bytes=1023, secret_key=TEST_SECRET)
    assert Settings(max_body_bytes=1024, secret_key=TEST_SECRET).max_body_bytes == 1024


def test_the_limit_holds_over_real_http_with_a_chunked_upload(tmp_path):
    """`tend serve` (uvicorn) with TEND_MAX_BODY_BYTES: a chunked upload over a real socket
    is counted while it is read, and a declared length is refused before reading."""
    path = tmp_path / "served.db"
    url = f"sqlite:///{path}"
    migrations.upgrade(url)
    payload = {
        "email": "real@example.com",
        "password": "a long new passphrase",
        "display_name": "R",
    }
    with (
        tend_server(url, TEST_SECRET, TEND_SCHEDULER="off", TEND_MAX_BODY_BYTES="2048") as base,
        httpx.Client(base_url=base, timeout=10) as http,
    ):
        for content in (chunks(padded(payload, 4096), 512), padded(payload, 4096)):
            response = http.post(
                "/v1/auth/register", content=content, headers={"Content-Type": "application/json"}
            )
            assert_problem(response, 413)
            assert ("content-length" in response.request.headers) is isinstance(content, bytes)
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT count(*) FROM users").fetchone() == (0,)

        response = http.post(
            "/v1/auth/register",
            content=chunks(padded(payload, 2048), 512),
            headers={"Content-Type": "application/json"},
        )
        assert "content-length" not in response.request.headers
        assert response.status_code == 201, response.text


# --- 2. list limits ---------------------------------------------------------------------

PAGINATED = (
    "/v1/bids",
    "/v1/me/notifications",
    "/v1/couple/coach-access-log",
    "/v1/coach/couples",
)
# Lists answered whole. The catalogue is fixed; the others are bounded only by use — see
# test_every_list_is_paginated_or_known_to_be_small.
# Small by nature: catalogues, ten devices at most, a couple's coaches, and practice plans
# (five open at most; ended ones are a couple's short history, a coach's view per couple).
WHOLE_LISTS = {
    "/v1/bid-kinds",
    "/v1/me/devices",
    "/v1/couple/coaches",
    "/v1/practices",
    "/v1/couple/practices",
    "/v1/coach/couples/{couple_id}/practices",
}


@pytest.mark.parametrize("path", PAGINATED)
def test_list_limits_are_capped(client, path):
    alex, _ = pair(client)
    if path.startswith("/v1/coach/"):
        alex = register(client, role="coach")
    for bad in ("0", "-1", "201", "1000000", "abc", "1.5"):
        response = client.get(path, params={"limit": bad}, headers=alex.headers)
        body = assert_problem(response, 422)
        assert ["query", "limit"] in [e["loc"] for e in body["errors"]], body
    for good in ("1", "200"):
        response = client.get(path, params={"limit": good}, headers=alex.headers)
        assert response.status_code == 200, response.text
        assert set(response.json()) == {"items", "next_cursor"}

    too_long = client.get(path, params={"cursor": "a" * 513}, headers=alex.headers)
    assert_problem(too_long, 422)
    assert_problem(client.get(path, params={"cursor": "not a cursor"}, headers=alex.headers), 400)


def test_bids_default_to_pages_of_50(client):
    alex, sam = pair(client)
    created = {log_bid(client, alex if n % 2 else sam)["id"] for n in range(51)}

    first = client.get("/v1/bids", headers=alex.headers).json()
    assert len(first["items"]) == 50
    assert first["next_cursor"]
    rest = client.get(
        "/v1/bids", params={"cursor": first["next_cursor"]}, headers=alex.headers
    ).json()
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    assert {b["id"] for b in first["items"] + rest["items"]} == created

    whole = client.get("/v1/bids", params={"limit": 200}, headers=sam.headers).json()
    assert len(whole["items"]) == 51
    assert whole["next_cursor"] is None


def test_every_list_is_paginated_or_known_to_be_small(client):
    """Guard for new endpoints: a list answer is a page with a capped limit, unless it is in
    WHOLE_LISTS; and every page takes limit (1..200, default 50) and cursor."""
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    pages, whole = set(), set()
    for path, operations in document["paths"].items():
        operation = operations.get("get")
        if operation is None or "200" not in operation["responses"]:
            continue
        content = operation["responses"]["200"].get("content", {})
        schema = content.get("application/json", {}).get("schema", {})
        if schema.get("type") == "array":
            whole.add(path)
        elif "$ref" in schema:
            component = schemas[schema["$ref"].rsplit("/", 1)[1]]
            if {"items", "next_cursor"} <= set(component.get("properties", {})):
                pages.add(path)
                params = {p["name"]: p for p in operation.get("parameters", [])}
                assert "cursor" in params, path
                limit = params["limit"]["schema"]
                assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 200, 50)
    assert pages == set(PAGINATED)
    assert whole == WHOLE_LISTS


def test_other_range_parameters_are_capped(client):
    alex, _ = pair(client)
    for path in ("/v1/couple/balance/history", "/v1/couple/stats"):
        for bad in ("0", "366"):
            assert_problem(client.get(path, params={"days": bad}, headers=alex.headers), 422)
        assert client.get(path, params={"days": 365}, headers=alex.headers).status_code == 200
    coach = register(client, role="coach")
    progress = "/v1/coach/couples/00000000-0000-0000-0000-000000000000/progress"
    for bad in ("0", "53"):
        assert_problem(client.get(progress, params={"weeks": bad}, headers=coach.headers), 422)


# --- 3. rate limits: 429 with Retry-After -----------------------------------------------


@pytest.fixture
def strict(app_with) -> TestClient:
    """Two free failures for sign-ins, password confirmations and invite codes."""
    return app_with(login_free_failures=2, join_max_failures=2)


def test_login_is_rate_limited_per_account(strict, clock):
    alex, sam = register(strict), register(strict)
    for _ in range(2):
        wrong = strict.post(
            "/v1/auth/login", json={"email": alex.email, "password": WRONG_PASSWORD}
        )
        assert_problem(wrong, 401)
    right = {"email": alex.email, "password": alex.password}
    retry_after = assert_throttled(strict.post("/v1/auth/login", json=right))
    other = strict.post("/v1/auth/login", json={"email": sam.email, "password": sam.password})
    assert other.status_code == 200  # per account, not global

    clock.advance(seconds=retry_after)
    assert strict.post("/v1/auth/login", json=right).status_code == 200


def test_guessing_invite_codes_is_rate_limited(strict):
    alex, sam = register(strict), register(strict)
    code = strict.post("/v1/couple/invites", headers=alex.headers).json()["code"]
    for guess in ("00000000", "not-a-code"):
        wrong = strict.post("/v1/couple/join", json={"code": guess}, headers=sam.headers)
        assert_problem(wrong, 404)
    blocked = strict.post("/v1/couple/join", json={"code": code}, headers=sam.headers)
    assert assert_throttled(blocked) <= 60
    assert_problem(strict.get("/v1/couple", headers=sam.headers), 404)  # not joined


def test_guessing_coach_codes_is_rate_limited(client):
    alex, _ = pair(client)
    code = code_of(client, new_coach(client))
    for n in range(10):  # the coach-code policy is fixed: 10 free wrong codes per partner
        wrong = client.post(
            "/v1/couple/coaches", json={"coach_code": f"{n:010d}"}, headers=alex.headers
        )
        assert_problem(wrong, 404)
    blocked = client.post("/v1/couple/coaches", json={"coach_code": code}, headers=alex.headers)
    assert assert_throttled(blocked) <= 60
    assert client.get("/v1/couple/coaches", headers=alex.headers).json() == []


def test_the_password_to_change_the_password_is_rate_limited(strict, clock):
    alex = register(strict)

    def change(current: str) -> Any:
        body = {"current_password": current, "new_password": "another long passphrase"}
        return strict.post("/v1/me/password", json=body, headers=alex.headers)

    for _ in range(2):
        assert_problem(change(WRONG_PASSWORD), 403)
    retry_after = assert_throttled(change(alex.password))  # even the right one waits
    clock.advance(seconds=retry_after)
    assert change(alex.password).status_code == 200


def test_the_password_to_erase_the_account_is_rate_limited(strict, clock, db):
    alex = register(strict)

    def erase(password: str) -> Any:
        return strict.request("DELETE", "/v1/me", json={"password": password}, headers=alex.headers)

    for _ in range(2):
        assert_problem(erase(WRONG_PASSWORD), 403)
    retry_after = assert_throttled(erase(alex.password))  # even the right one waits
    assert strict.get("/v1/me", headers=alex.headers).status_code == 200  # nothing erased

    clock.advance(seconds=retry_after)
    assert erase(alex.password).status_code == 204
    assert snapshot(db)["users"] == []


def test_password_confirmations_and_sign_ins_share_one_lockout(strict):
    alex = register(strict)
    body = {"current_password": WRONG_PASSWORD, "new_password": "another long passphrase"}
    assert_problem(strict.post("/v1/me/password", json=body, headers=alex.headers), 403)
    wrong = {"password": WRONG_PASSWORD}
    assert_problem(strict.request("DELETE", "/v1/me", json=wrong, headers=alex.headers), 403)
    right = {"email": alex.email, "password": alex.password}
    assert_throttled(strict.post("/v1/auth/login", json=right))


# --- 4. security headers ------------------------------------------------------------------


def _throttled_login(client: TestClient) -> Any:
    account = register(client)
    body = {"email": account.email, "password": WRONG_PASSWORD}
    for _ in range(client.app.state.settings.login_free_failures):  # type: ignore[attr-defined]
        client.post("/v1/auth/login", json=body)
    return client.post("/v1/auth/login", json=body)


def _too_large(chunked: bool) -> Callable[[TestClient], Any]:
    def request(client: TestClient) -> Any:
        body = padded({"email": "a@example.com", "password": "x"}, DEFAULT_LIMIT + 1)
        return send(client, "POST", "/v1/auth/login", body, chunked=chunked)

    return request


ANSWERS: dict[str, tuple[int, Callable[[TestClient], Any]]] = {
    "json-200": (200, lambda c: c.get("/v1/bid-kinds")),
    "signed-in-200": (200, lambda c: c.get("/v1/me", headers=register(c).headers)),
    "health-200": (200, lambda c: c.get("/healthz")),
    "openapi-200": (200, lambda c: c.get("/openapi.json")),
    "created-201": (201, lambda c: c.post("/v1/couple/invites", headers=register(c).headers)),
    "no-content-204": (204, lambda c: c.post("/v1/auth/logout", json={"refresh_token": "x"})),
    "unauthorized-401": (401, lambda c: c.get("/v1/me")),
    "validation-422": (422, lambda c: c.post("/v1/auth/register", json={})),
    "malformed-400": (
        400,
        lambda c: c.post(
            "/v1/auth/login", content=b"{", headers={"Content-Type": "application/json"}
        ),
    ),
    "unknown-path-404": (404, lambda c: c.get("/v1/nothing-here")),
    "wrong-method-405": (405, lambda c: c.delete("/v1/auth/login")),
    "too-large-chunked-413": (413, _too_large(chunked=True)),
    "too-large-declared-413": (413, _too_large(chunked=False)),
    "throttled-429": (429, _throttled_login),
}


@pytest.mark.parametrize("answer", list(ANSWERS))
def test_api_answers_carry_the_security_headers(client, answer):
    status, request = ANSWERS[answer]
    response = request(client)
    assert response.status_code == status, response.text
    assert_api_headers(response)
    assert "strict-transport-security" not in response.headers  # not in development


def test_an_unexpected_error_carries_the_security_headers(app_with):
    client = app_with(raise_server_exceptions=False)

    def fail() -> None:
        raise RuntimeError("a bug")

    client.app.add_api_route("/v1/test-only-failure", fail)  # type: ignore[attr-defined]
    response = client.get("/v1/test-only-failure")
    assert_problem(response, 500)
    assert "a bug" not in response.text
    assert_api_headers(response)


def test_the_coach_page_allows_only_its_own_inline_script(client):
    response = client.get("/coach")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    policies = response.headers.get_list("content-security-policy")
    assert len(policies) == 1, policies  # the page's own, not intersected with the API's
    directives = {
        name: values for name, *values in (d.split() for d in policies[0].split(";") if d.strip())
    }
    assert directives["default-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]

    html = response.content
    scripts = re.findall(rb"<script\b([^>]*)>(.*?)</script>", html, flags=re.DOTALL)
    assert len(scripts) == 1
    attributes, script = scripts[0]
    assert attributes.strip() == b""  # inline, no src
    digest = base64.b64encode(hashlib.sha256(script).digest()).decode()
    assert directives["script-src"] == [f"'sha256-{digest}'"]
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    # A hash allows the script element only: no inline handlers or javascript: URLs.
    markup = html.replace(script, b"")
    assert not re.search(rb"\son[a-z]+\s*=", markup)
    assert b"javascript:" not in markup


def test_strict_transport_security_only_in_production(client, app_with):
    assert "strict-transport-security" not in client.get("/healthz").headers
    production = app_with(env=Environment.production)
    for response in (production.get("/healthz"), production.get("/v1/me")):
        hsts = response.headers["strict-transport-security"]
        max_age = int(re.search(r"max-age=(\d+)", hsts).group(1))  # type: ignore[union-attr]
        assert max_age >= 365 * 24 * 3600
        assert "includesubdomains" in hsts.lower()
        assert_api_headers(response)


def test_production_needs_a_long_secret():
    with pytest.raises(ValidationError, match="TEND_SECRET_KEY"):
        Settings(env=Environment.production, secret_key="", data_key=TEST_DATA_KEY)
    with pytest.raises(ValidationError, match="32"):
        Settings(env=Environment.production, secret_key="x" * 31, data_key=TEST_DATA_KEY)
    assert (
        Settings(env=Environment.production, secret_key="x" * 32, data_key=TEST_DATA_KEY).env
        == Environment.production
    )


# --- 5. CORS ------------------------------------------------------------------------------


def preflight(client: TestClient, origin: str, method: str = "POST") -> Any:
    return client.options(
        "/v1/bids",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def test_no_origin_is_allowed_by_default(client):
    for response in (preflight(client, ORIGIN), client.get("/healthz", headers={"Origin": ORIGIN})):
        assert "access-control-allow-origin" not in response.headers
        assert "access-control-allow-credentials" not in response.headers


def test_a_configured_origin_may_call_the_api_with_a_bearer_token(app_with):
    client = app_with(cors_origins=f"{ORIGIN}, http://localhost:8081", login_free_failures=1)
    for origin in (ORIGIN, "http://localhost:8081"):
        response = preflight(client, origin)
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-origin"] == origin
        allowed = {
            h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
        }
        assert {"authorization", "content-type"} <= allowed
        assert "POST" in response.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in response.headers  # tokens, not cookies

    alex = register(client)
    response = client.get("/v1/me", headers={**alex.headers, "Origin": ORIGIN})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "origin" in response.headers["vary"].lower()
    assert_api_headers(response)

    # A browser app can read a throttled answer and its Retry-After.
    body = {"email": alex.email, "password": WRONG_PASSWORD}
    client.post("/v1/auth/login", json=body)
    throttled = client.post("/v1/auth/login", json=body, headers={"Origin": ORIGIN})
    assert_throttled(throttled)
    assert throttled.headers["access-control-allow-origin"] == ORIGIN
    exposed = throttled.headers["access-control-expose-headers"].lower()
    assert "retry-after" in exposed


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example.com",
        "http://app.example.com",  # another scheme is another origin
        "https://app.example.com:8443",
        "https://app.example.com.evil.com",
        "null",
    ],
)
def test_other_origins_are_not_allowed(app_with, origin):
    client = app_with(cors_origins=ORIGIN)
    response = preflight(client, origin)
    assert not 200 <= response.status_code < 300
    assert "access-control-allow-origin" not in response.headers
    simple = client.get("/healthz", headers={"Origin": origin})
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers


def test_a_browser_app_can_read_a_413(app_with):
    """A body refused for its declared size still answers the configured origin, or the
    browser app sees a network error instead of the 413."""
    client = app_with(cors_origins=ORIGIN)
    body = padded({"email": "a@example.com", "password": "x"}, DEFAULT_LIMIT + 1)
    for chunked in (True, False):
        response = send(
            client, "POST", "/v1/auth/login", body, chunked=chunked, headers={"Origin": ORIGIN}
        )
        assert_problem(response, 413)
        assert response.headers.get("access-control-allow-origin") == ORIGIN, chunked


@pytest.mark.parametrize(
    "origins",
    [
        "*",
        "https://*.example.com",
        f"{ORIGIN},*",
        f"{ORIGIN}/",
        f"{ORIGIN}/app",
        "app.example.com",
        "ftp://app.example.com",
        "https://",
    ],
)
def test_settings_refuse_wildcards_and_origins_that_are_not_exact(origins, monkeypatch):
    with pytest.raises(ValidationError, match="TEND_CORS_ORIGINS"):
        Settings(cors_origins=origins, secret_key=TEST_SECRET)
    monkeypatch.setenv("TEND_CORS_ORIGINS", origins)
    with pytest.raises(ValidationError, match="TEND_CORS_ORIGINS"):
        Settings(secret_key=TEST_SECRET)


def test_settings_read_a_list_of_exact_origins(monkeypatch):
    monkeypatch.setenv("TEND_CORS_ORIGINS", f" {ORIGIN} ,http://localhost:8081,")
    assert Settings(secret_key=TEST_SECRET).cors_origin_list == [ORIGIN, "http://localhost:8081"]
    monkeypatch.delenv("TEND_CORS_ORIGINS")
    assert Settings(secret_key=TEST_SECRET).cors_origin_list == []


# --- 6. interactive docs ----------------------------------------------------------------

DOCS = ("/docs", "/redoc", "/openapi.json")


@pytest.mark.parametrize(
    ("overrides", "served"),
    [
        ({"env": Environment.test}, True),
        ({"env": Environment.development}, True),
        ({"env": Environment.development, "docs_enabled": False}, False),
        ({"env": Environment.production}, False),  # off by default in production
        ({"env": Environment.production, "docs_enabled": False}, False),
        ({"env": Environment.production, "docs_enabled": True}, True),
    ],
    ids=["test", "development", "development-off", "production", "production-off", "production-on"],
)
def test_docs_are_served_unless_turned_off(app_with, overrides, served):
    client = app_with(**overrides)
    for path in DOCS:
        response = client.get(path)
        if served:
            assert response.status_code == 200, path
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
        else:
            assert_problem(response, 404)
            assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect", "/docsearch"])
def test_hidden_docs_answer_like_any_unknown_path(app_with, path):
    """With the docs off, their paths are ordinary API 404s, with the API's strict policy."""
    client = app_with(env=Environment.production)
    response = client.get(path)
    assert_problem(response, 404)
    assert_api_headers(response)


def test_docs_can_be_turned_off_from_the_environment(monkeypatch):
    monkeypatch.delenv("TEND_DOCS_ENABLED", raising=False)
    monkeypatch.setenv("TEND_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("TEND_DATA_KEY", TEST_DATA_KEY)
    monkeypatch.setenv("TEND_ENV", "production")
    assert Settings().serves_docs is False
    monkeypatch.setenv("TEND_DOCS_ENABLED", "true")
    assert Settings().serves_docs is True
    monkeypatch.setenv("TEND_ENV", "development")
    monkeypatch.setenv("TEND_DOCS_ENABLED", "false")
    assert Settings().serves_docs is False
    monkeypatch.delenv("TEND_DOCS_ENABLED")
    assert Settings().serves_docs is True


def test_the_document_lists_the_limits(client):
    """413 wherever a body is read; 429 on every rate-limited operation."""
    document = client.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                assert "413" in operation["responses"], (method, path)
    limited = [
        ("post", "/v1/auth/login"),
        ("post", "/v1/couple/join"),
        ("post", "/v1/couple/coaches"),
        ("post", "/v1/me/password"),
        ("delete", "/v1/me"),
    ]
    for method, path in limited:
        assert "429" in document["paths"][path][method]["responses"], (method, path)
