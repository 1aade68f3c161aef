"""`make bench` keeps working: each benchmark runs end to end at a tiny size, on both
databases.

Figures from here mean nothing; the real run is `make bench` (docs in README)."""

import pytest

from bench import bank, nudges, writes
from bench.common import Figure, print_table


@pytest.mark.slow
def test_every_benchmark_runs_and_reports_figures(database, monkeypatch, capsys):
    backend = database.backend
    monkeypatch.setattr(bank, "BIG", 300)
    monkeypatch.setattr(bank, "REQUESTS", 20)
    monkeypatch.setattr(writes, "REQUESTS", 64)
    monkeypatch.setattr(nudges, "USERS", 400)
    monkeypatch.setattr(nudges, "CHUNK", 100)

    figures = bank.run(backend) + writes.run(backend) + nudges.run(backend)
    print_table(figures)

    assert all(isinstance(f, Figure) and f.value > 0 for f in figures)
    assert {f.name.split(" [")[0] for f in figures} >= {
        "GET balance, 300 bids, median",
        "POST /v1/bids p99",
        "deliver 400 nudges to fake Expo",
    }
    assert "ratio" in capsys.readouterr().out
