"""Bids over HTTP (SPEC §5, §6): the catalogue, logging and replaying a bid, answering,
editing and deleting it, who may see it, and the balance and stats that bids make.

The balance math itself is checked against a recomputation in test_bank.py; here the
scenarios are small and fixed, so every figure is exact.
"""

import base64
import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.clock import FrozenClock
from tests.factories import (
    Account,
    assert_problem,
    end_couple,
    log_bid,
    login,
    pair,
    post_bid,
    register,
    wire,
)

REQUIRED_KINDS = {
    "hug",
    "kiss",
    "cuddle",
    "caress",
    "hand_hold",
    "massage",
    "check_in",
    "question",
    "share",
    "compliment",
    "thanks",
    "help",
    "smile",
    "shared_look",
    "laugh",
    "phone_down",
    "date",
    "other",
}
HUG = 2.0  # a hug's weight, as the catalogue has it


# --- helpers ---------------------------------------------------------------------------


def at(value: str) -> datetime:
    """A timestamp from the API: RFC 3339 with an offset."""
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


def close(value: float | None, expected: float) -> bool:
    return value is not None and value == pytest.approx(expected, rel=1e-9, abs=1e-12)


def decayed(amount: float, hours: float, half_life_hours: float = 72) -> float:
    return amount * 2 ** (-hours / half_life_hours)


def get_bid(client: TestClient, account: Account, bid_id: str) -> Any:
    return client.get(f"/v1/bids/{bid_id}", headers=account.headers)


def read_bid(client: TestClient, account: Account, bid_id: str) -> dict[str, Any]:
    response = get_bid(client, account, bid_id)
    assert response.status_code == 200, response.text
    bid: dict[str, Any] = response.json()
    return bid


def patch_bid(client: TestClient, account: Account, bid_id: str, body: Any) -> Any:
    return client.patch(f"/v1/bids/{bid_id}", json=wire(body), headers=account.headers)


def delete_bid(client: TestClient, account: Account, bid_id: str) -> Any:
    return client.delete(f"/v1/bids/{bid_id}", headers=account.headers)


def respond(client: TestClient, account: Account, bid_id: str, value: Any) -> Any:
    return client.put(
        f"/v1/bids/{bid_id}/response", json={"response": value}, headers=account.headers
    )


def list_page(client: TestClient, account: Account, **params: Any) -> Any:
    return client.get("/v1/bids", params=wire(params), headers=account.headers)


def bids_of(client: TestClient, account: Account, **params: Any) -> list[dict[str, Any]]:
    response = list_page(client, account, limit=200, **params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    items: list[dict[str, Any]] = body["items"]
    return items


def ids(bids: list[dict[str, Any]]) -> list[str]:
    return [b["id"] for b in bids]


def get_json(client: TestClient, account: Account, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def balance_of(client: TestClient, account: Account) -> dict[str, Any]:
    return get_json(client, account, "/v1/couple/balance")


def stats_of(client: TestClient, account: Account, days: int = 30) -> dict[str, Any]:
    return get_json(client, account, "/v1/couple/stats", days=days)


def patch_couple(client: TestClient, account: Account, **body: Any) -> dict[str, Any]:
    response = client.patch("/v1/couple", json=body, headers=account.headers)
    assert response.status_code == 200, response.text
    couple: dict[str, Any] = response.json()
    return couple


def later(client: TestClient, clock: FrozenClock, *accounts: Account, **delta: float) -> datetime:
    """Move the clock, then sign the accounts in again (access tokens live 15 minutes)."""
    now = clock.advance(**delta)
    for account in accounts:
        login(client, account)
    return now


def cursor_of(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def error_fields(problem: dict[str, Any]) -> set[str]:
    return {str(e["loc"][-1]) for e in problem.get("errors") or [] if e["loc"]}


@pytest.fixture
def couple(client: TestClient) -> tuple[Account, Account]:
    return pair(client)


# --- the catalogue ---------------------------------------------------------------------


def test_bid_kinds_lists_every_required_kind_with_channel_and_weight(client):
    account = register(client)
    response = client.get("/v1/bid-kinds", headers=account.headers)
    assert response.status_code == 200, response.text
    kinds = {k["kind"]: k for k in response.json()}
    assert len(kinds) == len(response.json()), "kinds are unique"
    assert kinds.keys() >= REQUIRED_KINDS
    for kind in kinds.values():
        assert isinstance(kind["label"], str) and kind["label"].strip()
        assert kind["channel"] in {"physical", "verbal", "nonverbal"}
        assert kind["weight"] > 0
        assert kind["linger_seconds"] is None or kind["linger_seconds"] > 0
    assert kinds["hug"]["linger_seconds"] == 20
    assert kinds["kiss"]["linger_seconds"] == 6
    assert 30 in {k["linger_seconds"] for k in kinds.values()}, "a 30-second kiss"
    assert kinds["hug"]["channel"] == "physical"
    assert kinds["question"]["channel"] == "verbal"
    assert kinds["smile"]["channel"] == "nonverbal"


# --- logging a bid ---------------------------------------------------------------------


def test_logging_a_bid_answers_201_with_the_bid(client, clock, couple):
    alex, _ = couple
    couple_id = get_json(client, alex, "/v1/couple")["id"]

    bid = log_bid(client, alex, kind="hug", initiator="me")

    uuid.UUID(bid["id"])
    assert bid["couple_id"] == couple_id
    assert bid["kind"] == "hug"
    assert bid["initiator"] == "me"
    assert bid["logged_by"] == "me"
    assert at(bid["occurred_at"]) == clock.now()
    assert bid["response"] == "pending"
    assert bid["responded_by"] is None and bid["responded_at"] is None
    assert bid["deposit"] == 0
    assert bid["duration_seconds"] is None and bid["note"] is None
    assert at(bid["created_at"]) == clock.now() == at(bid["updated_at"])
    assert read_bid(client, alex, bid["id"]) == bid
    assert bids_of(client, alex) == [bid]


def test_the_partner_sees_the_same_bid_from_their_side(client, couple):
    alex, sam = couple
    bid = log_bid(client, alex, kind="compliment", note="Loved your talk")

    seen = read_bid(client, sam, bid["id"])

    assert seen["initiator"] == "partner"
    assert seen["logged_by"] == "partner"
    same = ("id", "couple_id", "kind", "occurred_at", "note", "response", "deposit")
    assert {k: seen[k] for k in same} == {k: bid[k] for k in same}
    assert ids(bids_of(client, sam)) == [bid["id"]]


def test_initiator_partner_means_the_other_partner_made_the_bid(client, couple):
    alex, sam = couple
    bid = log_bid(client, alex, kind="kiss", initiator="partner")

    assert (bid["initiator"], bid["logged_by"]) == ("partner", "me")
    seen = read_bid(client, sam, bid["id"])
    assert (seen["initiator"], seen["logged_by"]) == ("me", "partner")
    assert stats_of(client, sam)["by_initiator"] == {"me": 1, "partner": 0}
    assert stats_of(client, alex)["by_initiator"] == {"me": 0, "partner": 1}


def test_a_response_given_at_creation_is_recorded_as_the_loggers(client, clock, couple):
    alex, sam = couple
    bid = log_bid(client, alex, kind="hug", response="toward")

    assert bid["response"] == "toward"
    assert bid["responded_by"] == "me"
    assert at(bid["responded_at"]) == clock.now()
    assert bid["deposit"] == HUG
    assert read_bid(client, sam, bid["id"])["responded_by"] == "partner"


def test_a_blank_note_is_stored_as_no_note(client, couple):
    alex, _ = couple
    assert log_bid(client, alex, note="   ")["note"] is None


def test_limits_themselves_are_accepted(client, couple):
    alex, _ = couple
    bid = log_bid(client, alex, note="x" * 1000, duration_seconds=43200)
    assert len(bid["note"]) == 1000
    assert bid["duration_seconds"] == 43200
    assert log_bid(client, alex, duration_seconds=0)["duration_seconds"] == 0


# --- idempotent replays ----------------------------------------------------------------


def replayable(clock: FrozenClock, **overrides: Any) -> dict[str, Any]:
    body = {
        "id": str(uuid.uuid4()),
        "kind": "hug",
        "initiator": "me",
        "occurred_at": (clock.now() - timedelta(hours=3)).isoformat(),
        "duration_seconds": 25,
        "note": "on the doorstep",
    }
    body.update(overrides)
    return body


def test_a_replay_with_the_same_id_and_content_answers_200_with_the_stored_bid(
    client, clock, couple
):
    alex, _ = couple
    body = replayable(clock)
    first = log_bid(client, alex, **body)
    assert first["id"] == body["id"]

    clock.advance(minutes=5)
    replay = post_bid(client, alex, **body)

    assert replay.status_code == 200, replay.text
    assert replay.json() == first
    assert ids(bids_of(client, alex)) == [body["id"]]


@pytest.mark.parametrize(
    "change",
    [
        {"note": "in the kitchen"},
        {"kind": "kiss"},
        {"initiator": "partner"},
        {"duration_seconds": 26},
        {"response": "toward"},
        {"occurred_at": "2026-03-10T08:59:00+00:00"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_the_same_id_with_other_content_is_409_and_keeps_the_stored_bid(
    client, clock, couple, change
):
    alex, _ = couple
    body = replayable(clock)
    first = log_bid(client, alex, **body)

    assert_problem(post_bid(client, alex, **{**body, **change}), 409)

    assert bids_of(client, alex) == [first]


def test_the_same_id_sent_by_the_partner_is_409(client, clock, couple):
    alex, sam = couple
    body = replayable(clock)
    first = log_bid(client, alex, **body)

    assert_problem(post_bid(client, sam, **body), 409)

    assert bids_of(client, sam) == [{**first, "initiator": "partner", "logged_by": "partner"}]


def test_a_replay_after_the_bid_was_answered_still_answers_200(client, clock, couple):
    alex, sam = couple
    body = replayable(clock)
    log_bid(client, alex, **body)
    clock.advance(minutes=1)
    assert respond(client, sam, body["id"], "toward").status_code == 200

    replay = post_bid(client, alex, **body)

    assert replay.status_code == 200, replay.text
    assert replay.json()["response"] == "toward"
    assert replay.json()["responded_by"] == "partner"
    assert replay.json()["deposit"] == HUG * 1.5
    assert len(bids_of(client, alex)) == 1


def test_a_replay_days_later_still_answers_200_though_occurred_at_is_now_too_old(
    client, clock, couple
):
    alex, _ = couple
    body = replayable(clock)
    first = log_bid(client, alex, **body)

    later(client, clock, alex, days=8)
    replay = post_bid(client, alex, **body)

    assert replay.status_code == 200, replay.text
    assert replay.json() == first


def test_a_replay_naming_the_same_instant_with_another_offset_is_the_same_content(
    client, clock, couple
):
    alex, _ = couple
    body = replayable(clock, occurred_at="2026-03-10T09:00:00+00:00")
    first = log_bid(client, alex, **body)

    for same_instant in ("2026-03-10T09:00:00Z", "2026-03-10T10:00:00+01:00"):
        replay = post_bid(client, alex, **{**body, "occurred_at": same_instant})
        assert replay.status_code == 200, replay.text
        assert replay.json() == first
    assert len(bids_of(client, alex)) == 1


def test_a_replay_by_the_author_after_an_edit_answers_the_edited_bid(client, clock, couple):
    alex, _ = couple
    body = replayable(clock)
    log_bid(client, alex, **body)
    edited = patch_bid(client, alex, body["id"], {"note": "edited"}).json()

    replay = post_bid(client, alex, **body)

    assert replay.status_code == 200, replay.text
    assert replay.json() == edited
    assert len(bids_of(client, alex)) == 1


# --- deposits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "response", "duration", "expected"),
    [
        ("hug", "toward", None, 2.0),
        ("hug", "toward", 19, 2.0),
        ("hug", "toward", 20, 3.0),
        ("hug", "toward", 600, 3.0),
        ("kiss", "toward", 5, 2.0),
        ("kiss", "toward", 6, 3.0),
        ("caress", "toward", 3600, 1.0),
        ("hug", "away", 20, -1.0),
        ("date", "away", None, -1.0),
        ("hug", "against", None, -5.0),
        ("smile", "against", None, -5.0),
        ("hug", "pending", 20, 0.0),
    ],
)
def test_the_deposit_follows_response_weight_and_lingering(
    client, couple, kind, response, duration, expected
):
    alex, _ = couple
    bid = log_bid(client, alex, kind=kind, response=response, duration_seconds=duration)
    assert bid["deposit"] == expected
    assert close(balance_of(client, alex)["balance"], expected)


def test_every_kind_turned_toward_deposits_its_weight_and_lingering_adds_half(client, couple):
    alex, _ = couple
    catalogue = client.get("/v1/bid-kinds", headers=alex.headers).json()
    for kind in catalogue:
        plain = log_bid(client, alex, kind=kind["kind"], response="toward")
        assert plain["deposit"] == kind["weight"], kind["kind"]
        linger = kind["linger_seconds"]
        if linger is not None:
            held = log_bid(
                client, alex, kind=kind["kind"], response="toward", duration_seconds=linger
            )
            assert held["deposit"] == kind["weight"] * 1.5, kind["kind"]
            short = log_bid(
                client, alex, kind=kind["kind"], response="toward", duration_seconds=linger - 1
            )
            assert short["deposit"] == kind["weight"], kind["kind"]


# --- answering a bid -------------------------------------------------------------------


def test_either_partner_answers_and_the_bid_records_who_and_when(client, clock, couple):
    alex, sam = couple
    bid = log_bid(client, alex, kind="hug")

    answered_at = clock.advance(minutes=2)
    response = respond(client, sam, bid["id"], "toward")
    assert response.status_code == 200, response.text
    answered = response.json()
    assert answered["response"] == "toward"
    assert answered["responded_by"] == "me"
    assert at(answered["responded_at"]) == answered_at
    assert at(answered["updated_at"]) == answered_at
    assert answered["deposit"] == HUG
    assert read_bid(client, alex, bid["id"])["responded_by"] == "partner"
    assert close(balance_of(client, alex)["balance"], decayed(HUG, 2 / 60))

    changed_at = clock.advance(minutes=3)
    changed = respond(client, alex, bid["id"], "away").json()
    assert changed["response"] == "away"
    assert changed["responded_by"] == "me"
    assert at(changed["responded_at"]) == changed_at
    assert changed["deposit"] == -1
    assert read_bid(client, sam, bid["id"])["responded_by"] == "partner"
    assert close(balance_of(client, sam)["balance"], decayed(-1, 5 / 60))

    reset = respond(client, sam, bid["id"], "pending").json()
    assert reset["response"] == "pending"
    assert reset["responded_by"] is None and reset["responded_at"] is None
    assert reset["deposit"] == 0
    assert balance_of(client, alex)["balance"] == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("body", [{"response": "maybe"}, {"response": None}, {}, {"r": "toward"}])
def test_a_bad_response_is_422_and_changes_nothing(client, couple, body):
    alex, sam = couple
    bid = log_bid(client, alex, response="toward")
    response = client.put(f"/v1/bids/{bid['id']}/response", json=body, headers=sam.headers)
    assert_problem(response, 422)
    assert read_bid(client, alex, bid["id"]) == bid


def test_answering_an_unknown_bid_is_404(client, couple):
    alex, _ = couple
    assert_problem(respond(client, alex, str(uuid.uuid4()), "toward"), 404)


# --- when a bid may have occurred ------------------------------------------------------


@pytest.mark.parametrize(
    "offset",
    [timedelta(days=-7), timedelta(hours=-1), timedelta(minutes=5)],
    ids=["7 days back", "1 hour back", "5 minutes ahead"],
)
def test_occurred_at_within_7_days_back_and_5_minutes_ahead_is_accepted(
    client, clock, couple, offset
):
    alex, _ = couple
    when = clock.now() + offset
    assert at(log_bid(client, alex, occurred_at=when.isoformat())["occurred_at"]) == when


@pytest.mark.parametrize(
    "offset",
    [timedelta(days=-7, minutes=-1), timedelta(days=-30), timedelta(minutes=6)],
    ids=["7 days and a minute back", "30 days back", "6 minutes ahead"],
)
def test_occurred_at_too_far_back_or_ahead_is_422_naming_the_field(client, clock, couple, offset):
    alex, _ = couple
    when = clock.now() + offset
    problem = assert_problem(post_bid(client, alex, occurred_at=when), 422)
    assert "occurred_at" in error_fields(problem)
    assert "occurred_at" in problem["detail"]
    assert bids_of(client, alex) == []


def test_a_naive_occurred_at_is_422(client, couple):
    alex, _ = couple
    problem = assert_problem(post_bid(client, alex, occurred_at="2026-03-10T12:00:00"), 422)
    assert "occurred_at" in error_fields(problem)
    assert bids_of(client, alex) == []


def test_patching_occurred_at_obeys_the_same_window(client, clock, couple):
    alex, _ = couple
    bid = log_bid(client, alex)
    for when in (clock.now() - timedelta(days=7, minutes=1), clock.now() + timedelta(minutes=6)):
        problem = assert_problem(patch_bid(client, alex, bid["id"], {"occurred_at": when}), 422)
        assert "occurred_at" in problem["detail"]
    assert_problem(patch_bid(client, alex, bid["id"], {"occurred_at": "2026-03-10T11:00"}), 422)
    assert read_bid(client, alex, bid["id"]) == bid


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "handshake"}, "kind"),
        ({"kind": "Hug"}, "kind"),
        ({"response": "maybe"}, "response"),
        ({"duration_seconds": -1}, "duration_seconds"),
        ({"duration_seconds": 43201}, "duration_seconds"),
        ({"note": "x" * 1001}, "note"),
        ({"id": "not-a-uuid"}, "id"),
        ({"deposit": 100}, "deposit"),
        ({"couple_id": "00000000-0000-4000-8000-000000000000"}, "couple_id"),
        ({"logged_by_id": "00000000-0000-4000-8000-000000000000"}, "logged_by_id"),
        ({"responded_by": "me"}, "responded_by"),
        ({"kind": 5}, "kind"),
        ({"kind": None}, "kind"),
        ({"initiator": "both"}, "initiator"),
        ({"initiator": True}, "initiator"),
        ({"duration_seconds": "ten"}, "duration_seconds"),
        ({"duration_seconds": 1.5}, "duration_seconds"),
        ({"note": 42}, "note"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"id": 12345}, "id"),
    ],
    ids=lambda value: json.dumps(value)[:40] if isinstance(value, dict) else str(value),
)
def test_bad_input_is_422_naming_the_field_and_writes_nothing(client, couple, body, field):
    alex, _ = couple
    problem = assert_problem(post_bid(client, alex, **body), 422)
    assert field in error_fields(problem)
    assert bids_of(client, alex) == []


def test_an_unknown_kind_is_422_listing_the_allowed_kinds(client, couple):
    alex, _ = couple
    problem = assert_problem(post_bid(client, alex, kind="handshake"), 422)
    for kind in REQUIRED_KINDS:
        assert kind in problem["detail"]


def test_a_note_too_long_says_1000(client, couple):
    alex, _ = couple
    problem = assert_problem(post_bid(client, alex, note="x" * 1001), 422)
    assert "1000" in problem["detail"]


@pytest.mark.parametrize("missing", ["kind", "initiator"])
def test_a_missing_required_field_is_422(client, couple, missing):
    alex, _ = couple
    body = {"kind": "hug", "initiator": "me"}
    del body[missing]
    problem = assert_problem(client.post("/v1/bids", json=body, headers=alex.headers), 422)
    assert missing in error_fields(problem)
    assert bids_of(client, alex) == []


@pytest.mark.parametrize(
    ("content", "status"),
    [(b"[]", 422), (b'"hug"', 422), (b"", 422), (b"{kind: hug", 400)],
    ids=["list", "string", "empty", "not json"],
)
def test_a_body_that_is_not_a_bid_object_is_a_problem(client, couple, content, status):
    alex, _ = couple
    response = client.post(
        "/v1/bids",
        content=content,
        headers={**alex.headers, "Content-Type": "application/json"},
    )
    assert_problem(response, status)
    assert bids_of(client, alex) == []


# --- listing ---------------------------------------------------------------------------


def test_the_list_is_newest_first_by_occurred_at(client, clock, couple):
    alex, sam = couple
    hours_back = [3, 1, 5, 2, 4]
    made = {
        h: log_bid(client, alex if h % 2 else sam, occurred_at=clock.now() - timedelta(hours=h))
        for h in hours_back
    }
    expected = [made[h]["id"] for h in sorted(hours_back)]
    assert ids(bids_of(client, alex)) == expected
    assert ids(bids_of(client, sam)) == expected


def test_the_list_filters_by_since_until_and_kind(client, clock, couple):
    alex, _ = couple
    now = clock.now()
    three = log_bid(client, alex, kind="hug", occurred_at=now - timedelta(hours=3))
    two = log_bid(client, alex, kind="kiss", occurred_at=now - timedelta(hours=2))
    one = log_bid(client, alex, kind="hug", occurred_at=now - timedelta(hours=1))

    assert ids(bids_of(client, alex, since=now - timedelta(hours=2))) == [one["id"], two["id"]]
    assert ids(bids_of(client, alex, until=now - timedelta(hours=2))) == [three["id"]]
    window = {"since": now - timedelta(hours=3), "until": now - timedelta(hours=1)}
    assert ids(bids_of(client, alex, **window)) == [two["id"], three["id"]]
    assert ids(bids_of(client, alex, kind="hug")) == [one["id"], three["id"]]
    assert ids(bids_of(client, alex, kind="hug", since=now - timedelta(hours=2))) == [one["id"]]
    assert bids_of(client, alex, kind="massage") == []
    offset = (now - timedelta(hours=2)).astimezone(timezone(timedelta(hours=-5))).isoformat()
    assert ids(bids_of(client, alex, since=offset)) == [one["id"], two["id"]]


@pytest.mark.parametrize(
    "params",
    [{"kind": "handshake"}, {"since": "2026-03-10T10:00:00"}, {"until": "soon"}],
    ids=["unknown kind", "naive since", "garbage until"],
)
def test_bad_list_filters_are_422(client, couple, params):
    alex, _ = couple
    assert_problem(list_page(client, alex, **params), 422)


def test_cursor_pagination_walks_every_bid_exactly_once(client, clock, couple):
    alex, sam = couple
    for hours in (1, 2, 3, 4):
        log_bid(client, alex, occurred_at=clock.now() - timedelta(hours=hours))
    for account in (alex, sam, alex):  # three bids at the very same instant
        log_bid(client, account)
    everything = ids(bids_of(client, alex))
    assert len(everything) == 7

    walked: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        response = list_page(client, alex, **params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert 1 <= len(page["items"]) <= 2
        walked += ids(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == everything
    assert len(set(walked)) == 7


def test_a_full_last_page_ends_with_a_null_cursor(client, couple):
    alex, _ = couple
    for _ in range(2):
        log_bid(client, alex)
    page = list_page(client, alex, limit=2).json()
    assert len(page["items"]) == 2
    assert page["next_cursor"] is None


def test_the_default_page_holds_50(client, clock, couple):
    alex, _ = couple
    for minutes in range(51):
        log_bid(client, alex, occurred_at=clock.now() - timedelta(minutes=minutes))
    page = list_page(client, alex).json()
    assert len(page["items"]) == 50
    assert page["next_cursor"] is not None


@pytest.mark.parametrize("limit", [0, -1, 201, "many"])
def test_a_limit_outside_1_to_200_is_422(client, couple, limit):
    alex, _ = couple
    assert_problem(list_page(client, alex, limit=limit), 422)


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "not-a-cursor!",
        cursor_of({"occurred_at": "2026-03-10T12:00:00+00:00"}),
        cursor_of(["2026-03-10T12:00:00+00:00"]),
        cursor_of(["yesterday", str(uuid.UUID(int=1))]),
        cursor_of(["2026-03-10T12:00:00+00:00", "not-a-uuid"]),
        cursor_of([1, 2]),
        cursor_of(["2026-03-10T12:00:00+00:00", 2]),
        cursor_of(["2026-03-10T12:00:00", str(uuid.UUID(int=1))]),
    ],
    ids=[
        "garbage",
        "punctuation",
        "object",
        "one element",
        "bad date",
        "bad uuid",
        "numbers",
        "number as id",
        "naive date",
    ],
)
def test_a_cursor_this_api_did_not_give_out_is_400(client, couple, cursor):
    alex, _ = couple
    log_bid(client, alex)
    problem = assert_problem(list_page(client, alex, cursor=cursor), 400)
    assert problem["type"].endswith("invalid-cursor")


# --- one bid: read, edit, delete -------------------------------------------------------


def test_the_author_edits_kind_note_duration_and_occurred_at(client, clock, couple):
    alex, sam = couple
    bid = log_bid(client, alex, kind="hug", response="toward")
    assert bid["deposit"] == HUG

    edited_at = clock.advance(minutes=1)
    response = patch_bid(client, alex, bid["id"], {"kind": "kiss", "duration_seconds": 6})
    assert response.status_code == 200, response.text
    edited = response.json()
    assert (edited["kind"], edited["duration_seconds"], edited["deposit"]) == ("kiss", 6, 3.0)
    assert at(edited["updated_at"]) == edited_at
    assert at(edited["created_at"]) == at(bid["created_at"])
    assert edited["response"] == "toward" and edited["responded_by"] == "me"

    edited = patch_bid(client, alex, bid["id"], {"duration_seconds": 5}).json()
    assert edited["deposit"] == 2.0
    edited = patch_bid(client, alex, bid["id"], {"kind": "date", "note": "picnic"}).json()
    assert (edited["kind"], edited["note"], edited["deposit"]) == ("date", "picnic", 3.0)

    moved_to = clock.now() - timedelta(hours=6)
    edited = patch_bid(client, alex, bid["id"], {"occurred_at": moved_to.isoformat()}).json()
    assert at(edited["occurred_at"]) == moved_to
    assert close(balance_of(client, alex)["balance"], decayed(3.0, 6))

    edited = patch_bid(client, alex, bid["id"], {"initiator": "partner"}).json()
    assert edited["initiator"] == "partner"
    assert read_bid(client, sam, bid["id"])["initiator"] == "me"
    assert read_bid(client, alex, bid["id"]) == edited


def test_an_empty_patch_changes_nothing_but_is_accepted(client, couple):
    alex, _ = couple
    bid = log_bid(client, alex, note="keep")
    response = patch_bid(client, alex, bid["id"], {})
    assert response.status_code == 200, response.text
    assert {k: v for k, v in response.json().items() if k != "updated_at"} == {
        k: v for k, v in bid.items() if k != "updated_at"
    }


@pytest.mark.parametrize(
    "body",
    [
        {"kind": None},
        {"occurred_at": None},
        {"initiator": None},
        {"kind": None, "note": None},
    ],
    ids=lambda body: ",".join(body),
)
def test_an_explicit_null_in_a_patch_is_422(client, couple, body):
    alex, _ = couple
    bid = log_bid(client, alex, kind="hug", note="keep", duration_seconds=30)
    assert_problem(patch_bid(client, alex, bid["id"], body), 422)
    assert read_bid(client, alex, bid["id"]) == bid


def test_note_and_duration_can_be_cleared_with_null(client, couple):
    alex, _ = couple
    bid = log_bid(client, alex, kind="hug", note="keep", duration_seconds=30, response="toward")
    assert bid["deposit"] == 3.0
    cleared = patch_bid(client, alex, bid["id"], {"note": None, "duration_seconds": None})
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["note"] is None
    assert cleared.json()["duration_seconds"] is None
    assert cleared.json()["deposit"] == 2.0  # no longer lingering


def test_a_blank_note_in_a_patch_is_stored_as_no_note(client, couple):
    alex, _ = couple
    bid = log_bid(client, alex, note="keep")
    assert patch_bid(client, alex, bid["id"], {"note": "   "}).json()["note"] is None


def test_a_replay_that_spells_out_the_defaults_is_the_same_content(client, couple):
    alex, _ = couple
    bid = log_bid(client, alex, kind="hug")
    again = {
        "id": bid["id"],
        "kind": "hug",
        "initiator": "me",
        "response": "pending",
        "note": None,
        "duration_seconds": None,
    }
    response = client.post("/v1/bids", json=again, headers=alex.headers)
    assert response.status_code == 200, response.text


def test_a_replay_after_the_couple_ended_answers_the_stored_bid(client, couple):
    alex, _ = couple
    body = {"id": str(uuid.uuid4()), "kind": "hug", "initiator": "me"}
    assert client.post("/v1/bids", json=body, headers=alex.headers).status_code == 201
    assert client.delete("/v1/couple", headers=alex.headers).status_code == 204
    assert client.post("/v1/bids", json=body, headers=alex.headers).status_code == 200


def test_a_replay_after_the_bid_was_deleted_does_not_revive_it(client, couple):
    alex, sam = couple
    body = {"id": str(uuid.uuid4()), "kind": "hug", "initiator": "me", "response": "toward"}
    assert client.post("/v1/bids", json=body, headers=alex.headers).status_code == 201
    assert client.delete(f"/v1/bids/{body['id']}", headers=alex.headers).status_code == 204
    assert_problem(client.post("/v1/bids", json=body, headers=alex.headers), 410)
    assert client.get("/v1/bids", headers=sam.headers).json()["items"] == []
    assert client.get("/v1/couple/balance", headers=sam.headers).json()["balance"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"response": "toward"},
        {"logged_by": "partner"},
        {"couple_id": "00000000-0000-4000-8000-000000000000"},
        {"deposit": 10},
        {"id": "00000000-0000-4000-8000-000000000000"},
        {"kind": "handshake"},
        {"duration_seconds": -1},
        {"note": "x" * 1001},
    ],
    ids=[
        "response",
        "logged_by",
        "couple_id",
        "deposit",
        "id",
        "unknown kind",
        "negative duration",
        "long note",
    ],
)
def test_a_patch_with_an_unknown_field_or_bad_value_is_422(client, couple, body):
    alex, _ = couple
    bid = log_bid(client, alex)
    assert_problem(patch_bid(client, alex, bid["id"], body), 422)
    assert read_bid(client, alex, bid["id"]) == bid


def test_the_partner_may_not_edit_or_delete_a_bid_they_did_not_log(client, couple):
    alex, sam = couple
    bid = log_bid(client, alex, response="toward")

    assert_problem(patch_bid(client, sam, bid["id"], {"note": "mine now"}), 403)
    assert_problem(delete_bid(client, sam, bid["id"]), 403)

    assert read_bid(client, alex, bid["id"]) == bid
    assert close(balance_of(client, alex)["balance"], HUG)


def test_the_author_deletes_a_bid_204_then_it_is_gone(client, couple):
    alex, sam = couple
    bid = log_bid(client, alex, response="toward")
    kept = log_bid(client, sam, kind="smile", response="toward")

    response = delete_bid(client, alex, bid["id"])
    assert response.status_code == 204, response.text
    assert response.content == b""

    for account in (alex, sam):
        assert_problem(get_bid(client, account, bid["id"]), 404)
        assert ids(bids_of(client, account)) == [kept["id"]]
    assert_problem(delete_bid(client, alex, bid["id"]), 404)
    assert_problem(patch_bid(client, alex, bid["id"], {"note": "x"}), 404)
    assert_problem(respond(client, sam, bid["id"], "away"), 404)
    assert close(balance_of(client, alex)["balance"], 0.5)
    assert stats_of(client, alex)["bids_total"] == 1


@pytest.mark.parametrize("bid_id", ["5f0c1b9e-3d4a-4e8b-9c2d-7a6b5e4f3a21", "not-a-uuid"])
def test_an_unknown_or_malformed_bid_id_is_a_problem(client, couple, bid_id):
    alex, _ = couple
    status = 422 if bid_id == "not-a-uuid" else 404
    assert_problem(get_bid(client, alex, bid_id), status)
    assert_problem(delete_bid(client, alex, bid_id), status)


# --- who may see a bid -----------------------------------------------------------------


@pytest.fixture
def strangers(client: TestClient) -> dict[str, Account]:
    carol, _ = pair(client)
    return {
        "other couple": carol,
        "unpaired": register(client),
        "coach": register(client, role="coach"),
    }


@pytest.mark.parametrize("who", ["other couple", "unpaired", "coach"])
def test_nobody_outside_the_couple_can_reach_a_bid(client, couple, strangers, who):
    alex, _ = couple
    stranger = strangers[who]
    bid = log_bid(client, alex, note="private", response="toward")

    assert_problem(get_bid(client, stranger, bid["id"]), 404)
    assert_problem(patch_bid(client, stranger, bid["id"], {"note": "hacked"}), 404)
    assert_problem(respond(client, stranger, bid["id"], "against"), 404)
    assert_problem(delete_bid(client, stranger, bid["id"]), 404)

    assert read_bid(client, alex, bid["id"]) == bid
    assert close(balance_of(client, alex)["balance"], HUG)


def test_another_couple_never_sees_the_bid_in_its_list(client, couple, strangers):
    alex, _ = couple
    carol = strangers["other couple"]
    mine = log_bid(client, carol)
    log_bid(client, alex)
    alex_couple = get_json(client, alex, "/v1/couple")["id"]

    assert ids(bids_of(client, carol)) == [mine["id"]]
    assert_problem(list_page(client, carol, couple_id=alex_couple), 404)
    assert stats_of(client, carol)["bids_total"] == 1


def test_an_unpaired_user_and_a_coach_list_nothing(client, couple, strangers):
    alex, _ = couple
    log_bid(client, alex)
    alex_couple = get_json(client, alex, "/v1/couple")["id"]

    assert_problem(list_page(client, strangers["unpaired"]), 404)
    assert_problem(list_page(client, strangers["unpaired"], couple_id=alex_couple), 404)
    assert_problem(list_page(client, strangers["coach"]), 403)
    assert_problem(list_page(client, strangers["coach"], couple_id=alex_couple), 403)


def test_a_coach_may_not_log_a_bid_and_an_unpaired_partner_has_nobody_to_log_with(
    client, strangers
):
    assert_problem(post_bid(client, strangers["coach"]), 403)
    assert_problem(post_bid(client, strangers["unpaired"]), 409)


def test_every_bid_endpoint_needs_a_token(client, couple):
    alex, _ = couple
    bid = log_bid(client, alex)
    path = f"/v1/bids/{bid['id']}"
    calls = [
        client.get("/v1/bids"),
        client.post("/v1/bids", json={"kind": "hug", "initiator": "me"}),
        client.get(path),
        client.patch(path, json={"note": "x"}),
        client.put(f"{path}/response", json={"response": "toward"}),
        client.delete(path),
        client.get("/v1/bids", headers={"Authorization": "Bearer not-a-token"}),
        client.get(path, headers={"Authorization": "Bearer not-a-token"}),
    ]
    for response in calls:
        assert_problem(response, 401)
    assert bids_of(client, alex) == [bid]


def test_an_expired_token_is_401(client, clock, couple):
    alex, _ = couple
    bid = log_bid(client, alex)
    clock.advance(minutes=16)
    assert_problem(get_bid(client, alex, bid["id"]), 401)
    login(client, alex)
    assert read_bid(client, alex, bid["id"])["id"] == bid["id"]


# --- after the couple ended ------------------------------------------------------------


def test_an_ended_couples_bids_are_read_only_but_stay_readable_and_deletable(client, clock, couple):
    alex, sam = couple
    alex_bid = log_bid(
        client, alex, kind="hug", response="toward", occurred_at=clock.now() - timedelta(hours=1)
    )
    sam_bid = log_bid(client, sam, kind="kiss")
    end_couple(client, sam)

    for account in (alex, sam):
        assert_problem(post_bid(client, account), 409)
        assert_problem(respond(client, account, sam_bid["id"], "toward"), 409)
    assert_problem(patch_bid(client, alex, alex_bid["id"], {"note": "after"}), 409)
    assert_problem(patch_bid(client, sam, sam_bid["id"], {"kind": "hug"}), 409)

    for account in (alex, sam):
        assert read_bid(client, account, alex_bid["id"])["response"] == "toward"
        assert read_bid(client, account, sam_bid["id"])["response"] == "pending"
        assert ids(bids_of(client, account)) == [sam_bid["id"], alex_bid["id"]]

    assert delete_bid(client, alex, alex_bid["id"]).status_code == 204
    assert_problem(delete_bid(client, alex, sam_bid["id"]), 403)
    assert ids(bids_of(client, sam)) == [sam_bid["id"]]


def test_the_list_shows_the_latest_couple_and_an_earlier_one_on_request(client, clock, couple):
    alex, sam = couple
    old_couple = get_json(client, alex, "/v1/couple")["id"]
    old = log_bid(client, alex, occurred_at=clock.now() - timedelta(hours=1))
    end_couple(client, alex)
    _, robin = pair(client, alex)

    new = log_bid(client, robin)

    assert ids(bids_of(client, alex)) == [new["id"]]
    assert ids(bids_of(client, alex, couple_id=old_couple)) == [old["id"]]
    assert ids(bids_of(client, sam)) == [old["id"]]
    assert read_bid(client, alex, old["id"])["couple_id"] == old_couple
    assert_problem(get_bid(client, robin, old["id"]), 404)
    assert_problem(list_page(client, robin, couple_id=old_couple), 404)


# --- the bank account ------------------------------------------------------------------


def test_one_hug_turned_toward_halves_in_72_hours(client, clock, couple):
    alex, sam = couple
    start = clock.now()
    log_bid(client, alex, kind="hug", response="toward")

    now = balance_of(client, alex)
    assert close(now["balance"], 2.0)
    assert at(now["as_of"]) == start
    assert now["half_life_hours"] == 72
    assert close(now["change_7d"], 2.0)
    assert now["deposits_7d"] == 2.0
    assert now["withdrawals_7d"] == 0.0
    assert balance_of(client, sam) == now

    later(client, clock, alex, hours=72)
    then = balance_of(client, alex)
    assert close(then["balance"], 1.0)
    assert at(then["as_of"]) == start + timedelta(hours=72)
    assert close(then["change_7d"], 1.0)
    assert then["deposits_7d"] == 2.0

    # Eight days on, the hug left the 7-day window: the week only lost warmth.
    # The window starts on 03-12 (Berlin, day start 4); 03-11 ended at 03-12T03:00Z, 39 h in.
    later(client, clock, alex, hours=120)
    week_later = balance_of(client, alex)
    assert close(week_later["balance"], decayed(2.0, 192))
    assert close(week_later["change_7d"], decayed(2.0, 192) - decayed(2.0, 39))
    assert week_later["deposits_7d"] == 0.0
    assert week_later["withdrawals_7d"] == 0.0


def test_withdrawals_are_counted_apart_from_deposits(client, couple):
    alex, sam = couple
    log_bid(client, alex, kind="hug", response="toward")
    log_bid(client, sam, kind="question", response="away")
    log_bid(client, alex, kind="smile", response="against")
    log_bid(client, sam, kind="date")

    balance = balance_of(client, alex)
    assert close(balance["balance"], 2.0 - 1.0 - 5.0)
    assert close(balance["change_7d"], -4.0)
    assert balance["deposits_7d"] == 2.0
    assert balance["withdrawals_7d"] == 6.0


def test_a_couple_with_no_bids_has_a_zero_balance(client, couple):
    alex, _ = couple
    balance = balance_of(client, alex)
    assert balance["balance"] == 0
    assert balance["change_7d"] == 0
    assert balance["deposits_7d"] == balance["withdrawals_7d"] == 0


def test_a_24_hour_half_life_halves_the_balance_in_a_day(client, clock, couple):
    alex, sam = couple
    log_bid(client, alex, response="toward", occurred_at=clock.now() - timedelta(hours=24))
    assert close(balance_of(client, alex)["balance"], decayed(2.0, 24, 72))

    assert patch_couple(client, sam, half_life_hours=24)["half_life_hours"] == 24

    balance = balance_of(client, alex)
    assert balance["half_life_hours"] == 24
    assert close(balance["balance"], 1.0)
    later(client, clock, alex, hours=24)
    assert close(balance_of(client, alex)["balance"], 0.5)


def test_balance_history_gives_one_point_per_local_day_ending_today(client, clock):
    # Kiritimati is UTC+14: at 2026-03-10T12:00Z it is already 02:00 on 03-11 there.
    alex = register(client, timezone="Pacific/Kiritimati")
    alex, _ = pair(client, alex)
    patch_couple(client, alex, day_start_hour=0)
    log_bid(client, alex, response="toward", occurred_at=clock.now() - timedelta(hours=48))

    points = get_json(client, alex, "/v1/couple/balance/history", days=5)["points"]

    assert [p["date"] for p in points] == [f"2026-03-{d:02}" for d in range(7, 12)]
    balances = [p["balance"] for p in points]
    assert balances[:2] == [0, 0]
    # The hug was at 02:00 local on 03-09; that day ended 22 hours later.
    assert close(balances[2], decayed(2.0, 22))
    assert close(balances[3], decayed(2.0, 46))
    assert close(balances[4], decayed(2.0, 48))
    assert close(balances[4], balance_of(client, alex)["balance"])


@pytest.mark.parametrize("days", [1, 30, 365])
def test_balance_history_has_as_many_consecutive_days_as_asked(client, couple, days):
    alex, _ = couple
    points = get_json(client, alex, "/v1/couple/balance/history", days=days)["points"]
    assert len(points) == days
    dates = [datetime.fromisoformat(p["date"]).date() for p in points]
    assert dates[-1].isoformat() == "2026-03-10"  # 13:00 in Berlin
    assert all(b - a == timedelta(days=1) for a, b in itertools.pairwise(dates))


def test_balance_history_defaults_to_30_days(client, couple):
    alex, _ = couple
    assert len(get_json(client, alex, "/v1/couple/balance/history")["points"]) == 30


@pytest.mark.parametrize("days", [0, -1, 366, "month"])
def test_balance_history_and_stats_refuse_a_window_outside_1_to_365_days(client, couple, days):
    alex, _ = couple
    for path in ("/v1/couple/balance/history", "/v1/couple/stats"):
        response = client.get(path, params={"days": days}, headers=alex.headers)
        assert_problem(response, 422)


# --- stats -----------------------------------------------------------------------------


def test_stats_of_a_couple_without_bids(client, couple):
    alex, _ = couple
    assert stats_of(client, alex) == {
        "bids_total": 0,
        "by_kind": {},
        "by_initiator": {"me": 0, "partner": 0},
        "toward_rate": None,
        "positive_negative_ratio": None,
        "unanswered": 0,
        "streak_days": 0,
        "longest_streak_days": 0,
    }


def test_stats_count_kinds_initiators_rates_and_unanswered_bids(client, clock, couple):
    alex, sam = couple
    log_bid(client, alex, kind="hug", response="toward")
    log_bid(client, alex, kind="hug", initiator="partner", response="toward")
    log_bid(client, sam, kind="kiss", response="away")
    log_bid(client, alex, kind="question", response="against")
    log_bid(client, sam, kind="smile")

    stats = stats_of(client, alex)
    assert stats["bids_total"] == 5
    assert stats["by_kind"] == {"hug": 2, "kiss": 1, "question": 1, "smile": 1}
    assert stats["by_initiator"] == {"me": 2, "partner": 3}
    assert close(stats["toward_rate"], 2 / 4)
    assert close(stats["positive_negative_ratio"], 2 / 2)
    assert stats["unanswered"] == 1
    assert stats_of(client, sam)["by_initiator"] == {"me": 3, "partner": 2}


def test_the_positive_negative_ratio_is_null_without_negatives(client, couple):
    alex, sam = couple
    for _ in range(3):
        log_bid(client, alex, response="toward")
    log_bid(client, sam)

    stats = stats_of(client, alex)
    assert stats["positive_negative_ratio"] is None
    assert stats["toward_rate"] == 1.0
    assert stats["unanswered"] == 1

    log_bid(client, sam, kind="laugh", response="away")
    stats = stats_of(client, alex)
    assert close(stats["positive_negative_ratio"], 3.0)
    assert close(stats["toward_rate"], 3 / 4)


def test_stats_follow_answers_given_later(client, couple):
    alex, sam = couple
    bid = log_bid(client, alex)
    assert stats_of(client, alex)["unanswered"] == 1
    respond(client, sam, bid["id"], "against")
    stats = stats_of(client, alex)
    assert stats["unanswered"] == 0
    assert stats["toward_rate"] == 0
    assert stats["positive_negative_ratio"] == 0


def test_stats_cover_only_the_window_asked_for(client, clock, couple):
    alex, _ = couple
    log_bid(client, alex, response="toward")
    later(client, clock, alex, days=10)
    log_bid(client, alex, kind="kiss", response="away")

    assert stats_of(client, alex, days=7)["by_kind"] == {"kiss": 1}
    assert stats_of(client, alex, days=30)["by_kind"] == {"hug": 1, "kiss": 1}


def test_a_streak_counts_consecutive_days_with_a_bid_turned_toward(client, clock, couple):
    alex, sam = couple
    log_bid(client, alex, response="toward")
    later(client, clock, alex, sam, days=1)
    bid = log_bid(client, sam)
    respond(client, alex, bid["id"], "toward")
    later(client, clock, alex, days=1)
    log_bid(client, alex, kind="laugh", response="toward")

    stats = stats_of(client, alex)
    assert stats["streak_days"] == 3
    assert stats["longest_streak_days"] == 3


def backdated_toward(client: TestClient, clock: FrozenClock, account: Account, days: int) -> None:
    log_bid(client, account, response="toward", occurred_at=clock.now() - timedelta(days=days))


def test_today_without_a_bid_yet_does_not_break_the_streak(client, clock, couple):
    alex, _ = couple
    for days in (3, 2, 1):
        backdated_toward(client, clock, alex, days)
    assert stats_of(client, alex)["streak_days"] == 3


def test_a_day_without_a_bid_turned_toward_resets_the_streak(client, clock, couple):
    alex, sam = couple
    for days in (5, 4):
        backdated_toward(client, clock, alex, days)
    log_bid(client, sam, response="away", occurred_at=clock.now() - timedelta(days=3))
    for days in (2, 1):
        backdated_toward(client, clock, alex, days)

    stats = stats_of(client, alex)
    assert stats["streak_days"] == 2
    assert stats["longest_streak_days"] == 2

    later(client, clock, alex, days=2)  # yesterday and today without a bid: broken
    stats = stats_of(client, alex)
    assert stats["streak_days"] == 0
    assert stats["longest_streak_days"] == 2


def test_a_bid_before_the_day_start_hour_counts_for_the_evening_before(client, clock, couple):
    alex, _ = couple
    # Berlin is UTC+1 in March and the day starts at 04:00: 00:30Z is 01:30 on the 10th,
    # still the 9th for the couple, like the bid at 13:00 on the 9th.
    log_bid(client, alex, response="toward", occurred_at="2026-03-09T12:00:00Z")
    log_bid(client, alex, response="toward", occurred_at="2026-03-10T00:30:00Z")

    assert stats_of(client, alex)["streak_days"] == 1
    log_bid(client, alex, response="toward", occurred_at=datetime(2026, 3, 10, 3, 0, tzinfo=UTC))
    assert stats_of(client, alex)["streak_days"] == 2
