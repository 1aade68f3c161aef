"""Couples (SPEC §4): invites, joining, the couple's settings, ending it, and the rules
that keep a partner in at most one active couple."""

import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Uuid, bindparam, insert, inspect, text
from sqlalchemy.exc import IntegrityError

from app.couples import codes
from app.couples.models import Couple, CoupleMember
from app.db import UTCDateTime
from tests.factories import (
    Account,
    assert_problem,
    assert_throttled,
    end_couple,
    invite,
    pair,
    register,
)

CODE = re.compile(r"^[0-9ABCDEFGHJKMNPQRSTVWXYZ]{8}$")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
UNKNOWN_CODE = "00000000"


# --- helpers ---------------------------------------------------------------------------


def join(client: Any, account: Account, code: Any) -> Any:
    return client.post("/v1/couple/join", json={"code": code}, headers=account.headers)


def get_couple(client: Any, account: Account) -> Any:
    return client.get("/v1/couple", headers=account.headers)


def couple_of(client: Any, account: Account) -> dict[str, Any]:
    response = get_couple(client, account)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def patch_couple(client: Any, account: Account, body: dict[str, Any]) -> Any:
    return client.patch("/v1/couple", json=body, headers=account.headers)


def assert_unpaired(client: Any, *accounts: Account) -> None:
    for account in accounts:
        assert_problem(get_couple(client, account), 404)


def parse_time(value: str) -> datetime:
    assert RFC3339.match(value), value
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None
    return parsed


def couple_row(db: Any, couple_id: str) -> Any:
    statement = (
        text("SELECT ended_at FROM couples WHERE id = :id")
        .bindparams(bindparam("id", type_=Uuid()))
        .columns(ended_at=UTCDateTime())
    )
    with db.engine.connect() as conn:
        return conn.execute(statement, {"id": uuid.UUID(couple_id)}).one()


def active_members(db: Any, couple_id: str) -> int:
    statement = text(
        "SELECT count(*) FROM couple_members WHERE couple_id = :id AND left_at IS NULL"
    ).bindparams(bindparam("id", type_=Uuid()))
    with db.engine.connect() as conn:
        return int(conn.execute(statement, {"id": uuid.UUID(couple_id)}).scalar_one())


# --- invites ---------------------------------------------------------------------------


def test_invite_is_a_crockford_code_valid_for_72_hours(client, clock):
    alex = register(client)

    response = client.post("/v1/couple/invites", headers=alex.headers)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"code", "expires_at"}
    assert CODE.match(body["code"]), body["code"]
    assert parse_time(body["expires_at"]) == clock.now() + timedelta(hours=72)


def test_invite_codes_differ(client):
    alex, sam = register(client), register(client)
    issued = [invite(client, alex), invite(client, alex), invite(client, sam)]
    assert len(set(issued)) == len(issued)


def test_new_invite_revokes_the_previous_code(client):
    alex, sam = register(client), register(client)
    old = invite(client, alex)
    new = invite(client, alex)

    assert_problem(join(client, sam, old), 404)
    assert_unpaired(client, sam)
    assert join(client, sam, new).status_code == 201


# --- joining ---------------------------------------------------------------------------


def test_pairing_revokes_both_partners_other_codes(client):
    alex, sam, kim = register(client), register(client), register(client)
    alex_code = invite(client, alex)
    kim_code = invite(client, kim)
    assert join(client, alex, kim_code).status_code == 201
    end_couple(client, alex)
    # Alex's code made before pairing with Kim must not pair Alex with somebody later.
    assert_problem(join(client, sam, alex_code), 404)
    assert_unpaired(client, sam)


def test_join_pairs_the_joiner_with_the_inviter(client, clock):
    alex = register(client, display_name="Alex", timezone="America/New_York")
    sam = register(client, display_name="Sam", timezone="Asia/Tokyo")

    response = join(client, sam, invite(client, alex))

    assert response.status_code == 201, response.text
    couple = response.json()
    assert couple["partner"] == {"id": alex.id, "display_name": "Alex"}
    assert couple["timezone"] == "America/New_York"
    assert couple["day_start_hour"] == 4
    assert couple["half_life_hours"] == 72
    assert parse_time(couple["created_at"]) == clock.now()
    assert uuid.UUID(couple["id"])

    seen_by_sam, seen_by_alex = couple_of(client, sam), couple_of(client, alex)
    assert seen_by_sam == couple
    assert seen_by_alex["id"] == couple["id"]
    assert seen_by_alex["partner"] == {"id": sam.id, "display_name": "Sam"}
    assert parse_time(seen_by_alex["created_at"]) == clock.now()


@pytest.mark.parametrize(
    "typed",
    [
        "01ab01cd",  # lower case
        "01AB-01CD",  # grouped with a hyphen
        "0IAB0LCD",  # I and L for 1
        "OIABOLCD",  # O for 0
        " oiab-olcd ",  # all of it, with stray spaces
    ],
)
def test_typed_codes_are_forgiving(client, monkeypatch, typed):
    monkeypatch.setattr(codes, "new_code", lambda: "01AB01CD")
    alex, sam = register(client), register(client)
    assert invite(client, alex) == "01AB01CD"

    response = join(client, sam, typed)

    assert response.status_code == 201, response.text
    assert response.json()["partner"]["id"] == alex.id


def test_unknown_code_is_not_found(client):
    alex, sam = register(client), register(client)
    invite(client, alex)

    assert_problem(join(client, sam, UNKNOWN_CODE), 404)
    assert_unpaired(client, sam, alex)


@pytest.mark.parametrize("code", ["!!", "ABCD", "ABCDEFGHJ", "ABCDEFGU", "", "x" * 33, 12345])
def test_malformed_code_is_a_client_error(client, code):
    sam = register(client)

    response = join(client, sam, code)

    assert response.status_code in (404, 422), response.text
    assert_problem(response, response.status_code)
    assert_unpaired(client, sam)


def test_own_code_is_refused(client):
    alex = register(client)

    body = assert_problem(join(client, alex, invite(client, alex)), 422)

    assert body["errors"][0]["loc"] == ["body", "code"]
    assert_unpaired(client, alex)


def test_used_code_is_gone(client):
    alex, sam, kim = register(client), register(client), register(client)
    code = invite(client, alex)
    assert join(client, sam, code).status_code == 201

    assert_problem(join(client, kim, code), 410)
    assert_unpaired(client, kim)
    assert couple_of(client, alex)["partner"]["id"] == sam.id


def test_expired_code_is_gone(client, clock):
    alex = register(client)
    code = invite(client, alex)
    clock.advance(hours=72, seconds=1)
    sam = register(client)  # a fresh access token at the new time

    assert_problem(join(client, sam, code), 410)
    assert_unpaired(client, sam)


def test_code_works_until_it_expires(client, clock):
    alex = register(client)
    code = invite(client, alex)
    clock.advance(hours=72, seconds=-1)
    sam = register(client)

    assert join(client, sam, code).status_code == 201


def test_joiner_already_paired_is_a_conflict(client):
    alex, sam = pair(client)
    kim = register(client)

    assert_problem(join(client, sam, invite(client, kim)), 409)
    assert couple_of(client, sam)["partner"]["id"] == alex.id
    assert_unpaired(client, kim)


def test_code_of_an_inviter_paired_elsewhere_meanwhile_stops_working(client):
    alex, sam, kim = register(client), register(client), register(client)
    alex_code = invite(client, alex)
    assert join(client, alex, invite(client, kim)).status_code == 201

    # Pairing revoked Alex's open code; the service's own 409 guards only against races.
    assert_problem(join(client, sam, alex_code), 404)
    assert_unpaired(client, sam)
    assert couple_of(client, alex)["partner"]["id"] == kim.id


def test_invite_while_paired_is_a_conflict(client):
    alex, sam = pair(client)

    for account in (alex, sam):
        assert_problem(client.post("/v1/couple/invites", headers=account.headers), 409)


def test_coach_cannot_invite_or_join(client):
    coach, alex = register(client, role="coach"), register(client)
    code = invite(client, alex)

    assert_problem(client.post("/v1/couple/invites", headers=coach.headers), 403)
    assert_problem(join(client, coach, code), 403)
    assert_problem(get_couple(client, coach), 403)
    assert_unpaired(client, alex)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/couple/invites", None),
        ("POST", "/v1/couple/join", {"code": UNKNOWN_CODE}),
        ("GET", "/v1/couple", None),
        ("PATCH", "/v1/couple", {"day_start_hour": 5}),
        ("DELETE", "/v1/couple", None),
    ],
)
def test_couple_endpoints_need_a_token(client, method, path, body):
    response = client.request(method, path, json=body)

    assert_problem(response, 401)
    assert response.headers["www-authenticate"].lower().startswith("bearer")


# --- guessing is rate limited ----------------------------------------------------------


def _fail_joins(client: Any, account: Account, times: int) -> None:
    for _ in range(times):
        assert_problem(join(client, account, UNKNOWN_CODE), 404)


def test_join_guessing_is_rate_limited(client, clock, settings):
    alex, sam = register(client), register(client)
    code = invite(client, alex)
    _fail_joins(client, sam, settings.join_max_failures)

    blocked = join(client, sam, code)

    retry_after = assert_throttled(blocked)
    assert_unpaired(client, sam, alex)

    clock.advance(seconds=retry_after - 1)
    assert_problem(join(client, sam, code), 429)

    clock.advance(seconds=1)
    response = join(client, sam, code)
    assert response.status_code == 201, response.text
    assert response.json()["partner"]["id"] == alex.id


def test_join_rate_limit_is_per_user(client, settings):
    alex, sam, kim = register(client), register(client), register(client)
    code = invite(client, alex)
    _fail_joins(client, sam, settings.join_max_failures)
    assert_problem(join(client, sam, code), 429)

    assert_problem(join(client, kim, UNKNOWN_CODE), 404)
    assert join(client, kim, code).status_code == 201


def test_successful_join_resets_the_guess_counter(client, settings):
    alex, sam = register(client), register(client)
    _fail_joins(client, sam, settings.join_max_failures - 1)
    assert join(client, sam, invite(client, alex)).status_code == 201
    end_couple(client, sam)

    _fail_joins(client, sam, settings.join_max_failures)
    assert_problem(join(client, sam, UNKNOWN_CODE), 429)


# --- reading and changing the couple ---------------------------------------------------


def test_get_couple_when_unpaired_is_not_found(client):
    alex = register(client)
    invite(client, alex)  # an open invite is not a couple

    body = assert_problem(get_couple(client, alex), 404)
    assert body["detail"]


@pytest.mark.parametrize(
    "changes",
    [
        {"timezone": "America/Sao_Paulo"},
        {"day_start_hour": 0},
        {"day_start_hour": 23},
        {"half_life_hours": 24},
        {"half_life_hours": 720},
        {"timezone": "Pacific/Auckland", "day_start_hour": 6, "half_life_hours": 96},
    ],
)
def test_update_couple_is_visible_to_the_partner(client, changes):
    alex, sam = pair(client)
    before = couple_of(client, alex)

    response = patch_couple(client, alex, changes)

    assert response.status_code == 200, response.text
    expected = {**before, **changes}
    assert response.json() == expected
    assert couple_of(client, alex) == expected
    seen_by_sam = couple_of(client, sam)
    assert {key: seen_by_sam[key] for key in changes} == changes
    assert seen_by_sam["id"] == before["id"]


def test_update_couple_by_the_joiner(client):
    alex, sam = pair(client)

    assert patch_couple(client, sam, {"day_start_hour": 2}).status_code == 200

    assert couple_of(client, alex)["day_start_hour"] == 2


def test_empty_update_changes_nothing(client):
    alex, _ = pair(client)
    before = couple_of(client, alex)

    response = patch_couple(client, alex, {})

    assert response.status_code == 200, response.text
    assert response.json() == before


@pytest.mark.parametrize(
    "body",
    [
        {"day_start_hour": 24},
        {"day_start_hour": -1},
        {"day_start_hour": "four"},
        {"half_life_hours": 23},
        {"half_life_hours": 721},
        {"half_life_hours": 72.5},
        {"timezone": "Mars/Olympus_Mons"},
        {"timezone": ""},
        {"timezone": None},
        {"day_start_hour": None},
        {"half_life_hours": None},
        {"id": str(uuid.uuid4())},
        {"created_at": "2020-01-01T00:00:00Z"},
        {"timezone": "Asia/Tokyo", "day_start_hour": 24},  # nothing half written
        {"half_life_hours": 96, "partner": {"id": str(uuid.uuid4())}},
    ],
)
def test_update_couple_rejects_bad_input(client, body):
    alex, sam = pair(client)
    before = couple_of(client, alex)

    problem = assert_problem(patch_couple(client, alex, body), 422)

    assert problem["errors"]
    assert couple_of(client, alex) == before
    assert couple_of(client, sam)["id"] == before["id"]


# --- ending the couple -----------------------------------------------------------------


@pytest.mark.parametrize("ender", ["inviter", "joiner"])
def test_either_partner_ends_the_couple(client, db, clock, ender):
    alex, sam = pair(client)
    couple_id = couple_of(client, alex)["id"]
    clock.advance(minutes=10)  # within the access token's lifetime

    end_couple(client, alex if ender == "inviter" else sam)

    assert_unpaired(client, alex, sam)
    assert_problem(client.delete("/v1/couple", headers=alex.headers), 404)
    assert_problem(patch_couple(client, sam, {"day_start_hour": 5}), 404)
    assert couple_row(db, couple_id).ended_at == clock.now()
    assert active_members(db, couple_id) == 0


def test_partners_can_pair_again_with_each_other(client, db):
    alex, sam = pair(client)
    old_id = couple_of(client, alex)["id"]
    end_couple(client, sam)

    response = join(client, alex, invite(client, sam))

    assert response.status_code == 201, response.text
    new_id = response.json()["id"]
    assert new_id != old_id
    assert couple_of(client, sam)["id"] == new_id
    assert couple_of(client, sam)["partner"]["id"] == alex.id
    assert couple_row(db, old_id).ended_at is not None
    assert couple_row(db, new_id).ended_at is None
    assert active_members(db, new_id) == 2


def test_partners_can_pair_with_others_after_ending(client):
    alex, sam = pair(client)
    end_couple(client, alex)
    kim, lee = register(client), register(client)

    pair(client, alex, kim)
    pair(client, lee, sam)

    assert couple_of(client, kim)["partner"]["id"] == alex.id
    assert couple_of(client, sam)["partner"]["id"] == lee.id
    assert couple_of(client, alex)["id"] != couple_of(client, sam)["id"]


# --- the database keeps one active couple per partner ----------------------------------


def test_database_allows_one_active_couple_per_partner(client, db, clock):
    alex, sam = pair(client)
    before = couple_of(client, alex)
    indexes = {index["name"] for index in inspect(db.engine).get_indexes("couple_members")}
    assert "uq_couple_members_active_user" in indexes

    now, other_id = clock.now(), uuid.uuid4()
    with db.engine.begin() as conn:
        conn.execute(insert(Couple.__table__).values(id=other_id, created_at=now, timezone="UTC"))
    membership = {"couple_id": other_id, "user_id": uuid.UUID(alex.id), "joined_at": now}

    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.execute(insert(CoupleMember.__table__).values(**membership))

    with db.engine.begin() as conn:  # an ended membership does not conflict
        conn.execute(insert(CoupleMember.__table__).values(**membership, left_at=now))
    assert couple_of(client, alex) == before
    assert couple_of(client, sam)["id"] == before["id"]


# --- concurrency -----------------------------------------------------------------------


@pytest.mark.parametrize("round_", range(3))
def test_racing_joins_with_one_code_pair_only_one(client, round_):
    alex, sam, kim = register(client), register(client), register(client)
    code = invite(client, alex)
    start = threading.Barrier(2)

    def attempt(account: Account) -> Any:
        start.wait()
        return join(client, account, code)

    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(attempt, [sam, kim]))

    statuses = sorted(response.status_code for response in responses)
    assert statuses[0] == 201, [response.text for response in responses]
    assert statuses[1] in (409, 410), [response.text for response in responses]
    loser = next(r for r in responses if r.status_code != 201)
    assert_problem(loser, loser.status_code)

    winner, other = (sam, kim) if responses[0].status_code == 201 else (kim, sam)
    assert couple_of(client, alex)["partner"]["id"] == winner.id
    assert couple_of(client, winner)["partner"]["id"] == alex.id
    assert_unpaired(client, other)
