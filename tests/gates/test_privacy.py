"""Privacy gates (SPEC §9, §3 and §10): the export holds every row about the caller and
nothing about anyone else, erasure takes effect at once, and no log line carries a secret.

The export is checked against the database itself: a map below says, for every table,
which rows are "about" a user. A table that is neither in that map nor deliberately left
out of the export (app.lifecycle.export.NOT_EXPORTED) fails the suite, so whoever adds a
table has to decide whether a person's export must show it.
"""

import json
import logging
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import ColumnElement, Select, or_, select

from app import ratelimit, scheduler, security
from app.db import make_session_factory
from app.lifecycle import export as export_module
from app.models import Base
from app.observability import JsonFormatter
from app.outbox import dispatcher
from app.outbox.dispatcher import Providers
from tests.conftest import TEST_SECRET, make_settings
from tests.factories import (
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
    pair,
    register,
    sign_in,
)
from tests.fake_expo import FakeExpo

T = Base.metadata.tables
EXPO_ACCESS_TOKEN = "expo-access-token-SECRET-0e9d51"


# --- which rows are about a user -------------------------------------------------------


def _couples_of(uid: uuid.UUID) -> Select[Any]:
    """Every couple the user is or was a partner in."""
    members = T["couple_members"]
    return select(members.c.couple_id).where(members.c.user_id == uid)


def _of_couples(table: str) -> Callable[[uuid.UUID, str], ColumnElement[bool]]:
    return lambda uid, _email: T[table].c.couple_id.in_(_couples_of(uid))


def _owned(table: str, column: str = "user_id") -> Callable[[uuid.UUID, str], ColumnElement[bool]]:
    return lambda uid, _email: T[table].c[column] == uid


def _push_tickets(uid: uuid.UUID, _email: str) -> ColumnElement[bool]:
    tickets, notifications, devices = T["push_tickets"], T["notifications"], T["devices"]
    return or_(
        tickets.c.notification_id.in_(
            select(notifications.c.id).where(notifications.c.user_id == uid)
        ),
        tickets.c.device_id.in_(select(devices.c.id).where(devices.c.user_id == uid)),
    )


def _invites(uid: uuid.UUID, _email: str) -> ColumnElement[bool]:
    invites = T["couple_invites"]
    return or_(invites.c.inviter_id == uid, invites.c.used_by_id == uid)


def _consents(uid: uuid.UUID, _email: str) -> ColumnElement[bool]:
    consents = T["coach_consents"]
    return or_(
        consents.c.couple_id.in_(_couples_of(uid)),
        consents.c.coach_id == uid,
        consents.c.partner_id == uid,
        consents.c.revoked_by_id == uid,
    )


def _coach_access(uid: uuid.UUID, _email: str) -> ColumnElement[bool]:
    reads = T["coach_access_log"]
    return or_(reads.c.couple_id.in_(_couples_of(uid)), reads.c.coach_id == uid)


def _practices(uid: uuid.UUID, _email: str) -> ColumnElement[bool]:
    plans = T["couple_practices"]
    return or_(
        plans.c.couple_id.in_(_couples_of(uid)),
        plans.c.coach_id == uid,
        plans.c.proposed_by_id == uid,
    )


def _rate_limits(uid: uuid.UUID, email: str) -> ColumnElement[bool]:
    keys = [
        ratelimit.key("login", email),
        ratelimit.key("join", str(uid)),
        ratelimit.key("coach_code", str(uid)),
    ]
    return T["rate_limits"].c.key.in_(keys)


# Every table of the schema, with the rows that are about a user (given id and email).
# A new table must be added here: the meta-test below fails until it is.
ROWS_ABOUT: dict[str, Callable[[uuid.UUID, str], ColumnElement[bool]]] = {
    "users": _owned("users", "id"),
    "refresh_tokens": _owned("refresh_tokens"),
    "couples": lambda uid, _email: T["couples"].c.id.in_(_couples_of(uid)),
    "couple_members": _of_couples("couple_members"),
    "couple_invites": _invites,
    "bids": _of_couples("bids"),
    "bid_tombstones": _of_couples("bid_tombstones"),
    "couple_days": _of_couples("couple_days"),
    "nudge_settings": _owned("nudge_settings"),
    "devices": _owned("devices"),
    "notifications": _owned("notifications"),
    "inbox_clocks": _owned("inbox_clocks"),
    "notification_tombstones": _owned("notification_tombstones"),
    "push_tickets": _push_tickets,
    "coach_profiles": _owned("coach_profiles"),
    "coach_consents": _consents,
    "coach_access_log": _coach_access,
    "rate_limits": _rate_limits,
    "couple_practices": _practices,
    "email_tokens": _owned("email_tokens"),
    "mails": _owned("mails"),
    "care_profiles": _owned("care_profiles"),
    "person_keys": _owned("person_keys"),
}


def _rows_about(db: Any, table: str, account: Account) -> list[dict[str, Any]]:
    where = ROWS_ABOUT[table](uuid.UUID(account.id), account.email.lower())
    with db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(T[table]).where(where))]


def _all_rows(db: Any, table: str) -> list[dict[str, Any]]:
    with db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(T[table]))]


# --- reading an export -----------------------------------------------------------------


def _records(document: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object anywhere in the document."""
    if isinstance(document, dict):
        yield document
        for value in document.values():
            yield from _records(value)
    elif isinstance(document, list):
        for value in document:
            yield from _records(value)


def _same(exported: Any, stored: Any) -> bool:
    if stored is None:
        return exported is None
    if isinstance(stored, datetime):
        return isinstance(exported, str) and datetime.fromisoformat(exported) == stored
    if isinstance(stored, date | time):
        return isinstance(exported, str) and exported == stored.isoformat()
    if isinstance(stored, uuid.UUID):
        return bool(exported == str(stored))
    return bool(exported == stored)


def _exported_columns(table: str) -> list[str]:
    hidden = export_module.HIDDEN_COLUMNS.get(table, frozenset())
    return [c.key for c in T[table].columns if c.key not in hidden]


def _holds(records: list[dict[str, Any]], table: str, stored: dict[str, Any]) -> bool:
    """Whether some exported record carries this row: every exported column, same value."""
    columns = _exported_columns(table)
    return any(
        all(column in record and _same(record[column], stored[column]) for column in columns)
        for record in records
    )


def _closest(records: list[dict[str, Any]], table: str, stored: dict[str, Any]) -> str:
    """For a failure message: what the record with the same primary key lacks."""
    key = [c.key for c in T[table].primary_key.columns]
    for record in records:
        if all(k in record and _same(record[k], stored[k]) for k in key):
            wrong = [
                c
                for c in _exported_columns(table)
                if c not in record or not _same(record[c], stored[c])
            ]
            return f"record with its key lacks or differs in {wrong}"
    return "no record with its primary key"


def _export(client: TestClient, account: Account) -> tuple[dict[str, Any], str]:
    response = client.get("/v1/me/export", headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json(), response.text


# --- building data through the API -----------------------------------------------------


def _bid(client: TestClient, account: Account, kind: str, **body: Any) -> str:
    """A bid of this kind with an id of the phone's making, pending unless told; its id."""
    bid_id = str(uuid.uuid4())
    log_bid(client, account, id=bid_id, kind=kind, **{"response": "pending", **body})
    return bid_id


def _join(client: TestClient, inviter: Account, joiner: Account) -> str:
    """The joiner takes the inviter's invite; the invite code, a secret to look for."""
    code = invite(client, inviter)
    join(client, joiner, code)
    return code


def _coach_reads(client: TestClient, coach: Account) -> list[str]:
    couples = client.get("/v1/coach/couples", headers=coach.headers)
    assert couples.status_code == 200, couples.text
    ids = [c["couple_id"] for c in couples.json()["items"]]
    for couple_id in ids:
        progress = client.get(f"/v1/coach/couples/{couple_id}/progress", headers=coach.headers)
        assert progress.status_code == 200, progress.text
    return ids


def _push_runtime(db: Any, clock: Any, expo: FakeExpo) -> scheduler.Runtime:
    settings = make_settings(
        db.url,
        push_provider="expo",
        expo_base_url=expo.url,
        expo_access_token=EXPO_ACCESS_TOKEN,
        push_timeout_seconds=5,
    )
    return scheduler.Runtime(
        settings=settings,
        clock=clock,
        session_factory=make_session_factory(db.engine),
        _providers=Providers(settings),
    )


def _send_nudges(db: Any, clock: Any, expo: FakeExpo) -> int:
    """One dispatch round against the fake Expo server; the number delivered."""
    runtime = _push_runtime(db, clock, expo)
    try:
        result = dispatcher.dispatch_once(
            runtime.session_factory, runtime.providers, clock, runtime.settings, random.Random(1)
        )
    finally:
        runtime.providers.close()
    return result.delivered


@pytest.fixture
def expo() -> Iterator[FakeExpo]:
    with FakeExpo() as fake:
        yield fake


@dataclass
class World:
    alex: Account
    sam: Account
    coach: Account
    kim: Account
    lee: Account
    invite_codes: list[str]
    coach_code: str
    other_couple_id: str
    notes: dict[str, list[str]]  # owner ("alex", "sam", "other") -> notes
    bids: dict[str, list[str]]  # owner -> bid ids
    push_tokens: dict[str, str]  # owner -> token
    refresh_tokens: list[str]
    access_tokens: list[str]


@pytest.fixture
def world(client: TestClient, db: Any, clock: Any, expo: FakeExpo) -> World:
    """Alex and Sam, a coach they both consent to, and an unrelated couple (Kim and Lee)
    with the same coach: between them, at least one row in every table."""
    alex = register(client, display_name="Alex")
    sam = register(client, display_name="Sam")
    coach = new_coach(client)
    kim = register(client, display_name="Kimberly Otherperson")
    lee = register(client, display_name="Leland Otherperson")
    codes = [_join(client, alex, sam), _join(client, kim, lee)]
    other_couple_id = couple_id_of(client, kim)

    tokens = {
        "alex": "ExponentPushToken[SECRET-alex-phone-5c1e]",
        "sam": "ExponentPushToken[SECRET-sam-phone-9b7d]",
        "lee": "ExponentPushToken[SECRET-lee-phone-44aa]",
    }
    add_device(client, alex, tokens["alex"])
    add_device(client, sam, tokens["sam"])
    add_device(client, lee, tokens["lee"])
    settings = {
        "enabled": True,
        "discreet": False,
        "daily_time": "06:45",
        "quiet_start": "23:00",
        "quiet_end": "06:00",
        "kinds": {
            "daily_suggestion": True,
            "partner_bid": True,
            "reconnect": False,
            "weekly_summary": True,
        },
    }
    assert client.put("/v1/me/nudge-settings", json=settings, headers=sam.headers).is_success
    # Alex shares care days (steady Tuesdays and Fridays, the clock's Tuesday among them).
    care = {"enabled": True, "mode": "steady", "share_with_partner": True}
    care["steady"] = {"weekdays": [2, 5]}
    assert client.put("/v1/me/care", json=care, headers=alex.headers).is_success

    notes = {
        "alex": ["NOTE-SECRET-alex-hug-1f3a", "NOTE-SECRET-alex-question-77b2"],
        "sam": ["NOTE-SECRET-sam-kiss-c0de", "NOTE-SECRET-sam-edited-5e11"],
        "other": ["NOTE-SECRET-kim-hug-8f20", "NOTE-SECRET-lee-kiss-d4d4"],
    }
    bids = {
        "alex": [
            _bid(
                client, alex, "hug", note=notes["alex"][0], response="toward", duration_seconds=25
            ),
            _bid(client, alex, "question", note=notes["alex"][1]),  # a nudge for Sam
        ],
        "sam": [
            _bid(client, sam, "kiss", note=notes["sam"][0], initiator="partner"),  # for Alex
            _bid(client, sam, "compliment", note="NOTE-SECRET-sam-before-edit-0a0a"),
        ],
        "other": [
            _bid(client, kim, "hug", note=notes["other"][0], response="toward"),
            _bid(client, lee, "kiss", note=notes["other"][1]),
        ],
    }
    patched = client.patch(
        f"/v1/bids/{bids['sam'][1]}", json={"note": notes["sam"][1]}, headers=sam.headers
    )
    assert patched.status_code == 200, patched.text
    for account, bid_id, answer in (
        (alex, bids["sam"][0], "toward"),
        (sam, bids["alex"][1], "away"),
    ):
        put = client.put(
            f"/v1/bids/{bid_id}/response", json={"response": answer}, headers=account.headers
        )
        assert put.status_code == 200, put.text
    deleted = _bid(client, alex, "smile", note="NOTE-SECRET-alex-deleted-9999")
    assert client.delete(f"/v1/bids/{deleted}", headers=alex.headers).status_code == 204
    # Sam takes one back too: Alex's nudge about it leaves a tombstone for his phone's sync.
    taken_back = _bid(client, sam, "smile", note="NOTE-SECRET-sam-deleted-9999")
    assert client.delete(f"/v1/bids/{taken_back}", headers=sam.headers).status_code == 204

    # Nudges reach both phones through the fake Expo server: notifications and tickets.
    assert _send_nudges(db, clock, expo) >= 3
    inbox = notifications_of(client, alex)
    assert inbox, "Sam's pending bid should have nudged Alex"
    read = client.post(f"/v1/me/notifications/{inbox[0]['id']}/read", headers=alex.headers)
    assert read.status_code == 200, read.text

    coach_code = code_of(client, coach)
    consent(client, coach_code, alex, sam, kim, lee)
    assert len(_coach_reads(client, coach)) == 2  # an access log entry per couple
    # Practices: one the coach proposed and both accepted, one Alex proposed to Sam.
    plan = client.post(
        f"/v1/coach/couples/{couple_id_of(client, alex)}/practices",
        json={"practice": "twenty-second-hug"},
        headers=coach.headers,
    ).json()
    for partner in (alex, sam):
        accepted = client.post(f"/v1/couple/practices/{plan['id']}/accept", headers=partner.headers)
        assert accepted.status_code == 200, accepted.text
    proposed = client.post(
        "/v1/couple/practices", json={"practice": "weekly-date"}, headers=alex.headers
    )
    assert proposed.status_code == 201, proposed.text

    # Sessions: a second sign-in and a rotated refresh token for Alex.
    second = sign_in(client, alex)
    rotated = client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    refresh_tokens = [
        alex.refresh_token,
        sam.refresh_token,
        coach.refresh_token,
        second["refresh_token"],
        rotated.json()["refresh_token"],
    ]
    access_tokens = [
        alex.access_token,
        sam.access_token,
        coach.access_token,
        second["access_token"],
        rotated.json()["access_token"],
    ]

    # Failed attempts leave rate-limit counters: a wrong password, a wrong coach code.
    for account in (alex, coach):
        failed = client.post(
            "/v1/auth/login", json={"email": account.email, "password": "not the password"}
        )
        assert_problem(failed, 401)
    wrong = client.post(
        "/v1/couple/coaches", json={"coach_code": "0000000000"}, headers=sam.headers
    )
    assert_problem(wrong, 404)

    return World(
        alex=alex,
        sam=sam,
        coach=coach,
        kim=kim,
        lee=lee,
        invite_codes=codes,
        coach_code=coach_code,
        other_couple_id=other_couple_id,
        notes=notes,
        bids=bids,
        push_tokens=tokens,
        refresh_tokens=refresh_tokens,
        access_tokens=access_tokens,
    )


# --- 1. the export is complete ---------------------------------------------------------


def test_every_table_is_either_exported_or_left_out_with_a_reason():
    tables = set(T)
    unmapped = tables - set(ROWS_ABOUT)
    assert not unmapped, (
        f"tables {sorted(unmapped)} are new: add them to ROWS_ABOUT in this file (which rows "
        "are about a user) and either export them or list them in export.NOT_EXPORTED"
    )
    assert set(ROWS_ABOUT) <= tables, "ROWS_ABOUT names a table that no longer exists"
    for table, reason in export_module.NOT_EXPORTED.items():
        assert table in tables, f"NOT_EXPORTED names an unknown table {table}"
        assert len(reason.split()) >= 5, f"{table} is left out of the export without a reason"
    for table, hidden in export_module.HIDDEN_COLUMNS.items():
        assert table in tables, f"HIDDEN_COLUMNS names an unknown table {table}"
        assert hidden <= set(T[table].c.keys()), f"HIDDEN_COLUMNS[{table}] names no column"
        assert table not in export_module.NOT_EXPORTED


def test_the_export_holds_every_row_about_the_user_in_every_column(client, db, world):
    accounts = {"alex": world.alex, "sam": world.sam, "coach": world.coach}
    documents = {name: _export(client, account)[0] for name, account in accounts.items()}

    # The world is not vacuous: between a partner and the coach, every table has rows.
    for table in T:
        found = _rows_about(db, table, world.alex) + _rows_about(db, table, world.coach)
        assert found, f"the test world has no {table} row about its users: extend it"

    missing: list[str] = []
    for name, account in accounts.items():
        records = list(_records(documents[name]))
        for table in T:
            if table in export_module.NOT_EXPORTED:
                continue
            for stored in _rows_about(db, table, account):
                if not _holds(records, table, stored):
                    pk = {c.key: stored[c.key] for c in T[table].primary_key.columns}
                    missing.append(f"{name}: {table} {pk}: {_closest(records, table, stored)}")
    assert not missing, "rows about the user missing from the export:\n" + "\n".join(missing)


def test_the_export_holds_no_row_about_anyone_else(client, db, world):
    """Least privilege: a row that is not about the caller is not in their export."""
    accounts = {"alex": world.alex, "sam": world.sam, "coach": world.coach}
    leaked: list[str] = []
    for name, account in accounts.items():
        records = list(_records(_export(client, account)[0]))
        for table in T:
            mine = _rows_about(db, table, account)
            for stored in _all_rows(db, table):
                if stored not in mine and _holds(records, table, stored):
                    pk = {c.key: stored[c.key] for c in T[table].primary_key.columns}
                    leaked.append(f"{name}'s export holds {table} {pk}")
    assert not leaked, "\n".join(leaked)


# --- 2. the export holds no secret and nothing private of anyone else ------------------


def _absent(text: str, values: dict[str, str]) -> list[str]:
    return [label for label, value in values.items() if value and value in text]


def test_the_export_holds_no_secret(client, db, world):
    secrets: dict[str, str] = {"argon2 hash": "$argon2", "secret key": TEST_SECRET}
    for i, token in enumerate(world.refresh_tokens):
        secrets[f"refresh token {i}"] = token
        secrets[f"refresh token hash {i}"] = security.hash_opaque_token(token)
    for i, token in enumerate(world.access_tokens):
        secrets[f"access token {i}"] = token
    for i, code in enumerate(world.invite_codes):
        secrets[f"invite code {i}"] = code
        secrets[f"invite code hash {i}"] = security.hash_opaque_token(code)
    for owner, token in world.push_tokens.items():
        secrets[f"{owner}'s push token"] = token
        # Without the brackets and the last four characters, which the hint shows.
        secrets[f"{owner}'s push token, inside"] = token.removeprefix("ExponentPushToken[")[:-5]
    for name, account in (("alex", world.alex), ("sam", world.sam), ("coach", world.coach)):
        document, text = _export(client, account)
        assert not _absent(text, secrets), f"{name}'s export holds {_absent(text, secrets)}"
        keys = {key for record in _records(document) for key in record}
        assert not keys & {"password", "password_hash", "token", "token_hash", "code_hash"}
    document, _ = _export(client, world.alex)
    [device] = document["devices"]
    assert device["token_hint"] == "…" + world.push_tokens["alex"][-4:]


def test_the_export_holds_nothing_private_of_the_partner_or_of_other_couples(client, db, world):
    document, text = _export(client, world.alex)
    sam_id = uuid.UUID(world.sam.id)

    # The partner shows only what they show inside the couple: id and display name.
    [couple] = document["couples"]
    assert couple["partners"] == [{"id": world.sam.id, "display_name": "Sam"}]
    private = {"sam's email": world.sam.email, "the coach's email": world.coach.email}
    for table in ("refresh_tokens", "devices", "notifications", "push_tickets"):
        for i, stored in enumerate(_rows_about(db, table, world.sam)):
            private[f"sam's {table} {i}"] = str(stored["id"])
    assert not _absent(text, private), _absent(text, private)
    for record in _records(document):
        if record.get("user_id") == str(sam_id):
            assert set(record) == {"couple_id", "user_id", "joined_at", "left_at"}, record

    # Kim and Lee's couple: nothing at all, though they share Alex's coach.
    other: dict[str, str] = {
        "kim's email": world.kim.email,
        "lee's email": world.lee.email,
        "kim's id": world.kim.id,
        "lee's id": world.lee.id,
        "kim's name": "Kimberly",
        "lee's name": "Leland",
        "their couple": world.other_couple_id,
    }
    other |= {f"their note {i}": note for i, note in enumerate(world.notes["other"])}
    other |= {f"their bid {i}": bid for i, bid in enumerate(world.bids["other"])}
    for table in ("coach_consents", "coach_access_log", "notifications"):
        for account in (world.kim, world.lee):
            for stored in _rows_about(db, table, account):
                other[f"their {table} {stored['id']}"] = str(stored["id"])
    for name, account in (("alex", world.alex), ("sam", world.sam)):
        _, text = _export(client, account)
        assert not _absent(text, other), f"{name}'s export holds {_absent(text, other)}"


def test_a_coachs_export_holds_no_bid_and_no_note(client, db, world):
    document, text = _export(client, world.coach)
    assert document["couples"] == []
    assert document["coach_profile"]["code"] == world.coach_code
    assert len(document["coaching"]["consents_received"]) == 4
    assert len(document["coaching"]["reads"]) >= 2
    content = {f"note {i}": n for i, n in enumerate(n for ns in world.notes.values() for n in ns)}
    content |= {f"bid {i}": b for i, b in enumerate(b for bs in world.bids.values() for b in bs)}
    content |= {f"email {i}": a.email for i, a in enumerate((world.alex, world.sam, world.kim))}
    content["a note's marker"] = "NOTE-SECRET"
    assert not _absent(text, content), _absent(text, content)
    keys = {key for record in _records(document) for key in record}
    assert not keys & {"note", "occurred_at", "duration_seconds", "deposit", "responded_by_id"}


def test_the_export_is_an_attachment_and_needs_a_token(client):
    alex = register(client)
    response = client.get("/v1/me/export", headers=alex.headers)
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and 'filename="tend-export-' in disposition
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["format"] == "tend-export/1"
    assert response.json()["account"]["email"] == alex.email
    assert_problem(client.get("/v1/me/export"), 401)
    assert_problem(
        client.get("/v1/me/export", headers={"Authorization": "Bearer not-a-token"}), 401
    )


def test_a_former_partner_keeps_the_shared_history_and_sees_nothing_after(client):
    alex = register(client, display_name="Alex")
    sam = register(client, display_name="Sam")
    jo = register(client, display_name="Jo")
    _join(client, alex, sam)
    shared = {
        _bid(client, alex, "hug", note="NOTE-SECRET-shared-alex", response="toward"),
        _bid(client, sam, "kiss", note="NOTE-SECRET-shared-sam", response="toward"),
    }
    end_couple(client, sam)
    _join(client, alex, jo)
    later = _bid(client, jo, "hug", note="NOTE-SECRET-after-jo", response="toward")

    document, text = _export(client, sam)
    [couple] = document["couples"]
    assert couple["ended_at"] is not None
    assert {b["id"] for b in couple["bids"]} == set(shared)
    assert {b["note"] for b in couple["bids"]} == {
        "NOTE-SECRET-shared-alex",
        "NOTE-SECRET-shared-sam",
    }
    assert couple["partners"] == [{"id": alex.id, "display_name": "Alex"}]
    for value in (later, "NOTE-SECRET-after-jo", jo.id, jo.email, alex.email):
        assert value not in text

    alex_document, _ = _export(client, alex)
    histories = {c["id"]: {b["id"] for b in c["bids"]} for c in alex_document["couples"]}
    assert sorted(map(len, histories.values())) == [1, 2]
    assert set(shared) in histories.values() and {later} in histories.values()


# --- 3. erasure ------------------------------------------------------------------------


def test_erasure_ends_every_session_and_leaves_the_partner_nothing_of_the_erased(
    client, db, clock, expo
):
    alex, sam = pair(client)
    add_device(client, sam, "ExponentPushToken[erasure-sam]")
    # Three sign-ins of Alex: the registration, a login, and a login rotated once.
    login = sign_in(client, alex)
    other = sign_in(client, alex)
    rotated = client.post("/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    access = [alex.access_token, login["access_token"], rotated.json()["access_token"]]
    refresh = [alex.refresh_token, login["refresh_token"], rotated.json()["refresh_token"]]

    alex_notes = ["NOTE-SECRET-erased-sent-31c4", "NOTE-SECRET-erased-waiting-b7e0"]
    alex_bids = [_bid(client, alex, "hug", note=alex_notes[0])]
    assert _send_nudges(db, clock, expo) == 1  # Sam's nudge about it was sent
    alex_bids.append(_bid(client, alex, "question", note=alex_notes[1]))  # and one not yet
    alex_bids.append(_bid(client, alex, "thanks", note="NOTE-SECRET-erased-answered"))
    put = client.put(
        f"/v1/bids/{alex_bids[2]}/response", json={"response": "toward"}, headers=sam.headers
    )
    assert put.status_code == 200
    sam_bids = {
        _bid(client, sam, "kiss", note="NOTE-SECRET-kept-1", response="toward"): "kept-1",
        _bid(client, sam, "hug", note="NOTE-SECRET-kept-2", initiator="partner"): "kept-2",
    }
    # Alex answered one of Sam's bids: the answer stays, Alex's name on it does not.
    put = client.put(
        f"/v1/bids/{next(iter(sam_bids))}/response",
        json={"response": "toward"},
        headers=alex.headers,
    )
    assert put.status_code == 200

    def partner_bid_nudges() -> set[str]:
        items = client.get("/v1/me/notifications", headers=sam.headers).json()["items"]
        return {i["data"].get("bid_id") for i in items if i["kind"] == "partner_bid"}

    assert set(alex_bids) <= partner_bid_nudges()  # delivered or waiting, both in the inbox
    _, before = _export(client, sam)
    assert alex_notes[0] in before and alex.id in before  # the check below can fail

    erased = client.request(
        "DELETE", "/v1/me", json={"password": alex.password}, headers=alex.headers
    )
    assert erased.status_code == 204, erased.text

    for token in access:
        headers = {"Authorization": f"Bearer {token}"}
        assert_problem(client.get("/v1/me", headers=headers), 401)
        assert_problem(client.get("/v1/me/export", headers=headers), 401)
        assert_problem(client.get("/v1/bids", headers=headers), 401)
    for token in refresh:
        assert_problem(client.post("/v1/auth/refresh", json={"refresh_token": token}), 401)

    # Sam keeps their own bids, notes and all.
    items = client.get("/v1/bids", headers=sam.headers).json()["items"]
    assert {b["id"]: b["note"] for b in items} == {
        bid: f"NOTE-SECRET-{label}" for bid, label in sam_bids.items()
    }
    # Sam's inbox no longer speaks of Alex's bids, sent or not.
    assert partner_bid_nudges() == set()
    inbox = client.get("/v1/me/notifications", headers=sam.headers).json()["items"]
    assert not [i for i in inbox if set(alex_bids) & set(map(str, i["data"].values()))]

    document, after = _export(client, sam)
    gone = {"alex's email": alex.email, "alex's id": alex.id}
    gone |= {f"alex's note {i}": note for i, note in enumerate(alex_notes)}
    gone |= {f"alex's bid {i}": bid for i, bid in enumerate(alex_bids)}
    gone["alex's answered note"] = "NOTE-SECRET-erased-answered"
    assert not _absent(after, gone), f"Sam's export still holds {_absent(after, gone)}"
    [couple] = document["couples"]
    assert couple["ended_at"] is not None and couple["partners"] == []
    assert {b["id"] for b in couple["bids"]} == set(sam_bids)


# --- 4. logs ---------------------------------------------------------------------------


class _JsonLines(logging.Handler):
    """Every record as the production JSON formatter writes it, exceptions included."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def json_log(caplog: pytest.LogCaptureFixture) -> Iterator[_JsonLines]:
    caplog.set_level(logging.DEBUG)
    handler = _JsonLines()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


@dataclass
class Secrets:
    values: dict[str, str] = field(default_factory=dict)

    def add(self, label: str, value: str) -> str:
        assert value, label
        self.values[label] = value
        return value

    def tokens(self, label: str, body: dict[str, Any]) -> None:
        self.add(f"{label} access token", body["access_token"])
        self.add(f"{label} refresh token", body["refresh_token"])
        self.add(f"{label} refresh token hash", security.hash_opaque_token(body["refresh_token"]))


def _no_secret_echoed(response: Any, secrets: Secrets) -> None:
    echoed = [label for label, value in secrets.values.items() if value in response.text]
    assert not echoed, f"{response.request.url.path} answered with {echoed}"


def test_logs_never_hold_a_note_a_password_or_a_token(client, db, clock, expo, caplog, json_log):
    """A whole life of two partners and a coach, with every log record captured at DEBUG
    (and formatted as in production); no log line may carry any of their secrets.

    Coach codes are not treated as secrets: a coach hands them out on purpose, they grant no
    access to data (both partners must consent, and a coach only ever sees aggregates) and
    they can be rotated, so a log line naming one would leak nothing."""
    s = Secrets()
    s.add("secret key", TEST_SECRET)
    s.add("expo access token", EXPO_ACCESS_TOKEN)
    s.add("argon2 hash", "$argon2")
    pw = {
        name: s.add(f"{name}'s password", f"pw-SECRET-{name}-{uuid.uuid4().hex[:8]}")
        for name in ("alex", "sam", "coach", "alex-new", "wrong", "invalid")
    }
    note = {
        name: s.add(f"note {name}", f"NOTE-SECRET-{name}-{uuid.uuid4().hex[:6]}")
        for name in ("hug", "kiss", "edited", "deleted", "malformed", "too-long", "oversized")
    }
    push = {
        name: s.add(f"{name}'s push token", f"ExponentPushToken[SECRET-{name}-{uuid.uuid4().hex}]")
        for name in ("alex", "sam", "sam-gone")
    }
    for name, token in push.items():
        s.add(f"{name}'s push token, inside", token[len("ExponentPushToken[") : -1])

    # Accounts and sessions.
    alex = register(client, display_name="Alex", password=pw["alex"])
    sam = register(client, display_name="Sam", password=pw["sam"])
    coach = register(client, display_name="Robin Coach", role="coach", password=pw["coach"])
    for name, account in (("alex", alex), ("sam", sam), ("coach", coach)):
        s.add(f"{name} access token", account.access_token)
        s.add(f"{name} refresh token", account.refresh_token)
    signed_in = sign_in(client, alex)
    s.tokens("alex login", signed_in)
    refreshed = client.post("/v1/auth/refresh", json={"refresh_token": signed_in["refresh_token"]})
    assert refreshed.status_code == 200
    s.tokens("alex refreshed", refreshed.json())
    replayed = client.post("/v1/auth/refresh", json={"refresh_token": signed_in["refresh_token"]})
    assert_problem(replayed, 401)  # theft detection: the family ends
    alex.access_token = sign_in(client, alex)["access_token"]
    s.add("alex's last access token", alex.access_token)

    # Pairing, phones, bids.
    code = s.add("invite code", _join(client, alex, sam))
    s.add("invite code hash", security.hash_opaque_token(code))
    add_device(client, alex, push["alex"])
    add_device(client, sam, push["sam"])
    add_device(client, sam, push["sam-gone"])
    expo.state.unregistered.add(push["sam-gone"])
    hug = _bid(client, alex, "hug", note=note["hug"], duration_seconds=30)
    kiss = _bid(client, sam, "kiss", note=note["kiss"], response="toward")
    deleted = _bid(client, alex, "smile", note=note["deleted"])
    patched = client.patch(f"/v1/bids/{kiss}", json={"note": note["edited"]}, headers=sam.headers)
    assert patched.status_code == 200
    answered = client.put(
        f"/v1/bids/{hug}/response", json={"response": "toward"}, headers=sam.headers
    )
    assert answered.status_code == 200
    assert client.delete(f"/v1/bids/{deleted}", headers=alex.headers).status_code == 204
    for path in (
        "/v1/bids",
        f"/v1/bids/{hug}",
        "/v1/couple",
        "/v1/couple/balance",
        "/v1/couple/balance/history?days=7",
        "/v1/couple/stats?days=7",
        "/v1/me/notifications",
        "/v1/me/devices",
        "/v1/me/nudge-settings",
        "/v1/me/export",
    ):
        assert client.get(path, headers=alex.headers).status_code == 200, path

    # Nudges through the fake Expo server, over real HTTP; then their receipts.
    runtime = _push_runtime(db, clock, expo)
    try:
        scheduler.run_nudges(runtime)
        clock.advance(minutes=20)
        alex.access_token = sign_in(client, alex, pw["alex"])["access_token"]
        s.add("alex's access token after nudges", alex.access_token)
        sam_login = sign_in(client, sam)
        s.tokens("sam later", sam_login)
        sam.access_token = sam_login["access_token"]
        coach_login = sign_in(client, coach)
        s.tokens("coach later", coach_login)
        coach.access_token = coach_login["access_token"]
        scheduler.run_nudges(runtime)
    finally:
        runtime.providers.close()
    assert {m["to"] for m in expo.state.accepted} >= {push["sam"]}, "no nudge reached Expo"
    assert expo.state.receipt_requests >= 1

    # The coach: consent from both partners, then reads.
    consent(client, code_of(client, coach), alex, sam)
    assert len(_coach_reads(client, coach)) == 1
    assert client.get("/v1/couple/coach-access-log", headers=sam.headers).status_code == 200

    # Bad input that carries secrets: nothing is echoed, nothing is logged.
    bad = [
        client.post(
            "/v1/auth/register",
            json={"email": "not-an-email", "password": pw["invalid"], "display_name": "X"},
        ),
        client.post(
            "/v1/auth/register",
            json={"email": "long@example.com", "password": pw["invalid"] * 20, "display_name": "Y"},
        ),
        client.post(
            "/v1/auth/login",
            json={"email": alex.email, "password": pw["alex"], "passwort": pw["invalid"]},
        ),
        client.post(
            "/v1/me/password",
            json={"current_password": pw["alex"], "new_password": pw["invalid"][:3]},
            headers=alex.headers,
        ),
        client.patch(
            f"/v1/bids/{hug}", json={"note": note["too-long"] * 100}, headers=alex.headers
        ),
        client.post(
            "/v1/bids",
            json={"kind": "not-a-kind", "initiator": "me", "note": note["too-long"]},
            headers=alex.headers,
        ),
    ]
    for response in bad:
        assert_problem(response, 422)
        _no_secret_echoed(response, s)
    malformed = client.post(
        "/v1/bids",
        content=f'{{"kind": "hug", "initiator": "me", "note": "{note["malformed"]}'.encode(),
        headers={**alex.headers, "Content-Type": "application/json"},
    )
    assert_problem(malformed, 400)
    _no_secret_echoed(malformed, s)
    oversized = client.post(
        "/v1/bids",
        json={"kind": "hug", "initiator": "me", "note": note["oversized"] * 5000},
        headers=alex.headers,
    )
    assert_problem(oversized, 413)
    _no_secret_echoed(oversized, s)
    device = client.post(
        "/v1/me/devices",
        json={"provider": "expo", "token": push["alex"] + "]", "platform": "ios"},
        headers=alex.headers,
    )
    assert_problem(device, 422)
    _no_secret_echoed(device, s)

    # Wrong passwords: sign-in, a password change, an erasure.
    for email in (alex.email, "nobody@example.com"):
        failed = client.post("/v1/auth/login", json={"email": email, "password": pw["wrong"]})
        assert_problem(failed, 401)
    assert_problem(
        client.post(
            "/v1/me/password",
            json={"current_password": pw["wrong"], "new_password": pw["alex-new"]},
            headers=alex.headers,
        ),
        403,
    )
    assert_problem(
        client.request("DELETE", "/v1/me", json={"password": pw["wrong"]}, headers=sam.headers),
        403,
    )

    # A password change, a sign-out, and the end: erasure with the new password.
    changed = client.post(
        "/v1/me/password",
        json={"current_password": pw["alex"], "new_password": pw["alex-new"]},
        headers=alex.headers,
    )
    assert changed.status_code == 200, changed.text
    s.tokens("alex after password change", changed.json())
    alex.access_token = changed.json()["access_token"]
    final = sign_in(client, alex, pw["alex-new"])
    s.tokens("alex final", final)
    logout = client.post("/v1/auth/logout", json={"refresh_token": final["refresh_token"]})
    assert logout.status_code == 204
    erased = client.request(
        "DELETE", "/v1/me", json={"password": pw["alex-new"]}, headers=alex.headers
    )
    assert erased.status_code == 204, erased.text

    # The logs captured the walk: access lines with route templates, the nudge round.
    access = [r for r in caplog.records if r.name == "tend.access"]
    routes = {(r.method, r.route, r.status) for r in access}
    assert ("PATCH", "/v1/bids/{bid_id}", 200) in routes
    assert ("POST", "/v1/bids", 400) in routes
    assert ("DELETE", "/v1/me", 204) in routes
    assert any(json.loads(line).get("route") == "/v1/bids/{bid_id}" for line in json_log.lines)
    assert any(r.name == "app.scheduler" and r.getMessage() == "nudges" for r in caplog.records)
    assert len(json_log.lines) == len(caplog.records) >= 60

    texts = {"caplog": caplog.text}
    texts |= {f"json line {i}": line for i, line in enumerate(json_log.lines)}
    texts |= {f"record {i}": repr(vars(r)) for i, r in enumerate(caplog.records)}
    leaks = [
        f"{label} in {where}: {text[:300]}"
        for where, text in texts.items()
        for label, value in s.values.items()
        if value in text
    ]
    assert not leaks, "secrets in the logs:\n" + "\n".join(leaks[:20])


def test_logs_never_hold_a_mailed_token_a_link_or_an_address(db, clock, caplog, json_log):
    """Every mail flow (verification, resend, reset of a known and an unknown address,
    wrong and spent tokens, email change, password change) and the worker sending the mail
    to a real SMTP server, then refusing and timing out: no log line names an address, a
    token or a link. The `log:` transport shows links only outside production."""
    from app.main import create_app
    from app.outbox.channels.mail import LogTransport
    from tests.smtp_server import smtp_server

    with smtp_server() as smtp:
        settings = make_settings(db.url, mail_url=smtp.url, mail_timeout_seconds=0.5)
        app = create_app(settings, clock=clock, engine=db.engine)
        with TestClient(app) as client:
            s = Secrets()
            alex = register(client, email="alex.private@example.com", display_name="Alex")
            s.add("alex's address", alex.email)
            s.add("alex's address, local part", "alex.private")
            s.add("an unknown address", "nobody.private@example.com")
            s.add("alex's new address", "alex.elsewhere@example.com")
            s.add("first verify token", mailed_token(client, alex.email))
            assert client.post("/v1/me/email-verification", headers=alex.headers).status_code == 202
            verify = s.add("verify token", mailed_token(client, alex.email))
            assert client.post("/v1/auth/verify-email", json={"token": verify}).status_code == 204
            assert_problem(client.post("/v1/auth/verify-email", json={"token": verify}), 410)
            assert_problem(client.post("/v1/auth/verify-email", json={"token": verify[:-2]}), 400)
            for email in (alex.email, "nobody.private@example.com", "not-an-address"):
                client.post("/v1/auth/password-reset", json={"email": email})
            reset = s.add("reset token", mailed_token(client, alex.email, "reset-password"))
            s.add("reset token hash", security.hash_opaque_token(reset))
            s.add("new password", "a SECRET new passphrase")
            body = {"token": reset, "password": "a SECRET new passphrase"}
            assert client.post("/v1/auth/password-reset/confirm", json=body).status_code == 204
            assert_problem(client.post("/v1/auth/password-reset/confirm", json=body), 410)
            alex.password = "a SECRET new passphrase"
            signed_in = sign_in(client, alex)
            alex.access_token = signed_in["access_token"]
            change = {"email": "alex.elsewhere@example.com", "password": alex.password}
            assert client.post("/v1/me/email", json=change, headers=alex.headers).status_code == 202
            s.add("change token", mailed_token(client, "alex.elsewhere@example.com"))
            assert_problem(
                client.post(
                    "/v1/me/email", json={**change, "password": "wrong"}, headers=alex.headers
                ),
                403,
            )
            export = client.get("/v1/me/export", headers=alex.headers).text
            assert not _absent(export, {k: v for k, v in s.values.items() if "token" in k})

            runtime = scheduler.Runtime(settings, clock, make_session_factory(db.engine))
            scheduler.run_mail(runtime)
            delivered = len(smtp.received)
            assert delivered >= 6, delivered
            for mail in smtp.received:  # the links did go out, in the mails only
                s.values.update(
                    {
                        f"link in {mail.message['Subject']} {i}": line
                        for i, line in enumerate(mail.text.splitlines())
                        if "token=" in line
                    }
                )
            register(client, email="bea.private@example.com")
            s.add("bea's address", "bea.private@example.com")
            smtp.handler.refuse_with = "550 5.1.1 <bea.private@example.com> unknown"
            scheduler.run_mail(runtime)
            register(client, email="cy.private@example.com")
            s.add("cy's address", "cy.private@example.com")
            smtp.handler.refuse_with = None
            smtp.handler.stall_seconds = 1.0
            scheduler.run_mail(runtime)

    # The SMTP server's own log (aiosmtpd: "mail.log") is the outside world's, not Tend's.
    ours = [r for r in caplog.records if not r.name.startswith(("mail.log", "asyncio"))]
    lines = [line for line in json_log.lines if json.loads(line)["logger"] != "mail.log"]
    texts = {f"json line {i}": line for i, line in enumerate(lines)}
    texts |= {f"record {i}": repr(vars(r)) for i, r in enumerate(ours)}
    texts |= {f"message {i}": r.getMessage() for i, r in enumerate(ours)}
    assert any(r.name == "app.scheduler" and r.getMessage() == "mail" for r in ours)
    assert any(r.name == "tend.access" and r.route == "/v1/auth/verify-email" for r in ours)
    leaks = [
        f"{label} in {where}: {text[:300]}"
        for where, text in texts.items()
        for label, value in s.values.items()
        if value in text
    ]
    assert not leaks, "secrets in the logs:\n" + "\n".join(leaks[:20])

    # The development transport: the subject always, the link only outside production.
    from app.outbox.channels.mail import MailMessage

    message = MailMessage("id", "alex.private@example.com", "Subject", "t", "h", clock.now(), "L")
    caplog.clear()
    LogTransport(show_links=False).send([message])
    LogTransport(show_links=True).send([message])
    [production, development] = [r for r in caplog.records if r.name == "tend.mail"]
    assert production.subject == development.subject == "Subject"
    assert not hasattr(production, "link") and development.link == "L"
    assert "alex.private" not in caplog.text


def test_text_a_database_cannot_store_is_refused_and_never_logged(client, caplog, json_log):
    """A NUL character is valid JSON and fits in SQLite, but not in a PostgreSQL text
    column. A note or a push token carrying one must be answered 4xx on every engine, never
    500 (SPEC §2), and the failure must not put the note or the token in a log line."""
    alex, _ = pair(client)
    raw = TestClient(client.app, raise_server_exceptions=False)
    marker = uuid.uuid4().hex[:8]
    secrets = {
        "note": f"NOTE-SECRET-nul-{marker}",
        "expo token": f"SECRET-expo-nul-{marker}",
        "webhook token": f"SECRET-hook-nul-{marker}",
    }
    hug = _bid(client, alex, "hug")
    answers = {
        "new bid": raw.post(
            "/v1/bids",
            json={"kind": "hug", "initiator": "me", "note": secrets["note"] + "\x00!"},
            headers=alex.headers,
        ),
        "edited note": raw.patch(
            f"/v1/bids/{hug}", json={"note": secrets["note"] + "\x00?"}, headers=alex.headers
        ),
        "expo device": raw.post(
            "/v1/me/devices",
            json={
                "provider": "expo",
                "token": f"ExponentPushToken[{secrets['expo token']}\x00]",
                "platform": "ios",
            },
            headers=alex.headers,
        ),
        "webhook device": raw.post(
            "/v1/me/devices",
            json={
                "provider": "webhook",
                "token": f"https://hooks.example/{secrets['webhook token']}\x00",
                "platform": "server",
            },
            headers=alex.headers,
        ),
    }

    lines = [caplog.text, *json_log.lines, *(repr(vars(r)) for r in caplog.records)]
    logged = [label for label, value in secrets.items() if any(value in line for line in lines)]
    assert not logged, f"logged: {logged}"
    for label, answer in answers.items():
        echoed = [k for k, v in secrets.items() if v in answer.text and answer.status_code >= 400]
        assert not echoed, f"{label}: the error answer echoes {echoed}"
    statuses = {label: answer.status_code for label, answer in answers.items()}
    assert all(status < 500 for status in statuses.values()), statuses
