"""Test fixtures: every database test runs on SQLite and on PostgreSQL.

Each backend's schema is built once by running the Alembic migrations; after each test
every table is emptied, so tests see real commits (a 2xx means durable) and stay isolated.
Set TEND_TEST_POSTGRES_URL to run the PostgreSQL half; in CI (CI=true) it is required.
"""

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app import migrations
from app.clock import FrozenClock
from app.config import Environment, Settings, get_settings
from app.db import make_engine
from app.main import create_app
from app.models import Base
from tests.databases import POSTGRES_URL, create_database, drop_database

TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256-0123456789"
# The care data key (32 bytes, base64) the tests' apps and processes seal care data with.
TEST_DATA_KEY = "dGVuZC10ZXN0LWRhdGEta2V5LTMyLWJ5dGVzLWxvbmc="
START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") and not POSTGRES_URL:
        raise pytest.UsageError(
            "CI must run the suite on PostgreSQL too: set TEND_TEST_POSTGRES_URL (.ci/run does)"
        )


# Test files that take minutes, longest first. `make test` hands whole files to two workers
# in collection order (--dist loadfile --no-loadscope-reorder); starting with the longest
# keeps one worker from running a long file alone at the end while the other waits
# (xdist's own order, by number of tests, left the few-but-slow process tests for last).
SLOW_FILES_FIRST = (
    "tests/gates/test_authorization.py",
    "tests/gates/test_schemathesis.py",
    "tests/gates/test_hostile_input.py",
    "tests/operations/test_typescript_client.py",
    "tests/operations/test_bench_smoke.py",
    "tests/operations/test_pgbouncer.py",
    "tests/gates/test_scale_out.py",
    "tests/gates/test_bursts.py",
    "tests/gates/test_faults.py",
    "tests/planning/test_nudges_planning.py",
    "tests/gates/test_privacy.py",
    "tests/operations/test_demo.py",
    "tests/operations/test_packaging.py",
    "tests/coaching/test_dashboard.py",
    "tests/operations/test_docs_offline.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(SLOW_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Skipped tests, one line per reason with a count (pytest's own -rs lists every test
    location: without PostgreSQL that is a hundred lines saying the same thing)."""
    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    if reasons:
        terminalreporter.section("skipped, by reason", sep="-")
        for reason, count in reasons.most_common():
            terminalreporter.line(f"{count:4d} skipped: {reason}")


@dataclass
class Database:
    backend: str
    url: str
    engine: Engine

    def empty(self) -> None:
        tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
        with self.engine.begin() as conn:
            if self.backend == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    conn.execute(text(f"DELETE FROM {table}"))


def fresh_database_url(backend: str, directory: Path, name: str) -> str:
    return create_database(backend, directory, name)


def _backends() -> list[object]:
    reason = "PostgreSQL: set TEND_TEST_POSTGRES_URL (see README) to run this half"
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=[] if POSTGRES_URL else [pytest.mark.skip(reason=reason)],
        ),
    ]


@pytest.fixture(scope="session", params=_backends())
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    backend: str = request.param
    url = fresh_database_url(backend, tmp_path_factory.mktemp(backend), "main")
    migrations.upgrade(url)
    engine = make_engine(url)
    yield Database(backend=backend, url=url, engine=engine)
    engine.dispose()
    drop_database(url)


@pytest.fixture
def db(database: Database) -> Iterator[Database]:
    yield database
    database.empty()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def settings(database: Database) -> Settings:
    return make_settings(database.url)


def make_settings(url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": Environment.test,
        "database_url": url,
        "secret_key": TEST_SECRET,
        "data_key": TEST_DATA_KEY,
        "scheduler": "off",
    }
    values.update(overrides)
    # Webhook tests push to fake servers on 127.0.0.1 (tests/gates/test_webhook_guard.py turns
    # this off to see private addresses refused); production refuses it.
    values.setdefault("webhook_allow_private", values["env"] != Environment.production)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def client(db: Database, settings: Settings, clock: FrozenClock) -> Iterator[TestClient]:
    app = create_app(settings, clock=clock, engine=db.engine)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def tend_settings(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The `tend` command's settings (read from TEND_ variables) point at the test database."""
    for key in [k for k in os.environ if k.startswith("TEND_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("TEND_DATABASE_URL", db.url)
    monkeypatch.setenv("TEND_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("TEND_DATA_KEY", TEST_DATA_KEY)
    monkeypatch.setenv("TEND_ENV", "test")
    monkeypatch.setenv("TEND_SCHEDULER", "off")
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.fixture
def migrated_url(database: Database, tmp_path: Path) -> Iterator[str]:
    """A database of its own, migrated to head, for tests that run `tend` processes on it."""
    url = fresh_database_url(database.backend, tmp_path, "migrated")
    migrations.upgrade(url)
    yield url
    drop_database(url)
