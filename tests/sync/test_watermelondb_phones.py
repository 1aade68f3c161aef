"""Two phones of one couple, each running WatermelonDB's own synchronize() in Node with its
LokiJS adapter in memory, against a live Tend (clients/watermelondb/phones.js).

The server runs in this process on a frozen clock, so the test can move time between the
steps (past the 90 days that deletions are kept). After every step the script has checked
that both phones hold exactly what GET /v1/bids shows their owner; here the couple's
account must equal a full recomputation.
"""

import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import FrozenClock, epoch_ms
from app.couples.models import Couple
from app.main import create_app
from tests.conftest import START, make_settings
from tests.processes import free_port
from tests.sync.recompute import assert_account_recomputes

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "watermelondb"


@pytest.fixture(scope="session")
def node() -> str:
    """Node, with clients/watermelondb/node_modules as package-lock.json says (installed
    once per lock)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    missing = [name for name, path in (("node", node), ("npm", npm)) if path is None]
    if missing or node is None or npm is None:
        reason = f"needs {' and '.join(missing)} (apt-get install nodejs npm)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the WatermelonDB phones: {reason}")
        pytest.skip(reason)
    lock = hashlib.sha256(
        (CLIENT / "package.json").read_bytes() + (CLIENT / "package-lock.json").read_bytes()
    ).hexdigest()[:16]
    stamp = CLIENT / "node_modules" / f".tend-installed-{lock}"
    if not stamp.exists():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=CLIENT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        stamp.touch()
    return node


class LiveServer:
    """Tend under uvicorn in a thread of this process, on the test's clock."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def live(db: Any) -> Iterator[tuple[str, FrozenClock]]:
    clock = FrozenClock(START)
    app = create_app(make_settings(db.url), clock=clock, engine=db.engine)
    with LiveServer(app) as base:
        yield base, clock


class Phones:
    def __init__(self, node: str, base: str, clock: FrozenClock) -> None:
        self.clock = clock
        self.process = subprocess.Popen(
            [node, "phones.js", base],
            cwd=CLIENT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def step(self, name: str) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        command = {"step": name, "now": epoch_ms(self.clock.now())}
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=30)
            assert self.process.stderr is not None
            pytest.fail(f"the phones failed at {name}:\n{self.process.stderr.read()}")
        answer: dict[str, Any] = json.loads(line)
        assert answer["step"] == name and answer["ok"] is True
        return answer

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        assert self.process.wait(timeout=30) == 0


def test_two_phones_converge_through_watermelondb_sync(node, live, db):
    base, clock = live
    phones = Phones(node, base, clock)
    try:
        phones.step("pair")
        with Session(db.engine) as session:
            couple_id = session.scalars(select(Couple.id)).one()

        def step(name: str, wait: timedelta = timedelta(minutes=1)) -> dict[str, Any]:
            answer = phones.step(name)
            with Session(db.engine) as session:
                assert_account_recomputes(session, couple_id, clock.now())
            clock.advance(wait)
            return answer

        offline = step("offline")
        assert offline["bids"] == [5, 5]
        edits = step("edits")
        assert edits["bids"] == [4, 4]  # Sam deleted one
        conflict = step("conflict")
        assert conflict["conflicts"] >= 1
        step("inbox")
        step("away_before", wait=timedelta(days=100))
        away = step("away_after")
        assert away["bids"] == [4, 4]  # Alex deleted one on his laptop, Sam logged one
    finally:
        phones.close()
