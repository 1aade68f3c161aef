"""Random offline edits on two phones, then sync, equal a single writer's replay.

Each phone is a small model of WatermelonDB's local store and its synchronize() (pull,
merge keeping the columns changed locally, push, retry on 409, replacement): the slow,
obviously right side. Alex's phone syncs first, then Sam's; the server must end as if one
writer had made Alex's edits and then Sam's through the REST API, and both phones must hold
exactly what GET /v1/bids shows.
"""

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.bids.models import Bid
from app.clock import epoch_ms, from_epoch_ms
from tests.factories import Account, pair
from tests.sync.recompute import assert_account_recomputes

KINDS = ["hug", "kiss", "question", "compliment", "smile"]
RESPONSES = ["pending", "toward", "away", "against"]
COMPARED = ("kind", "initiator", "occurred_at", "duration_seconds", "note", "response", "deposit")


@dataclass
class Local:
    raw: dict[str, Any]
    status: str  # synced | created | updated | deleted
    changed: set[str] = field(default_factory=set)


class Phone:
    """WatermelonDB's local store and synchronize(), in miniature."""

    def __init__(self, client: Any, account: Account) -> None:
        self.client, self.account = client, account
        self.records: dict[str, Local] = {}
        self.last_pulled_at: int | None = None

    def create(self, raw: dict[str, Any]) -> None:
        self.records[raw["id"]] = Local(raw, "created")

    def update(self, record_id: str, **columns: Any) -> None:
        record = self.records[record_id]
        record.raw.update(columns)
        if record.status == "synced":
            record.status = "updated"
        record.changed |= set(columns)

    def delete(self, record_id: str) -> None:
        if self.records[record_id].status == "created":
            del self.records[record_id]
        else:
            self.records[record_id].status = "deleted"

    def live(self) -> dict[str, Local]:
        return {i: r for i, r in self.records.items() if r.status != "deleted"}

    def sync(self) -> None:
        for _ in range(3):
            self._pull()
            changes = self._changes()
            if not any(changes["bids"].values()):
                return
            pushed = self.client.post(
                f"/v1/sync?last_pulled_at={self.last_pulled_at}",
                json={"changes": changes},
                headers=self.account.headers,
            )
            if pushed.status_code == 409:
                continue
            assert pushed.status_code == 200, pushed.text
            rejected = set(pushed.json().get("experimentalRejectedIds", {}).get("bids", []))
            self._mark_synced(changes["bids"], rejected)
            return
        raise AssertionError("three pushes in a row met a 409")

    def _pull(self) -> None:
        since = "null" if self.last_pulled_at is None else self.last_pulled_at
        response = self.client.get(f"/v1/sync?last_pulled_at={since}", headers=self.account.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        bids = body["changes"]["bids"]
        for raw in bids["updated"]:
            local = self.records.get(raw["id"])
            if local is None or local.status == "synced":
                self.records[raw["id"]] = Local(dict(raw), "synced")
            elif local.status == "updated":  # the server's record, with the local changes
                local.raw = {**raw, **{c: local.raw[c] for c in local.changed}}
        for record_id in bids["deleted"]:
            self.records.pop(record_id, None)  # a remote deletion wins over a local edit
        if body.get("experimentalStrategy") == "replacement":
            sent = {raw["id"] for raw in bids["updated"]}
            for record_id in [i for i, r in self.records.items() if r.status != "created"]:
                if record_id not in sent:
                    del self.records[record_id]
        self.last_pulled_at = body["timestamp"]

    def _changes(self) -> dict[str, Any]:
        def pushed(record: Local) -> dict[str, Any]:
            return {**record.raw, "_status": record.status, "_changed": ",".join(record.changed)}

        return {
            "bids": {
                "created": [pushed(r) for r in self.records.values() if r.status == "created"],
                "updated": [pushed(r) for r in self.records.values() if r.status == "updated"],
                "deleted": [i for i, r in self.records.items() if r.status == "deleted"],
            }
        }

    def _mark_synced(self, bids: dict[str, Any], rejected: set[str]) -> None:
        for raw in bids["created"] + bids["updated"]:
            if raw["id"] not in rejected:
                self.records[raw["id"]].status, self.records[raw["id"]].changed = "synced", set()
        for record_id in bids["deleted"]:
            if record_id not in rejected:
                del self.records[record_id]


class Replay:
    """The same edits made by one writer through the REST API, on a couple of its own."""

    def __init__(self, client: Any, accounts: dict[str, Account]) -> None:
        self.client, self.accounts = client, accounts
        self.ids: dict[str, str] = {}

    def apply(self, who: str, op: tuple[Any, ...], record_id: str | None) -> None:
        headers = self.accounts[who].headers
        if op[0] == "create":
            self.ids[record_id or ""] = new = str(uuid.uuid4())
            _, kind, initiator, response, minutes_ago, now_ms = op
            self.client.post(
                "/v1/bids",
                json={
                    "id": new,
                    "kind": kind,
                    "initiator": initiator,
                    "response": response,
                    "occurred_at": _iso(now_ms - minutes_ago * 60_000),
                },
                headers=headers,
            )
        elif op[0] == "note" and record_id in self.ids:
            self.client.patch(
                f"/v1/bids/{self.ids[record_id]}", json={"note": op[2]}, headers=headers
            )
        elif op[0] == "answer" and record_id in self.ids:
            self.client.put(
                f"/v1/bids/{self.ids[record_id]}/response",
                json={"response": op[2]},
                headers=headers,
            )
        elif op[0] == "delete" and record_id in self.ids:
            self.client.delete(f"/v1/bids/{self.ids[record_id]}", headers=headers)


def _iso(ms: int) -> str:
    return from_epoch_ms(ms).isoformat()


ops = st.lists(
    st.tuples(
        st.sampled_from(["alex", "sam"]),
        st.one_of(
            st.tuples(
                st.just("create"),
                st.sampled_from(KINDS),
                st.sampled_from(["me", "partner"]),
                st.sampled_from(RESPONSES),
                st.integers(0, 600),
            ),
            st.tuples(st.just("note"), st.integers(0, 20), st.sampled_from(["a", "b", None])),
            st.tuples(st.just("answer"), st.integers(0, 20), st.sampled_from(RESPONSES)),
            st.tuples(st.just("delete"), st.integers(0, 20)),
        ),
    ),
    max_size=14,
)
_names = itertools.count()


def _edit(phone: Phone, op: tuple[Any, ...], now_ms: int) -> tuple[tuple[Any, ...], str | None]:
    """Make one edit on the phone, offline; answers it and the record it touched (None when
    the phone had no record it could make it on)."""
    live = sorted(phone.live())
    own = [
        i
        for i in live
        if phone.records[i].status == "created" or phone.records[i].raw.get("logged_by") == "me"
    ]
    if op[0] == "create":
        record_id = str(uuid.uuid4())
        phone.create(
            {
                "id": record_id,
                "kind": op[1],
                "initiator": op[2],
                "response": op[3],
                "occurred_at": now_ms - op[4] * 60_000,
                "duration_seconds": None,
                "note": None,
            }
        )
        return (*op, now_ms), record_id
    if op[0] == "answer" and live:
        record_id = live[op[1] % len(live)]
        phone.update(record_id, response=op[2])
        return op, record_id
    if op[0] in ("note", "delete") and own:
        record_id = own[op[1] % len(own)]
        if op[0] == "note":
            phone.update(record_id, note=op[2])
        else:
            phone.delete(record_id)
        return op, record_id
    return op, None


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rounds=st.lists(ops, min_size=1, max_size=3), warmup=st.booleans())
def test_offline_edits_then_sync_equal_a_single_writers_replay(client, clock, db, rounds, warmup):
    n = next(_names)
    alex, sam = pair(client)
    phones = {"alex": Phone(client, alex), "sam": Phone(client, sam)}
    replay = Replay(client, dict(zip(("alex", "sam"), pair(client), strict=True)))
    if warmup:  # phones that synced before going offline, or fresh installs
        for phone in phones.values():
            phone.sync()
    now_ms = epoch_ms(clock.now())
    for offline in rounds:
        done: dict[str, list[tuple[tuple[Any, ...], str | None]]] = {"alex": [], "sam": []}
        for who, op in offline:
            done[who].append(_edit(phones[who], op, now_ms))
        # Each pushes once it has pulled the other's changes, and pulls once more what the
        # server made of its own push (deposits, who logged it).
        for who in ("alex", "sam", "alex", "sam", "alex", "sam"):
            phones[who].sync()
        for who in ("alex", "sam"):  # one writer: Alex's edits of the round, then Sam's
            for op, record_id in done[who]:
                if record_id is not None:
                    replay.apply(who, op, record_id)

    with Session(db.engine) as session:
        synced = {
            str(b.id): b
            for b in session.scalars(
                select(Bid).where(Bid.id.in_([uuid.UUID(i) for i in replay.ids]))
            )
        }
        replayed = {
            str(b.id): b
            for b in session.scalars(
                select(Bid).where(Bid.id.in_([uuid.UUID(i) for i in replay.ids.values()]))
            )
        }
        assert {replay.ids[i] for i in synced} == set(replayed), n
        for record_id, bid in synced.items():
            twin = replayed[replay.ids[record_id]]
            for column in ("kind", "note", "response", "deposit", "duration_seconds"):
                assert getattr(bid, column) == getattr(twin, column), (column, n)
            assert bid.occurred_at == twin.occurred_at
        if synced:
            assert_account_recomputes(session, next(iter(synced.values())).couple_id, clock.now())

    for who, account in (("alex", alex), ("sam", sam)):
        listed = client.get("/v1/bids?limit=200", headers=account.headers).json()["items"]
        local = phones[who].live()
        assert {b["id"] for b in listed} == set(local)
        for bid in listed:
            raw = local[bid["id"]].raw
            assert local[bid["id"]].status == "synced"
            for column in ("kind", "note", "response", "initiator", "deposit"):
                assert raw[column] == bid[column], (who, column)
