"""Fault tolerance through real processes, each fault injected while Tend is under load.

1. `tend serve` is killed with SIGKILL five times while partners log bids, on SQLite and on
   PostgreSQL. Phones resend an unanswered create with the same id until it is
   acknowledged; afterwards every acknowledged bid is stored exactly once, nothing else is
   stored, and the balance equals a recomputation from what the phones sent.
2. A private PostgreSQL cluster (never the shared one) is stopped and started again under
   load: Tend keeps answering, with 5xx problem details only while the database is down,
   and recovers within 5 s without being restarted; no acknowledged bid is lost.
3. The push provider fails (HTTP 500, 429 with Retry-After, requests that hang past the
   timeout) and then recovers, with two `tend worker` processes sending: every nudge ends
   delivered exactly once or dead with a reason, and nothing reaches the provider twice.

Each test prints its figures (run pytest with -s to see them).
"""

import contextlib
import glob
import itertools
import json
import os
import pwd
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from app import migrations
from app.bank.math import balance_at, deposit, scale
from app.bank.models import CoupleDay
from app.bids.kinds import BY_KIND, CATALOGUE
from app.bids.models import Bid
from app.db import make_engine
from app.outbox.models import Device, Notification, PushTicket
from tests.conftest import TEST_SECRET
from tests.factories import couple_id_of, pair_over_http
from tests.fake_expo import FakeExpo, _Handler
from tests.processes import (
    free_port,
    start,
    stop,
    tend_env,
    tend_server,
    wait_ready,
)

RELATIVE = 1e-9
PROBLEM_JSON = "application/problem+json"


def _seed() -> int:
    """A seed for the random moments of a test; TEND_FAULT_SEED replays a failed run."""
    return int(os.environ.get("TEND_FAULT_SEED") or random.randrange(1 << 30))


def _wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {seconds} s waiting for {what}"
        time.sleep(0.05)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --- Partners and the bids their phones send ----------------------------------------------


@dataclass(frozen=True)
class Partner:
    name: str
    user_id: uuid.UUID
    couple_id: uuid.UUID
    headers: dict[str, str]


def pair(client: httpx.Client, names: tuple[str, str]) -> tuple[Partner, Partner]:
    """Two partners registered and paired through a running Tend."""
    accounts = pair_over_http(client, names)
    couple = uuid.UUID(couple_id_of(client, accounts[0]))
    first, second = (
        Partner(name, uuid.UUID(account.id), couple, account.headers)
        for name, account in zip(names, accounts, strict=True)
    )
    return first, second


@dataclass(frozen=True)
class Answer:
    """One HTTP exchange as the client saw it (times are time.monotonic())."""

    what: str
    started: float
    ended: float
    status: int | None  # None: no HTTP answer at all
    content_type: str = ""
    body: Any = None
    error: str | None = None
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Recorder:
    """Makes requests and keeps every answer, thread-safely."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answers: list[Answer] = []
        self.in_flight = 0

    def call(self, client: httpx.Client, what: str, method: str, url: str, **kw: Any) -> Answer:
        with self.lock:
            self.in_flight += 1
        started = time.monotonic()
        try:
            response = client.request(method, url, **kw)
        except httpx.TransportError as exc:
            answer = Answer(what, started, time.monotonic(), None, error=type(exc).__name__)
        else:
            try:
                body = response.json()
            except ValueError:
                body = response.text[:200]
            answer = Answer(
                what,
                started,
                time.monotonic(),
                response.status_code,
                response.headers.get("content-type", ""),
                body,
                retry_after=response.headers.get("retry-after"),
            )
        with self.lock:
            self.in_flight -= 1
            self.answers.append(answer)
        return answer


@dataclass
class Sent:
    """A bid as its phone sent it, and how it was acknowledged."""

    partner: Partner
    body: dict[str, Any]
    tries: int = 0
    status: int | None = None  # 201 created, 200 replay of a create that had committed

    @property
    def id(self) -> uuid.UUID:
        return uuid.UUID(self.body["id"])

    @property
    def expected_deposit(self) -> float:
        kind = BY_KIND[self.body["kind"]]
        return deposit(
            self.body["response"],
            weight=kind.weight,
            linger_seconds=kind.linger_seconds,
            duration_seconds=self.body.get("duration_seconds"),
        )


def new_bid(rng: random.Random, *, response: str | None = None) -> dict[str, Any]:
    """A bid as a phone makes it: its own id, backdated up to five days, any answer."""
    occurred_at = datetime.now(UTC) - timedelta(seconds=rng.uniform(60, 5 * 24 * 3600))
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "kind": rng.choice(CATALOGUE).kind,
        "initiator": rng.choice(["me", "partner"]),
        "occurred_at": occurred_at.isoformat(),
        "response": response or rng.choice(["pending", "toward", "toward", "away", "against"]),
    }
    if rng.random() < 0.5:
        body["duration_seconds"] = rng.choice([3, 10, 25, 45, 400])
    return body


class BidLoad:
    """Partners logging bids through Tend, each from a thread of its own, as phones do: a
    create that got no answer (no connection, a 5xx) is sent again with the same id and the
    same content until Tend acknowledges it."""

    def __init__(
        self, base: str, partners: list[Partner], seed: int, *, pause: float = 0.0
    ) -> None:
        self.base = base
        self.partners = partners
        self.seed = seed
        self.pause = pause
        self.recorder = Recorder()
        self.stopping = threading.Event()
        self.sent: dict[uuid.UUID, Sent] = {}
        self.problems: list[str] = []
        self.threads = [
            threading.Thread(target=self._run, args=(p, seed + n), daemon=True)
            for n, p in enumerate(partners)
        ]

    def __enter__(self) -> "BidLoad":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=120)
        assert not any(t.is_alive() for t in self.threads), "a load thread did not finish"

    @property
    def acked(self) -> list[Sent]:
        with self.recorder.lock:
            return [s for s in self.sent.values() if s.status in (200, 201)]

    def _run(self, partner: Partner, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.base, timeout=15) as client:
            while not self.stopping.is_set():
                self._send_until_acked(client, Sent(partner, new_bid(rng)))
                if self.pause:
                    time.sleep(self.pause)

    def _send_until_acked(self, client: httpx.Client, sent: Sent) -> None:
        with self.recorder.lock:
            self.sent[sent.id] = sent
        deadline = time.monotonic() + 90
        while True:
            sent.tries += 1
            answer = self.recorder.call(
                client, "create", "POST", "/v1/bids", json=sent.body, headers=sent.partner.headers
            )
            if answer.ok:
                if answer.status not in (200, 201) or answer.body.get("id") != sent.body["id"]:
                    self.problems.append(f"create {sent.id}: {answer.status} {answer.body}")
                with self.recorder.lock:
                    sent.status = answer.status
                return
            if answer.status is not None and answer.status < 500:
                self.problems.append(f"create {sent.id}: {answer.status} {answer.body}")
                return
            if time.monotonic() > deadline:
                self.problems.append(f"create {sent.id}: never acknowledged ({answer})")
                return
            time.sleep(0.05)


def check_stored_bids(url: str, base: str, load: BidLoad) -> dict[str, Any]:
    """Every acknowledged bid stored exactly once and as sent, nothing else stored, the
    day rollups counting each bid once, and the balance equal to a recomputation."""
    assert load.problems == [], load.problems[:5]
    sent = {s.id: s for s in load.sent.values()}
    acked = {s.id: s for s in load.acked}
    assert acked.keys() == sent.keys(), "every bid sent was acknowledged in the end"
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    Bid.id,
                    Bid.couple_id,
                    Bid.logged_by_id,
                    Bid.kind,
                    Bid.response,
                    Bid.occurred_at,
                    Bid.duration_seconds,
                    Bid.deposit,
                )
            ).all()
            doubled = conn.execute(
                select(Bid.id, func.count()).group_by(Bid.id).having(func.count() > 1)
            ).all()
            days = {
                r.couple_id: r
                for r in conn.execute(
                    select(
                        CoupleDay.couple_id,
                        func.sum(CoupleDay.bids).label("bids"),
                        func.sum(CoupleDay.deposits).label("deposits"),
                        func.sum(CoupleDay.withdrawals).label("withdrawals"),
                    ).group_by(CoupleDay.couple_id)
                )
            }
            if url.startswith("sqlite"):
                assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    finally:
        engine.dispose()

    assert doubled == []
    stored = {r.id: r for r in rows}
    assert len(stored) == len(rows)
    never_sent = stored.keys() - acked.keys()
    lost = acked.keys() - stored.keys()
    assert not lost, f"{len(lost)} acknowledged bids lost, e.g. {sorted(lost)[:3]}"
    assert not never_sent, f"{len(never_sent)} bids stored that no phone sent"
    for bid_id, row in stored.items():
        s = acked[bid_id]
        assert (row.couple_id, row.logged_by_id) == (s.partner.couple_id, s.partner.user_id)
        assert (row.kind, row.response, row.duration_seconds) == (
            s.body["kind"],
            s.body["response"],
            s.body.get("duration_seconds"),
        )
        assert row.occurred_at == datetime.fromisoformat(s.body["occurred_at"])
        assert row.deposit == s.expected_deposit

    balances = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        for couple_id in {p.couple_id for p in load.partners}:
            partner = next(p for p in load.partners if p.couple_id == couple_id)
            mine = [s for s in acked.values() if s.partner.couple_id == couple_id]
            amounts = [s.expected_deposit for s in mine]
            rollup = days[couple_id]
            assert rollup.bids == len(mine), "the day rollups count each bid once"
            positive = sum(a for a in amounts if a > 0)
            negative = -sum(a for a in amounts if a < 0)
            assert rollup.deposits == pytest.approx(positive, rel=RELATIVE, abs=1e-12)
            assert rollup.withdrawals == pytest.approx(negative, rel=RELATIVE, abs=1e-12)

            response = client.get("/v1/couple/balance", headers=partner.headers)
            assert response.status_code == 200, response.text
            body = response.json()
            as_of = datetime.fromisoformat(body["as_of"])
            deposits = [
                (datetime.fromisoformat(s.body["occurred_at"]), s.expected_deposit) for s in mine
            ]
            expected = balance_at(deposits, as_of, body["half_life_hours"])
            tolerance = RELATIVE * scale(deposits, as_of, body["half_life_hours"]) + 1e-12
            assert abs(body["balance"] - expected) <= tolerance, (body["balance"], expected)
            balances[str(couple_id)[:8]] = round(body["balance"], 3)
    return {
        "bids": len(stored),
        "replayed (200)": sum(1 for s in acked.values() if s.status == 200),
        "resent": sum(1 for s in acked.values() if s.tries > 1),
        "balances": balances,
    }


# --- 1. kill -9 of the API during writes --------------------------------------------------

KILLS = 5


@pytest.mark.slow
def test_kill_9_of_the_api_under_write_load_loses_and_doubles_no_bid(
    database, migrated_url, tmp_path
):
    seed = _seed()
    rng = random.Random(seed)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = tend_env(migrated_url, TEST_SECRET, TEND_SCHEDULER="off")
    log_path = tmp_path / "serve.log"
    log_file = log_path.open("a")

    def launch() -> subprocess.Popen[str]:
        process = start(
            ["serve", "--port", str(port), "--workers", "1"],
            env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(base, process, timeout=90)
        except BaseException:
            stop(process)
            raise
        return process

    process = launch()
    kills: list[dict[str, Any]] = []
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            partners = [*pair(client, ("Alex", "Sam")), *pair(client, ("Kim", "Lee"))]
        with BidLoad(base, partners, seed) as load:
            for _ in range(KILLS):
                floor = len(load.acked) + 10  # the load flows on this process
                _wait_for(lambda f=floor: len(load.acked) >= f, 60, "bids acknowledged")
                time.sleep(rng.uniform(0.05, 0.8))
                in_flight = load.recorder.in_flight
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=30)
                assert process.returncode == -signal.SIGKILL
                began = time.monotonic()
                process = launch()
                kills.append(
                    {"in_flight": in_flight, "restart_s": round(time.monotonic() - began, 2)}
                )
            floor = len(load.acked) + 20
            _wait_for(lambda: len(load.acked) >= floor, 60, "bids after the last restart")
        figures = check_stored_bids(migrated_url, base, load)
    except BaseException:
        print(f"seed {seed}; tend serve log:\n{_tail(log_path)}")
        raise
    finally:
        if process.poll() is None:
            stop(process)
        log_file.close()
    transport = sum(1 for a in load.recorder.answers if a.status is None)
    server_errors = Counter(a.status for a in load.recorder.answers if (a.status or 0) >= 500)
    print(
        f"\n[kill -9 x{KILLS}, {database.backend}, seed {seed}] {figures}; "
        f"requests {len(load.recorder.answers)}, without an answer {transport}, "
        f"5xx {dict(server_errors)}; kills {kills}"
    )
    assert sum(k["in_flight"] for k in kills) > 0, "no kill hit a request in flight"


# --- 2. PostgreSQL restarted under load ---------------------------------------------------


def _postgres_bindir() -> Path | None:
    candidates = [os.environ.get("TEND_TEST_PG_BINDIR", ""), "/usr/lib/postgresql/15/bin"]
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            candidates.append(
                subprocess.run(
                    [pg_config, "--bindir"], capture_output=True, text=True, timeout=10
                ).stdout.strip()
            )
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and all((Path(candidate) / b).is_file() for b in ("initdb", "pg_ctl")):
            return Path(candidate)
    return None


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free port, this test's alone: stopping it
    disturbs nobody. As root the server runs as the `postgres` user (it refuses root)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        # Under /tmp: the postgres user can reach it, and the socket path stays short.
        parent = "/tmp" if os.path.isdir("/tmp") else None  # noqa: S108
        self.root = Path(tempfile.mkdtemp(prefix="tend-faults-pg-", dir=parent))
        if self.as_postgres:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{program} failed: {done.stdout}{done.stderr}"

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", "tend", "-A", "trust", "-E", "UTF8", "--no-sync"
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c shared_buffers=16MB -c max_connections=60"
        )
        log = ["-l", str(self.log), "-o", options]
        self._run("pg_ctl", "-D", str(self.data), *log, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://tend@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        admin = make_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url(name)

    def remove(self) -> None:
        with contextlib.suppress(AssertionError, subprocess.SubprocessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bindir = _postgres_bindir()
    missing = None
    if bindir is None:
        missing = "PostgreSQL server binaries (initdb, pg_ctl) not found"
    elif os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            missing = "running as root without a `postgres` user to run PostgreSQL as"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL restart test: {missing}")
        pytest.skip(missing)
    assert bindir is not None
    cluster = PrivatePostgres(bindir)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


RECOVERY_LIMIT_S = 5.0


@pytest.mark.slow
def test_postgresql_restart_under_load_is_answered_with_5xx_and_recovered_from(
    private_postgres, tmp_path
):
    pg = private_postgres
    url = pg.create_database("tend")
    migrations.upgrade(url)
    seed = _seed()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    with log_path.open("a") as log_file:
        server = start(
            ["serve", "--port", str(port)],
            tend_env(url, TEST_SECRET, TEND_SCHEDULER="on", TEND_SCHEDULER_TICK_SECONDS="1"),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(base, server, timeout=90)
            with httpx.Client(base_url=base, timeout=30) as client:
                partners = list(pair(client, ("Alex", "Sam")))
            load = BidLoad(base, partners, seed, pause=0.02)
            reading = threading.Event()

            def reader() -> None:
                with httpx.Client(base_url=base, timeout=15) as client:
                    while not reading.is_set():
                        headers = partners[0].headers
                        load.recorder.call(client, "readyz", "GET", "/readyz")
                        load.recorder.call(
                            client, "balance", "GET", "/v1/couple/balance", headers=headers
                        )
                        load.recorder.call(
                            client, "list", "GET", "/v1/bids", params={"limit": 5}, headers=headers
                        )
                        time.sleep(0.03)

            reader_thread = threading.Thread(target=reader, daemon=True)
            with load:
                reader_thread.start()
                time.sleep(1.5)
                stop_called = time.monotonic()
                pg.stop("fast")
                down = time.monotonic()
                time.sleep(2.0)
                start_called = time.monotonic()
                pg.start()  # returns once PostgreSQL accepts connections
                up = time.monotonic()

                def recovered() -> bool:
                    later = [a for a in load.recorder.answers if a.started > up]
                    kinds = {a.what for a in later if a.ok}
                    return kinds >= {"create", "readyz", "balance", "list"}

                _wait_for(recovered, 30, "Tend to answer again after PostgreSQL came back")
                time.sleep(3.0)  # and keep answering
                reading.set()
                reader_thread.join(timeout=60)
            alive = server.poll() is None
            figures = check_stored_bids(url, base, load)
        except BaseException:
            print(f"seed {seed}; tend serve log:\n{_tail(log_path)}")
            raise
        finally:
            if server.poll() is None:
                stop(server)

    assert alive, "tend serve died while PostgreSQL was down"
    answers = sorted(load.recorder.answers, key=lambda a: a.started)
    unanswered = [a for a in answers if a.status is None]
    assert unanswered == [], f"Tend stopped answering: {unanswered[:3]}"
    before = [a for a in answers if a.ended < stop_called]
    assert before and all(a.ok for a in before), [a for a in before if not a.ok][:3]
    outage = [a for a in answers if a.started >= down and a.ended <= start_called]
    assert len(outage) >= 10, "too few requests while PostgreSQL was down"
    wrong_2xx = [a for a in outage if a.ok]
    assert wrong_2xx == [], f"2xx while the database was down: {wrong_2xx[:3]}"
    for answer in outage:
        assert answer.status is not None and answer.status >= 500, answer
        if answer.what == "readyz":
            assert answer.status == 503 and answer.body["database"] == "unreachable", answer
        else:  # retryable, and saying so: 503 problem details with Retry-After
            assert answer.status == 503 and answer.retry_after, answer
            assert answer.content_type.startswith(PROBLEM_JSON), answer
            assert answer.body["type"] == "urn:tend:problem:service-unavailable", answer
    last_failure = max((a.ended for a in answers if not a.ok), default=up)
    recovery = max(0.0, last_failure - up)
    assert recovery <= RECOVERY_LIMIT_S, f"still failing {recovery:.2f} s after PostgreSQL was up"
    first_ok = {
        what: min(a.ended - up for a in answers if a.what == what and a.ok and a.started > up)
        for what in ("create", "readyz", "balance", "list")
    }
    after = [a for a in answers if a.started > last_failure]
    assert {a.what for a in after} >= {"create", "readyz", "balance", "list"}
    assert all(a.ok for a in after)
    statuses = Counter((a.what, a.status) for a in outage)
    print(
        f"\n[PostgreSQL restart, seed {seed}] stop took {down - stop_called:.2f} s, down "
        f"{start_called - down:.2f} s, start took {up - start_called:.2f} s; recovery "
        f"{recovery:.3f} s after PostgreSQL accepted connections (first success by kind "
        f"{ {k: round(v, 3) for k, v in first_ok.items()} } s after); answers while down "
        f"{dict(statuses)}; {figures}"
    )


# --- 3. The push provider failing, then recovering ----------------------------------------

SEND_PATH = "/--/api/v2/push/send"
MAX_ATTEMPTS = 12
RETRY_BASE_S = 0.4
RETRY_MAX_S = 1.5
PUSH_TIMEOUT_S = 0.5
RETRY_AFTER_S = 1


@dataclass
class Attempt:
    at: float  # time.monotonic() when the request arrived
    mode: str
    messages: list[tuple[str, str]]  # (notification id, token)


@dataclass
class Script:
    """What the fake does with a send request right now, switched by the test:
    ``ok``, ``500``, ``429`` (with Retry-After) or ``hang`` (answers after the client's
    timeout, having accepted nothing). Tokens in ``rate_limited`` always get a retryable
    ``MessageRateExceeded`` ticket error."""

    mode: str = "ok"
    hang_seconds: float = 2.0
    rate_limited: set[str] = field(default_factory=set)
    attempts: list[Attempt] = field(default_factory=list)


class _ScriptedHandler(_Handler):
    script: Script

    def do_POST(self) -> None:
        if self.path != SEND_PATH:
            super().do_POST()
            return
        payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        script, state = self.script, self.state
        with state.lock:
            mode = script.mode
            script.attempts.append(
                Attempt(
                    time.monotonic(),
                    mode,
                    [(m["data"]["notification_id"], m["to"]) for m in payload],
                )
            )
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            if mode == "500":
                self._json(500, {"errors": [{"code": "INTERNAL", "message": "scripted"}]})
            elif mode == "429":
                self._json(
                    429,
                    {"errors": [{"code": "TOO_MANY_REQUESTS", "message": "scripted"}]},
                    {"Retry-After": str(RETRY_AFTER_S)},
                )
            elif mode == "hang":
                time.sleep(script.hang_seconds)
                self._json(503, {"errors": [{"code": "HUNG", "message": "scripted"}]})
            else:
                self._send_some(payload)

    def _send_some(self, messages: list[dict[str, Any]]) -> None:
        """The fake's own answer, but with a ticket error for rate-limited tokens."""
        limited = [m for m in messages if m["to"] in self.script.rate_limited]
        if not limited:
            self._send(messages)
            return
        data = []
        state = self.state
        with state.lock:
            state.send_requests += 1
            for message in messages:
                token = message["to"]
                if token in self.script.rate_limited:
                    data.append(
                        {
                            "status": "error",
                            "message": "too many messages to this device",
                            "details": {"error": "MessageRateExceeded"},
                        }
                    )
                elif token in state.unregistered:
                    data.append(
                        {
                            "status": "error",
                            "message": "not registered",
                            "details": {"error": "DeviceNotRegistered"},
                        }
                    )
                else:
                    ticket = str(uuid.uuid4())
                    state.tickets[ticket] = token
                    state.accepted.append(message)
                    data.append({"status": "ok", "id": ticket})
        self._json(200, {"data": data})


class ScriptedExpo(FakeExpo):
    """tests.fake_expo.FakeExpo whose send endpoint follows a Script switched at runtime."""

    def __init__(self) -> None:
        super().__init__()
        self.script = Script()
        self._server.RequestHandlerClass = type(
            "ScriptedHandler", (_ScriptedHandler,), {"state": self.state, "script": self.script}
        )

    def __enter__(self) -> "ScriptedExpo":
        super().__enter__()
        return self

    def switch(self, mode: str) -> None:
        with self.state.lock:
            self.script.mode = mode


def _device(client: httpx.Client, partner: Partner, token: str) -> None:
    response = client.post(
        "/v1/me/devices",
        json={"provider": "expo", "token": token, "platform": "ios"},
        headers=partner.headers,
    )
    assert response.status_code == 201, response.text


def _only_partner_bid_nudges_at_any_hour(client: httpx.Client, partner: Partner) -> None:
    response = client.put(
        "/v1/me/nudge-settings",
        json={
            "enabled": True,
            "discreet": True,
            "daily_time": "19:00",
            "quiet_start": "00:00",  # equal start and end: no quiet hours, whenever this runs
            "quiet_end": "00:00",
            "kinds": {
                "daily_suggestion": False,
                "partner_bid": True,
                "reconnect": False,
                "weekly_summary": False,
            },
        },
        headers=partner.headers,
    )
    assert response.status_code == 200, response.text


def _log_pending(client: httpx.Client, partner: Partner, rng: random.Random, count: int) -> None:
    for _ in range(count):
        body = new_bid(rng, response="pending")
        body["occurred_at"] = datetime.now(UTC).isoformat()
        response = client.post("/v1/bids", json=body, headers=partner.headers)
        assert response.status_code == 201, response.text


def _min_backoff(attempt: int) -> float:
    """The shortest wait the dispatcher may leave after its ``attempt``-th try failed."""
    return float(min(RETRY_MAX_S, RETRY_BASE_S * 2 ** max(0, attempt - 1)) / 2)


@pytest.mark.slow
def test_push_provider_outage_ends_with_each_nudge_delivered_once_or_dead_with_a_reason(
    database, migrated_url, tmp_path
):
    rng = random.Random(_seed())
    sam_phone, sam_tablet = "ExponentPushToken[sam-phone]", "ExponentPushToken[sam-tablet]"
    alex_limited, lee_gone = "ExponentPushToken[alex-limited]", "ExponentPushToken[lee-gone]"
    logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
    with (
        ScriptedExpo() as expo,
        tend_server(migrated_url, TEST_SECRET, TEND_SCHEDULER="off") as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        alex, sam = pair(client, ("Alex", "Sam"))
        kim, lee = pair(client, ("Kim", "Lee"))
        for partner in (alex, sam, kim, lee):
            _only_partner_bid_nudges_at_any_hour(client, partner)
        _device(client, sam, sam_phone)
        _device(client, sam, sam_tablet)
        _device(client, alex, alex_limited)  # the provider always rate-limits this one
        _device(client, lee, lee_gone)  # uninstalled: DeviceNotRegistered
        # Kim has no device at all.
        expo.script.rate_limited.add(alex_limited)
        expo.state.unregistered.add(lee_gone)
        expo.switch("500")
        _log_pending(client, alex, rng, 6)  # → Sam, who should get every one exactly once
        _log_pending(client, sam, rng, 3)  # → Alex, rate-limited until attempts run out
        _log_pending(client, kim, rng, 2)  # → Lee, whose only device is gone
        _log_pending(client, lee, rng, 2)  # → Kim, who has no device

        env = tend_env(
            migrated_url,
            TEST_SECRET,
            TEND_SCHEDULER="on",
            TEND_SCHEDULER_TICK_SECONDS="1",
            TEND_PUSH_PROVIDER="expo",
            TEND_EXPO_BASE_URL=expo.url,
            TEND_PUSH_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
            TEND_PUSH_RETRY_BASE_SECONDS=str(RETRY_BASE_S),
            TEND_PUSH_RETRY_MAX_SECONDS=str(RETRY_MAX_S),
            TEND_PUSH_TIMEOUT_SECONDS=str(PUSH_TIMEOUT_S),
        )
        files = [path.open("a") for path in logs]
        workers = [start(["worker"], env, stdout=f, stderr=subprocess.STDOUT) for f in files]
        engine = make_engine(migrated_url)

        def rows() -> list[Any]:
            with engine.connect() as conn:
                return list(
                    conn.execute(
                        select(
                            Notification.id,
                            Notification.user_id,
                            Notification.kind,
                            Notification.status,
                            Notification.attempts,
                            Notification.last_error,
                        )
                    )
                )

        try:
            _wait_for(lambda: len(expo.script.attempts) > 0, 60, "a worker's first push")
            phases = {"500": 1.5, "429": 1.5, "hang": 2.0}
            for mode, seconds in phases.items():
                expo.switch(mode)
                if mode == "429":
                    _log_pending(client, alex, rng, 2)  # new nudges during the outage
                time.sleep(seconds)
            expo.switch("ok")
            healthy_again = time.monotonic()
            _wait_for(
                lambda: all(r.status in ("delivered", "dead") for r in rows()),
                90,
                "every nudge to end delivered or dead",
            )
            settled = time.monotonic() - healthy_again
            sent_before = len(expo.script.attempts)
            time.sleep(2.5)  # later ticks send nothing again
            assert len(expo.script.attempts) == sent_before
            assert all(w.poll() is None for w in workers), "a worker died"
            final = rows()
            with engine.connect() as conn:
                tickets = conn.execute(select(func.count()).select_from(PushTicket)).scalar()
                devices = {d.token: d.disabled_reason for d in conn.execute(select(Device)).all()}
        except BaseException:
            for path in logs:
                print(f"{path.name}:\n{_tail(path)}")
            raise
        finally:
            for worker in workers:
                stop(worker)
            for f in files:
                f.close()
            engine.dispose()

    by_user: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in final:
        by_user[row.user_id].append(row)
    assert {r.kind for r in final} == {"partner_bid"}
    assert [len(by_user[p.user_id]) for p in (sam, alex, lee, kim)] == [8, 3, 2, 2]

    # What reached the provider: each accepted message once, each try counted once.
    accepted = Counter((m["data"]["notification_id"], m["to"]) for m in expo.state.accepted)
    assert all(n == 1 for n in accepted.values()), accepted.most_common(3)
    tries: dict[str, list[Attempt]] = defaultdict(list)
    for attempt in expo.script.attempts:
        for nid in {n for n, _ in attempt.messages}:
            tries[nid].append(attempt)
    for row in final:
        # A try that found no active device (Kim has none; Lee's is disabled once the
        # provider says it is gone) sends nothing and ends the nudge.
        deviceless = row.last_error is not None and "no active device" in row.last_error
        assert len(tries[str(row.id)]) == row.attempts - deviceless, (row, tries[str(row.id)])

    # Sam: delivered once to each device, after riding out the outage.
    for row in by_user[sam.user_id]:
        assert row.status == "delivered", row
        assert accepted[(str(row.id), sam_phone)] == accepted[(str(row.id), sam_tablet)] == 1
    assert max(r.attempts for r in by_user[sam.user_id]) >= 3
    # Alex: the provider refused every try; dead after the last one, saying why.
    for row in by_user[alex.user_id]:
        assert (row.status, row.attempts) == ("dead", MAX_ATTEMPTS), row
        assert row.last_error.startswith(f"gave up after {MAX_ATTEMPTS} attempts"), row
        assert "MessageRateExceeded" in row.last_error
    # Lee: the device is gone, so it is disabled and the nudges are dead: the first one
    # told so says DeviceNotRegistered, one tried after that finds no active device.
    for row in by_user[lee.user_id]:
        assert row.status == "dead", row
        assert "DeviceNotRegistered" in row.last_error or "no active device" in row.last_error
    assert any("DeviceNotRegistered" in r.last_error for r in by_user[lee.user_id])
    assert devices[lee_gone] == "DeviceNotRegistered"
    assert devices[sam_phone] is None and devices[sam_tablet] is None
    # Kim: nothing to send to; dead with the reason, kept in the inbox.
    for row in by_user[kim.user_id]:
        assert row.status == "dead" and "no active device" in row.last_error, row
    assert tickets == len(expo.state.accepted) == 2 * 8

    # Backoff between the tries of one nudge, and Retry-After honoured after a 429.
    modes = Counter(a.mode for a in expo.script.attempts)
    assert modes["500"] and modes["429"] and modes["hang"], modes
    slack = 0.05
    for nid, seen in tries.items():
        seen.sort(key=lambda a: a.at)
        for n, (previous, following) in enumerate(itertools.pairwise(seen), start=1):
            gap = following.at - previous.at
            assert gap >= _min_backoff(n) - slack, (nid, n, previous.mode, gap)
            if previous.mode == "429":
                assert gap >= RETRY_AFTER_S - slack, (nid, n, gap)
    attempts = Counter(r.attempts for r in by_user[sam.user_id])
    print(
        f"\n[push outage, {database.backend}] requests by mode {dict(modes)}; "
        f"Sam's 8 delivered after tries {dict(sorted(attempts.items()))}, all settled "
        f"{settled:.1f} s after the provider recovered; accepted {len(expo.state.accepted)} "
        f"messages, each once"
    )
