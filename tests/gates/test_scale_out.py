"""Scale-out: two API processes and two workers on one database, under load.

What a deployment with several replicas looks like, on this machine: two `tend serve`
processes (TEND_SCHEDULER=off, API only) on two ports, used alternately as a load balancer
would, and two `tend worker` processes (the scheduler alone, ticking every second), each
pushing to its own fake Expo server so that who sent what stays visible. Couples pair,
register phones and then, with many requests in flight, log bids (some waiting for an
answer, so they make partner_bid nudges; some backdated), replay creates with the same id
(a lost response retried, two copies racing on both processes), answer bids (sometimes
both partners at once, through different processes) and read the balance, while every
user's daily slot comes due on the workers.

Afterwards: no 5xx was ever answered (seen by the clients or in the servers' access logs);
every acknowledged bid is stored once and no other bid exists; each couple's balance, as
each process reports it, equals a full recomputation over the stored bids, and its day
rollups equal a rebuild from scratch; the outbox drains, every nudge is delivered, and
the fake Expo servers together received each one exactly once; both workers sent some.
It runs on SQLite too: four processes share one WAL database file on one host.
"""

import json
import math
import random
import statistics
import subprocess
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.bank.math import balance_at, deposit, scale
from app.bank.models import CoupleDay
from app.bids import service as bids_service
from app.bids.kinds import BY_KIND, KIND_NAMES
from app.bids.models import Bid
from app.couples.models import Couple
from app.db import writing
from app.nudges.models import NudgeSettings
from app.outbox.models import Device, Notification
from tests.conftest import TEST_SECRET
from tests.factories import EVERY_NUDGE
from tests.fake_expo import FakeExpo
from tests.processes import free_port, start, stop, tend_env, wait_ready

pytestmark = pytest.mark.slow

COUPLES = 20
IN_FLIGHT = 24
LOGS_PER_COUPLE = 20
ANSWERS_PER_COUPLE = 14
READS_PER_COUPLE = 12
PASSWORD = "a long test passphrase"
NOTE = "only for us, by the river"
DRAIN_SECONDS = 90
ANSWERS = ("toward", "away", "against")


# --- the clients' side: every request through one place, every answer recorded --------


@dataclass
class User:
    index: int
    id: uuid.UUID
    headers: dict[str, str]
    token: str = ""


@dataclass
class CoupleState:
    index: int
    a: User
    b: User
    id: uuid.UUID | None = None
    bids: list[uuid.UUID] = field(default_factory=list)  # acknowledged, newest last
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Acked:
    couple: int
    logged_by: uuid.UUID
    pending: bool  # created waiting for an answer: the partner gets a partner_bid nudge


class Fleet:
    """Two API processes behind a round-robin "load balancer", and what they answered."""

    def __init__(self, bases: list[str]) -> None:
        limits = httpx.Limits(max_connections=IN_FLIGHT * 2, max_keepalive_connections=IN_FLIGHT)
        self.clients = [httpx.Client(base_url=b, timeout=60, limits=limits) for b in bases]
        self._next = count()
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.problems: list[str] = []  # unexpected statuses and transport errors
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.responses = 0
        self.cut_off = 0  # requests whose answer the client deliberately never waited for
        self.creates: dict[uuid.UUID, list[int]] = defaultdict(list)
        self.acked: dict[uuid.UUID, Acked] = {}

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def pick(self) -> int:
        return next(self._next) % len(self.clients)

    def call(
        self,
        op: str,
        method: str,
        path: str,
        expect: set[int],
        *,
        via: int | None = None,
        **kwargs: Any,
    ) -> httpx.Response | None:
        process = self.pick() if via is None else via % len(self.clients)
        started = time.perf_counter()
        try:
            response = self.clients[process].request(method, path, **kwargs)
        except httpx.TransportError as exc:
            with self.lock:
                self.problems.append(f"{op} {method} {path} via {process}: {exc!r}")
            return None
        elapsed = time.perf_counter() - started
        with self.lock:
            self.responses += 1
            self.statuses[response.status_code] += 1
            self.latencies[op].append(elapsed)
            if response.status_code not in expect:
                self.problems.append(
                    f"{op} {method} {path} via {process}: {response.status_code} "
                    f"{response.text[:300]}"
                )
        return response if response.status_code in expect else None

    def cut(self, method: str, path: str, *, via: int, **kwargs: Any) -> None:
        """Send a request and stop listening at once, as a phone losing its signal does."""
        with self.lock:
            self.cut_off += 1
        try:
            self.clients[via % len(self.clients)].request(
                method, path, timeout=httpx.Timeout(30, read=0.001), **kwargs
            )
        except httpx.TimeoutException:
            return
        except httpx.TransportError as exc:
            with self.lock:
                self.problems.append(f"cut-off {method} {path}: {exc!r}")


def _together(*calls: Callable[[], None]) -> None:
    """Run the calls at the same moment on threads of their own, and wait for all."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], None]) -> None:
        barrier.wait()
        call()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# --- setup: accounts, couples, phones, nudge settings ---------------------------------


def _register(fleet: Fleet, index: int) -> User:
    response = fleet.call(
        "register",
        "POST",
        "/v1/auth/register",
        {201},
        json={
            "email": f"scale-{index}-{uuid.uuid4().hex[:8]}@example.com",
            "password": PASSWORD,
            "display_name": f"P{index}",
        },
    )
    assert response is not None, fleet.problems[-1:]
    body = response.json()
    return User(
        index, uuid.UUID(body["user"]["id"]), {"Authorization": "Bearer " + body["access_token"]}
    )


def _pair(fleet: Fleet, couple: CoupleState) -> None:
    invite = fleet.call("invite", "POST", "/v1/couple/invites", {201}, headers=couple.a.headers)
    assert invite is not None, fleet.problems[-1:]
    joined = fleet.call(
        "join",
        "POST",
        "/v1/couple/join",
        {201},
        json={"code": invite.json()["code"]},
        headers=couple.b.headers,
    )
    assert joined is not None, fleet.problems[-1:]
    couple.id = uuid.UUID(joined.json()["id"])


def _phone(fleet: Fleet, user: User) -> None:
    user.token = f"ExponentPushToken[scale-{user.index}-{uuid.uuid4().hex[:8]}]"
    fleet.call(
        "device",
        "POST",
        "/v1/me/devices",
        {201},
        json={"provider": "expo", "token": user.token, "platform": "ios"},
        headers=user.headers,
    )
    # No quiet hours (equal start and end), so every nudge is due while the test runs.
    fleet.call(
        "nudge-settings",
        "PUT",
        "/v1/me/nudge-settings",
        {200},
        json={
            **EVERY_NUDGE,
            "discreet": user.index % 2 == 0,
            "quiet_start": "00:00",
            "quiet_end": "00:00",
        },
        headers=user.headers,
    )


# --- the load: log, replay, answer, read ----------------------------------------------


def _log_bid(fleet: Fleet, couple: CoupleState, rng: random.Random) -> None:
    author = rng.choice((couple.a, couple.b))
    kind = rng.choice(KIND_NAMES)
    pending = rng.random() < 0.5
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "kind": kind,
        "initiator": rng.choice(("me", "partner")),
        "response": "pending" if pending else rng.choice(ANSWERS),
        "note": NOTE,
    }
    linger = BY_KIND[kind].linger_seconds
    if linger is not None and rng.random() < 0.5:
        body["duration_seconds"] = rng.choice((linger - 1, linger, linger * 2))
    if rng.random() < 0.3:  # backdated: changes its own day and every later one
        back = timedelta(hours=rng.uniform(1, 70))
        body["occurred_at"] = (datetime.now(UTC) - back).isoformat()
    bid_id = uuid.UUID(body["id"])
    statuses: list[int] = []

    def send(via: int | None = None) -> None:
        response = fleet.call(
            "create bid", "POST", "/v1/bids", {200, 201}, via=via, json=body, headers=author.headers
        )
        if response is None:
            return
        stored = response.json()
        same = (stored["id"], stored["kind"], stored["logged_by"]) == (body["id"], kind, "me")
        with fleet.lock:
            statuses.append(response.status_code)
            if not same:
                fleet.problems.append(f"create {bid_id} answered another bid: {stored}")

    shape = rng.random()
    if shape < 0.15:  # the answer is lost on the way back; the phone retries elsewhere
        first = fleet.pick()
        fleet.cut("POST", "/v1/bids", via=first, json=body, headers=author.headers)
        send(via=first + 1)
    elif shape < 0.30:  # two copies at once, one on each process
        _together(lambda: send(via=0), lambda: send(via=1))
    else:
        send()
        if rng.random() < 0.1:  # a later replay of an offline sync
            send()
    with fleet.lock:
        fleet.creates[bid_id] += statuses
        if statuses:
            fleet.acked[bid_id] = Acked(couple.index, author.id, pending)
    if statuses:
        with couple.lock:
            couple.bids.append(bid_id)


def _answer(fleet: Fleet, couple: CoupleState, rng: random.Random) -> None:
    with couple.lock:
        recent = couple.bids[-4:]
    if not recent:
        _read_balance(fleet, couple, rng)
        return
    bid_id = rng.choice(recent)

    def put(user: User, response: str, via: int | None = None) -> Callable[[], None]:
        def call() -> None:
            fleet.call(
                "answer bid",
                "PUT",
                f"/v1/bids/{bid_id}/response",
                {200},
                via=via,
                json={"response": response},
                headers=user.headers,
            )

        return call

    if rng.random() < 0.5:  # both partners answer the same bid at once, on both processes
        first, second = rng.sample(ANSWERS, 2)
        _together(put(couple.a, first, 0), put(couple.b, second, 1))
    else:
        put(rng.choice((couple.a, couple.b)), rng.choice(ANSWERS))()


def _read_balance(fleet: Fleet, couple: CoupleState, rng: random.Random) -> None:
    user = rng.choice((couple.a, couple.b))
    response = fleet.call("read balance", "GET", "/v1/couple/balance", {200}, headers=user.headers)
    if response is not None and not math.isfinite(response.json()["balance"]):
        with fleet.lock:
            fleet.problems.append(f"balance not finite: {response.text}")


def _jobs(fleet: Fleet, couples: list[CoupleState], rng: random.Random) -> list[Callable[[], None]]:
    """Each couple's work shuffled, the couples interleaved, so all of them are busy at once."""
    per_couple = []
    for couple in couples:
        ops = (
            [_log_bid] * LOGS_PER_COUPLE
            + [_answer] * ANSWERS_PER_COUPLE
            + [_read_balance] * READS_PER_COUPLE
        )
        rng.shuffle(ops)
        seed = rng.random()
        per_couple.append(
            [partial(op, fleet, couple, random.Random(f"{seed}-{i}")) for i, op in enumerate(ops)]
        )
    return [job for round_ in zip(*per_couple, strict=True) for job in round_]


# --- the checks afterwards -----------------------------------------------------------


def _log_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            entry = {"level": "raw", "msg": raw}
        if isinstance(entry, dict):
            lines.append(entry)
    return lines


def _troubles(path: Path) -> list[str]:
    """Server-side 5xx answers and errors a process logged."""
    found = []
    for entry in _log_lines(path):
        status = entry.get("status")
        if isinstance(status, int) and status >= 500:
            found.append(f"{path.name}: {entry}")
        elif entry.get("level") in {"error", "critical"} or "Traceback" in str(entry.get("msg")):
            found.append(f"{path.name}: {str(entry)[:2000]}")
    return found


def _served(path: Path) -> int:
    """How many requests a server's access log shows."""
    return sum(1 for e in _log_lines(path) if e.get("logger") == "tend.access")


def _wait_for_drain(session_of: Callable[[], Session]) -> tuple[dict[str, int], float]:
    started = time.monotonic()
    while True:
        with session_of() as session:
            by_status = dict(
                session.execute(
                    select(Notification.status, func.count()).group_by(Notification.status)
                ).all()
            )
        if not by_status.get("pending") and not by_status.get("sending"):
            return by_status, time.monotonic() - started
        if time.monotonic() - started > DRAIN_SECONDS:
            pytest.fail(f"the outbox did not drain in {DRAIN_SECONDS} s: {by_status}")
        time.sleep(0.5)


def _recomputed(session: Session, couple_id: uuid.UUID, at: datetime, half_life: float):
    """The balance at ``at`` from every stored bid, by the pure math alone, and its scale."""
    bids = session.execute(
        select(
            Bid.id, Bid.kind, Bid.response, Bid.duration_seconds, Bid.occurred_at, Bid.deposit
        ).where(Bid.couple_id == couple_id)
    ).all()
    deposits = []
    for bid in bids:
        kind = BY_KIND[bid.kind]
        amount = deposit(
            bid.response,
            weight=kind.weight,
            linger_seconds=kind.linger_seconds,
            duration_seconds=bid.duration_seconds,
        )
        assert bid.deposit == pytest.approx(amount), f"bid {bid.id} stores a wrong deposit"
        deposits.append((bid.occurred_at, amount))
    return balance_at(deposits, at, half_life), scale(deposits, at, half_life)


def _day_rows(session: Session, couple_id: uuid.UUID) -> dict[Any, tuple[Any, ...]]:
    rows = session.execute(
        select(
            CoupleDay.day,
            CoupleDay.bids,
            CoupleDay.toward,
            CoupleDay.away,
            CoupleDay.against,
            CoupleDay.deposits,
            CoupleDay.withdrawals,
            CoupleDay.end_balance,
        ).where(CoupleDay.couple_id == couple_id)
    ).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def _rollups_vs_rebuild(
    session_of: Callable[[], Session], couple_id: uuid.UUID, label: int
) -> list[str]:
    """The incrementally kept day rollups against a rebuild from the bids (rolled back)."""
    # A writer from the start (SQLite: BEGIN IMMEDIATE), as the workers are still writing.
    with session_of() as session, writing(session):
        kept = _day_rows(session, couple_id)
        couple = session.get(Couple, couple_id)
        assert couple is not None
        bids_service.rebuild_bank(session, couple)
        rebuilt = _day_rows(session, couple_id)
        session.rollback()
    wrong = []
    if set(kept) != set(rebuilt):
        wrong.append(f"couple {label}: days {sorted(kept)} != rebuilt {sorted(rebuilt)}")
    for day in set(kept) & set(rebuilt):
        k, r = kept[day], rebuilt[day]
        counts_ok = k[:4] == r[:4]
        sums_ok = all(
            math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)
            for x, y in zip(k[4:], r[4:], strict=True)
        )
        if not (counts_ok and sums_ok):
            wrong.append(f"couple {label} rollup of {day}: kept {k} != rebuilt {r}")
    return wrong


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


# --- the test -------------------------------------------------------------------------


def test_two_apis_and_two_workers_share_one_database_under_load(db, tmp_path):
    rng = random.Random(20260310)
    session_of = lambda: Session(db.engine)  # noqa: E731
    figures: dict[str, Any] = {"engine": db.backend}

    with ExitStack() as stack:
        expos = [stack.enter_context(FakeExpo()) for _ in range(2)]
        logs = {
            name: tmp_path / f"{name}.log" for name in ("api-0", "api-1", "worker-0", "worker-1")
        }

        def launch(name: str, args: list[str], **settings: str) -> subprocess.Popen[str]:
            out = stack.enter_context(logs[name].open("w"))
            env = tend_env(db.url, TEST_SECRET, TEND_LOG_FORMAT="json", **settings)
            process = start(args, env, stdout=out, stderr=subprocess.STDOUT)
            stack.callback(stop, process)
            return process

        bases = []
        for i in range(2):
            port = free_port()
            process = launch(f"api-{i}", ["serve", "--port", str(port)], TEND_SCHEDULER="off")
            bases.append(f"http://127.0.0.1:{port}")
            wait_ready(bases[-1], process)
        workers = []
        for i, expo in enumerate(expos):
            workers.append(
                launch(
                    f"worker-{i}",
                    ["worker"],
                    TEND_SCHEDULER="on",
                    TEND_SCHEDULER_TICK_SECONDS="1",
                    TEND_PUSH_PROVIDER="expo",
                    TEND_EXPO_BASE_URL=expo.url,
                    TEND_PUSH_RETRY_BASE_SECONDS="1",
                    TEND_PUSH_RETRY_MAX_SECONDS="2",
                )
            )
            time.sleep(0.5)  # the two workers tick half a second apart

        fleet = Fleet(bases)
        stack.callback(fleet.close)
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=IN_FLIGHT))

        # Setup, already concurrent: accounts, couples, phones, settings.
        started = time.perf_counter()
        users = list(pool.map(lambda i: _register(fleet, i), range(2 * COUPLES)))
        couples = [CoupleState(i, users[2 * i], users[2 * i + 1]) for i in range(COUPLES)]
        list(pool.map(lambda c: _pair(fleet, c), couples))
        list(pool.map(lambda u: _phone(fleet, u), users))
        figures["setup_s"] = round(time.perf_counter() - started, 1)
        assert not fleet.problems, fleet.problems[:10]
        # Everyone's daily slot comes now: both workers plan while the load runs.
        with session_of() as session, session.begin():
            session.execute(update(NudgeSettings).values(next_daily_at=datetime.now(UTC)))

        # The load.
        jobs = _jobs(fleet, couples, rng)
        responses_before = fleet.responses
        started = time.perf_counter()
        for future in [pool.submit(job) for job in jobs]:
            future.result()
        load_seconds = time.perf_counter() - started
        load_responses = fleet.responses - responses_before
        figures |= {
            "load_s": round(load_seconds, 1),
            "load_requests": load_responses,
            "requests_per_s": round(load_responses / load_seconds, 1),
            "cut_off": fleet.cut_off,
        }
        for op in ("create bid", "answer bid", "read balance"):
            values = fleet.latencies[op]
            figures[f"{op} n/p50/p95 ms"] = (
                len(values),
                round(statistics.median(values) * 1000),
                round(_percentile(values, 0.95) * 1000),
            )

        # The outbox drains; then two more ticks, to see that nothing goes out twice.
        by_status, drain_seconds = _wait_for_drain(session_of)
        time.sleep(2.5)
        figures["drain_after_load_s"] = round(drain_seconds, 1)

        # Every couple's balance, from each process and each partner, against the math.
        balance_problems = []
        for couple in couples:
            with session_of() as session:
                half_life = session.get(Couple, couple.id).half_life_hours
                for via in range(2):
                    for user in (couple.a, couple.b):
                        response = fleet.call(
                            "final balance",
                            "GET",
                            "/v1/couple/balance",
                            {200},
                            via=via,
                            headers=user.headers,
                        )
                        if response is None:
                            continue
                        body = response.json()
                        at = datetime.fromisoformat(body["as_of"])
                        expected, size = _recomputed(session, couple.id, at, half_life)
                        if abs(body["balance"] - expected) > 1e-9 * max(size, 1.0):
                            balance_problems.append(
                                f"couple {couple.index} via api-{via}: {body['balance']!r} "
                                f"!= recomputed {expected!r} (scale {size:.3f})"
                            )
            balance_problems += _rollups_vs_rebuild(session_of, couple.id, couple.index)

        with session_of() as session:
            stored_bids = Counter(session.scalars(select(Bid.id)).all())
            notifications = session.execute(
                select(
                    Notification.id,
                    Notification.user_id,
                    Notification.kind,
                    Notification.dedupe_key,
                    Notification.status,
                    Notification.last_error,
                )
            ).all()
            tokens = dict(session.execute(select(Device.token, Device.user_id)).all())

        accepted = [[dict(m) for m in expo.state.accepted] for expo in expos]
        worker_exits = [w.poll() for w in workers]

    # Processes stopped and their logs complete: now the verdicts.
    figures["worker pushes"] = [len(a) for a in accepted]
    figures["notifications"] = dict(Counter(n.kind for n in notifications))
    figures["statuses"] = dict(fleet.statuses)
    figures["requests served per API process"] = [_served(logs[f"api-{i}"]) for i in range(2)]
    print(f"\nscale-out figures: {figures}")

    # No 5xx, nothing unexpected, on the clients' side or in the servers' logs.
    assert not fleet.problems, fleet.problems[:20]
    assert not [s for s in fleet.statuses if s >= 500]
    troubles = [t for name in logs for t in _troubles(logs[name])]
    assert not troubles, troubles[:10]
    assert worker_exits == [None, None], "a worker died during the run"
    assert not [name for name in logs if NOTE in logs[name].read_text()], "a note reached a log"
    # The access logs were read (they hold every answer, cut-off ones too), from both APIs.
    served = figures["requests served per API process"]
    assert sum(served) >= fleet.responses and min(served) > fleet.responses // 4, served

    # Every acknowledged bid is stored once, and nothing else is stored.
    assert set(stored_bids) == set(fleet.acked)
    assert all(n == 1 for n in stored_bids.values())
    assert len(fleet.acked) == COUPLES * LOGS_PER_COUPLE
    # Of all the copies of one create, at most one made it (201); the others replayed (200).
    assert all(statuses.count(201) <= 1 for statuses in fleet.creates.values())
    assert any(statuses.count(200) for statuses in fleet.creates.values())

    # Nudges: one partner_bid per bid logged pending, one daily nudge per user, all delivered.
    partner_of = {c.a.id: c.b.id for c in couples} | {c.b.id: c.a.id for c in couples}
    expected_partner_bid = {
        f"partner_bid:{partner_of[a.logged_by]}:{bid_id}"
        for bid_id, a in fleet.acked.items()
        if a.pending
    }
    assert {n.dedupe_key for n in notifications if n.kind == "partner_bid"} == expected_partner_bid
    daily = Counter(n.user_id for n in notifications if n.dedupe_key.startswith("daily:"))
    assert set(daily) == {u.id for u in users}
    assert all(1 <= n <= 2 for n in daily.values())  # 2 only if the run crosses midnight
    assert set(by_status) == {"delivered"}, by_status
    undelivered = [
        (n.kind, n.status, n.last_error) for n in notifications if n.status != "delivered"
    ]
    assert not undelivered, undelivered[:10]

    # The fake Expo servers together got every nudge once, at its user's phone, never twice.
    messages = accepted[0] + accepted[1]
    received = Counter(m["data"]["notification_id"] for m in messages)
    twice = {k: v for k, v in received.items() if v > 1}
    assert not twice, f"{len(twice)} nudges were pushed more than once"
    owner = {str(n.id): n.user_id for n in notifications}
    assert set(received) == set(owner)
    assert all(tokens[m["to"]] == owner[m["data"]["notification_id"]] for m in messages)
    # Both workers did part of the work.
    assert all(len(a) > 0 for a in accepted), figures["worker pushes"]

    # The balance each process reports, and the day rollups, equal a full recomputation
    # (checked last, so that a lost update does not hide how the rest went).
    wrong_couples = {p.split(" ")[1] for p in balance_problems}
    assert not balance_problems, (
        f"{len(wrong_couples)} of {COUPLES} couples disagree with a recomputation",
        balance_problems[:12],
    )
