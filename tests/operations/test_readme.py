"""The README's curl walk is what a newcomer pastes first: it runs, as written, against a
live `tend serve`, and does what its comments say."""

import re
import subprocess
from pathlib import Path

import httpx

from tests.conftest import TEST_SECRET
from tests.processes import tend_server

README = Path(__file__).resolve().parents[2] / "README.md"


def quickstart() -> str:
    found = re.search(r"<!-- quickstart -->\n```sh\n(.*?)```", README.read_text(), re.DOTALL)
    assert found, "README.md has no <!-- quickstart --> block"
    return found[1]


def test_the_readme_curl_walk_pairs_a_couple_and_moves_their_balance(db):
    with tend_server(db.url, TEST_SECRET, TEND_SCHEDULER="off") as base:
        done = subprocess.run(
            ["/bin/bash", "-euo", "pipefail", "-c", quickstart()],
            env={"PATH": "/usr/bin:/bin", "TEND": base},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        partner, deposit, balance = done.stdout.split()
        assert partner == "Alex"
        assert float(deposit) > 0
        assert 0 < float(balance) <= float(deposit)
        # Two people, one couple, one bid: nothing more, nothing less.
        health = httpx.get(f"{base}/healthz")
        assert health.status_code == 200
    with db.engine.connect() as connection:
        counts = [
            connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
            for table in ("users", "couples", "bids")
        ]
    assert counts == [2, 1, 1]
