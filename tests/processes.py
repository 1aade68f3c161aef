"""Running Tend's own command as a newcomer would: real processes on 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests import factories

TEND = str(Path(sys.executable).with_name("tend"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# tests.conftest.TEST_DATA_KEY (not imported: conftest imports the app, which this must not).
DATA_KEY = "dGVuZC10ZXN0LWRhdGEta2V5LTMyLWJ5dGVzLWxvbmc="


def tend_env(database_url: str, secret_key: str, **settings: str) -> dict[str, str]:
    """This environment without any TEND_ setting of its own, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEND_")}
    env.update(TEND_DATABASE_URL=database_url, TEND_SECRET_KEY=secret_key)
    env.update(TEND_DATA_KEY=DATA_KEY, **settings)
    return env


def start(args: list[str], env: dict[str, str], **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen([TEND, *args], env=env, text=True, **popen)  # type: ignore[call-overload, no-any-return]


def wait_ready(base_url: str, process: subprocess.Popen[str], timeout: float = 180) -> None:
    """Until /readyz answers 200; fails early if the process died. Generous: on a shared
    2-core machine under other test runs, starting two server processes took over 60 s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"tend exited with {process.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise RuntimeError("tend did not become ready in time")
        time.sleep(0.2)


def stop(process: subprocess.Popen[str]) -> str:
    """Terminate and return what it printed (when its output was piped)."""
    process.terminate()
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output or ""


def pair_over_http(
    client: httpx.Client, names: tuple[str, str] = ("A", "B")
) -> tuple[dict[str, str], dict[str, str]]:
    """Two partners paired through a running Tend; their auth headers alone, which is what
    bench/ sends with (tests take the accounts from tests.factories.pair_over_http)."""
    a, b = factories.pair_over_http(client, names)
    return a.headers, b.headers


@contextmanager
def tend_server(
    database_url: str, secret_key: str, *, workers: int = 1, **settings: str
) -> Iterator[str]:
    """`tend serve` on 127.0.0.1 until the block ends; yields its base URL."""
    port = free_port()
    process = start(
        ["serve", "--port", str(port), "--workers", str(workers)],
        tend_env(database_url, secret_key, **settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process)
        yield base
    finally:
        stop(process)


# Asks GET /healthz every 10 ms on one kept-alive connection until its stdin closes, then
# prints the latencies (ms) and the failed answers as JSON.
_HEALTHZ_PROBE = """
import json, sys, threading, time, httpx
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
latencies, failures = [], 0
with httpx.Client(base_url=sys.argv[1], timeout=60) as client:
    while not stop.is_set():
        started = time.perf_counter()
        try:
            failures += client.get("/healthz").status_code != 200
        except httpx.HTTPError:
            failures += 1
        latencies.append((time.perf_counter() - started) * 1000)
        if len(latencies) == 1:
            print("polling", flush=True)
        time.sleep(0.01)
print(json.dumps({"latencies": latencies, "failures": failures}))
"""


@dataclass
class HealthzProbe:
    latencies: list[float] = field(default_factory=list)  # ms
    failures: int = 0

    @property
    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


@contextmanager
def healthz_probe(base_url: str) -> Iterator[HealthzProbe]:
    """GET /healthz every 10 ms from a process of its own (a load generator in this one
    would slow it down) while the block runs; the probe's figures are filled in after."""
    probe = HealthzProbe()
    process = subprocess.Popen(
        [sys.executable, "-c", _HEALTHZ_PROBE, base_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()  # its first answer came: polling before the load starts
        yield probe
    finally:
        output, _ = process.communicate(input="", timeout=120)
    result = json.loads(output.splitlines()[-1])
    probe.latencies, probe.failures = result["latencies"], result["failures"]
