"""DELETE /v1/me: the account and what it logged go; the partner keeps theirs; coaches
lose access; consent history stays; old tokens stop working at once."""

import uuid

from sqlalchemy import select

from app.access.models import CoachConsent
from app.bank.math import balance_at
from app.bids.models import Bid
from app.models import Device, Notification, RefreshToken, User
from tests.factories import add_device, assert_problem, code_of, consent, log_bid, pair, register


def _erase(client, account, password=None):
    return client.request(
        "DELETE",
        "/v1/me",
        json={"password": password or account.password},
        headers=account.headers,
    )


def _log(client, account, kind, response):
    log_bid(client, account, id=str(uuid.uuid4()), kind=kind, response=response)


def _coach_for(client, *partners):
    coach = register(client, role="coach")
    consent(client, code_of(client, coach), *partners)
    return coach


def _rows(db, model, *where):
    with db.engine.connect() as conn:
        return conn.execute(select(model).where(*where)).all()


def test_a_wrong_password_erases_nothing(client, db):
    alex, _ = pair(client)
    assert_problem(_erase(client, alex, password="not the password"), 403)
    assert client.get("/v1/me", headers=alex.headers).status_code == 200
    assert client.get("/v1/couple", headers=alex.headers).status_code == 200


def test_erasure_keeps_the_partners_bids_and_ends_everything_else(client, db, clock):
    alex, sam = pair(client)
    add_device(client, alex, "ExponentPushToken[a]")
    _log(client, alex, "hug", "toward")
    _log(client, alex, "kiss", "toward")
    _log(client, sam, "question", "toward")
    _log(client, sam, "smile", "pending")  # makes a nudge for Alex
    coach = _coach_for(client, alex, sam)
    assert len(client.get("/v1/coach/couples", headers=coach.headers).json()["items"]) == 1

    assert _erase(client, alex).status_code == 204

    alex_id = uuid.UUID(alex.id)
    assert client.get("/v1/me", headers=alex.headers).status_code == 401  # at once
    refreshed = client.post("/v1/auth/refresh", json={"refresh_token": alex.refresh_token})
    assert refreshed.status_code == 401
    login = client.post("/v1/auth/login", json={"email": alex.email, "password": alex.password})
    assert login.status_code == 401
    assert _rows(db, User, User.id == alex_id) == []
    assert _rows(db, RefreshToken, RefreshToken.user_id == alex_id) == []
    assert _rows(db, Device, Device.user_id == alex_id) == []
    assert _rows(db, Notification, Notification.user_id == alex_id) == []
    assert _rows(db, Bid, Bid.logged_by_id == alex_id) == []

    # Sam: the couple ended, Sam's own bids stay readable, the balance is theirs alone.
    assert client.get("/v1/couple", headers=sam.headers).status_code == 404
    kinds = sorted(b["kind"] for b in client.get("/v1/bids", headers=sam.headers).json()["items"])
    assert kinds == ["question", "smile"]
    remaining = [(b.occurred_at, b.deposit) for b in _rows(db, Bid)]
    assert balance_at(remaining, clock.now(), 72) == 1.0

    # The coach lost the couple; the consent history stays, marked why it ended.
    assert client.get("/v1/coach/couples", headers=coach.headers).json()["items"] == []
    consents = _rows(db, CoachConsent)
    assert len(consents) == 2
    assert {c.revoke_reason for c in consents} == {"account_deleted"}
    assert {c.partner_id for c in consents} == {None, uuid.UUID(sam.id)}


def test_an_erased_coach_leaves_the_consent_history_behind(client, db):
    alex, sam = pair(client)
    coach = _coach_for(client, alex, sam)

    assert _erase(client, coach).status_code == 204

    consents = _rows(db, CoachConsent)
    assert len(consents) == 2
    assert {(c.coach_id, c.revoke_reason) for c in consents} == {(None, "account_deleted")}
    assert client.get("/v1/couple/coaches", headers=alex.headers).json() == []


def test_erasure_needs_the_password_field(client):
    alex = register(client)
    assert_problem(client.request("DELETE", "/v1/me", json={}, headers=alex.headers), 422)
    assert_problem(client.request("DELETE", "/v1/me", json={"password": alex.password}), 401)
