"""Accounts and sessions (SPEC §3): registration, sign-in, throttling of failed sign-ins,
refresh-token rotation with theft detection, sign-out, access tokens and /v1/me."""

import base64
import json
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from itertools import pairwise
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jose import jwt
from sqlalchemy import text

from app.main import create_app
from tests.conftest import TEST_SECRET, make_settings
from tests.factories import PASSWORD, Account, assert_problem, assert_throttled, register

WRONG_PASSWORD = "not the right password at all"
PASSWORD_RULE = "10 to 256 characters"


# --- helpers ---------------------------------------------------------------------------


def register_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": "new.person@example.com",
        "password": PASSWORD,
        "display_name": "New Person",
        "timezone": "Europe/Berlin",
    }
    body.update(overrides)
    return body


def login(client: Any, email: str, password: str = PASSWORD) -> Any:
    return client.post("/v1/auth/login", json={"email": email, "password": password})


def refresh(client: Any, refresh_token: str) -> Any:
    return client.post("/v1/auth/refresh", json={"refresh_token": refresh_token})


def logout(client: Any, refresh_token: str) -> Any:
    return client.post("/v1/auth/logout", json={"refresh_token": refresh_token})


def get_me(client: Any, access_token: str) -> Any:
    return client.get("/v1/me", headers={"Authorization": f"Bearer {access_token}"})


def patch_me(client: Any, account: Account, body: dict[str, Any]) -> Any:
    return client.patch("/v1/me", json=body, headers=account.headers)


def assert_token_pair(response: Any, settings: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_minutes * 60
    assert isinstance(body["access_token"], str) and body["access_token"].count(".") == 2
    assert isinstance(body["refresh_token"], str) and len(body["refresh_token"]) >= 32
    assert body["access_token"] != body["refresh_token"]
    return body


def assert_unauthorized(response: Any) -> dict[str, Any]:
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    return body


def fail_logins(client: Any, email: str, times: int) -> None:
    for _ in range(times):
        assert_unauthorized(login(client, email, WRONG_PASSWORD))


def query(db: Any, sql: str, **params: Any) -> list[Any]:
    with db.engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def user_count(db: Any) -> int:
    return int(query(db, "SELECT count(*) FROM users")[0][0])


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(user_id: str, clock: Any, **overrides: Any) -> dict[str, Any]:
    now = int(clock.now().timestamp())
    claims: dict[str, Any] = {
        "sub": user_id,
        "ver": 0,
        "typ": "access",
        "iss": "tend",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return claims


def forge(claims: dict[str, Any], key: str = TEST_SECRET, algorithm: str = "HS256") -> str:
    return str(jwt.encode(claims, key, algorithm=algorithm))


def unsigned_token(claims: dict[str, Any]) -> str:
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims).encode())
    return f"{header}.{payload}."


def timed(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


# --- registration ----------------------------------------------------------------------


def test_register_answers_the_user_and_a_token_pair(client, settings, clock):
    response = client.post(
        "/v1/auth/register", json=register_body(email="Alex.Doe@Example.COM", role="partner")
    )

    body = assert_token_pair(response, settings, status=201)
    user = body["user"]
    assert set(user) == {
        "id",
        "email",
        "email_verified",
        "display_name",
        "timezone",
        "locale",
        "role",
        "created_at",
    }
    assert user["locale"] == "en", "no Accept-Language: English"
    assert uuid.UUID(user["id"])
    assert user["email"] == "alex.doe@example.com"
    assert user["display_name"] == "New Person"
    assert user["timezone"] == "Europe/Berlin"
    assert user["role"] == "partner"
    assert datetime.fromisoformat(user["created_at"]) == clock.now()

    me = get_me(client, body["access_token"])
    assert me.status_code == 200, me.text
    assert me.json() == user


def test_register_defaults_to_partner_in_utc(client):
    body = register_body()
    del body["timezone"]
    response = client.post("/v1/auth/register", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["user"]["role"] == "partner"
    assert response.json()["user"]["timezone"] == "UTC"


def test_register_as_coach(client):
    coach = register(client, role="coach")
    assert get_me(client, coach.access_token).json()["role"] == "coach"


def test_email_is_stored_lower_cased(client, db):
    register(client, email="MiXeD.Case@Example.ORG")
    assert query(db, "SELECT email FROM users") == [("mixed.case@example.org",)]


def test_passwords_are_stored_as_argon2id_and_never_answered(client, db, settings):
    account = register(client, email="secret@example.com")
    (stored,) = query(db, "SELECT password_hash FROM users")[0]
    assert stored.startswith("$argon2id$")
    assert "m=19456,t=2,p=1" in stored
    assert PASSWORD not in stored

    responses = [
        client.post("/v1/auth/register", json=register_body(email="other@example.com")),
        login(client, account.email),
        get_me(client, account.access_token),
        patch_me(client, account, {"display_name": "Renamed"}),
        refresh(client, account.refresh_token),
    ]
    for response in responses:
        assert response.status_code in (200, 201), response.text
        for secret in (stored, "$argon2", "password_hash", PASSWORD):
            assert secret not in response.text


def test_refresh_tokens_are_stored_hashed(client, db):
    account = register(client)
    stored = [row[0] for row in query(db, "SELECT token_hash FROM refresh_tokens")]
    assert len(stored) == 1
    assert account.refresh_token not in stored[0]
    assert stored[0] != account.refresh_token


def test_duplicate_email_is_a_conflict_whatever_the_case(client, db):
    register(client, email="dup@example.com")

    response = client.post("/v1/auth/register", json=register_body(email="DUP@Example.Com"))

    assert assert_problem(response, 409)["detail"]
    assert user_count(db) == 1
    assert query(db, "SELECT email FROM users") == [("dup@example.com",)]


@pytest.mark.parametrize(
    "password",
    ["short1!", "password123", "PASSWORD123", "aaaaaaaaaaaa", "abababababab", "x" * 257],
    ids=["too-short", "common", "common-upper", "one-char", "two-chars", "257-chars"],
)
def test_weak_or_oversized_passwords_are_refused_with_the_rule(client, db, password):
    response = client.post("/v1/auth/register", json=register_body(password=password))

    body = assert_problem(response, 422)
    assert PASSWORD_RULE in body["detail"]
    assert any(error["loc"][-1] == "password" for error in body["errors"])
    assert password not in response.text  # the rejected input is not echoed back
    assert user_count(db) == 0
    assert_unauthorized(login(client, "new.person@example.com", password[:256]))


def test_a_256_character_password_is_accepted(client):
    password = ("correct horse battery staple " * 9)[:256]
    assert len(password) == 256
    account = register(client, password=password)
    assert login(client, account.email, password).status_code == 200


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("email", "two@@example.com"),
        ("email", ""),
        ("timezone", "Mars/Olympus"),
        ("timezone", "localtime"),
        ("timezone", ""),
        ("role", "admin"),
        ("display_name", ""),
        ("display_name", "x" * 51),
        ("is_admin", True),
    ],
)
def test_bad_registration_input_is_422_and_writes_nothing(client, db, field, value):
    response = client.post("/v1/auth/register", json=register_body(**{field: value}))

    body = assert_problem(response, 422)
    assert body["detail"]
    assert any(error["loc"][-1] == field for error in body["errors"]), body
    assert user_count(db) == 0
    assert_unauthorized(login(client, "new.person@example.com"))


def test_registration_without_required_fields_is_422(client, db):
    assert_problem(client.post("/v1/auth/register", json={}), 422)
    malformed = client.post(
        "/v1/auth/register", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_problem(malformed, 400)
    assert user_count(db) == 0


# --- sign-in ---------------------------------------------------------------------------


def test_login_answers_a_fresh_pair(client, settings):
    account = register(client)

    body = assert_token_pair(login(client, account.email), settings)

    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["refresh_token"] != account.refresh_token
    assert get_me(client, body["access_token"]).json()["id"] == account.id
    assert refresh(client, body["refresh_token"]).status_code == 200


def test_login_email_is_case_insensitive(client, settings):
    account = register(client, email="casey@example.com")
    body = assert_token_pair(login(client, "CaSeY@EXAMPLE.com"), settings)
    assert get_me(client, body["access_token"]).json()["id"] == account.id


def test_wrong_password_and_unknown_email_answer_the_same(client):
    account = register(client)

    wrong_password = login(client, account.email, WRONG_PASSWORD)
    unknown_email = login(client, "nobody@example.com", WRONG_PASSWORD)

    assert assert_unauthorized(wrong_password) == assert_unauthorized(unknown_email)
    assert wrong_password.headers.get("www-authenticate") == unknown_email.headers.get(
        "www-authenticate"
    )


def test_login_with_the_password_of_another_account_fails(client):
    alex = register(client)
    sam = register(client, password="a different passphrase")
    assert_unauthorized(login(client, alex.email, sam.password))


@pytest.mark.slow
def test_login_costs_a_password_hash_even_for_unknown_emails(client, settings):
    account = register(client)
    login(client, "warm.up@example.com", WRONG_PASSWORD)  # first-call costs out of the way

    # Interleaved, so that a burst of load on the machine hits both kinds alike; the wrong
    # passwords stay within the free failures, so none of them is throttled.
    known, unknown = [], []
    for n in range(settings.login_free_failures):
        known.append(timed(lambda: login(client, account.email, WRONG_PASSWORD)))
        unknown.append(timed(lambda n=n: login(client, f"nobody{n}@example.com", WRONG_PASSWORD)))

    # Both cost one argon2id verification (m=19 MiB: tens of milliseconds), so the ratio is
    # about 1; without the dummy verification it measures about 0.2 (request overhead only).
    assert statistics.median(unknown) >= 0.5 * statistics.median(known), (unknown, known)


def test_login_with_a_long_unknown_email_is_401_not_500(client):
    # 251 characters: a valid address (at most 254); the rate-limit key adds "login:".
    email = "a" * 64 + "@" + ".".join(["b" * 60] * 3) + ".com"
    assert len(email) == 251
    assert_unauthorized(login(client, email, WRONG_PASSWORD))


# --- throttling of failed sign-ins -----------------------------------------------------


def test_failed_logins_are_throttled_even_for_the_right_password(client, settings, clock, db):
    account = register(client)
    fail_logins(client, account.email, settings.login_free_failures)

    blocked = login(client, account.email, PASSWORD)
    retry_after = assert_throttled(blocked)
    assert "too many" in blocked.json()["detail"].lower()

    clock.advance(seconds=retry_after - 0.5)
    assert_throttled(login(client, account.email, PASSWORD))

    clock.advance(seconds=1)
    assert login(client, account.email, PASSWORD).status_code == 200
    assert query(db, "SELECT count(*) FROM rate_limits")[0][0] == 0

    # The success reset the counter: the free failures are available again.
    fail_logins(client, account.email, settings.login_free_failures - 1)
    assert login(client, account.email, PASSWORD).status_code == 200


def test_throttling_also_applies_to_unknown_emails(client, settings):
    fail_logins(client, "nobody@example.com", settings.login_free_failures)
    assert_throttled(login(client, "nobody@example.com", WRONG_PASSWORD))


def test_throttling_is_per_account_and_case_insensitive(client, settings):
    alex, sam = register(client), register(client)
    fail_logins(client, alex.email.upper(), settings.login_free_failures)

    assert_throttled(login(client, alex.email, PASSWORD))
    assert login(client, sam.email, PASSWORD).status_code == 200


def test_the_block_grows_exponentially(client, settings, clock):
    account = register(client)
    fail_logins(client, account.email, settings.login_free_failures)

    waits = []
    for _ in range(4):
        waits.append(assert_throttled(login(client, account.email, WRONG_PASSWORD)))
        clock.advance(seconds=waits[-1])
        fail_logins(client, account.email, 1)

    assert all(later == 2 * earlier for earlier, later in pairwise(waits)), waits


def test_the_block_is_capped(db, clock):
    capped = make_settings(db.url, login_max_lockout_seconds=3)
    with TestClient(create_app(capped, clock=clock, engine=db.engine)) as client:
        account = register(client)
        fail_logins(client, account.email, capped.login_free_failures)
        waits = []
        for _ in range(4):
            waits.append(assert_throttled(login(client, account.email, WRONG_PASSWORD)))
            clock.advance(seconds=waits[-1])
            fail_logins(client, account.email, 1)
    assert waits[-1] == 3
    assert max(waits) == 3, waits


def test_throttling_holds_across_replicas(client, db, settings, clock):
    account = register(client)
    replica = create_app(settings, clock=clock, engine=db.engine)
    with TestClient(replica) as other:
        fail_logins(client, account.email, settings.login_free_failures - 1)
        fail_logins(other, account.email, 1)  # the failures add up across replicas

        retry_after = assert_throttled(login(other, account.email, PASSWORD))
        assert_throttled(login(client, account.email, PASSWORD))

        clock.advance(seconds=retry_after)
        assert login(other, account.email, PASSWORD).status_code == 200
        # The success on one replica reset the counter for the other too.
        fail_logins(client, account.email, settings.login_free_failures - 1)
        assert login(client, account.email, PASSWORD).status_code == 200


# --- refresh-token rotation ------------------------------------------------------------


def test_refresh_rotates_the_pair(client, settings):
    account = register(client)

    body = assert_token_pair(refresh(client, account.refresh_token), settings)

    assert body["refresh_token"] != account.refresh_token
    assert body["access_token"] != account.access_token
    assert get_me(client, body["access_token"]).json()["id"] == account.id
    assert_token_pair(refresh(client, body["refresh_token"]), settings)


def test_reusing_a_refresh_token_revokes_its_family_only(client, db):
    account = register(client)
    other_sign_in = login(client, account.email).json()
    newest = refresh(client, account.refresh_token).json()["refresh_token"]

    assert_unauthorized(refresh(client, account.refresh_token))  # replayed: theft

    assert_unauthorized(refresh(client, newest))  # the whole family has ended
    still = refresh(client, other_sign_in["refresh_token"])
    assert still.status_code == 200, still.text
    assert get_me(client, other_sign_in["access_token"]).status_code == 200
    revoked = query(db, "SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NOT NULL")
    assert revoked[0][0] == 2


def test_unknown_refresh_token_is_401(client):
    assert_unauthorized(refresh(client, "x" * 43))


@pytest.mark.parametrize("token", ["", "x" * 4097])
def test_malformed_refresh_token_is_422(client, token):
    assert_problem(refresh(client, token), 422)


def test_refresh_tokens_expire(client, settings, clock):
    account = register(client)
    second = login(client, account.email).json()["refresh_token"]

    clock.advance(days=settings.refresh_token_days, minutes=-1)
    assert refresh(client, account.refresh_token).status_code == 200

    clock.advance(minutes=2)
    assert_unauthorized(refresh(client, second))


@pytest.mark.parametrize("attempts", [2, 4])
def test_concurrent_refreshes_with_one_token_let_exactly_one_win(client, attempts):
    account = register(client)
    start = threading.Barrier(attempts)

    def attempt(_: int) -> Any:
        start.wait()
        return refresh(client, account.refresh_token)

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        responses = list(pool.map(attempt, range(attempts)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [401] * (attempts - 1), [r.text for r in responses]
    for response in responses:
        if response.status_code != 200:
            assert_unauthorized(response)


# --- sign-out --------------------------------------------------------------------------


def test_logout_ends_the_sign_in(client):
    account = register(client)
    other_sign_in = login(client, account.email).json()["refresh_token"]

    response = logout(client, account.refresh_token)

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_unauthorized(refresh(client, account.refresh_token))
    assert refresh(client, other_sign_in).status_code == 200


def test_logout_ends_the_rotated_chain(client):
    account = register(client)
    newest = refresh(client, account.refresh_token).json()["refresh_token"]
    assert logout(client, newest).status_code == 204
    assert_unauthorized(refresh(client, newest))


def test_logout_with_an_unknown_token_is_204(client):
    response = logout(client, "x" * 43)
    assert response.status_code == 204, response.text
    assert response.content == b""


# --- access tokens ---------------------------------------------------------------------


def test_missing_bearer_token_is_401_with_challenge(client):
    body = assert_unauthorized(client.get("/v1/me"))
    assert "Bearer" in body["detail"]


@pytest.mark.parametrize(
    "authorization",
    ["Bearer garbage", "Bearer a.b.c", "Bearer ", "Basic dXNlcjpwYXNz", "garbage"],
)
def test_garbage_credentials_are_401(client, authorization):
    assert_unauthorized(client.get("/v1/me", headers={"Authorization": authorization}))


def test_access_tokens_expire(client, settings, clock):
    account = register(client)

    clock.advance(minutes=settings.access_token_minutes - 1)
    assert get_me(client, account.access_token).status_code == 200

    clock.advance(minutes=2)
    assert_unauthorized(get_me(client, account.access_token))


def test_refresh_token_is_not_an_access_token(client):
    account = register(client)
    assert_unauthorized(get_me(client, account.refresh_token))


def test_access_token_is_not_a_refresh_token(client):
    account = register(client)
    assert_unauthorized(refresh(client, account.access_token))


def test_a_well_forged_token_is_accepted(client, clock):
    # The control for the forgeries below: the helper makes tokens the app accepts.
    account = register(client)
    response = get_me(client, forge(claims_for(account.id, clock)))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda claims: unsigned_token(claims), id="alg-none"),
        pytest.param(lambda claims: forge(claims, key="w" * 56), id="wrong-key"),
        pytest.param(lambda claims: forge(claims, algorithm="HS512"), id="hs512-right-key"),
        pytest.param(lambda claims: forge({**claims, "typ": "refresh"}), id="typ-refresh"),
        pytest.param(lambda claims: forge({**claims, "iss": "elsewhere"}), id="wrong-issuer"),
        pytest.param(lambda claims: forge({**claims, "sub": "not-a-uuid"}), id="bad-subject"),
        pytest.param(
            lambda claims: forge({k: v for k, v in claims.items() if k != "exp"}), id="no-exp"
        ),
        pytest.param(lambda claims: forge({**claims, "sub": str(uuid.uuid4())}), id="no-user"),
    ],
)
def test_forged_access_tokens_are_401(client, clock, make_token):
    account = register(client)
    token = make_token(claims_for(account.id, clock))
    assert_unauthorized(get_me(client, token))


def test_expired_forged_token_is_401(client, clock):
    account = register(client)
    now = int(clock.now().timestamp())
    token = forge(claims_for(account.id, clock, iat=now - 120, exp=now - 60))
    assert_unauthorized(get_me(client, token))


# --- /v1/me ----------------------------------------------------------------------------


def test_update_me_changes_name_and_time_zone(client):
    account = register(client, display_name="Alex", timezone="Europe/Berlin")

    response = patch_me(client, account, {"display_name": "  Alexandra ", "timezone": "Asia/Tokyo"})

    assert response.status_code == 200, response.text
    assert response.json()["display_name"] == "Alexandra"
    assert response.json()["timezone"] == "Asia/Tokyo"
    me = get_me(client, account.access_token).json()
    assert me["display_name"] == "Alexandra"
    assert me["timezone"] == "Asia/Tokyo"
    assert me["email"] == account.email


def test_update_me_leaves_absent_fields_alone(client):
    account = register(client, display_name="Alex", timezone="Europe/Berlin")

    assert patch_me(client, account, {"timezone": "America/New_York"}).status_code == 200
    assert patch_me(client, account, {}).status_code == 200

    me = get_me(client, account.access_token).json()
    assert me["display_name"] == "Alex"
    assert me["timezone"] == "America/New_York"


@pytest.mark.parametrize(
    "body",
    [
        {"display_name": ""},
        {"display_name": "   "},
        {"display_name": "x" * 51},
        {"display_name": "Alex\x00"},
        {"display_name": "Al\nex"},
        {"display_name": "Alex\u200b"},
        {"display_name": None},
        {"timezone": None},
        {"timezone": "Mars/Olympus"},
        {"email": "new@example.com"},
        {"role": "coach"},
    ],
    ids=[
        "empty",
        "blank",
        "51-chars",
        "nul",
        "newline",
        "zero-width-space",
        "null-name",
        "null-timezone",
        "unknown-timezone",
        "email",
        "role",
    ],
)
def test_bad_updates_are_422_and_change_nothing(client, body):
    account = register(client, display_name="Alex", timezone="Europe/Berlin")

    assert assert_problem(patch_me(client, account, body), 422)["detail"]

    me = get_me(client, account.access_token).json()
    assert (me["display_name"], me["timezone"], me["role"]) == ("Alex", "Europe/Berlin", "partner")


def test_a_50_character_name_is_accepted(client):
    account = register(client)
    name = "é" * 50
    response = patch_me(client, account, {"display_name": name})
    assert response.status_code == 200, response.text
    assert get_me(client, account.access_token).json()["display_name"] == name


def test_update_me_needs_a_token(client):
    assert_unauthorized(client.patch("/v1/me", json={"display_name": "Nobody"}))


# --- password change -------------------------------------------------------------------

NEW_PASSWORD = "a completely different passphrase"


def change_password(client: Any, account: Account, current: str, new: str) -> Any:
    return client.post(
        "/v1/me/password",
        json={"current_password": current, "new_password": new},
        headers=account.headers,
    )


def test_password_change_ends_every_other_sign_in_at_once(client, settings, db):
    account = register(client)
    phone = login(client, account.email).json()
    tablet = login(client, account.email).json()
    rotated = refresh(client, tablet["refresh_token"]).json()

    response = change_password(client, account, PASSWORD, NEW_PASSWORD)

    fresh = assert_token_pair(response, settings)
    # Every refresh family is revoked, used or not...
    for old in (account.refresh_token, phone["refresh_token"], rotated["refresh_token"]):
        assert_unauthorized(refresh(client, old))
    # ...and every access token issued before the change stops working now, not at expiry.
    for old in (account.access_token, phone["access_token"], rotated["access_token"]):
        assert_unauthorized(get_me(client, old))
    # The device that changed it stays signed in with the pair it was given.
    assert get_me(client, fresh["access_token"]).status_code == 200
    assert_token_pair(refresh(client, fresh["refresh_token"]), settings)
    live = query(db, "SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL")[0][0]
    assert live == 2  # the fresh token, used by the refresh above, and its successor


def test_after_a_password_change_only_the_new_password_signs_in(client, settings):
    account = register(client)
    assert change_password(client, account, PASSWORD, NEW_PASSWORD).status_code == 200
    assert_problem(login(client, account.email, PASSWORD), 401)
    assert_token_pair(login(client, account.email, NEW_PASSWORD), settings)


def test_a_wrong_current_password_is_403_and_changes_nothing(client, db, settings):
    account = register(client)
    before = query(db, "SELECT password_hash, session_version FROM users")

    assert_problem(change_password(client, account, "not my password", NEW_PASSWORD), 403)

    assert query(db, "SELECT password_hash, session_version FROM users") == before
    assert get_me(client, account.access_token).status_code == 200
    assert_token_pair(refresh(client, account.refresh_token), settings)


def test_guessing_the_current_password_is_throttled(client, settings):
    account = register(client)
    for _ in range(settings.login_free_failures):
        assert_problem(change_password(client, account, "guess", NEW_PASSWORD), 403)
    assert_throttled(change_password(client, account, "guess", NEW_PASSWORD))
    # While blocked even the right password waits: a stolen token cannot keep guessing.
    assert_throttled(change_password(client, account, PASSWORD, NEW_PASSWORD))


@pytest.mark.parametrize("new", ["short", "x" * 257])
def test_a_weak_new_password_is_422_and_changes_nothing(client, db, new):
    account = register(client)
    before = query(db, "SELECT password_hash FROM users")
    assert_problem(change_password(client, account, PASSWORD, new), 422)
    assert query(db, "SELECT password_hash FROM users") == before


def test_password_change_needs_a_token(client):
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert_unauthorized(client.post("/v1/me/password", json=body))


def test_an_access_token_of_an_older_session_version_is_401(client, clock):
    account = register(client)
    assert_unauthorized(get_me(client, forge(claims_for(account.id, clock, ver=1))))
    assert_unauthorized(get_me(client, forge(claims_for(account.id, clock, ver="0"))))
