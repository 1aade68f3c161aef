"""Getting back in by mail (SPEC §3): verification, password reset and email change, from
the request through the outbox and a real SMTP server on 127.0.0.1 to the link coming back.
"""

import random
import re
import statistics
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from app.accounts.models import EmailToken, User
from app.db import make_session_factory
from app.outbox import dispatcher
from app.outbox.channels.mail import transport_for
from app.outbox.models import Mail, Notification
from tests.conftest import make_settings
from tests.factories import (
    PASSWORD,
    assert_problem,
    mailed_token,
    pair,
    register,
    verify_email,
)
from tests.smtp_server import Received, smtp_server

APP_URL = "https://app.tend.example/open"
NEW_PASSWORD = "a fresh pot of green tea"
LINK = re.compile(r"https://app\.tend\.example/open/[a-z-]+\?token=[A-Za-z0-9_-]+")


@pytest.fixture
def smtp():
    with smtp_server() as server:
        yield server


@pytest.fixture
def settings(database, smtp):
    return make_settings(database.url, mail_url=smtp.url, app_url=APP_URL)


@pytest.fixture
def deliver(db, settings, clock, smtp):
    """Run the mail round as the worker would; answers the mails the server got since."""
    factory = make_session_factory(db.engine)
    transport = transport_for(settings.mail_url, settings.mail_from, 5, show_links=False)
    seen = [0]

    def run() -> list[Received]:
        while dispatcher.dispatch_mail_once(
            factory, transport, clock, settings, random.Random(1)
        ).claimed:
            pass
        new = smtp.received[seen[0] :]
        seen[0] = len(smtp.received)
        return new

    return run


def link_in(mail: Received) -> str:
    [link] = set(LINK.findall(mail.text))
    assert f'href="{link}"' in mail.html
    return link


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def me(client, account):
    response = client.get("/v1/me", headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


def count(db, model, *where):
    with db.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model).where(*where))


def stored_user(db, account) -> dict:
    with db.engine.connect() as conn:
        row = conn.execute(select(User).where(User.id == uuid.UUID(account.id))).one()
        return dict(row._mapping)


# --- verification ----------------------------------------------------------------------


def test_registering_mails_a_link_that_verifies_the_address_once(client, deliver):
    alex = register(client, email="alex@example.com")
    assert me(client, alex)["email_verified"] is False

    [mail] = deliver()
    assert mail.rcpt_tos == ["alex@example.com"]
    link = link_in(mail)
    assert link.startswith(f"{APP_URL}/verify-email?token=")
    token = token_of(link)
    assert len(token) >= 43, "at least 256 bits, url-safe base64"

    assert client.post("/v1/auth/verify-email", json={"token": token}).status_code == 204
    assert me(client, alex)["email_verified"] is True
    used = client.post("/v1/auth/verify-email", json={"token": token})
    assert "used already" in assert_problem(used, 410)["detail"]


def test_the_token_is_stored_only_as_a_hash_and_the_sent_mail_keeps_no_link(client, deliver, db):
    register(client)
    token = token_of(link_in(deliver()[0]))
    with db.engine.connect() as conn:
        hashes = conn.scalars(select(EmailToken.token_hash)).all()
        links = conn.scalars(select(Mail.link)).all()
    assert token not in str(hashes) and len(hashes) == 1
    assert links == [None]


def test_links_come_from_the_settings_never_from_the_host_header(client, deliver):
    client.post(
        "/v1/auth/register",
        json={"email": "host@example.com", "password": PASSWORD, "display_name": "H"},
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
    )
    [mail] = deliver()
    assert "evil.example" not in mail.text + mail.html
    assert link_in(mail).startswith(APP_URL)


def test_a_new_verification_mail_voids_the_older_link(client, deliver):
    alex = register(client)
    first = token_of(link_in(deliver()[0]))

    response = client.post("/v1/me/email-verification", headers=alex.headers)
    assert response.status_code == 202 and response.json()["message"]
    second = token_of(link_in(deliver()[0]))

    older = client.post("/v1/auth/verify-email", json={"token": first})
    assert "newer link" in assert_problem(older, 410)["detail"]
    assert client.post("/v1/auth/verify-email", json={"token": second}).status_code == 204
    again = client.post("/v1/me/email-verification", headers=alex.headers)
    assert "verified already" in assert_problem(again, 409)["detail"]


def test_asking_for_verification_mail_is_limited(client, deliver):
    alex = register(client)
    for _ in range(3):
        assert client.post("/v1/me/email-verification", headers=alex.headers).status_code == 202
    limited = client.post("/v1/me/email-verification", headers=alex.headers)
    assert_problem(limited, 429)
    assert int(limited.headers["Retry-After"]) > 0
    assert len(deliver()) == 4  # registration's and three more, not a fifth


def test_a_verification_link_expires_after_seven_days(client, clock, db, deliver):
    alex = register(client)
    token = token_of(link_in(deliver()[0]))
    clock.advance(days=7, seconds=1)
    expired = client.post("/v1/auth/verify-email", json={"token": token})
    assert "expired" in assert_problem(expired, 410)["detail"]
    assert stored_user(db, alex)["email_verified_at"] is None


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: t[:-1], id="truncated"),
        pytest.param(lambda t: t + "A", id="lengthened"),
        pytest.param(lambda t: t.swapcase(), id="case-changed"),
        pytest.param(lambda t: "x" * len(t), id="made-up"),
    ],
)
def test_a_mangled_token_is_refused_and_changes_nothing(client, db, deliver, mangle):
    alex = register(client)
    token = token_of(link_in(deliver()[0]))
    problem = assert_problem(
        client.post("/v1/auth/verify-email", json={"token": mangle(token)}), 400
    )
    assert problem["type"] == "urn:tend:problem:invalid-token"
    assert token not in str(problem)
    assert me(client, alex)["email_verified"] is False
    assert count(db, EmailToken, EmailToken.used_at.is_not(None)) == 0


def test_a_token_of_one_kind_does_not_work_for_another(client, deliver):
    register(client, email="kinds@example.com")
    verify = token_of(link_in(deliver()[0]))
    assert (
        client.post("/v1/auth/password-reset", json={"email": "kinds@example.com"}).status_code
        == 202
    )
    reset = token_of(link_in(deliver()[0]))

    as_reset = {"token": verify, "password": NEW_PASSWORD}
    assert_problem(client.post("/v1/auth/password-reset/confirm", json=as_reset), 400)
    assert_problem(client.post("/v1/auth/verify-email", json={"token": reset}), 400)


def test_wrong_tokens_are_limited_per_client(client, deliver):
    for _ in range(20):
        client.post("/v1/auth/verify-email", json={"token": "not-a-token"})
    limited = client.post("/v1/auth/verify-email", json={"token": "not-a-token"})
    assert_problem(limited, 429)
    assert int(limited.headers["Retry-After"]) > 0


# --- password reset --------------------------------------------------------------------


def test_a_forgotten_password_is_reset_by_mail_and_every_sign_in_ends(client, db, deliver):
    alex = register(client, email="reset@example.com")
    deliver()  # the verification mail
    other_device = client.post(
        "/v1/auth/login", json={"email": alex.email, "password": PASSWORD}
    ).json()

    response = client.post("/v1/auth/password-reset", json={"email": "Reset@Example.com"})
    assert response.status_code == 202
    [mail] = deliver()
    assert mail.message["Subject"] == "Reset your Tend password"
    link = link_in(mail)
    assert link.startswith(f"{APP_URL}/reset-password?token=")

    body = {"token": token_of(link), "password": NEW_PASSWORD}
    confirmed = client.post("/v1/auth/password-reset/confirm", json=body)
    assert confirmed.status_code == 204 and confirmed.content == b"", "it does not sign in"

    # Every sign-in ended: access tokens (session version) and refresh families.
    assert_problem(client.get("/v1/me", headers=alex.headers), 401)
    for refresh in (alex.refresh_token, other_device["refresh_token"]):
        assert_problem(client.post("/v1/auth/refresh", json={"refresh_token": refresh}), 401)
    old = client.post("/v1/auth/login", json={"email": alex.email, "password": PASSWORD})
    assert_problem(old, 401)
    new = client.post("/v1/auth/login", json={"email": alex.email, "password": NEW_PASSWORD})
    assert new.status_code == 200
    assert client.get(
        "/v1/me", headers={"Authorization": f"Bearer {new.json()['access_token']}"}
    ).json()["email_verified"], "the link proved the address"

    [notice] = deliver()
    assert notice.message["Subject"] == "Your Tend password was changed"
    assert notice.rcpt_tos == ["reset@example.com"]
    assert not LINK.search(notice.text)
    again = client.post("/v1/auth/password-reset/confirm", json=body)
    assert "used already" in assert_problem(again, 410)["detail"]


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client, db, deliver):
    register(client, email="known@example.com")
    deliver()
    known = client.post("/v1/auth/password-reset", json={"email": "known@example.com"})
    unknown = client.post("/v1/auth/password-reset", json={"email": "nobody@example.com"})
    assert (known.status_code, unknown.status_code) == (202, 202)
    assert known.json() == unknown.json()
    assert [m.rcpt_tos for m in deliver()] == [["known@example.com"]]


def test_an_unknown_address_takes_about_as_long_as_a_known_one(client, deliver):
    register(client, email="timed@example.com")

    def median(email):
        times = []
        for n in range(3):
            started = time.perf_counter()
            assert client.post("/v1/auth/password-reset", json={"email": email}).status_code in (
                202,
                429,
            )
            times.append(time.perf_counter() - started)
            del n
        return statistics.median(times)

    known, unknown = median("timed@example.com"), median("untimed@example.com")
    assert abs(known - unknown) < 0.05, (known, unknown)


def test_reset_requests_are_limited_per_address_and_per_client(client, deliver):
    for _ in range(3):
        assert (
            client.post("/v1/auth/password-reset", json={"email": "a@example.com"}).status_code
            == 202
        )
    per_address = client.post("/v1/auth/password-reset", json={"email": "a@example.com"})
    assert_problem(per_address, 429)
    assert int(per_address.headers["Retry-After"]) > 0
    # 20 per client and hour: three above, the refused fourth rolled back, 17 more here.
    answers = [
        client.post("/v1/auth/password-reset", json={"email": f"b{n}@example.com"}).status_code
        for n in range(18)
    ]
    assert answers == [202] * 17 + [429], answers


def test_a_reset_link_expires_after_thirty_minutes(client, clock, deliver):
    alex = register(client, email="late@example.com")
    deliver()
    client.post("/v1/auth/password-reset", json={"email": "late@example.com"})
    token = token_of(link_in(deliver()[0]))
    clock.advance(minutes=30, seconds=1)
    body = {"token": token, "password": NEW_PASSWORD}
    assert (
        "expired"
        in assert_problem(client.post("/v1/auth/password-reset/confirm", json=body), 410)["detail"]
    )
    old = client.post("/v1/auth/login", json={"email": alex.email, "password": PASSWORD})
    assert old.status_code == 200, "nothing changed: the old password still works"


def test_a_newer_reset_request_voids_the_older_link(client, deliver):
    register(client, email="twice@example.com")
    deliver()
    tokens = []
    for _ in range(2):
        client.post("/v1/auth/password-reset", json={"email": "twice@example.com"})
        tokens.append(token_of(link_in(deliver()[0])))
    older = {"token": tokens[0], "password": NEW_PASSWORD}
    assert_problem(client.post("/v1/auth/password-reset/confirm", json=older), 410)
    newer = {"token": tokens[1], "password": NEW_PASSWORD}
    assert client.post("/v1/auth/password-reset/confirm", json=newer).status_code == 204


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short", "must be 10 to 256 characters long and not a commonly used password"),
        ("password123", "must be 10 to 256 characters long and not a commonly used password"),
        ("abababababab", "must be 10 to 256 characters long and not a commonly used password"),
    ],
)
def test_a_weak_new_password_is_refused_with_the_rule_and_the_token_still_works(
    client, db, deliver, password, rule
):
    alex = register(client, email="weak@example.com")
    deliver()
    client.post("/v1/auth/password-reset", json={"email": "weak@example.com"})
    token = token_of(link_in(deliver()[0]))
    before = stored_user(db, alex)

    problem = assert_problem(
        client.post("/v1/auth/password-reset/confirm", json={"token": token, "password": password}),
        422,
    )
    assert rule in problem["detail"], "the same rule as registration's, said"
    assert [e["loc"] for e in problem["errors"]] == [["body", "password"]]
    assert password not in str(problem)
    assert stored_user(db, alex) == before
    good = {"token": token, "password": NEW_PASSWORD}
    assert client.post("/v1/auth/password-reset/confirm", json=good).status_code == 204


def test_a_reset_link_dies_when_the_address_changes(client, deliver):
    alex = register(client, email="moving@example.com")
    deliver()
    client.post("/v1/auth/password-reset", json={"email": "moving@example.com"})
    reset = token_of(link_in(deliver()[0]))
    change = {"email": "moved@example.com", "password": PASSWORD}
    assert client.post("/v1/me/email", json=change, headers=alex.headers).status_code == 202
    verify_email(client, "moved@example.com")
    body = {"token": reset, "password": NEW_PASSWORD}
    assert_problem(client.post("/v1/auth/password-reset/confirm", json=body), 410)


# --- password change -------------------------------------------------------------------


def test_changing_the_password_mails_a_notice(client, deliver):
    alex = register(client, email="change@example.com")
    deliver()
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert client.post("/v1/me/password", json=body, headers=alex.headers).status_code == 200
    [notice] = deliver()
    assert notice.message["Subject"] == "Your Tend password was changed"
    assert notice.rcpt_tos == ["change@example.com"]


# --- email change ----------------------------------------------------------------------


def test_an_email_change_applies_when_the_new_address_confirms(client, db, deliver):
    alex = register(client, email="old@example.com", verified=True)
    deliver()
    body = {"email": "New@Example.com", "password": PASSWORD}
    response = client.post("/v1/me/email", json=body, headers=alex.headers)
    assert response.status_code == 202, response.text

    sent = {m.rcpt_tos[0]: m for m in deliver()}
    assert set(sent) == {"new@example.com", "old@example.com"}
    assert not LINK.search(sent["old@example.com"].text), "the notice carries no link"
    assert "about to change" in sent["old@example.com"].message["Subject"]
    assert me(client, alex)["email"] == "old@example.com", "nothing changes before the link"

    token = token_of(link_in(sent["new@example.com"]))
    assert client.post("/v1/auth/verify-email", json={"token": token}).status_code == 204
    now = me(client, alex)
    assert (now["email"], now["email_verified"]) == ("new@example.com", True)
    signed_in = client.post(
        "/v1/auth/login", json={"email": "new@example.com", "password": PASSWORD}
    )
    assert signed_in.status_code == 200


def test_an_address_taken_before_the_link_comes_back_is_a_conflict(client, db, deliver):
    alex = register(client, email="first@example.com")
    body = {"email": "wanted@example.com", "password": PASSWORD}
    assert client.post("/v1/me/email", json=body, headers=alex.headers).status_code == 202
    token = mailed_token(client, "wanted@example.com")
    register(client, email="wanted@example.com")  # someone else takes it meanwhile
    before = stored_user(db, alex)

    problem = assert_problem(client.post("/v1/auth/verify-email", json={"token": token}), 409)
    assert "another account" in problem["detail"]
    assert stored_user(db, alex) == before
    assert count(db, EmailToken, EmailToken.used_at.is_not(None)) == 0


def test_an_email_change_needs_the_password_and_a_new_free_address(client, db, deliver):
    alex = register(client, email="mine@example.com")
    register(client, email="taken@example.com")
    deliver()
    wrong = {"email": "other@example.com", "password": "not my password"}
    assert_problem(client.post("/v1/me/email", json=wrong, headers=alex.headers), 403)
    taken = {"email": "taken@example.com", "password": PASSWORD}
    assert_problem(client.post("/v1/me/email", json=taken, headers=alex.headers), 409)
    same = {"email": "MINE@example.com", "password": PASSWORD}
    assert_problem(client.post("/v1/me/email", json=same, headers=alex.headers), 422)
    for bad in ("not-an-address", "a@b", "two@@example.com", "spaces in@example.com", ""):
        malformed = {"email": bad, "password": PASSWORD}
        problem = assert_problem(
            client.post("/v1/me/email", json=malformed, headers=alex.headers), 422
        )
        assert problem["errors"][0]["loc"] == ["body", "email"]
    assert deliver() == [], "no mail for any refused request"
    assert me(client, alex)["email"] == "mine@example.com"


# --- coaches ---------------------------------------------------------------------------


def test_a_partner_can_consent_only_to_a_verified_coach(client, db, deliver):
    alex, _sam = pair(client)
    coach = register(client, role="coach", verified=False)
    code = client.get("/v1/coach/profile", headers=coach.headers).json()["code"]

    refused = client.post("/v1/couple/coaches", json={"coach_code": code}, headers=alex.headers)
    assert "verified" in assert_problem(refused, 409)["detail"]
    assert client.get("/v1/couple/coaches", headers=alex.headers).json() == []

    verify_email(client, coach.email)
    granted = client.post("/v1/couple/coaches", json={"coach_code": code}, headers=alex.headers)
    assert granted.status_code == 201, granted.text


# --- what mail never does --------------------------------------------------------------


def test_mail_never_reaches_the_inbox_and_carries_no_bid(client, db, deliver):
    alex, sam = pair(client)
    note = "a very private note about the kitchen"
    bid = {"kind": "hug", "initiator": "me", "note": note}
    assert client.post("/v1/bids", json=bid, headers=alex.headers).status_code == 201
    client.post("/v1/auth/password-reset", json={"email": sam.email})
    mails = deliver()
    assert len(mails) == 3
    for mail in mails:
        assert note not in mail.text + mail.html and "hug" not in mail.text.lower()
    assert count(db, Notification, Notification.user_id == uuid.UUID(alex.id)) == 0
    for account in (alex, sam):
        inbox = client.get("/v1/me/notifications", headers=account.headers).json()["items"]
        assert all(n["kind"] == "partner_bid" for n in inbox)
