"""Shared pieces: databases to measure on, a real server process, latency summaries."""

import os
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app import migrations
from tests.databases import create_database, drop_database
from tests.processes import tend_server

SECRET = "benchmark-secret-key-0123456789-0123456789"
POSTGRES_URL = os.environ.get("TEND_BENCH_POSTGRES_URL") or os.environ.get(
    "TEND_TEST_POSTGRES_URL", ""
)


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None


def print_table(figures: list[Figure]) -> None:
    print(f"\n{'figure':58} {'value':>12} {'baseline':>12} {'ratio':>7}")
    for f in figures:
        base = f"{f.baseline:12.2f}" if f.baseline is not None else " " * 12
        ratio = f"{f.ratio:7.3f}" if f.ratio is not None else ""
        print(f"{f.name + ' (' + f.unit + ')':58} {f.value:12.2f} {base} {ratio}")
        if f.baseline_name:
            print(f"{'  baseline: ' + f.baseline_name:58}")


def backends() -> list[str]:
    return ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


@contextmanager
def fresh_database(backend: str) -> Iterator[str]:
    """A migrated, empty database, dropped afterwards."""
    with tempfile.TemporaryDirectory() as directory:
        url = create_database(backend, Path(directory), "bench", base_url=POSTGRES_URL)
        try:
            migrations.upgrade(url)
            yield url
        finally:
            drop_database(url, base_url=POSTGRES_URL)


@contextmanager
def server(url: str, workers: int = 1) -> Iterator[str]:
    """`tend serve` in its own process(es), as production runs it; yields its base URL."""
    with tend_server(
        url, SECRET, workers=workers, TEND_SCHEDULER="off", TEND_LOG_LEVEL="WARNING"
    ) as base:
        yield base


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def median(samples: list[float]) -> float:
    return statistics.median(samples)
