"""Security and privacy gates (OWASP API1 object level, API3 property level, API5 function
level authorization).

1. An authorization matrix: every route of the app (each operation of the OpenAPI document,
   and the routes left out of it) × every kind of caller, each cell the status that caller
   gets. Path parameters always name the *owner's* objects (couple A's bid, device, coach,
   …), so the matrix shows who can reach them: not-visible objects answer 404, as if they
   did not exist (SPEC §5, §8); a role that may never call an operation answers 403.
   Writes send a valid body, so an authorized caller gets a 2xx and nobody a 422. Every
   2xx answer is also searched for private things (ids, notes, a push token) that its
   caller may not see. A second, smaller table does the same for an ended couple's history.
2. Meta-tests that keep the matrix complete: a new route without a row fails, and so does a
   row naming a route that does not exist.
3. Mass assignment: every JSON body refuses unknown and privileged fields with 422, and
   nothing in the database changes; every request body schema says so
   (``additionalProperties: false``).

The world is built once per database through the API, dumped row by row, and restored
before each test, so that each cell starts from the same fresh world whatever the cells
before it wrote.
"""

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from app.accounts.models import User
from app.clock import FrozenClock
from app.main import create_app
from app.models import Base
from tests.conftest import START, Database, make_settings
from tests.factories import (
    PASSWORD,
    Account,
    add_device,
    assert_problem,
    code_of,
    consent,
    couple_id_of,
    end_couple,
    invite,
    join,
    log_bid,
    mailed_token,
    new_coach,
    notifications_of,
    ok,
    pair,
    register,
)

# --- the callers --------------------------------------------------------------------------

ANONYMOUS = "anonymous"
OWNER = "owner"  # alice: in couple A, logged the bid, owns the device and the notification
PARTNER = "partner"  # bob: alice's partner in couple A
OTHER_COUPLE = "other_couple"  # carol: in couple B with dave
UNPAIRED = "unpaired"  # erin: a partner who never joined anyone
COACH_WITHOUT_CONSENT = "coach_without_consent"  # coach Y: nobody let them in
COACH_WITH_CONSENT = "coach_with_consent"  # coach X: both alice and bob let them in
FORMER_PARTNER = "former_partner"  # frank: alice's partner before bob; alice ended it

CALLERS = (
    ANONYMOUS,
    OWNER,
    PARTNER,
    OTHER_COUPLE,
    UNPAIRED,
    COACH_WITHOUT_CONSENT,
    COACH_WITH_CONSENT,
    FORMER_PARTNER,
)

# --- the matrix ---------------------------------------------------------------------------

Route = tuple[str, str]  # (method, path template, optionally with a query string)
Expected = int | frozenset[int]

# One row per route, one column per caller (in the order of CALLERS): anon = anonymous,
# ownr = owner, prtn = partner, othr = other_couple, unpd = unpaired,
# coY = coach_without_consent, coX = coach_with_consent, frmr = former_partner.
# A cell is the status that caller gets (a frozenset would allow any of its statuses).
# fmt: off
MATRIX: dict[Route, tuple[Expected, ...]] = {
    #                                                    anon ownr prtn othr unpd coY  coX  frmr
    # operations
    ("GET",    "/healthz"):                             (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/readyz"):                              (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/metrics"):                             (200, 200, 200, 200, 200, 200, 200, 200),
    # the API's own documentation and the coach dashboard page (both public)
    ("GET",    "/openapi.json"):                        (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/docs"):                                (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/docs/oauth2-redirect"):                (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/redoc"):                               (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/docs/assets/swagger-ui-bundle.js"):    (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/docs/assets/swagger-ui.css"):          (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/docs/assets/redoc.standalone.js"):     (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/docs/assets/favicon.png"):             (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/"):                                    (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/coach"):                               (200, 200, 200, 200, 200, 200, 200, 200),
    # auth: the body carries the credential (the owner's), a bearer token changes nothing
    ("POST",   "/v1/auth/register"):                    (201, 201, 201, 201, 201, 201, 201, 201),
    ("POST",   "/v1/auth/login"):                       (200, 200, 200, 200, 200, 200, 200, 200),
    ("POST",   "/v1/auth/refresh"):                     (200, 200, 200, 200, 200, 200, 200, 200),
    ("POST",   "/v1/auth/logout"):                      (204, 204, 204, 204, 204, 204, 204, 204),
    ("POST",   "/v1/auth/verify-email"):                (204, 204, 204, 204, 204, 204, 204, 204),
    ("POST",   "/v1/auth/password-reset"):              (202, 202, 202, 202, 202, 202, 202, 202),
    ("POST",   "/v1/auth/password-reset/confirm"):      (204, 204, 204, 204, 204, 204, 204, 204),
    # me: always the caller's own account
    ("GET",    "/v1/me"):                               (401, 200, 200, 200, 200, 200, 200, 200),
    ("PATCH",  "/v1/me"):                               (401, 200, 200, 200, 200, 200, 200, 200),
    ("DELETE", "/v1/me"):                               (401, 204, 204, 204, 204, 204, 204, 204),
    ("POST",   "/v1/me/password"):                      (401, 200, 200, 200, 200, 200, 200, 200),
    # the coaches' addresses are verified already (a partner may consent only to such)
    ("POST",   "/v1/me/email-verification"):            (401, 202, 202, 202, 202, 409, 409, 202),
    ("POST",   "/v1/me/email"):                         (401, 202, 202, 202, 202, 202, 202, 202),
    ("GET",    "/v1/me/export"):                        (401, 200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/v1/me/nudge-settings"):                (401, 200, 200, 200, 200, 200, 200, 200),
    ("PUT",    "/v1/me/nudge-settings"):                (401, 200, 200, 200, 200, 200, 200, 200),
    # care phases: partners only, never a coach; days only while care is on (the owner's)
    ("GET",    "/v1/me/care"):                          (401, 200, 200, 200, 200, 403, 403, 200),
    ("PUT",    "/v1/me/care"):                          (401, 200, 200, 200, 200, 403, 403, 200),
    ("GET",    "/v1/me/care/status"):                   (401, 200, 200, 200, 200, 403, 403, 200),
    ("POST",   "/v1/me/care/days"):                     (401, 200, 409, 409, 409, 403, 403, 409),
    ("DELETE", "/v1/me/care/days"):                     (401, 200, 409, 409, 409, 403, 403, 409),
    ("GET",    "/v1/couple/care"):                      (401, 200, 200, 200, 404, 403, 403, 404),
    ("GET",    "/v1/me/devices"):                       (401, 200, 200, 200, 200, 200, 200, 200),
    ("POST",   "/v1/me/devices"):                       (401, 201, 201, 201, 201, 201, 201, 201),
    ("DELETE", "/v1/me/devices/{device_id}"):           (401, 204, 404, 404, 404, 404, 404, 404),
    ("GET",    "/v1/me/notifications"):                 (401, 200, 200, 200, 200, 200, 200, 200),
    ("POST",   "/v1/me/notifications/{notification_id}/read"):
                                                        (401, 200, 404, 404, 404, 404, 404, 404),
    # couple: the caller's own (active) couple; coaches are not partners (403)
    ("POST",   "/v1/couple/invites"):                   (401, 409, 409, 409, 201, 403, 403, 201),
    ("POST",   "/v1/couple/join"):                      (401, 409, 409, 409, 201, 403, 403, 201),
    ("GET",    "/v1/couple"):                           (401, 200, 200, 200, 404, 403, 403, 404),
    ("PATCH",  "/v1/couple"):                           (401, 200, 200, 200, 404, 403, 403, 404),
    ("DELETE", "/v1/couple"):                           (401, 204, 204, 204, 404, 403, 403, 404),
    ("GET",    "/v1/couple/balance"):                   (401, 200, 200, 200, 404, 403, 403, 200),
    ("GET",    "/v1/couple/balance/history"):           (401, 200, 200, 200, 404, 403, 403, 200),
    ("GET",    "/v1/couple/stats"):                     (401, 200, 200, 200, 404, 403, 403, 200),
    # bids: visible to both partners of couple A, changed or deleted only by who logged it
    ("GET",    "/v1/bid-kinds"):                        (200, 200, 200, 200, 200, 200, 200, 200),
    ("POST",   "/v1/bids"):                             (401, 201, 201, 201, 409, 403, 403, 409),
    ("GET",    "/v1/bids"):                             (401, 200, 200, 200, 404, 403, 403, 200),
    ("GET",    "/v1/bids?couple_id={couple_id}"):       (401, 200, 200, 404, 404, 403, 403, 404),
    ("GET",    "/v1/bids/{bid_id}"):                    (401, 200, 200, 404, 404, 404, 404, 404),
    ("PATCH",  "/v1/bids/{bid_id}"):                    (401, 200, 403, 404, 404, 404, 404, 404),
    ("DELETE", "/v1/bids/{bid_id}"):                    (401, 204, 403, 404, 404, 404, 404, 404),
    ("PUT",    "/v1/bids/{bid_id}/response"):           (401, 200, 200, 404, 404, 404, 404, 404),
    # offline sync: partners only, each pulls and pushes their own couple's and inbox's
    ("GET",    "/v1/sync"):                             (401, 200, 200, 200, 200, 403, 403, 200),
    ("POST",   "/v1/sync"):                             (401, 200, 200, 200, 200, 403, 403, 200),
    # consent, from the partners' side (the coach id is coach X's)
    ("GET",    "/v1/couple/coaches"):                   (401, 200, 200, 200, 404, 403, 403, 200),
    ("POST",   "/v1/couple/coaches"):                   (401, 201, 201, 201, 404, 403, 403, 404),
    ("DELETE", "/v1/couple/coaches/{coach_id}"):        (401, 204, 204, 404, 404, 403, 403, 404),
    ("GET",    "/v1/couple/coach-access-log"):          (401, 200, 200, 200, 404, 403, 403, 200),
    # the coach's views: coach accounts only; couple A only to the coach both let in
    ("GET",    "/v1/coach/profile"):                    (401, 403, 403, 403, 403, 200, 200, 403),
    ("POST",   "/v1/coach/profile/code"):               (401, 403, 403, 403, 403, 200, 200, 403),
    ("GET",    "/v1/coach/couples"):                    (401, 403, 403, 403, 403, 200, 200, 403),
    ("GET",    "/v1/coach/couples/{couple_id}/progress"):
                                                        (401, 403, 403, 403, 403, 404, 200, 403),
    ("POST",   "/v1/coach/couples/{couple_id}/practices"):
                                                        (401, 403, 403, 403, 403, 404, 201, 403),
    ("GET",    "/v1/coach/couples/{couple_id}/practices"):
                                                        (401, 403, 403, 403, 403, 404, 200, 403),
    # practices: the catalogue is public; a plan (alice's proposal) is couple A's, and only
    # the partner who did not propose it answers it
    ("GET",    "/v1/practices"):                        (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/v1/couple/practices"):                 (401, 200, 200, 200, 404, 403, 403, 200),
    ("POST",   "/v1/couple/practices"):                 (401, 201, 201, 201, 404, 403, 403, 404),
    ("POST",   "/v1/couple/practices/{practice_id}/accept"):
                                                        (401, 409, 200, 404, 404, 403, 403, 404),
    ("POST",   "/v1/couple/practices/{practice_id}/decline"):
                                                        (401, 409, 200, 404, 404, 403, 403, 404),
    ("DELETE", "/v1/couple/practices/{practice_id}"):   (401, 204, 204, 404, 404, 403, 403, 404),
    ("GET",    "/v1/couple/practices/{practice_id}/progress"):
                                                        (401, 200, 200, 404, 404, 403, 403, 404),
}
# fmt: on

NEW_PASSWORD = "a brand new passphrase 42"
PRACTICES = "/v1/couple/practices"
NEW_DEVICE_TOKEN = "ExponentPushToken[a-new-phone]"
OWNER_DEVICE_TOKEN = "ExponentPushToken[alice-phone]"
OWNER_NOTE = "that long hug by the window"
FORMER_NOTE = "our last walk by the river"

NUDGE_KINDS = {
    "daily_suggestion": True,
    "partner_bid": False,
    "reconnect": True,
    "weekly_summary": False,
}
NUDGE_SETTINGS: dict[str, Any] = {
    "enabled": True,
    "discreet": False,
    "daily_time": "20:30",
    "quiet_start": "23:00",
    "quiet_end": "06:30",
    "kinds": NUDGE_KINDS,
}


# --- the world ----------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    callers: dict[str, Account]  # every caller but the anonymous one
    couple_id: str  # couple A (alice and bob)
    other_couple_id: str  # couple B (carol and dave)
    former_couple_id: str  # couple F (alice and frank), ended by alice
    former_bid_id: str  # logged by frank in couple F, with a note
    bid_id: str  # logged by alice in couple A, with a note
    partner_bid_id: str  # logged by bob in couple A
    device_id: str  # alice's phone
    notification_id: str  # alice's inbox: bob logged a bid
    coach_id: str  # coach X, whom alice and bob let in
    practice_id: str  # alice's proposal of a practice to bob, waiting for his answer
    other_coach_code: str  # coach Y's code (nobody let them in)
    open_invite_code: str  # ivy's invite, waiting for anyone to join her
    verify_token: str  # of the link mailed to ivy when she registered
    reset_token: str  # of a password reset link mailed to ivy

    @property
    def owner(self) -> Account:
        return self.callers[OWNER]

    def headers(self, caller: str) -> dict[str, str]:
        return {} if caller == ANONYMOUS else self.callers[caller].headers

    @property
    def path_params(self) -> dict[str, str]:
        return {
            "bid_id": self.bid_id,
            "couple_id": self.couple_id,
            "coach_id": self.coach_id,
            "practice_id": self.practice_id,
            "device_id": self.device_id,
            "notification_id": self.notification_id,
            "former_bid_id": self.former_bid_id,
            "former_couple_id": self.former_couple_id,
        }


def _build_world(client: TestClient) -> World:
    alice = register(client, display_name="Alice Owner")
    frank = register(client, display_name="Frank Former")
    former_couple_id = join(client, frank, invite(client, alice))
    former_bid_id = log_bid(client, frank, kind="hand_hold", note=FORMER_NOTE)["id"]
    end_couple(client, alice)  # frank is the other one

    bob = register(client, display_name="Bob Partner")
    couple_id = join(client, bob, invite(client, alice))
    bid_id = str(uuid.uuid4())
    log_bid(client, alice, id=bid_id, kind="hug", note=OWNER_NOTE)
    partner_bid_id = log_bid(client, bob, kind="kiss")["id"]
    inbox = notifications_of(client, alice)
    [notification] = [n for n in inbox if n["data"].get("bid_id") == partner_bid_id]
    device_id = add_device(client, alice, OWNER_DEVICE_TOKEN)["id"]
    care = {"enabled": True, "mode": "days", "share_with_partner": True}
    ok(client.put("/v1/me/care", json=care, headers=alice.headers))

    coach_x = new_coach(client, "Xena Coach")
    consent(client, code_of(client, coach_x), alice, bob)
    coach_y = new_coach(client, "Yann Coach")
    other_coach_code = code_of(client, coach_y)
    practice_id = ok(
        client.post(PRACTICES, json={"practice": "twenty-second-hug"}, headers=alice.headers),
        201,
    )["id"]

    carol, dave = pair(
        client, register(client, display_name="Carol"), register(client, display_name="Dave")
    )
    other_couple_id = couple_id_of(client, carol)
    log_bid(client, dave, kind="laugh")
    erin = register(client, display_name="Erin Unpaired")
    ivy = register(client, display_name="Ivy Inviter")

    return World(
        callers={
            OWNER: alice,
            PARTNER: bob,
            OTHER_COUPLE: carol,
            UNPAIRED: erin,
            COACH_WITHOUT_CONSENT: coach_y,
            COACH_WITH_CONSENT: coach_x,
            FORMER_PARTNER: frank,
        },
        couple_id=couple_id,
        other_couple_id=other_couple_id,
        former_couple_id=former_couple_id,
        former_bid_id=former_bid_id,
        bid_id=bid_id,
        partner_bid_id=partner_bid_id,
        device_id=device_id,
        notification_id=notification["id"],
        coach_id=coach_x.id,
        practice_id=practice_id,
        other_coach_code=other_coach_code,
        open_invite_code=invite(client, ivy),
        verify_token=mailed_token(client, ivy.email),
        reset_token=_reset_token(client, ivy),
    )


def _reset_token(client: TestClient, account: Account) -> str:
    ok(client.post("/v1/auth/password-reset", json={"email": account.email}), 202)
    return mailed_token(client, account.email, "reset-password")


Rows = dict[str, list[dict[str, Any]]]


def _dump(engine: Engine) -> Rows:
    with engine.connect() as conn:
        return {
            table.name: [dict(row) for row in conn.execute(table.select()).mappings()]
            for table in Base.metadata.sorted_tables
        }


def _restore(engine: Engine, rows: Rows) -> None:
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:  # parents before children
            if rows[table.name]:
                conn.execute(table.insert(), rows[table.name])


def _comparable(rows: Rows) -> dict[str, list[str]]:
    """Every row of every table, in an order that does not depend on the query plan."""
    return {table: sorted(repr(sorted(row.items())) for row in rs) for table, rs in rows.items()}


@dataclass(frozen=True)
class Snapshot:
    world: World
    rows: Rows


@pytest.fixture(scope="module")
def snapshot(database: Database) -> Snapshot:
    """The world, made once per database through the API, and every row it wrote."""
    database.empty()
    app = create_app(make_settings(database.url), clock=FrozenClock(START), engine=database.engine)
    with TestClient(app) as client:
        world = _build_world(client)
    rows = _dump(database.engine)
    database.empty()
    return Snapshot(world, rows)


@pytest.fixture
def world(snapshot: Snapshot, client: TestClient, db: Database) -> World:
    """A fresh copy of the world for this test (the db fixture empties it afterwards)."""
    _restore(db.engine, snapshot.rows)
    return snapshot.world


# --- valid bodies -------------------------------------------------------------------------

Body = Callable[[World], dict[str, Any]]

BODIES: dict[Route, Body] = {
    ("POST", "/v1/auth/register"): lambda w: {
        "email": f"newcomer-{uuid.uuid4().hex[:12]}@example.com",
        "password": PASSWORD,
        "display_name": "Newcomer",
    },
    ("POST", "/v1/auth/login"): lambda w: {"email": w.owner.email, "password": PASSWORD},
    ("POST", "/v1/auth/refresh"): lambda w: {"refresh_token": w.owner.refresh_token},
    ("POST", "/v1/auth/logout"): lambda w: {"refresh_token": w.owner.refresh_token},
    ("PATCH", "/v1/me"): lambda w: {"display_name": "Renamed", "timezone": "Europe/Paris"},
    ("DELETE", "/v1/me"): lambda w: {"password": PASSWORD},
    ("POST", "/v1/me/password"): lambda w: {
        "current_password": PASSWORD,
        "new_password": NEW_PASSWORD,
    },
    ("PUT", "/v1/me/nudge-settings"): lambda w: NUDGE_SETTINGS,
    ("PUT", "/v1/me/care"): lambda w: {
        "enabled": True,
        "mode": "steady",
        "steady": {"weekdays": [2]},
    },
    ("POST", "/v1/me/care/days"): lambda w: {"date": "2026-03-20", "until": "2026-03-22"},
    ("DELETE", "/v1/me/care/days"): lambda w: {"date": "2026-03-20"},
    ("POST", "/v1/me/devices"): lambda w: {
        "provider": "expo",
        "token": NEW_DEVICE_TOKEN,
        "platform": "android",
    },
    ("POST", "/v1/couple/join"): lambda w: {"code": w.open_invite_code},
    ("PATCH", "/v1/couple"): lambda w: {"day_start_hour": 5, "half_life_hours": 48},
    ("POST", "/v1/bids"): lambda w: {"kind": "compliment", "initiator": "partner"},
    ("PATCH", "/v1/bids/{bid_id}"): lambda w: {"note": "edited", "duration_seconds": 25},
    ("PUT", "/v1/bids/{bid_id}/response"): lambda w: {"response": "toward"},
    # What a push may touch is for tests/sync; here, who may push at all.
    ("POST", "/v1/sync"): lambda w: {"changes": {"bids": {"created": [], "deleted": []}}},
    ("POST", "/v1/couple/coaches"): lambda w: {"coach_code": w.other_coach_code},
    ("POST", "/v1/couple/practices"): lambda w: {"practice": "appreciation", "target": 2},
    ("POST", "/v1/coach/couples/{couple_id}/practices"): lambda w: {"practice": "weekly-date"},
    ("POST", "/v1/auth/verify-email"): lambda w: {"token": w.verify_token},
    ("POST", "/v1/auth/password-reset"): lambda w: {"email": w.owner.email},
    ("POST", "/v1/auth/password-reset/confirm"): lambda w: {
        "token": w.reset_token,
        "password": NEW_PASSWORD,
    },
    ("POST", "/v1/me/email"): lambda w: {
        "email": f"moving-{uuid.uuid4().hex[:12]}@example.com",
        "password": PASSWORD,
    },
}


def _call(
    client: TestClient,
    world: World,
    route: Route,
    caller: str,
    body: dict[str, Any] | None = None,
) -> Any:
    method, template = route
    valid = BODIES.get((method, template.partition("?")[0].replace("{former_", "{")))
    if body is None and valid is not None:
        body = valid(world)
    return client.request(
        method, template.format(**world.path_params), json=body, headers=world.headers(caller)
    )


def _allowed(expected: Expected) -> frozenset[int]:
    return expected if isinstance(expected, frozenset) else frozenset({expected})


def _private_things(world: World) -> list[tuple[str, str, frozenset[str]]]:
    """What no successful answer may show to anyone but the callers named with it."""
    a, alice, former = {OWNER, PARTNER}, {OWNER}, {OWNER, FORMER_PARTNER}
    return [
        ("couple A's id", world.couple_id, frozenset({*a, COACH_WITH_CONSENT})),
        ("couple A's practice", world.practice_id, frozenset({*a, COACH_WITH_CONSENT})),
        ("alice's bid", world.bid_id, frozenset(a)),
        ("bob's bid", world.partner_bid_id, frozenset(a)),
        ("alice's note", OWNER_NOTE, frozenset(a)),
        ("alice's device", world.device_id, frozenset(alice)),
        ("alice's push token", OWNER_DEVICE_TOKEN, frozenset(alice)),
        ("alice's notification", world.notification_id, frozenset(alice)),
        ("couple F's id", world.former_couple_id, frozenset(former)),
        ("frank's bid in couple F", world.former_bid_id, frozenset(former)),
        ("frank's note in couple F", FORMER_NOTE, frozenset(former)),
    ]


def _assert_no_leak(response: Any, world: World, caller: str) -> None:
    leaked = [
        name
        for name, value, may_see in _private_things(world)
        if caller not in may_see and value in response.text
    ]
    assert not leaked, f"{caller} was shown {leaked}: {response.text[:500]}"


def _cells(matrix: dict[Route, tuple[Expected, ...]]) -> list[Any]:
    cells = []
    for route, row in matrix.items():
        assert len(row) == len(CALLERS), f"{route}: one cell per caller"
        for caller, expected in zip(CALLERS, row, strict=True):
            method, path = route
            cells.append(pytest.param(route, caller, expected, id=f"{method} {path} as {caller}"))
    return cells


def _check_cell(
    client: TestClient, world: World, route: Route, caller: str, expected: Expected
) -> None:
    response = _call(client, world, route, caller)
    assert response.status_code in _allowed(expected), (
        f"{route[0]} {route[1]} as {caller}: expected {expected}, got "
        f"{response.status_code}: {response.text[:300]}"
    )
    if response.status_code >= 400:
        assert_problem(response, response.status_code)
    if response.status_code == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    if response.is_success:
        _assert_no_leak(response, world, caller)


@pytest.mark.parametrize(("route", "caller", "expected"), _cells(MATRIX))
def test_authorization_matrix(
    client: TestClient, world: World, route: Route, caller: str, expected: Expected
) -> None:
    _check_cell(client, world, route, caller, expected)


# Couple F (alice and frank) has ended: its history stays readable to both of its partners
# and to nobody else, alice's new partner included (SPEC §4); it can no longer be changed,
# and a bid can still be deleted by the partner who logged it (frank).
# fmt: off
HISTORY_MATRIX: dict[Route, tuple[Expected, ...]] = {
    #                                                    anon ownr prtn othr unpd coY  coX  frmr
    ("GET",    "/v1/bids/{former_bid_id}"):             (401, 200, 404, 404, 404, 404, 404, 200),
    ("GET",    "/v1/bids?couple_id={former_couple_id}"):
                                                        (401, 200, 404, 404, 404, 403, 403, 200),
    ("PATCH",  "/v1/bids/{former_bid_id}"):             (401, 403, 404, 404, 404, 404, 404, 409),
    ("PUT",    "/v1/bids/{former_bid_id}/response"):    (401, 409, 404, 404, 404, 404, 404, 409),
    ("DELETE", "/v1/bids/{former_bid_id}"):             (401, 403, 404, 404, 404, 404, 404, 204),
    ("GET",    "/v1/coach/couples/{former_couple_id}/progress"):
                                                        (401, 403, 403, 403, 403, 404, 404, 403),
    ("GET",    "/v1/coach/couples/{former_couple_id}/practices"):
                                                        (401, 403, 403, 403, 403, 404, 404, 403),
}
# fmt: on


@pytest.mark.parametrize(("route", "caller", "expected"), _cells(HISTORY_MATRIX))
def test_an_ended_couples_history_stays_with_its_two_partners(
    client: TestClient, world: World, route: Route, caller: str, expected: Expected
) -> None:
    _check_cell(client, world, route, caller, expected)


def test_the_world_is_what_the_matrix_assumes(client: TestClient, world: World) -> None:
    """The objects behind the path parameters exist and belong to whom the matrix says."""
    alice, bob = world.owner, world.callers[PARTNER]
    bid = ok(client.get(f"/v1/bids/{world.bid_id}", headers=bob.headers))
    assert bid["couple_id"] == world.couple_id
    assert (bid["logged_by"], bid["note"]) == ("partner", OWNER_NOTE)
    devices = ok(client.get("/v1/me/devices", headers=alice.headers))
    assert [d["id"] for d in devices] == [world.device_id]
    inbox = ok(client.get("/v1/me/notifications", headers=alice.headers))["items"]
    [notification] = [n for n in inbox if n["id"] == world.notification_id]
    assert notification["data"] == {"bid_id": world.partner_bid_id}
    [coach] = ok(client.get("/v1/couple/coaches", headers=alice.headers))
    assert (coach["coach"]["id"], coach["state"]) == (world.coach_id, "active")
    coach_x = world.callers[COACH_WITH_CONSENT]
    seen = ok(client.get("/v1/coach/couples", headers=coach_x.headers))["items"]
    assert [c["couple_id"] for c in seen] == [world.couple_id]
    coach_y = world.callers[COACH_WITHOUT_CONSENT]
    assert ok(client.get("/v1/coach/couples", headers=coach_y.headers))["items"] == []
    frank = world.callers[FORMER_PARTNER]
    frank_bids = ok(client.get("/v1/bids", headers=frank.headers))["items"]
    assert [(b["id"], b["couple_id"]) for b in frank_bids] == [
        (world.former_bid_id, world.former_couple_id)
    ]
    history = f"/v1/bids?couple_id={world.former_couple_id}"
    assert [b["id"] for b in ok(client.get(history, headers=alice.headers))["items"]] == [
        world.former_bid_id
    ]


# --- the matrix names every route, and only routes ----------------------------------------

HTTP_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE"})


@cache
def _app() -> FastAPI:
    """The app as configured for tests (docs on), for its routes and OpenAPI document."""
    return create_app(make_settings("sqlite://"))


def _openapi() -> dict[str, Any]:
    return _app().openapi()


def _schema_routes() -> set[Route]:
    return {
        (method.upper(), path)
        for path, item in _openapi()["paths"].items()
        for method in item
        if method.upper() in HTTP_METHODS
    }


def _mounted_routes() -> set[Route]:
    """Every (method, path) the app answers, including routes left out of the schema."""
    try:  # FastAPI keeps included routers nested; this walks into them
        from fastapi.routing import iter_route_contexts

        routes: Any = list(iter_route_contexts(_app().routes))
    except ImportError:  # older FastAPI: the routes are flat
        routes = _app().routes
    found = set()
    for route in routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        assert path and methods, f"a route the matrix cannot name: {route!r}"
        # Starlette answers HEAD wherever it answers GET: not a route of its own.
        found |= {(m, path) for m in methods if not (m == "HEAD" and "GET" in methods)}
    return found


def _matrix_routes() -> set[Route]:
    return {(method, path.partition("?")[0]) for method, path in MATRIX}


def test_every_route_has_a_row_in_the_matrix() -> None:
    missing = (_schema_routes() | _mounted_routes()) - _matrix_routes()
    assert not missing, f"routes without a row in MATRIX: {sorted(missing)}"


def test_every_row_of_the_matrix_names_a_route() -> None:
    unknown = _matrix_routes() - (_schema_routes() | _mounted_routes())
    assert not unknown, f"rows of MATRIX naming no route: {sorted(unknown)}"


def test_the_schema_lists_every_route_but_the_docs_metrics_dashboard_and_home() -> None:
    assert _mounted_routes() - _schema_routes() == {
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("GET", "/redoc"),
        ("GET", "/docs/assets/swagger-ui-bundle.js"),
        ("GET", "/docs/assets/swagger-ui.css"),
        ("GET", "/docs/assets/redoc.standalone.js"),
        ("GET", "/docs/assets/favicon.png"),
        ("GET", "/metrics"),
        ("GET", "/coach"),
        ("GET", "/"),
    }


def _body_routes() -> set[Route]:
    return {
        (method.upper(), path)
        for path, item in _openapi()["paths"].items()
        for method, operation in item.items()
        if method.upper() in HTTP_METHODS and "requestBody" in operation
    }


def test_every_route_with_a_body_has_a_valid_body_and_no_other_route_has_one() -> None:
    assert set(BODIES) == _body_routes()


def test_every_path_parameter_names_an_object_of_the_world() -> None:
    names = {"bid_id", "couple_id", "coach_id", "device_id", "notification_id", "practice_id"}
    for path, item in _openapi()["paths"].items():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    assert parameter["name"] in names, f"{path}: {parameter['name']}"


def test_every_status_in_the_matrices_is_documented_for_its_operation() -> None:
    """A typed client learns every answer of an operation from the document (SPEC §2)."""
    undocumented = []
    for matrix in (MATRIX, HISTORY_MATRIX):
        for (method, template), row in matrix.items():
            path = template.partition("?")[0].replace("{former_", "{")
            operation = _openapi()["paths"].get(path, {}).get(method.lower())
            if operation is None:  # a route left out of the schema
                continue
            statuses = {str(status) for cell in row for status in _allowed(cell)}
            if missing := statuses - set(operation["responses"]):
                undocumented.append(f"{method} {template}: {sorted(missing)}")
    assert not undocumented, undocumented


# --- mass assignment ----------------------------------------------------------------------


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    name = ref.removeprefix("#/components/schemas/")
    resolved: dict[str, Any] = _openapi()["components"]["schemas"][name]
    return resolved


def _body_schema(route: Route) -> dict[str, Any]:
    method, path = route
    body = _openapi()["paths"][path][method.lower()]["requestBody"]
    return _resolve(body["content"]["application/json"]["schema"])


def _object_schemas(schema: dict[str, Any], seen: set[int] | None = None) -> Iterator[Any]:
    """Every object schema a body may hold, following $refs, properties and combinators."""
    seen = set() if seen is None else seen
    schema = _resolve(schema)
    if id(schema) in seen:
        return
    seen.add(id(schema))
    if schema.get("type") == "object" or "properties" in schema:
        yield schema
    children = [
        *schema.get("properties", {}).values(),
        *schema.get("anyOf", []),
        *schema.get("oneOf", []),
        *schema.get("allOf", []),
    ]
    if isinstance(schema.get("items"), dict):
        children.append(schema["items"])
    if isinstance(schema.get("additionalProperties"), dict):
        children.append(schema["additionalProperties"])
    for child in children:
        yield from _object_schemas(child, seen)


def test_every_request_body_schema_refuses_unknown_fields() -> None:
    open_schemas = [
        f"{method} {path}: {schema.get('title', schema)}"
        for method, path in sorted(_body_routes())
        for schema in _object_schemas(_body_schema((method, path)))
        if schema.get("additionalProperties") is not False
    ]
    assert not open_schemas, f"request bodies that accept unknown fields: {open_schemas}"


# Fields a client must never set, each with a value that would hurt if it were taken.
PRIVILEGED: dict[str, Callable[[World], Any]] = {
    "role": lambda w: "coach",
    "is_admin": lambda w: True,
    "admin": lambda w: True,
    "scope": lambda w: "full",
    "id": lambda w: w.callers[OTHER_COUPLE].id,
    "user_id": lambda w: w.callers[OTHER_COUPLE].id,
    "email": lambda w: w.callers[OTHER_COUPLE].email,
    "couple_id": lambda w: w.other_couple_id,
    "partner_id": lambda w: w.callers[OTHER_COUPLE].id,
    "coach_id": lambda w: w.coach_id,
    "logged_by_id": lambda w: w.callers[PARTNER].id,
    "initiator_id": lambda w: w.callers[PARTNER].id,
    "responded_by_id": lambda w: w.callers[PARTNER].id,
    "deposit": lambda w: 1000.0,
    "balance": lambda w: 1_000_000.0,
    "session_version": lambda w: 0,
    "password_hash": lambda w: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
    "created_at": lambda w: "2020-01-01T00:00:00Z",
    "ended_at": lambda w: "2020-01-01T00:00:00Z",
    "read_at": lambda w: "2020-01-01T00:00:00Z",
    "disabled_at": lambda w: None,
}


def _authorized_caller(route: Route) -> str:
    """The first caller (the owner if they may) whose valid request succeeds."""
    row = dict(zip(CALLERS, MATRIX[route], strict=True))
    order = [c for c in CALLERS if c != ANONYMOUS] + [ANONYMOUS]
    return next(c for c in order if all(200 <= s < 300 for s in _allowed(row[c])))


def _fields_to_inject(route: Route) -> list[str]:
    """The privileged fields this body does not declare (register's role and a bid's
    client-made id are legitimate; their values are checked below)."""
    declared = set(_body_schema(route).get("properties", {}))
    return [field for field in PRIVILEGED if field not in declared]


def _why_not_refused(response: Any, field: str, before: Rows, after: Rows) -> str | None:
    if response.status_code != 422:
        return f"answered {response.status_code}: {response.text[:200]}"
    if not response.headers["content-type"].startswith("application/problem+json"):
        return f"answered 422 as {response.headers['content-type']}"
    if not any(error["loc"][-1] == field for error in response.json().get("errors") or []):
        return f"422 without naming the field: {response.text[:200]}"
    if _comparable(after) != _comparable(before):
        changed = [t for t in before if _comparable({t: before[t]}) != _comparable({t: after[t]})]
        return f"422, but the database changed: {changed}"
    return None


@pytest.mark.parametrize(
    "route", sorted(_body_routes()), ids=[f"{m} {p}" for m, p in sorted(_body_routes())]
)
def test_privileged_and_unknown_fields_are_refused_and_nothing_changes(
    client: TestClient, db: Database, world: World, route: Route
) -> None:
    caller = _authorized_caller(route)
    accepted = {}
    for field in _fields_to_inject(route):
        body = {**BODIES[route](world), field: PRIVILEGED[field](world)}
        before = _dump(db.engine)
        response = _call(client, world, route, caller, body)
        reason = _why_not_refused(response, field, before, _dump(db.engine))
        if reason is not None:
            accepted[field] = reason
    assert not accepted, f"{route[0]} {route[1]} as {caller} took fields it must refuse: {accepted}"


def test_an_unknown_field_inside_a_nested_object_is_refused(
    client: TestClient, db: Database, world: World
) -> None:
    route = ("PUT", "/v1/me/nudge-settings")
    body = {**NUDGE_SETTINGS, "kinds": {**NUDGE_KINDS, "is_admin": True}}
    before = _comparable(_dump(db.engine))
    problem = assert_problem(_call(client, world, route, OWNER, body), 422)
    assert any(error["loc"][-1] == "is_admin" for error in problem["errors"]), problem
    assert _comparable(_dump(db.engine)) == before


@pytest.mark.parametrize(
    "role", ["admin", "superuser", "ADMIN", "Coach", "coach ", "", None, 1, True, ["coach"]]
)
def test_register_takes_no_role_but_partner_or_coach(
    client: TestClient, db: Database, world: World, role: Any
) -> None:
    body = {**BODIES[("POST", "/v1/auth/register")](world), "role": role}
    before = _comparable(_dump(db.engine))
    problem = assert_problem(client.post("/v1/auth/register", json=body), 422)
    assert any(error["loc"][-1] == "role" for error in problem["errors"]), problem
    assert _comparable(_dump(db.engine)) == before


@pytest.mark.parametrize("role", ["partner", "coach"])
def test_register_takes_partner_or_coach(client: TestClient, db: Database, role: str) -> None:
    account = register(client, role=role)
    with db.engine.connect() as conn:
        stored = conn.scalar(select(User.role).where(User.id == uuid.UUID(account.id)))
    assert stored == role


@pytest.mark.parametrize("caller", [OTHER_COUPLE, PARTNER, OWNER])
def test_a_bid_id_of_couple_a_cannot_be_claimed_or_replayed_by_anyone_else(
    client: TestClient, db: Database, world: World, caller: str
) -> None:
    """A client-made id is an idempotency key, not a way into a bid someone else logged:
    the same id, even with the very same content, is a conflict for any other partner."""
    same = {"id": world.bid_id, "kind": "hug", "initiator": "me", "note": OWNER_NOTE}
    other = {"id": world.bid_id, "kind": "kiss", "initiator": "partner", "note": "mine now"}
    before = _comparable(_dump(db.engine))
    if caller == OWNER:  # the owner's own replay is answered with the stored bid
        assert ok(_call(client, world, ("POST", "/v1/bids"), caller, same))["id"] == world.bid_id
        assert_problem(_call(client, world, ("POST", "/v1/bids"), caller, other), 409)
    else:
        for body in (same, other):
            problem = assert_problem(_call(client, world, ("POST", "/v1/bids"), caller, body), 409)
            assert OWNER_NOTE not in str(problem)
    assert _comparable(_dump(db.engine)) == before


def test_a_refused_body_leaves_no_account_behind(client: TestClient, db: Database) -> None:
    body = {
        "email": "sneaky@example.com",
        "password": PASSWORD,
        "display_name": "Sneaky",
        "role": "coach",
        "is_admin": True,
    }
    assert_problem(client.post("/v1/auth/register", json=body), 422)
    with db.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(User)) == 0
