"""Nudges over HTTP (SPEC §7): nudge settings and the daily slot they plan, push devices,
the partner_bid nudge that logging a bid leaves in the outbox, what a lock screen may show,
and the in-app inbox.

The planner's time-zone and DST math and the push dispatcher have tests of their own; here
every scenario sits at fixed instants in March 2026, when Berlin is UTC+1 and New York
(after 8 March) UTC-4, so every expected instant is exact.
"""

import base64
import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.clock import FrozenClock
from app.nudges.models import NudgeSettings
from app.outbox.models import Notification
from tests.conftest import Database
from tests.factories import (
    EXPO_TOKEN,
    Account,
    add_device,
    assert_problem,
    log_bid,
    login,
    pair,
    post_bid,
    post_device,
    register,
)

SETTINGS = "/v1/me/nudge-settings"
DEVICES = "/v1/me/devices"
INBOX = "/v1/me/notifications"
KINDS = ("daily_suggestion", "partner_bid", "reconnect", "weekly_summary")
DEFAULT_SETTINGS: dict[str, Any] = {
    "enabled": True,
    "discreet": True,
    "daily_time": "19:00",
    "quiet_start": "22:00",
    "quiet_end": "07:00",
    "kinds": dict.fromkeys(KINDS, True),
}
DEVICE_FIELDS = {
    "id",
    "provider",
    "platform",
    "created_at",
    "last_seen_at",
    "enabled",
    "disabled_reason",
}
NOTE = "secret words"


# --- helpers ---------------------------------------------------------------------------


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in March 2026."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def at(value: str | None) -> datetime | None:
    """A timestamp from the API: RFC 3339 with an offset (or null)."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


def move_clock(client: TestClient, clock: FrozenClock, to: datetime, *accounts: Account) -> None:
    """Set the clock and sign the accounts in again: access tokens live 15 minutes."""
    clock.set(to)
    for account in accounts:
        login(client, account)


def settings_doc(**changes: Any) -> dict[str, Any]:
    """The default settings document with some fields changed (a dict of kinds is merged)."""
    doc = copy.deepcopy(DEFAULT_SETTINGS)
    kinds = changes.pop("kinds", {})
    doc.update(changes)
    if isinstance(kinds, dict):
        doc["kinds"].update(kinds)
    else:
        doc["kinds"] = kinds
    return doc


def settings_without(*path: str) -> dict[str, Any]:
    """The default settings document with one (possibly nested) field left out."""
    doc = settings_doc()
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return doc


def get_settings(client: TestClient, account: Account) -> dict[str, Any]:
    response = client.get(SETTINGS, headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def put_settings(client: TestClient, account: Account, **changes: Any) -> dict[str, Any]:
    response = client.put(SETTINGS, json=settings_doc(**changes), headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def list_devices(client: TestClient, account: Account) -> list[dict[str, Any]]:
    response = client.get(DEVICES, headers=account.headers)
    assert response.status_code == 200, response.text
    devices: list[dict[str, Any]] = response.json()
    return devices


def device_ids(client: TestClient, account: Account) -> list[str]:
    return [d["id"] for d in list_devices(client, account)]


def inbox_page(client: TestClient, account: Account, **params: Any) -> dict[str, Any]:
    response = client.get(INBOX, params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def inbox(client: TestClient, account: Account) -> list[dict[str, Any]]:
    page = inbox_page(client, account)
    assert page["next_cursor"] is None
    items: list[dict[str, Any]] = page["items"]
    return items


def read(client: TestClient, account: Account, notification_id: str) -> Any:
    return client.post(f"{INBOX}/{notification_id}/read", headers=account.headers)


def stored_notifications(db: Database, account: Account | None = None) -> list[dict[str, Any]]:
    """Outbox rows straight from the database (all of them, or one user's)."""
    query = select(Notification.__table__)
    if account is not None:
        query = query.where(Notification.user_id == uuid.UUID(account.id))
    with db.engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def as_utc(value: datetime) -> datetime:
    """A stored instant; SQLite hands it back without an offset."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- settings ----------------------------------------------------------------------------


def test_a_new_partner_has_default_settings_and_tonights_slot(client):
    alex = register(client, timezone="Europe/Berlin")

    assert get_settings(client, alex) == {
        **DEFAULT_SETTINGS,
        "next_daily_at": "2026-03-10T18:00:00Z",  # 19:00 in Berlin (UTC+1)
    }


def test_put_replaces_the_whole_document(client):
    alex = register(client)
    doc = settings_doc(
        discreet=False,
        daily_time="08:30",
        quiet_start="23:00",
        quiet_end="06:30",
        kinds={"reconnect": False, "weekly_summary": False},
    )

    response = client.put(SETTINGS, json=doc, headers=alex.headers)

    assert response.status_code == 200, response.text
    stored = get_settings(client, alex)
    assert response.json() == stored
    assert {k: v for k, v in stored.items() if k != "next_daily_at"} == doc
    # 08:30 today has passed in Berlin (it is 13:00 there): tomorrow, 07:30 UTC.
    assert at(stored["next_daily_at"]) == utc(11, 7, 30)


def test_turning_nudges_off_plans_no_daily_slot_and_on_again_does(client):
    alex = register(client)

    assert put_settings(client, alex, enabled=False)["next_daily_at"] is None
    assert get_settings(client, alex)["next_daily_at"] is None
    assert at(put_settings(client, alex, enabled=True)["next_daily_at"]) == utc(10, 18)


def test_a_daily_time_in_quiet_hours_waits_for_their_end(client):
    alex = register(client)

    body = put_settings(client, alex, daily_time="23:00")

    # 23:00 is quiet (22:00-07:00): the slot is 07:00 local; today's has passed.
    assert at(body["next_daily_at"]) == utc(11, 6)


BAD_SETTINGS = [
    pytest.param(settings_doc(daily_time="25:00"), id="hour-25"),
    pytest.param(settings_doc(daily_time="7pm"), id="7pm"),
    pytest.param(settings_doc(daily_time="19:00:00"), id="with-seconds"),
    pytest.param(settings_doc(daily_time="7:00"), id="one-digit-hour"),
    pytest.param(settings_doc(daily_time="19:60"), id="minute-60"),
    pytest.param(settings_doc(daily_time="19:00\n"), id="trailing-newline"),
    pytest.param(settings_doc(daily_time=""), id="empty-time"),
    pytest.param(settings_doc(quiet_start="24:00"), id="quiet-start-24"),
    pytest.param(settings_doc(quiet_end="noon"), id="quiet-end-noon"),
    *(pytest.param(settings_without(f), id=f"missing-{f}") for f in DEFAULT_SETTINGS),
    pytest.param(settings_without("kinds", "reconnect"), id="kinds-missing-reconnect"),
    pytest.param(settings_doc(kinds={"birthday": True}), id="unknown-kind"),
    pytest.param({**settings_doc(), "language": "de"}, id="unknown-field"),
    pytest.param({**settings_doc(), "next_daily_at": None}, id="read-only-field"),
    pytest.param(settings_doc(enabled="maybe"), id="enabled-string"),
    pytest.param(settings_doc(enabled=None), id="enabled-null"),
    pytest.param(settings_doc(discreet=[]), id="discreet-list"),
    pytest.param(settings_doc(daily_time=1900), id="time-number"),
    pytest.param(settings_doc(daily_time=None), id="time-null"),
    pytest.param(settings_doc(kinds="all"), id="kinds-string"),
    pytest.param(settings_doc(kinds={"reconnect": "sometimes"}), id="kind-string"),
    pytest.param([settings_doc()], id="not-an-object"),
]


@pytest.mark.parametrize("doc", BAD_SETTINGS)
def test_bad_settings_are_422_and_change_nothing(client, doc):
    alex = register(client)
    put_settings(client, alex, discreet=False, daily_time="08:15", kinds={"reconnect": False})
    before = get_settings(client, alex)

    response = client.put(SETTINGS, json=doc, headers=alex.headers)

    problem = assert_problem(response, 422)
    assert problem["errors"]
    assert get_settings(client, alex) == before


def test_a_new_time_zone_moves_the_daily_slot(client):
    alex = register(client, timezone="Europe/Berlin")
    assert at(get_settings(client, alex)["next_daily_at"]) == utc(10, 18)

    response = client.patch("/v1/me", json={"timezone": "America/New_York"}, headers=alex.headers)

    assert response.status_code == 200, response.text
    # 19:00 in New York (UTC-4 since 8 March) is 23:00 UTC, still today.
    assert at(get_settings(client, alex)["next_daily_at"]) == utc(10, 23)


def test_a_coach_gets_default_nudge_settings_but_no_daily_slot(client, db):
    """Coaches get no settings at registration; GET answers the defaults without storing
    them (a read writes nothing), and coaches are never planned a daily nudge."""
    coach = register(client, role="coach")

    assert get_settings(client, coach) == {**DEFAULT_SETTINGS, "next_daily_at": None}
    with db.engine.connect() as conn:
        stored = conn.execute(
            select(NudgeSettings.user_id).where(NudgeSettings.user_id == uuid.UUID(coach.id))
        ).all()
    assert stored == []
    assert put_settings(client, coach, enabled=False)["enabled"] is False
    assert get_settings(client, coach)["enabled"] is False


# --- devices -----------------------------------------------------------------------------


def test_register_a_device_without_echoing_its_token(client):
    alex = register(client)

    response = post_device(client, alex)

    assert response.status_code == 201, response.text
    device = response.json()
    assert set(device) == DEVICE_FIELDS
    assert device["provider"] == "expo"
    assert device["platform"] == "ios"
    assert device["enabled"] is True
    assert device["disabled_reason"] is None
    assert at(device["created_at"]) == at(device["last_seen_at"]) == utc(10, 12)
    assert uuid.UUID(device["id"])
    listing = client.get(DEVICES, headers=alex.headers)
    assert listing.json() == [device]
    assert "abc123" not in response.text + listing.text


def test_registering_a_known_token_again_is_an_upsert(client, clock):
    alex = register(client)
    first = add_device(client, alex)
    clock.advance(minutes=5)

    response = post_device(client, alex, platform="android")

    assert response.status_code == 200, response.text
    again = response.json()
    assert again["id"] == first["id"]
    assert again["created_at"] == first["created_at"]
    assert at(again["last_seen_at"]) == utc(10, 12, 5)
    assert again["platform"] == "android"
    assert list_devices(client, alex) == [again]


def test_a_token_registered_by_another_user_moves_to_them(client):
    alex, sam = pair(client)
    device = add_device(client, alex)

    response = post_device(client, sam)

    assert response.status_code in (200, 201), response.text
    assert response.json()["id"] == device["id"]
    assert device_ids(client, alex) == []
    assert device_ids(client, sam) == [device["id"]]


def test_the_device_list_shows_only_my_devices(client):
    alex, sam = pair(client)
    mine = [
        add_device(client, alex, "ExponentPushToken[alex-phone]")["id"],
        add_device(client, alex, "ExpoPushToken[alex-tablet]")["id"],
    ]
    theirs = add_device(client, sam, "ExponentPushToken[sam-phone]")["id"]

    assert sorted(device_ids(client, alex)) == sorted(mine)
    assert device_ids(client, sam) == [theirs]


def test_past_ten_devices_the_one_seen_longest_ago_is_forgotten(client, clock):
    alex = register(client)
    ids = []
    for n in range(10):
        ids.append(add_device(client, alex, f"ExponentPushToken[phone-{n}]")["id"])
        clock.advance(minutes=1)
    seen_again = post_device(client, alex, "ExponentPushToken[phone-0]")
    assert seen_again.status_code == 200, seen_again.text  # now the freshest
    clock.advance(minutes=1)

    newest = add_device(client, alex, "ExponentPushToken[phone-10]")["id"]

    assert sorted(device_ids(client, alex)) == sorted([*ids[:1], *ids[2:], newest])


def test_delete_a_device(client):
    alex = register(client)
    device = add_device(client, alex)
    path = f"{DEVICES}/{device['id']}"

    response = client.delete(path, headers=alex.headers)

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert list_devices(client, alex) == []
    assert_problem(client.delete(path, headers=alex.headers), 404)


def test_deleting_someone_elses_or_an_unknown_device_is_404(client):
    alex, sam = pair(client)
    device = add_device(client, alex)

    assert_problem(client.delete(f"{DEVICES}/{device['id']}", headers=sam.headers), 404)
    assert_problem(client.delete(f"{DEVICES}/{uuid.uuid4()}", headers=alex.headers), 404)
    assert device_ids(client, alex) == [device["id"]]


BAD_DEVICES = [
    pytest.param({"token": "abc123"}, id="expo-bare"),
    pytest.param({"token": "ExponentPushToken[]"}, id="expo-empty-brackets"),
    pytest.param({"token": "ExponentPushToken[abc123"}, id="expo-unclosed"),
    pytest.param({"token": "exponentpushtoken[abc123]"}, id="expo-lowercase"),
    pytest.param({"token": " ExponentPushToken[abc123]"}, id="expo-leading-space"),
    pytest.param({"provider": "webhook", "token": "ftp://example.com/hook"}, id="webhook-ftp"),
    pytest.param({"provider": "webhook", "token": "example.com/hook"}, id="webhook-no-scheme"),
    pytest.param({"provider": "webhook", "token": EXPO_TOKEN}, id="webhook-expo-token"),
    pytest.param({"provider": "apns"}, id="unknown-provider"),
    pytest.param({"platform": "windows"}, id="unknown-platform"),
    pytest.param({"provider": "fcm", "token": ""}, id="empty-token"),
    pytest.param(
        {"provider": "webhook", "token": "https://example.com/" + "a" * 493}, id="513-chars"
    ),
    pytest.param({"token": None}, id="null-token"),
    pytest.param({"token": 123}, id="number-token"),
    pytest.param({"extra": "field"}, id="unknown-field"),
]


@pytest.mark.parametrize("changes", BAD_DEVICES)
def test_bad_devices_are_422(client, changes):
    alex = register(client)
    body = {"provider": "expo", "token": EXPO_TOKEN, "platform": "ios", **changes}

    response = client.post(DEVICES, json=body, headers=alex.headers)

    problem = assert_problem(response, 422)
    assert problem["errors"]
    assert list_devices(client, alex) == []


@pytest.mark.parametrize("field", ["provider", "token", "platform"])
def test_a_device_needs_every_field(client, field):
    alex = register(client)
    body = {"provider": "expo", "token": EXPO_TOKEN, "platform": "ios"}
    del body[field]

    assert_problem(client.post(DEVICES, json=body, headers=alex.headers), 422)


@pytest.mark.parametrize(
    ("provider", "token", "platform"),
    [
        ("webhook", "https://example.com/" + "a" * 492, "server"),  # 512 characters
        ("webhook", "http://127.0.0.1:9000/push", "server"),
        ("fcm", "fcm-registration-token", "android"),
        ("expo", "ExpoPushToken[xyz_789-A]", "android"),
    ],
)
def test_good_tokens_of_each_provider_are_accepted(client, provider, token, platform):
    alex = register(client)

    response = post_device(client, alex, token, provider=provider, platform=platform)

    assert response.status_code == 201, response.text
    assert response.json()["provider"] == provider
    assert token not in response.text


# --- the partner_bid nudge ---------------------------------------------------------------


def test_a_pending_bid_nudges_the_partner_at_once(client, db):
    alex, sam = pair(client)

    bid = log_bid(client, alex)

    [row] = stored_notifications(db)
    assert row["user_id"] == uuid.UUID(sam.id)
    assert row["kind"] == "partner_bid"
    assert as_utc(row["due_at"]) == utc(10, 12)
    [item] = inbox(client, sam)
    assert item["id"] == str(row["id"])
    assert item["kind"] == "partner_bid"
    assert item["title"] == "Alex logged a moment with you: hug"
    assert item["data"] == {"bid_id": bid["id"]}
    assert at(item["created_at"]) == at(item["due_at"]) == utc(10, 12)
    assert item["read_at"] is None
    assert inbox(client, alex) == []


def test_deleting_a_bid_takes_its_partner_nudge_with_it(client, db):
    alex, sam = pair(client)
    kept = log_bid(client, alex, kind="compliment", initiator="partner")
    taken_back = log_bid(client, alex)
    assert len(inbox(client, sam)) == 2

    response = client.delete(f"/v1/bids/{taken_back['id']}", headers=alex.headers)

    assert response.status_code == 204, response.text
    assert [n["data"] for n in inbox(client, sam)] == [{"bid_id": kept["id"]}]
    assert len(stored_notifications(db)) == 1


def test_a_partner_bid_nudge_names_the_kind_in_the_inbox(client):
    alex, sam = pair(client)

    log_bid(client, alex, kind="compliment", initiator="partner")

    assert [n["title"] for n in inbox(client, sam)] == ["Alex logged a moment with you: compliment"]


@pytest.mark.parametrize("answer", ["toward", "away", "against"])
def test_a_bid_logged_with_its_answer_makes_no_nudge(client, db, answer):
    alex, sam = pair(client)

    log_bid(client, alex, response=answer)

    assert stored_notifications(db) == []
    assert inbox(client, sam) == []


def test_replaying_a_create_makes_no_second_nudge(client, db, clock):
    alex, sam = pair(client)
    body = {"id": str(uuid.uuid4()), "kind": "hug", "initiator": "me", "note": NOTE}
    log_bid(client, alex, **body)
    clock.advance(minutes=1)

    replay = post_bid(client, alex, **body)

    assert replay.status_code == 200, replay.text
    assert len(stored_notifications(db, sam)) == 1
    assert len(inbox(client, sam)) == 1


def test_a_rejected_bid_leaves_no_nudge(client, db):
    alex, _sam = pair(client)
    too_old = (utc(10, 12) - timedelta(days=8)).isoformat()

    assert_problem(post_bid(client, alex, occurred_at=too_old), 422)

    assert stored_notifications(db) == []


def test_in_quiet_hours_the_nudge_waits_until_they_end(client, db, clock):
    clock.set(utc(10, 22, 30))  # 23:30 in Berlin: quiet
    alex, sam = pair(client)

    log_bid(client, alex)

    [row] = stored_notifications(db, sam)
    assert as_utc(row["due_at"]) == utc(11, 6)  # 07:00 in Berlin
    assert inbox(client, sam) == []
    assert_problem(read(client, sam, str(row["id"])), 404)

    move_clock(client, clock, utc(11, 5, 59), sam)
    assert inbox(client, sam) == []

    move_clock(client, clock, utc(11, 6), sam)
    [item] = inbox(client, sam)
    assert item["id"] == str(row["id"])
    assert at(item["created_at"]) == utc(10, 22, 30)
    assert at(item["due_at"]) == utc(11, 6)


def test_quiet_hours_are_the_recipients(client, db, clock):
    clock.set(utc(10, 22, 30))  # 23:30 for Alex in Berlin, 18:30 for Sam in New York
    alex, sam = pair(
        client,
        register(client, display_name="Alex", timezone="Europe/Berlin"),
        register(client, display_name="Sam", timezone="America/New_York"),
    )

    log_bid(client, alex)

    [item] = inbox(client, sam)
    assert at(item["due_at"]) == utc(10, 22, 30)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"kinds": {"partner_bid": False}}, id="kind-off"),
        pytest.param({"enabled": False}, id="nudges-off"),
    ],
)
def test_no_partner_bid_nudge_when_turned_off(client, db, changes):
    alex, sam = pair(client)
    put_settings(client, sam, **changes)

    log_bid(client, alex)

    assert stored_notifications(db) == []
    assert inbox(client, sam) == []


# --- what a lock screen shows ------------------------------------------------------------


def assert_note_nowhere(db: Database) -> None:
    rows = stored_notifications(db)
    assert rows
    for row in rows:
        for column, value in row.items():
            assert NOTE not in str(value), column


def test_discreet_push_text_names_neither_kind_nor_note(client, db):
    alex, sam = pair(client)

    log_bid(client, alex, note=NOTE)

    [row] = stored_notifications(db, sam)
    assert row["push_title"] == "Tend"
    assert row["push_body"] == "Alex logged a moment with you"
    assert "hug" not in (row["push_title"] + row["push_body"]).lower()
    assert_note_nowhere(db)
    assert NOTE not in client.get(INBOX, headers=sam.headers).text


def test_with_discreet_off_the_push_names_the_kind_but_never_the_note(client, db):
    alex, sam = pair(client)
    put_settings(client, sam, discreet=False)

    log_bid(client, alex, note=NOTE)

    [row] = stored_notifications(db, sam)
    assert row["push_title"] == "Alex logged a moment with you: hug"
    assert row["push_body"] == "Did you notice? Let Alex know how it landed."
    assert_note_nowhere(db)


# --- the inbox ---------------------------------------------------------------------------


def three_nudges(client: TestClient, clock: FrozenClock) -> tuple[Account, list[str]]:
    """Alex logs a hug, a kiss and a smile a minute apart; Sam's inbox titles, newest first."""
    alex, sam = pair(client)
    for kind in ("hug", "kiss", "smile"):
        log_bid(client, alex, kind=kind)
        clock.advance(minutes=1)
    titles = [f"Alex logged a moment with you: {label}" for label in ("smile", "kiss", "hug")]
    return sam, titles


def test_the_inbox_is_newest_first(client, clock):
    sam, titles = three_nudges(client, clock)

    items = inbox(client, sam)

    assert [n["title"] for n in items] == titles
    due = [at(n["due_at"]) for n in items]
    assert due == [utc(10, 12, 2), utc(10, 12, 1), utc(10, 12)]


def test_pages_of_one_walk_every_nudge_exactly_once(client, clock):
    sam, _titles = three_nudges(client, clock)
    everything = [n["id"] for n in inbox(client, sam)]

    walked, cursor, pages = [], None, 0
    while True:
        page = inbox_page(client, sam, limit=1, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= 1
        walked += [n["id"] for n in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10, "pagination does not end"

    assert walked == everything
    assert len(set(walked)) == 3


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        base64.urlsafe_b64encode(b'{"not": "a list"}').decode(),
        base64.urlsafe_b64encode(b'["yesterday", "not-a-uuid"]').decode(),
    ],
)
def test_a_garbage_cursor_is_400(client, clock, cursor):
    sam, _titles = three_nudges(client, clock)

    response = client.get(INBOX, params={"cursor": cursor}, headers=sam.headers)

    assert_problem(response, 400)


@pytest.mark.parametrize("limit", [0, 201, "many"])
def test_a_limit_out_of_range_is_422(client, limit):
    alex = register(client)

    assert_problem(client.get(INBOX, params={"limit": limit}, headers=alex.headers), 422)


def test_mark_a_nudge_read_once(client, clock):
    alex, sam = pair(client)
    log_bid(client, alex)
    [item] = inbox(client, sam)
    clock.advance(minutes=3)

    response = read(client, sam, item["id"])

    assert response.status_code == 200, response.text
    assert response.json()["id"] == item["id"]
    assert at(response.json()["read_at"]) == utc(10, 12, 3)
    clock.advance(minutes=5)
    again = read(client, sam, item["id"])
    assert again.status_code == 200, again.text
    assert at(again.json()["read_at"]) == utc(10, 12, 3)
    assert at(inbox(client, sam)[0]["read_at"]) == utc(10, 12, 3)


def test_reading_someone_elses_or_an_unknown_nudge_is_404(client):
    alex, sam = pair(client)
    log_bid(client, alex)
    [item] = inbox(client, sam)

    assert_problem(read(client, alex, item["id"]), 404)
    assert_problem(read(client, sam, str(uuid.uuid4())), 404)
    assert inbox(client, sam)[0]["read_at"] is None


NUDGE_ROUTES = [
    ("GET", SETTINGS, None),
    ("PUT", SETTINGS, settings_doc()),
    ("GET", DEVICES, None),
    ("POST", DEVICES, {"provider": "expo", "token": EXPO_TOKEN, "platform": "ios"}),
    ("DELETE", f"{DEVICES}/{uuid.UUID(int=1)}", None),
    ("GET", INBOX, None),
    ("POST", f"{INBOX}/{uuid.UUID(int=2)}/read", None),
]


@pytest.mark.parametrize(("method", "path", "body"), NUDGE_ROUTES)
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"Authorization": "Bearer not-a-token"}, id="bad-token"),
    ],
)
def test_nudge_routes_need_a_valid_token(client, method, path, body, headers):
    response = client.request(method, path, json=body, headers=headers)

    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_expired_token_is_401(client, clock):
    alex = register(client)
    clock.advance(minutes=16)

    assert_problem(client.get(SETTINGS, headers=alex.headers), 401)
