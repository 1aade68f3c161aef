"""A soak: mixed traffic from many simulated couples for minutes on end, against `tend serve
--workers N` plus a `tend worker`, as production runs them.

    python -m bench.soak --minutes 10            # PostgreSQL (TEND_BENCH_POSTGRES_URL)
    python -m bench.soak --minutes 10 --sqlite   # SQLite
    python -m bench.soak --minutes 0.5           # the quick mode

Every partner (2 per couple) is a client of its own: it logs bids (some backdated, some
with a note), answers the partner's, reads the balance, its history and the stats, the
bid list and the inbox, marks nudges read, edits and deletes its own bids, changes its
nudge settings, its name and now and then the couple's half-life (which rebuilds the
rollups), and refreshes its tokens; it waits a random think time (mean --think seconds)
between actions. One coach per 10 couples, consented to by half of the couples, reads its
list and their progress. Daily nudges fall due during the run, so the worker plans and
"sends" them (push provider "log").

Reported: requests, 5xx answers (must be 0) and failed connections (must be 0), latency
p50/p99, and the resident memory (VmRSS) of the server processes (uvicorn's parent and
its children) and of the worker, after the warm-up, every minute and at the end. The exit
status is 1 if any request got a 5xx or no answer.
"""

import argparse
import asyncio
import random
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from app.bids.kinds import KIND_NAMES
from app.db import make_engine
from app.outbox.models import Notification
from bench.common import (
    POSTGRES_URL,
    SERVER_WORKERS,
    Answer,
    Connection,
    Figure,
    fresh_database,
    median,
    percentile,
    print_server_errors,
    print_table,
    process_tree,
    rss_mib,
    serve,
    verify_address,
    worker,
)

TOKEN_REFRESH_SECONDS = 10 * 60  # access tokens last 15 minutes
COACH_EVERY = 10  # couples per coach
PASSWORD = "a long soak passphrase"


# --- what was measured ---------------------------------------------------------------------


@dataclass
class Record:
    at: float
    action: str
    status: int  # 0: no answer (connection failed)
    ms: float


@dataclass
class Tally:
    records: list[Record] = field(default_factory=list)
    counting: bool = False  # False during setup and warm-up

    def add(self, action: str, status: int, ms: float) -> None:
        if self.counting:
            self.records.append(Record(time.monotonic(), action, status, ms))


def summary(records: list[Record]) -> str:
    if not records:
        return "no requests"
    latencies = [r.ms for r in records]
    errors = sum(1 for r in records if r.status >= 500 or r.status == 0)
    return (
        f"{len(records):,} requests, {errors} 5xx/failed, "
        f"p50 {median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms"
    )


# --- the simulated people ------------------------------------------------------------------


@dataclass
class Person:
    connection: Connection
    tally: Tally
    access: str = ""
    refresh: str = ""
    tokens_at: float = 0.0
    couple_id: str = ""
    email: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}

    async def call(
        self, action: str, method: str, path: str, body: Any = None, *, auth: bool = True
    ) -> Answer | None:
        started = time.perf_counter()
        try:
            answer = await self.connection.request(
                method, path, json_body=body, headers=self.headers if auth else None
            )
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self.tally.add(action, 0, (time.perf_counter() - started) * 1000)
            await self.connection.close()
            return None
        self.tally.add(action, answer.status_code, (time.perf_counter() - started) * 1000)
        return answer

    def took(self, answer: Answer) -> None:
        tokens = answer.json()
        self.access, self.refresh = tokens["access_token"], tokens["refresh_token"]
        self.tokens_at = time.monotonic()

    async def register(self, role: str = "partner") -> None:
        self.email = f"{uuid.uuid4().hex}@example.com"
        answer = await self.call(
            "register",
            "POST",
            "/v1/auth/register",
            {
                "email": self.email,
                "password": PASSWORD,
                "display_name": random.choice(["Alex", "Sam", "Robin", "Kim", "Noa"]),
                "role": role,
            },
            auth=False,
        )
        _require(answer, "register")
        assert answer is not None
        self.took(answer)

    async def refresh_if_old(self) -> None:
        if time.monotonic() - self.tokens_at > TOKEN_REFRESH_SECONDS:
            answer = await self.call(
                "refresh", "POST", "/v1/auth/refresh", {"refresh_token": self.refresh}, auth=False
            )
            if answer is not None and answer.status_code == 200:
                self.took(answer)


def _require(answer: Answer | None, what: str) -> None:
    if answer is None or answer.status_code >= 300:
        detail = "no answer" if answer is None else f"{answer.status_code}: {answer.text}"
        raise RuntimeError(f"soak setup: {what} failed: {detail}")


async def _pair(a: Person, b: Person, minutes: float) -> None:
    await a.register()
    await b.register()
    code = await a.call("invite", "POST", "/v1/couple/invites")
    _require(code, "invite")
    assert code is not None
    joined = await b.call("join", "POST", "/v1/couple/join", {"code": code.json()["code"]})
    _require(joined, "join")
    couple = await a.call("couple", "GET", "/v1/couple")
    _require(couple, "couple")
    assert couple is not None
    a.couple_id = b.couple_id = couple.json()["id"]
    now = datetime.now(UTC)
    for person in (a, b):
        # A daily nudge due during the run (registered users live in UTC), and a device.
        due = now + timedelta(minutes=random.uniform(1, max(1.0, minutes)))
        settings = _nudge_settings(daily_time=due.strftime("%H:%M"))
        _require(await person.call("nudges", "PUT", "/v1/me/nudge-settings", settings), "nudges")
        device = {
            "provider": "expo",
            "token": f"ExponentPushToken[{uuid.uuid4().hex}]",
            "platform": random.choice(["ios", "android"]),
        }
        _require(await person.call("device", "POST", "/v1/me/devices", device), "device")


def _nudge_settings(daily_time: str = "19:00", discreet: bool = True) -> dict[str, Any]:
    return {
        "enabled": True,
        "discreet": discreet,
        "daily_time": daily_time,
        "quiet_start": "23:00",
        "quiet_end": "06:00",
        "kinds": {
            "daily_suggestion": True,
            "partner_bid": True,
            "reconnect": True,
            "weekly_summary": True,
        },
    }


async def _bids(p: Person) -> list[dict[str, Any]]:
    answer = await p.call("list bids", "GET", "/v1/bids?limit=20")
    if answer is None or answer.status_code != 200:
        return []
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def log_bid(p: Person) -> None:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "kind": random.choice(KIND_NAMES),
        "initiator": random.choice(["me", "me", "partner"]),
        "response": random.choice(["pending", "pending", "toward", "toward", "away", "against"]),
    }
    if random.random() < 0.2:
        backdated = datetime.now(UTC) - timedelta(hours=random.uniform(1, 72))
        body["occurred_at"] = backdated.isoformat()
    if random.random() < 0.5:
        body["duration_seconds"] = random.randint(1, 600)
    if random.random() < 0.2:
        body["note"] = "Soak note " + uuid.uuid4().hex[:12]
    await p.call("log bid", "POST", "/v1/bids", body)


async def answer_bid(p: Person) -> None:
    waiting = [b for b in await _bids(p) if b["response"] == "pending" and b["logged_by"] != "me"]
    if waiting:
        response = random.choice(["toward", "toward", "toward", "away", "against"])
        bid = random.choice(waiting)
        await p.call("answer bid", "PUT", f"/v1/bids/{bid['id']}/response", {"response": response})


async def edit_bid(p: Person) -> None:
    mine = [b for b in await _bids(p) if b["logged_by"] == "me"]
    if mine:
        bid = random.choice(mine)
        note = {"note": "Edited " + uuid.uuid4().hex[:8]}
        await p.call("edit bid", "PATCH", f"/v1/bids/{bid['id']}", note)


async def delete_bid(p: Person) -> None:
    mine = [b for b in await _bids(p) if b["logged_by"] == "me"]
    if mine:
        await p.call("delete bid", "DELETE", f"/v1/bids/{random.choice(mine)['id']}")


async def inbox(p: Person) -> None:
    answer = await p.call("inbox", "GET", "/v1/me/notifications?limit=20")
    if answer is not None and answer.status_code == 200:
        unread = [n for n in answer.json()["items"] if n["read_at"] is None]
        if unread:
            await p.call("read nudge", "POST", f"/v1/me/notifications/{unread[0]['id']}/read")


async def balance(p: Person) -> None:
    await p.call("balance", "GET", "/v1/couple/balance")


async def history(p: Person) -> None:
    await p.call(
        "balance history", "GET", f"/v1/couple/balance/history?days={random.choice([7, 30, 90])}"
    )


async def stats(p: Person) -> None:
    await p.call("stats", "GET", f"/v1/couple/stats?days={random.choice([7, 30])}")


async def couple(p: Person) -> None:
    await p.call("couple", "GET", "/v1/couple")


async def nudge_settings(p: Person) -> None:
    answer = await p.call("nudge settings", "GET", "/v1/me/nudge-settings")
    if answer is not None and answer.status_code == 200:
        current = answer.json()
        settings = _nudge_settings(current["daily_time"], discreet=not current["discreet"])
        await p.call("nudge settings", "PUT", "/v1/me/nudge-settings", settings)


async def rename(p: Person) -> None:
    name = random.choice(["Alex", "Sam", "Robin", "Kim", "Noa"])
    await p.call("patch me", "PATCH", "/v1/me", {"display_name": name})


async def half_life(p: Person) -> None:
    hours = random.choice([48, 72, 96, 120])
    await p.call("patch couple", "PATCH", "/v1/couple", {"half_life_hours": hours})


PARTNER_ACTIONS: list[tuple[Callable[[Person], Awaitable[None]], float]] = [
    (log_bid, 30),
    (answer_bid, 10),
    (balance, 15),
    (history, 5),
    (stats, 5),
    (inbox, 10),
    (couple, 3),
    (edit_bid, 3),
    (delete_bid, 1),
    (nudge_settings, 2),
    (rename, 1),
    (half_life, 0.3),
]


async def coach_reads(p: Person, couple_ids: list[str]) -> None:
    if random.random() < 0.3 or not couple_ids:
        await p.call("coach couples", "GET", "/v1/coach/couples")
    else:
        weeks = random.choice([4, 12, 12, 52])
        path = f"/v1/coach/couples/{random.choice(couple_ids)}/progress?weeks={weeks}"
        await p.call("coach progress", "GET", path)


async def _live(
    p: Person, act: Callable[[], Awaitable[None]], think: float, stop_at: float
) -> None:
    await asyncio.sleep(random.uniform(0, think))  # don't all start at once
    while time.monotonic() < stop_at:
        await p.refresh_if_old()
        await act()
        await asyncio.sleep(
            min(random.expovariate(1 / think), max(0.0, stop_at - time.monotonic()))
        )


# --- the run -------------------------------------------------------------------------------


@dataclass
class Sample:
    at: float
    server_mib: float
    worker_mib: float


def _sample(server_pid: int, worker_pid: int) -> Sample:
    return Sample(
        time.monotonic(), rss_mib(process_tree(server_pid)), rss_mib(process_tree(worker_pid))
    )


async def _soak(
    url: str,
    base: str,
    server_pid: int,
    worker_pid: int,
    *,
    couples: int,
    minutes: float,
    think: float,
    warm_up: float,
) -> tuple[list[Record], list[Sample]]:
    tally = Tally()
    partners = [Person(Connection(base), tally) for _ in range(2 * couples)]
    coaches = [Person(Connection(base), tally) for _ in range(max(1, couples // COACH_EVERY))]
    setup = asyncio.Semaphore(4)  # registration hashes passwords: don't flood the servers

    async def pair(i: int) -> None:
        async with setup:
            await _pair(partners[2 * i], partners[2 * i + 1], minutes)

    started = time.monotonic()
    await asyncio.gather(*(pair(i) for i in range(couples)))
    coached: dict[int, list[str]] = defaultdict(list)
    for n, coach in enumerate(coaches):
        await coach.register(role="coach")
        # Partners may consent only to a coach whose address is verified.
        await asyncio.to_thread(verify_address, url, base, coach.email)
        profile = await coach.call("coach profile", "GET", "/v1/coach/profile")
        _require(profile, "coach profile")
        assert profile is not None
        for i in range(n, couples, len(coaches)):
            if i % 2 == 0:  # half the couples let their coach see their progress
                for partner in partners[2 * i : 2 * i + 2]:
                    grant = {"coach_code": profile.json()["code"]}
                    _require(
                        await partner.call("consent", "POST", "/v1/couple/coaches", grant),
                        "consent",
                    )
                coached[n].append(partners[2 * i].couple_id)
    took = time.monotonic() - started
    print(f"  {couples} couples and {len(coaches)} coaches set up in {took:.0f} s")

    stop_at = time.monotonic() + warm_up + minutes * 60
    names = [a for a, _ in PARTNER_ACTIONS]
    weights = [w for _, w in PARTNER_ACTIONS]

    def partner_act(p: Person) -> Callable[[], Awaitable[None]]:
        return lambda: random.choices(names, weights)[0](p)

    def coach_act(n: int) -> Callable[[], Awaitable[None]]:
        return lambda: coach_reads(coaches[n], coached[n])

    lives = [_live(p, partner_act(p), think, stop_at) for p in partners]
    lives += [_live(c, coach_act(n), think, stop_at) for n, c in enumerate(coaches)]
    traffic = asyncio.gather(*lives)

    await asyncio.sleep(warm_up)
    tally.counting = True
    samples = [_sample(server_pid, worker_pid)]
    print(
        f"  after {warm_up:.0f} s of warm-up: server RSS {samples[0].server_mib:.1f} MiB, "
        f"worker RSS {samples[0].worker_mib:.1f} MiB"
    )
    seen = 0
    while True:
        # A line a minute, and one at the end (never a sliver of a minute just before it).
        next_line = samples[0].at + 60 * len(samples)
        timeout = next_line - time.monotonic() if next_line < stop_at - 10 else None
        await asyncio.wait([traffic], timeout=None if timeout is None else max(0.0, timeout))
        sample = _sample(server_pid, worker_pid)
        samples.append(sample)
        interval, seen = tally.records[seen:], len(tally.records)
        print(
            f"  {'end' if traffic.done() else 'at'} {(sample.at - samples[0].at) / 60:4.1f} min: "
            f"{summary(interval)}; server RSS {sample.server_mib:.1f} MiB, "
            f"worker RSS {sample.worker_mib:.1f} MiB"
        )
        if traffic.done():
            break
    traffic.result()
    for person in partners + coaches:
        await person.connection.close()
    return tally.records, samples


def _outbox(url: str) -> dict[tuple[str, str], int]:
    """Nudges by kind and status: the worker's share of the run."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(Notification.kind, Notification.status, func.count()).group_by(
                    Notification.kind, Notification.status
                )
            ).all()
    finally:
        engine.dispose()
    return {(kind, status): count for kind, status, count in rows}


def run(
    backend: str,
    minutes: float = 10,
    couples: int = 50,
    workers: int = SERVER_WORKERS,
    think: float = 1.5,
    warm_up: float | None = None,
) -> list[Figure]:
    if warm_up is None:
        warm_up = min(30.0, max(3.0, minutes * 6))  # 10 % of the run, at most 30 s
    label = f"{backend}, {workers} server{'s' if workers > 1 else ''} + worker"
    with (
        fresh_database(backend) as url,
        serve(url, workers=workers) as running,
        worker(url, TEND_SCHEDULER_TICK_SECONDS="10") as scheduler,
    ):
        print(
            f"- soak [{label}]: {couples} couples, {minutes:g} min after {warm_up:.0f} s of warm-up"
        )
        records, samples = asyncio.run(
            _soak(
                url,
                running.base,
                running.process.pid,
                scheduler.pid,
                couples=couples,
                minutes=minutes,
                think=think,
                warm_up=warm_up,
            )
        )
        outbox = _outbox(url)
        if any(r.status == 0 for r in records):  # no answer in time: is a process stuck?
            running.dump_stacks(process_tree(running.process.pid)[1:])
        if any(r.status >= 500 or r.status == 0 for r in records):
            print_server_errors(running)
    print("  the outbox at the end (kind, status: nudges):")
    for (kind, status), count in sorted(outbox.items()):
        print(f"    {kind:18} {status:>9} {count:8,}")
    statuses = Counter((r.action, r.status) for r in records)
    print("  answers by action and status:")
    for (action, status), count in sorted(statuses.items()):
        mark = "  <- not 2xx" if not 200 <= status < 300 else ""
        print(f"    {action:18} {status or 'no answer'!s:>9} {count:8,}{mark}")
    by_action: dict[str, list[float]] = defaultdict(list)
    for r in records:
        by_action[r.action].append(r.ms)
    print("  latency by action (ms): p50 / p99")
    for action, latencies in sorted(by_action.items()):
        print(f"    {action:18} {median(latencies):8.1f} / {percentile(latencies, 0.99):8.1f}")

    latencies = [r.ms for r in records] or [0.0]
    elapsed = (samples[-1].at - samples[0].at) or 1.0
    first, last = samples[0], samples[-1]
    return [
        Figure(f"soak requests [{label}]", len(records), "count"),
        Figure(f"soak throughput [{label}]", len(records) / elapsed, "req/s"),
        Figure(f"soak 5xx answers [{label}]", sum(1 for r in records if r.status >= 500), "count"),
        Figure(
            f"soak unanswered requests [{label}]",
            sum(1 for r in records if r.status == 0),
            "count",
        ),
        Figure(f"soak p50 [{label}]", median(latencies), "ms"),
        Figure(f"soak p99 [{label}]", percentile(latencies, 0.99), "ms"),
        Figure(
            f"soak server RSS at the end [{label}]",
            last.server_mib,
            "MiB",
            baseline=first.server_mib,
            baseline_name="the same after the warm-up",
        ),
        Figure(
            f"soak worker RSS at the end [{label}]",
            last.worker_mib,
            "MiB",
            baseline=first.worker_mib,
            baseline_name="the same after the warm-up",
        ),
    ]


def failed(figures: list[Figure]) -> bool:
    return any(f.value > 0 for f in figures if "5xx" in f.name or "unanswered" in f.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=10, help="measured minutes (default 10)")
    parser.add_argument("--couples", type=int, default=50, help="simulated couples (default 50)")
    parser.add_argument("--workers", type=int, default=SERVER_WORKERS, help="server processes")
    parser.add_argument("--think", type=float, default=1.5, help="mean seconds between actions")
    parser.add_argument("--warm-up", type=float, default=None, help="seconds before measuring")
    parser.add_argument("--sqlite", action="store_true", help="on SQLite instead of PostgreSQL")
    args = parser.parse_args(argv)
    if not args.sqlite and not POSTGRES_URL:
        parser.error("set TEND_BENCH_POSTGRES_URL (or TEND_TEST_POSTGRES_URL), or pass --sqlite")
    figures = run(
        "sqlite" if args.sqlite else "postgresql",
        minutes=args.minutes,
        couples=args.couples,
        workers=args.workers,
        think=args.think,
        warm_up=args.warm_up,
    )
    print_table(figures)
    if failed(figures):
        print("FAILED: some requests got a 5xx or no answer", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
