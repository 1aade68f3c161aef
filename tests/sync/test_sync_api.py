"""GET and POST /v1/sync as WatermelonDB's protocol and the contract say, on both engines."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.bids.models import Bid, BidTombstone
from app.clock import epoch_ms
from app.housekeeping import purge
from app.outbox.models import Notification
from tests.factories import Account, assert_problem, login, pair, register
from tests.sync.recompute import assert_account_recomputes

EMPTY = {"created": [], "updated": [], "deleted": []}


def pull(client: Any, account: Account, last_pulled_at: int | None = None) -> dict[str, Any]:
    since = "null" if last_pulled_at is None else str(last_pulled_at)
    response = client.get(f"/v1/sync?last_pulled_at={since}", headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def push(client: Any, account: Account, last_pulled_at: int, changes: dict[str, Any]) -> Any:
    return client.post(
        f"/v1/sync?last_pulled_at={last_pulled_at}",
        json={"changes": changes},
        headers=account.headers,
    )


def ids(pulled: dict[str, Any], table: str, part: str = "updated") -> set[str]:
    return {r if isinstance(r, str) else r["id"] for r in pulled["changes"][table][part]}


def raw_bid(now_ms: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "kind": "hug",
        "initiator": "me",
        "occurred_at": now_ms - 60_000,
        "duration_seconds": 25,
        "note": None,
        "response": "pending",
        "_status": "created",
        "_changed": "",
        **fields,
    }


def log_bid(client: Any, account: Account, **body: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/bids", json={"kind": "hug", "initiator": "me", **body}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


@pytest.fixture
def couple(client: Any) -> tuple[Account, Account]:
    return pair(client)


def test_a_first_pull_has_everything_the_partner_may_see_and_the_next_only_changes(
    client, couple, clock
):
    alex, sam = couple
    mine = log_bid(client, alex, note="Before work")
    theirs = log_bid(client, sam, kind="question")
    clock.advance(minutes=2)

    first = pull(client, alex)
    assert "experimentalStrategy" not in first
    assert ids(first, "bids") == {mine["id"], theirs["id"]}
    assert first["changes"]["bids"]["created"] == []
    by_id = {r["id"]: r for r in first["changes"]["bids"]["updated"]}
    # The REST object's columns, instants in ms, me/partner as Alex sees them.
    assert by_id[mine["id"]]["note"] == "Before work"
    assert by_id[mine["id"]]["logged_by"] == "me"
    assert by_id[theirs["id"]]["initiator"] == "partner"
    assert by_id[theirs["id"]]["occurred_at"] == epoch_ms(clock.now() - timedelta(minutes=2))
    # Sam's bid waits for Alex's answer: his inbox has the nudge, and the couple its row.
    assert len(first["changes"]["notifications"]["updated"]) == 1
    [row] = first["changes"]["couples"]["updated"]
    assert row["partner_name"] == "Sam" and row["ended_at"] is None
    assert first["timestamp"] >= epoch_ms(clock.now())

    clock.advance(minutes=2)
    quiet = pull(client, alex, first["timestamp"])
    assert quiet["changes"] == {"bids": EMPTY, "notifications": EMPTY, "couples": EMPTY}

    answered = client.put(
        f"/v1/bids/{theirs['id']}/response", json={"response": "toward"}, headers=alex.headers
    )
    assert answered.status_code == 200, answered.text
    deleted = client.delete(f"/v1/bids/{mine['id']}", headers=alex.headers)
    assert deleted.status_code == 204
    changed = pull(client, sam, quiet["timestamp"] - 1)
    assert ids(changed, "bids") == {theirs["id"]}
    assert changed["changes"]["bids"]["deleted"] == [mine["id"]]
    assert changed["changes"]["bids"]["updated"][0]["response"] == "toward"


def test_a_push_goes_through_the_same_rules_as_rest(client, couple, clock, db):
    alex, sam = couple
    now = epoch_ms(clock.now())
    sams = log_bid(client, sam, note="Sam's own words")
    base = pull(client, alex)["timestamp"]
    new = raw_bid(now, response="toward")
    too_old = raw_bid(now, occurred_at=now - 8 * 24 * 3600_000)
    rewritten = {**pull(client, alex)["changes"]["bids"]["updated"][0], "note": "Alex's words"}
    {**rewritten, "note": "Sam's own words", "response": "toward", "id": sams["id"]}
    resurrected = raw_bid(now)  # an update of a bid the server never had creates it

    response = push(
        client,
        alex,
        base,
        {
            "bids": {
                "created": [new, too_old],
                "updated": [rewritten, {**resurrected, "_status": "updated"}],
                "deleted": [str(uuid.uuid4())],  # never synced: nothing to delete
            }
        },
    )
    assert response.status_code == 200, response.text
    # Sam's note is his own and a week back is too far: rejected by id, the rest applied.
    assert response.json() == {"experimentalRejectedIds": {"bids": [too_old["id"], sams["id"]]}}
    with Session(db.engine) as session:
        stored = {str(b.id): b for b in session.scalars(select(Bid))}
    assert set(stored) == {sams["id"], new["id"], resurrected["id"]}
    assert stored[sams["id"]].note == "Sam's own words"
    assert stored[sams["id"]].response == "pending"  # its one record was rejected whole
    assert stored[new["id"]].deposit == 3.0  # a 25 s hug lingers: 2 × 1.5
    # The new pending bid nudged Sam, as a REST create does.
    with Session(db.engine) as session:
        nudged = session.scalars(
            select(Notification.data).where(Notification.kind == "partner_bid")
        )
        assert {d["bid_id"] for d in nudged} == {sams["id"], resurrected["id"]}

    # Sam answers on his phone; the replayed create changes nothing.
    sams_view = pull(client, sam)
    mine = next(r for r in sams_view["changes"]["bids"]["updated"] if r["id"] == new["id"])
    again = push(client, alex, base, {"bids": {"created": [new], "updated": [], "deleted": []}})
    assert again.status_code == 200 and again.json() == {}
    answer = push(
        client,
        sam,
        sams_view["timestamp"],
        {"bids": {**EMPTY, "updated": [{**mine, "response": "away"}]}},
    )
    assert answer.status_code == 200 and answer.json() == {}
    with Session(db.engine) as session:
        assert session.get_one(Bid, uuid.UUID(new["id"])).response == "away"
        assert session.scalar(select(func.count()).select_from(Bid)) == 3
        assert_account_recomputes(
            session, session.get_one(Bid, uuid.UUID(new["id"])).couple_id, clock.now()
        )


def test_a_record_changed_since_the_pull_refuses_the_whole_push(client, couple, clock, db):
    alex, _sam = couple
    bid = log_bid(client, alex)
    base = pull(client, alex)
    raw = base["changes"]["bids"]["updated"][0]
    clock.advance(seconds=5)
    client.patch(f"/v1/bids/{bid['id']}", json={"note": "from the laptop"}, headers=alex.headers)
    new = raw_bid(epoch_ms(clock.now()))

    response = push(
        client,
        alex,
        base["timestamp"],
        {"bids": {"created": [new], "updated": [{**raw, "note": "from the phone"}], "deleted": []}},
    )
    assert_problem(response, 409)
    with Session(db.engine) as session:  # nothing applied, the new bid neither
        assert session.scalar(select(func.count()).select_from(Bid)) == 1
        assert session.get_one(Bid, uuid.UUID(bid["id"])).note == "from the laptop"
    # After a pull, the same push goes through.
    fresh = pull(client, alex, base["timestamp"])
    retried = push(
        client,
        alex,
        fresh["timestamp"],
        {"bids": {"created": [new], "updated": [{**raw, "note": "from the phone"}], "deleted": []}},
    )
    assert retried.status_code == 200, retried.text
    # A deletion on the server since the pull is a change too.
    client.delete(f"/v1/bids/{bid['id']}", headers=alex.headers)
    stale = push(client, alex, fresh["timestamp"], {"bids": {**EMPTY, "deleted": [bid["id"]]}})
    assert_problem(stale, 409)


def test_the_inbox_read_state_syncs_both_ways(client, couple, clock, db):
    alex, sam = couple
    for _ in range(2):
        log_bid(client, sam)
    clock.advance(minutes=2)
    first = pull(client, alex)
    one, two = first["changes"]["notifications"]["updated"]
    read = push(
        client,
        alex,
        first["timestamp"],
        {
            "notifications": {
                **EMPTY,
                "updated": [
                    {
                        **one,
                        "read_at": epoch_ms(clock.now()),
                        "_status": "updated",
                        "_changed": "read_at",
                    }
                ],
            }
        },
    )
    assert read.status_code == 200 and read.json() == {}
    client.post(f"/v1/me/notifications/{two['id']}/read", headers=alex.headers)
    clock.advance(minutes=2)
    after = pull(client, alex, first["timestamp"])
    read_at = {r["id"]: r["read_at"] for r in after["changes"]["notifications"]["updated"]}
    assert read_at[one["id"]] is not None and read_at[two["id"]] is not None
    # Inbox entries are Tend's: a phone cannot make or delete one, nor change the couple.
    couple_row = first["changes"]["couples"]["updated"][0]
    refused = push(
        client,
        alex,
        after["timestamp"],
        {
            "notifications": {**EMPTY, "deleted": [one["id"]]},
            "couples": {**EMPTY, "updated": [{**couple_row, "half_life_hours": 24}]},
        },
    )
    assert refused.status_code == 200, refused.text
    assert refused.json() == {
        "experimentalRejectedIds": {"notifications": [one["id"]], "couples": [couple_row["id"]]}
    }
    # A deleted bid takes the partner's nudge about it along, from the phone's inbox too.
    bid = log_bid(client, sam)
    clock.advance(minutes=2)
    seen = pull(client, alex, after["timestamp"])
    [nudge] = seen["changes"]["notifications"]["updated"]
    client.delete(f"/v1/bids/{bid['id']}", headers=sam.headers)
    gone = pull(client, alex, seen["timestamp"])
    assert gone["changes"]["notifications"]["deleted"] == [nudge["id"]]


def test_pairing_ending_a_new_couple_and_an_erased_partner(client, clock, db):
    alex = register(client, display_name="Alex")
    sam = register(client, display_name="Sam")
    alone = pull(client, alex)
    assert alone["changes"]["couples"]["updated"] == [] and ids(alone, "bids") == set()

    pair(client, alex, sam)
    log_bid(client, sam, kind="kiss", response="toward")
    clock.advance(minutes=2)
    paired = pull(client, alex, alone["timestamp"])
    # A couple the phone has not seen: the full set replaces what it holds.
    assert paired["experimentalStrategy"] == "replacement"
    assert len(paired["changes"]["couples"]["updated"]) == 1 and len(ids(paired, "bids")) == 1

    assert client.delete("/v1/couple", headers=sam.headers).status_code == 204
    ended = pull(client, alex, paired["timestamp"])
    assert "experimentalStrategy" not in ended
    assert ended["changes"]["couples"]["updated"][0]["ended_at"] == epoch_ms(clock.now())
    assert ended["changes"]["bids"] == EMPTY  # the history stays on the phone

    robin = register(client, display_name="Robin")
    pair(client, alex, robin)
    clock.advance(minutes=2)
    again = pull(client, alex, ended["timestamp"])
    assert again["experimentalStrategy"] == "replacement"
    assert ids(again, "bids") == set()  # the phone drops Sam's bids
    assert again["changes"]["couples"]["updated"][0]["partner_name"] == "Robin"

    bid = log_bid(client, robin)
    mine = log_bid(client, alex)
    clock.advance(minutes=2)
    seen = pull(client, alex, again["timestamp"])
    assert ids(seen, "bids") == {bid["id"], mine["id"]}
    erased = client.request(
        "DELETE", "/v1/me", json={"password": robin.password}, headers=robin.headers
    )
    assert erased.status_code == 204, erased.text
    after = pull(client, alex, seen["timestamp"])
    assert after["changes"]["bids"]["deleted"] == [bid["id"]]
    [row] = after["changes"]["couples"]["updated"]
    assert row["ended_at"] is not None and row["partner_id"] is None


def test_deletions_are_kept_ninety_days_then_an_older_pull_gets_the_full_set(
    client, couple, clock, db, settings
):
    alex, _sam = couple
    keep, drop = log_bid(client, alex), log_bid(client, alex)
    base = pull(client, alex)
    client.delete(f"/v1/bids/{drop['id']}", headers=alex.headers)
    clock.advance(days=89)
    login(client, alex)
    with Session(db.engine) as session, session.begin():
        purge(session, clock.now(), keep_tombstones=timedelta(days=settings.sync_tombstone_days))
    recent = pull(client, alex, base["timestamp"])
    assert "experimentalStrategy" not in recent
    assert recent["changes"]["bids"]["deleted"] == [drop["id"]]

    clock.advance(days=2)
    login(client, alex)
    with Session(db.engine) as session, session.begin():
        purge(session, clock.now(), keep_tombstones=timedelta(days=settings.sync_tombstone_days))
        assert session.scalar(select(func.count()).select_from(BidTombstone)) == 0
    old = pull(client, alex, base["timestamp"])
    assert old["experimentalStrategy"] == "replacement"
    assert ids(old, "bids") == {keep["id"]}


def test_sync_is_for_partners(client):
    coach = register(client, role="coach")
    assert_problem(client.get("/v1/sync", headers=coach.headers), 403)
    assert_problem(client.get("/v1/sync"), 401)
    assert_problem(client.post("/v1/sync?last_pulled_at=1", json={}), 401)


def _with(good: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {"bids": {**EMPTY, "created": [good, {**good, "id": str(uuid.uuid4()), **changes}]}}


BAD_PUSHES: dict[str, Any] = {
    "unknown table": lambda good: {
        "changes": {"bids": {**EMPTY, "created": [good]}, "moments": EMPTY}
    },
    "unknown column": lambda good: _with(good, mood="sunny"),
    "id not a uuid": lambda good: _with(good, id="not-a-uuid"),
    "instant as text": lambda good: _with(good, occurred_at="2026-03-10T10:00:00Z"),
    "instant as float": lambda good: _with(good, occurred_at=1773140400000.5),
    "instant as bool": lambda good: _with(good, occurred_at=True),
    "instant negative": lambda good: _with(good, occurred_at=-1),
    "kind unknown": lambda good: _with(good, kind="telepathy"),
    "initiator unknown": lambda good: _with(good, initiator="neighbour"),
    "note too long": lambda good: _with(good, note="x" * 1001),
    "changes not an object": lambda good: {"changes": [good]},
    "table not an object": lambda good: {"bids": [good]},
    "deleted not ids": lambda good: {"bids": {**EMPTY, "created": [good], "deleted": [good]}},
}


@pytest.mark.parametrize("case", list(BAD_PUSHES), ids=list(BAD_PUSHES))
def test_bad_input_is_a_clear_4xx_and_nothing_is_applied(client, couple, clock, db, case):
    alex, _ = couple
    base = pull(client, alex)["timestamp"]
    body = BAD_PUSHES[case](raw_bid(epoch_ms(clock.now())))
    response = client.post(f"/v1/sync?last_pulled_at={base}", json=body, headers=alex.headers)
    assert_problem(response, 422)
    with Session(db.engine) as session:
        assert session.scalar(select(func.count()).select_from(Bid)) == 0


@pytest.mark.parametrize(
    "query",
    [
        "last_pulled_at=soon",
        "last_pulled_at=-5",
        "last_pulled_at=1.5",
        "schema_version=0",
        "migration=%7Bnot-json",
    ],
)
def test_bad_pull_parameters_are_refused(client, couple, query):
    alex, _ = couple
    assert_problem(client.get(f"/v1/sync?{query}", headers=alex.headers), 422)


def test_a_last_pulled_at_in_the_future_is_refused(client, couple, clock, db):
    alex, _ = couple
    ahead = epoch_ms(clock.now() + timedelta(days=1))
    assert_problem(client.get(f"/v1/sync?last_pulled_at={ahead}", headers=alex.headers), 422)
    new = raw_bid(epoch_ms(clock.now()))
    refused = push(client, alex, ahead, {"bids": {**EMPTY, "created": [new]}})
    assert_problem(refused, 422)
    with Session(db.engine) as session:
        assert session.scalar(select(func.count()).select_from(Bid)) == 0


def test_a_push_of_more_records_than_the_limit_is_refused_whole(client, couple, clock, db):
    alex, _ = couple
    base = pull(client, alex)["timestamp"]
    many = [str(uuid.uuid4()) for _ in range(10_000)]
    new = raw_bid(epoch_ms(clock.now()))
    response = push(client, alex, base, {"bids": {**EMPTY, "created": [new], "deleted": many}})
    problem = assert_problem(response, 413)
    assert "5,000 records" in problem["detail"]
    with Session(db.engine) as session:
        assert session.scalar(select(func.count()).select_from(Bid)) == 0
