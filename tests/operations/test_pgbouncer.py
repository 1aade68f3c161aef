"""Many replicas through PgBouncer: three API processes and two workers reach PostgreSQL
only through a PgBouncer in transaction mode (the config of deploy/pgbouncer, addresses
changed), whose few server connections they share, under the load of test_scale_out.

PgBouncer hands each transaction whichever server connection is free, so a statement
psycopg prepared on one is unknown on the next, and it refuses the startup options Tend
sends directly to PostgreSQL: without TEND_PGBOUNCER=true this test fails at once.
Also checked: two `tend migrate` at once through PgBouncer migrate once (the migration
lock is held by an open transaction, which transaction pooling keeps on one connection);
no 5xx; every acknowledged bid stored once; no nudge pushed twice; PostgreSQL never saw
more connections from PgBouncer than its pool.

Needs PostgreSQL (TEND_TEST_POSTGRES_URL) and Debian's pgbouncer; CI installs it."""

import os
import pwd
import random
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from configparser import ConfigParser
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app import migrations
from app.bids.models import Bid
from app.db import make_engine
from app.nudges.models import NudgeSettings
from app.outbox.models import Notification
from tests.conftest import TEST_SECRET
from tests.databases import POSTGRES_URL, create_database, drop_database
from tests.fake_expo import FakeExpo
from tests.gates.test_scale_out import (
    COUPLES,
    IN_FLIGHT,
    LOGS_PER_COUPLE,
    CoupleState,
    Fleet,
    _jobs,
    _pair,
    _phone,
    _register,
    _troubles,
    _wait_for_drain,
)
from tests.processes import TEND, free_port, start, stop, tend_env, wait_ready

pytestmark = pytest.mark.slow

PGBOUNCER = "/usr/sbin/pgbouncer"
ROOT = Path(__file__).resolve().parents[2]
POOL_SIZE, RESERVE = 8, 2
API_PROCESSES = 3


def _needs() -> None:
    missing = []
    if not POSTGRES_URL:
        missing.append("PostgreSQL (set TEND_TEST_POSTGRES_URL)")
    if not Path(PGBOUNCER).exists():
        missing.append("Debian's pgbouncer (apt-get install pgbouncer)")
    if missing:
        reason = "PgBouncer deployment test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(f"CI must run it: {reason}")
        pytest.skip(reason)


class Bouncer:
    """A PgBouncer on a free 127.0.0.1 port in front of one database, as role tend."""

    def __init__(self, database_url: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tend-pgbouncer-"))
        self.port = free_port()
        server = make_url(database_url)
        config = ConfigParser()
        config.read(ROOT / "deploy" / "pgbouncer" / "pgbouncer.ini")
        config["databases"]["tend"] = (
            f"host={server.host} port={server.port or 5432} dbname={server.database}"
        )
        config["pgbouncer"].update(
            listen_addr="127.0.0.1",
            listen_port=str(self.port),
            auth_file=str(self.dir / "userlist.txt"),
            logfile=str(self.dir / "pgbouncer.log"),
            pidfile=str(self.dir / "pgbouncer.pid"),
            default_pool_size=str(POOL_SIZE),
            reserve_pool_size=str(RESERVE),
        )
        with (self.dir / "pgbouncer.ini").open("w") as out:
            config.write(out)
        (self.dir / "userlist.txt").write_text(f'"{server.username}" "{server.password}"\n')
        args = [PGBOUNCER, str(self.dir / "pgbouncer.ini")]
        if os.geteuid() == 0:  # PgBouncer will not run as root
            nobody = pwd.getpwnam("nobody")
            for path in [self.dir, *self.dir.iterdir()]:
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
            args[1:1] = ["-u", "nobody"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = (
            f"postgresql+psycopg://{server.username}:{server.password}@127.0.0.1:{self.port}/tend"
        )
        deadline = time.monotonic() + 20
        while not (self.dir / "pgbouncer.pid").exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer did not start: {self.log()}")
            time.sleep(0.1)

    def log(self) -> str:
        path = self.dir / "pgbouncer.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
        shutil.rmtree(self.dir, ignore_errors=True)


class ConnectionWatch:
    """Samples how many connections PostgreSQL has to the database, from the side."""

    def __init__(self, database_url: str) -> None:
        self.engine = make_engine(database_url)
        self.name = make_url(database_url).database
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with self.engine.connect() as connection:
            while not self._stop.is_set():
                count = connection.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": self.name},
                ).scalar_one()
                connection.rollback()
                self.peak = max(self.peak, int(count))
                self._stop.wait(0.2)

    def close(self) -> int:
        self._stop.set()
        self._thread.join()
        self.engine.dispose()
        return self.peak


def test_apis_and_workers_share_a_small_pool_through_pgbouncer(tmp_path):
    _needs()
    database_url = create_database("postgresql", tmp_path, "bouncer")
    name = make_url(database_url).database
    admin = make_engine(database_url)
    with admin.begin() as connection:
        # PgBouncer passes no startup options: bound lock waits on the database instead.
        connection.execute(text(f"ALTER DATABASE \"{name}\" SET lock_timeout = '10s'"))
    admin.dispose()
    figures: dict[str, object] = {}
    with ExitStack() as stack:
        stack.callback(drop_database, database_url)
        bouncer = Bouncer(database_url)
        stack.callback(bouncer.close)
        settings = {"TEND_PGBOUNCER": "true", "TEND_LOG_FORMAT": "json"}
        env = tend_env(bouncer.url, TEST_SECRET, **settings)

        # Two replicas migrate at once, through PgBouncer.
        migrating = [
            subprocess.Popen([TEND, "migrate"], env=env, text=True, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        errors = [p.communicate(timeout=120)[1] for p in migrating]
        assert [p.returncode for p in migrating] == [0, 0], errors
        # The test's own connections close after use, so PostgreSQL's count is PgBouncer's.
        engine = make_engine(database_url, poolclass=NullPool)
        stack.callback(engine.dispose)
        assert migrations.current_revision(engine) == migrations.head_revision()

        watch = ConnectionWatch(database_url)
        expos = [stack.enter_context(FakeExpo()) for _ in range(2)]
        logs = {}

        def launch(label: str, args: list[str], **extra: str) -> subprocess.Popen[str]:
            logs[label] = tmp_path / f"{label}.log"
            out = stack.enter_context(logs[label].open("w"))
            process = start(
                args, {**env, **extra}, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path
            )
            stack.callback(stop, process)
            return process

        bases = []
        for i in range(API_PROCESSES):
            port = free_port()
            process = launch(f"api-{i}", ["serve", "--port", str(port)], TEND_SCHEDULER="off")
            bases.append(f"http://127.0.0.1:{port}")
            wait_ready(bases[-1], process)
        workers = [
            launch(
                f"worker-{i}",
                ["worker"],
                TEND_SCHEDULER_TICK_SECONDS="1",
                TEND_PUSH_PROVIDER="expo",
                TEND_EXPO_BASE_URL=expo.url,
                TEND_PUSH_RETRY_BASE_SECONDS="1",
                TEND_PUSH_RETRY_MAX_SECONDS="2",
                TEND_WORKER_HEARTBEAT_FILE=str(tmp_path / f"worker-{i}.heartbeat"),
            )
            for i, expo in enumerate(expos)
        ]

        fleet = Fleet(bases)
        stack.callback(fleet.close)
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=IN_FLIGHT))
        users = list(pool.map(lambda i: _register(fleet, i), range(2 * COUPLES)))
        couples = [CoupleState(i, users[2 * i], users[2 * i + 1]) for i in range(COUPLES)]
        list(pool.map(lambda c: _pair(fleet, c), couples))
        list(pool.map(lambda u: _phone(fleet, u), users))
        assert not fleet.problems, fleet.problems[:10]
        with Session(engine) as session, session.begin():
            session.execute(update(NudgeSettings).values(next_daily_at=datetime.now(UTC)))

        started = time.perf_counter()
        jobs = _jobs(fleet, couples, random.Random(19))
        for future in [pool.submit(job) for job in jobs]:
            future.result()
        figures["load_s"] = round(time.perf_counter() - started, 1)
        figures["requests"] = fleet.responses
        by_status, drain = _wait_for_drain(lambda: Session(engine))
        time.sleep(2.5)  # two more ticks: nothing may go out twice
        figures["drain_s"] = round(drain, 1)
        figures["peak_server_connections"] = watch.close()

        with Session(engine) as session:
            stored = Counter(session.scalars(select(Bid.id)).all())
            notifications = dict(
                session.execute(select(Notification.id, Notification.status)).all()
            )
            dedupe = session.scalar(select(func.count(func.distinct(Notification.dedupe_key))))
        accepted = [m["data"]["notification_id"] for e in expos for m in e.state.accepted]
        worker_exits = [w.poll() for w in workers]
    figures["statuses"] = dict(fleet.statuses)
    figures["pushes per worker"] = [len(e.state.accepted) for e in expos]
    print(f"\npgbouncer figures: {figures}")

    assert not fleet.problems, fleet.problems[:20]
    assert not [s for s in fleet.statuses if s >= 500]
    troubles = [t for label in logs for t in _troubles(logs[label])]
    assert not troubles, troubles[:10]
    assert worker_exits == [None, None]
    # Every acknowledged bid once, nothing else.
    assert set(stored) == set(fleet.acked) and all(n == 1 for n in stored.values())
    assert len(fleet.acked) == COUPLES * LOGS_PER_COUPLE
    # Every nudge delivered, each pushed once, by both workers between them.
    assert set(by_status) == {"delivered"} and dedupe == len(notifications)
    received = Counter(accepted)
    assert not [k for k, n in received.items() if n > 1], "a nudge was pushed twice"
    assert set(received) == {str(i) for i in notifications}
    assert all(figures["pushes per worker"]), figures
    # PostgreSQL saw PgBouncer's pool, not the processes' own pools (30 each, 5 processes).
    assert 0 < figures["peak_server_connections"] <= POOL_SIZE + RESERVE, figures
