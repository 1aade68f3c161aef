"""`make bench` and `make soak` keep working: each benchmark runs end to end at a tiny
size, on both databases.

Figures from here mean nothing; the real run is `make bench` (docs/benchmarks.md)."""

import re

import pytest
from sqlalchemy import event

from bench import bank, coach, floor, nudges, pgbench, soak, writes
from bench.common import Figure, print_table
from tests.factories import EVERY_NUDGE, pair_over_http


@pytest.mark.slow
def test_every_benchmark_runs_and_reports_figures(database, monkeypatch, capsys):
    backend = database.backend
    monkeypatch.setattr(bank, "BIG", 300)
    monkeypatch.setattr(bank, "REQUESTS", 20)
    monkeypatch.setattr(writes, "REQUESTS", 64)
    monkeypatch.setattr(writes, "WARM_UP", 16)
    monkeypatch.setattr(writes, "CONCURRENCIES", (4, 8))
    monkeypatch.setattr(writes, "BASELINE_SECONDS", 1.0)
    monkeypatch.setattr(nudges, "USERS", 400)
    monkeypatch.setattr(nudges, "CHUNK", 100)
    monkeypatch.setattr(coach, "REQUESTS", 5)
    monkeypatch.setattr(coach, "YEAR_DAYS", 30)
    monkeypatch.setattr(floor, "REQUESTS", 64)
    monkeypatch.setattr(floor, "WARM_UP", 16)
    monkeypatch.setattr(floor, "BASELINE_SECONDS", 1.0)

    figures = bank.run(backend) + writes.run(backend) + nudges.run(backend) + coach.run(backend)
    figures += floor.run(backend)
    print_table(figures)

    assert all(isinstance(f, Figure) and f.value > 0 for f in figures)
    assert not [f.name for f in figures if "failed answers" in f.name]
    names = {f.name.split(" [")[0] for f in figures}
    assert names >= {
        "GET balance, 300 bids, median",
        "POST /v1/bids throughput, c=4",
        "POST /v1/bids p99, c=8",
        "deliver 400 nudges to fake Expo",
        "coach progress weeks=52, a year of history, p99",
        "coach progress weeks=12, a year of history, p50",
    }
    # Each write figure's baseline is the database's own limit (pgbench, or sqlite3).
    throughput = [f for f in figures if f.name.startswith("POST /v1/bids throughput")]
    assert len(throughput) == 2 and all(f.baseline and f.baseline > 0 for f in throughput)
    # The floor (bare endpoint, raw psycopg) runs the same statements: PostgreSQL only.
    floors = [f for f in figures if re.match(r"POST /v1/bids floor .* throughput", f.name)]
    assert len(floors) == (2 if backend == "postgresql" else 0)
    assert all(f.baseline and f.baseline > 0 for f in floors)
    assert "ratio" in capsys.readouterr().out


def _shape(statement: str) -> tuple[str, str, bool]:
    """What a statement does, to what table, and whether it locks: ("SELECT", "bids", False)."""
    found = re.match(r"\s*(SELECT|INSERT INTO|UPDATE|DELETE FROM)\b", statement, re.IGNORECASE)
    assert found, statement
    verb = found[1].upper()
    table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)", statement, re.IGNORECASE)
    assert table, statement
    return verb, table[1], "FOR UPDATE" in statement.upper()


def test_the_database_baseline_runs_what_one_bid_create_runs(client, database):
    """bench/pgbench.py measures the database's limit with the statements one POST /v1/bids
    costs; if the app's statements change, that list must change with them."""
    alex, sam = pair_over_http(client)
    client.put("/v1/me/nudge-settings", json=EVERY_NUDGE, headers=sam.headers).raise_for_status()
    for i, response in enumerate(("toward", "pending")):
        client.post("/v1/bids", json=writes.bid_body(i), headers=alex.headers).raise_for_status()
        seen: list[str] = []

        def record(conn, cursor, statement, parameters, context, executemany, seen=seen):
            if not re.match(r"\s*(BEGIN|COMMIT|ROLLBACK|PRAGMA|SAVEPOINT|RELEASE)", statement):
                seen.append(statement)

        event.listen(database.engine, "before_cursor_execute", record)
        try:
            body = writes.bid_body(i)
            assert body["response"] == response
            client.post("/v1/bids", json=body, headers=alex.headers).raise_for_status()
        finally:
            event.remove(database.engine, "before_cursor_execute", record)

        postgresql = database.backend == "postgresql"
        expected = pgbench.statements(response, postgresql=postgresql)
        assert [_shape(s) for s in seen] == [_shape(s) for s in expected]


@pytest.mark.slow
def test_the_soak_quick_mode_runs_clean(database, capsys):
    backend = database.backend
    argv = ["--minutes", "0.1", "--couples", "3", "--think", "0.2", "--warm-up", "1"]
    if backend == "sqlite":
        argv.append("--sqlite")

    assert soak.main(argv) == 0

    out = capsys.readouterr().out
    assert "soak 5xx answers" in out and "server RSS" in out and "end " in out
