"""`make bench sync` keeps working: the sync benchmark runs end to end at a tiny size, on
both databases (the figures mean nothing here; docs/benchmarks.md has the real run)."""

import pytest

from bench import sync
from bench.common import print_table


@pytest.mark.slow
def test_the_sync_benchmark_runs_and_reports_figures(database, monkeypatch, capsys):
    monkeypatch.setattr(sync, "BIG", 300)
    monkeypatch.setattr(sync, "SMALL", 10)
    monkeypatch.setattr(sync, "PULLS", 10)
    monkeypatch.setattr(sync, "PUSHES", 1)
    monkeypatch.setattr(sync, "PUSHED", 10)
    figures = sync.run(database.backend)
    print_table(figures)
    names = {f.name.split(" [")[0] for f in figures}
    assert names == {
        "GET /v1/sync, 10 changes, 300 bids of history, median",
        "POST /v1/sync, 10 bids logged offline, median",
    }
    assert all(f.value > 0 and f.baseline and f.baseline > 0 for f in figures)
    assert "ratio" in capsys.readouterr().out
