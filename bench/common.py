"""Shared pieces: databases to measure on, real server processes, load, latency summaries."""

import asyncio
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from app import migrations
from tests.databases import create_database, drop_database
from tests.factories import verify_email
from tests.processes import free_port, start, stop, tend_env, wait_ready

SECRET = "benchmark-secret-key-0123456789-0123456789"
POSTGRES_URL = os.environ.get("TEND_BENCH_POSTGRES_URL") or os.environ.get(
    "TEND_TEST_POSTGRES_URL", ""
)
# Server processes of `tend serve --workers N` where a benchmark measures throughput:
# one per core of the machine the figures in docs/benchmarks.md come from (2 cores).
# `python -m bench --workers N` or TEND_BENCH_WORKERS=N changes it.
SERVER_WORKERS = int(os.environ.get("TEND_BENCH_WORKERS", "2"))
# What docs/deploy.md asks of an API replica: production mode, the scheduler left to
# `tend worker`, the default log level and format (one JSON line per request).
PRODUCTION = {"TEND_ENV": "production", "TEND_SCHEDULER": "off"}


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
    print(f"\n{'figure':70} {'value':>12} {'baseline':>12} {'ratio':>7}")
    for f in figures:
        base = f"{f.baseline:12.2f}" if f.baseline is not None else " " * 12
        ratio = f"{f.ratio:7.3f}" if f.ratio is not None else ""
        print(f"{f.name + ' (' + f.unit + ')':70} {f.value:12.2f} {base} {ratio}")
        if f.baseline_name:
            print(f"{'  baseline: ' + f.baseline_name:70}")


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


# --- real processes ----------------------------------------------------------------------


@dataclass
class Server:
    base: str
    process: subprocess.Popen[str]
    log: Path  # what the server processes printed (JSON lines)

    def errors(self, limit: int = 5) -> list[str]:
        """The last ``limit`` warnings and errors of the server's log, with exception text."""
        found = []
        with open(self.log, errors="replace") as lines:
            for line in lines:
                if any(f'"level": "{level}"' in line for level in ("warning", "error", "critical")):
                    try:
                        entry = json.loads(line)
                        exc = entry.pop("exc", "")
                        details = {
                            k: v
                            for k, v in entry.items()
                            if k not in ("ts", "level", "logger", "msg", "request_id")
                        }
                        found.append(f"{entry.get('msg')} {details} {exc}".strip())
                    except ValueError:
                        found.append(line.strip())
        return found[-limit:]

    def dump_stacks(self, pids: list[int]) -> None:
        """Make the server processes ``pids`` print their threads' stacks (faulthandler on
        SIGABRT; they die of it), one after the other, and print each distinct stack once
        with its count."""
        stacks: dict[str, int] = {}
        for pid in pids:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                    if b"resource_tracker" in cmdline.read():  # multiprocessing's helper
                        continue
                before = self.log.stat().st_size
                os.kill(pid, signal.SIGABRT)
            except OSError:
                continue
            time.sleep(1.5)
            with open(self.log, errors="replace") as log:
                log.seek(before)
                text = log.read()
            for block in re.split(r"\n(?=(?:Current thread|Thread) 0x)", "\n" + text):
                if block.startswith(("Current thread 0x", "Thread 0x")):
                    frames = [f.strip() for f in block.splitlines()[1:] if f.startswith("  File")]
                    key = "\n".join(frames[:6])
                    stacks[key] = stacks.get(key, 0) + 1
        for stack, count in sorted(stacks.items(), key=lambda item: -item[1]):
            print(f"  {count} server thread(s) stuck at:\n    " + stack.replace("\n", "\n    "))


@contextmanager
def serve(url: str, workers: int | None = None, **settings: str) -> Iterator[Server]:
    """`tend serve --workers N` (default SERVER_WORKERS) on 127.0.0.1 with the production
    settings (plus ``settings``), its log kept in a temporary file; stopped when the block
    ends. If the block fails, the server's last errors are printed."""
    workers = workers or SERVER_WORKERS
    port = free_port()
    with tempfile.TemporaryDirectory() as directory, open(Path(directory) / "log", "w") as log:
        process = start(
            ["serve", "--port", str(port), "--workers", str(workers)],
            # PYTHONFAULTHANDLER: SIGABRT makes a stuck server print every thread's stack.
            tend_env(url, SECRET, **{**PRODUCTION, "PYTHONFAULTHANDLER": "1", **settings}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        running = Server(f"http://127.0.0.1:{port}", process, Path(log.name))
        tree = [process.pid]
        try:
            wait_ready(running.base, process)
            if workers > 1:
                _wait_for_children(process.pid, workers)
            tree = process_tree(process.pid)
            yield running
        except BaseException as exc:
            if "stuck" in str(exc):
                running.dump_stacks(tree[1:])
            print_server_errors(running)
            raise
        finally:
            stop(process)
            _kill_leftovers(tree[1:])


def _kill_leftovers(pids: list[int]) -> None:
    """Server processes still alive once their parent is gone (stuck ones ignore SIGTERM)."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def print_server_errors(running: Server) -> None:
    for error in running.errors():
        print(f"  server error: {error}", file=sys.stderr)


@contextmanager
def server(url: str, workers: int = 1) -> Iterator[str]:
    """`tend serve` in its own process(es), as production runs it; yields its base URL."""
    with serve(url, workers=workers) as running:
        yield running.base


@contextmanager
def worker(url: str, **settings: str) -> Iterator[subprocess.Popen[str]]:
    """`tend worker` (the scheduler alone), its output discarded."""
    process = start(
        ["worker"],
        tend_env(url, SECRET, TEND_ENV="production", **settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        if process.poll() is not None:
            raise RuntimeError(f"tend worker exited with {process.returncode}")
        yield process
    finally:
        stop(process)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # pid (comm) state ppid ...: comm may hold spaces, so split after its ')'.
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(entry))
    return found


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (uvicorn's parent and its server processes)."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(_children(current))
    return tree


def rss_mib(pids: list[int]) -> float:
    """Resident memory summed over ``pids`` (VmRSS from /proc), in MiB; gone ones count 0."""
    total_kib = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total_kib += int(line.split()[1])
                        break
        except OSError:
            continue
    return total_kib / 1024


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by ``pids`` (from /proc/<pid>/stat)."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def _wait_for_children(pid: int, workers: int, timeout: float = 30) -> None:
    """/readyz answers as soon as one server process listens; wait for all of them."""
    deadline = time.monotonic() + timeout
    while len(process_tree(pid)) - 1 < workers and time.monotonic() < deadline:
        time.sleep(0.2)


# --- load ----------------------------------------------------------------------------------


class Answer:
    """An HTTP answer: status, headers (lower-case names) and body."""

    __slots__ = ("body", "headers", "status_code")

    def __init__(self, status_code: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code, self.headers, self.body = status_code, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One keep-alive HTTP/1.1 connection to a Tend on 127.0.0.1, one request at a time.

    The load generator shares the machine with the servers and the database, so it must
    cost little: httpx's pool spends milliseconds of CPU per request at 64 connections,
    this a few tens of microseconds. Enough HTTP for Tend's answers, nothing more.
    """

    IDLE_SECONDS = 3.0  # uvicorn closes a connection idle for 5 s; reopen before that
    TIMEOUT_SECONDS = 120.0  # no answer by then: asyncio.TimeoutError

    def __init__(self, base: str) -> None:
        parsed = urlsplit(base)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = 0.0

    async def _open(self) -> None:
        await self.close()
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        body = b"" if json_body is None else json.dumps(json_body).encode()
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if json_body is not None:
            head.append("Content-Type: application/json")
        if body or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body)}")
        message = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        if self.writer is None or time.monotonic() - self.used > self.IDLE_SECONDS:
            await self._open()
        try:
            try:
                answer = await asyncio.wait_for(self._exchange(message), self.TIMEOUT_SECONDS)
            except (ConnectionError, asyncio.IncompleteReadError):
                # The server closed a kept-alive connection just as it was reused: once
                # more on a new one (Tend's writes are safe to repeat: bids carry their id).
                await self._open()
                answer = await asyncio.wait_for(self._exchange(message), self.TIMEOUT_SECONDS)
        except TimeoutError:
            await self.close()  # an answer may still come: never read it as the next one's
            raise
        self.used = time.monotonic()
        if answer.headers.get("connection", "").lower() == "close":
            await self.close()
        return answer

    async def _exchange(self, message: bytes) -> Answer:
        assert self.reader is not None and self.writer is not None
        self.writer.write(message)
        await self.writer.drain()
        lines = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            await self.reader.readuntil(b"\r\n")
            body = b"".join(parts)
        else:
            body = b""
        return Answer(status, headers, body)

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        return await self.request("GET", path, headers=headers)

    async def post(
        self, path: str, json: Any = None, headers: dict[str, str] | None = None
    ) -> Answer:
        return await self.request("POST", path, json_body=json, headers=headers)


MakeRequest = Callable[[Connection, int, int], Awaitable[Answer]]


@dataclass
class Load:
    rate: float  # answers per second over the whole run
    latencies: list[float]  # ms, one per request
    client_cpu: float = 0.0  # share of one core the load generator itself used
    failures: dict[int, int] = field(default_factory=dict)  # non-2xx answers by status

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


async def _load(base: str, make_request: MakeRequest, total: int, concurrency: int) -> Load:
    latencies: list[float] = []
    failures: dict[int, int] = {}
    next_request = iter(range(total))
    connections = [Connection(base) for _ in range(concurrency)]

    async def run(slot: int) -> None:
        for i in next_request:
            started = time.perf_counter()
            try:
                answer = await make_request(connections[slot], slot, i)
            except TimeoutError:
                raise RuntimeError(
                    f"no answer in {Connection.TIMEOUT_SECONDS:.0f} s: the server is stuck"
                ) from None
            latencies.append((time.perf_counter() - started) * 1000)
            if answer.status_code >= 300:
                failures[answer.status_code] = failures.get(answer.status_code, 0) + 1
                if len(failures) == 1 and failures[answer.status_code] == 1:
                    print(f"  first failure: {answer.status_code}: {answer.text[:300]}")

    try:
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(run(slot) for slot in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu_used = time.process_time() - cpu
    finally:
        for connection in connections:
            await connection.close()
    return Load(total / elapsed, latencies, cpu_used / elapsed, failures)


def load(base: str, make_request: MakeRequest, total: int, concurrency: int) -> Load:
    """``total`` requests from ``concurrency`` clients, each on its own keep-alive
    connection, sending its next request as soon as its previous one is answered.
    ``make_request(connection, slot, i)``, slot in [0, concurrency), i in [0, total).
    Non-2xx answers are counted in ``failures``, not raised: the caller reports them."""
    return asyncio.run(_load(base, make_request, total, concurrency))


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def verify_address(url: str, base: str, email: str) -> None:
    """Confirm ``email`` with the link Tend mailed to it, read from the outbox in the
    database (the benchmarks' mailbox): a partner may consent only to a verified coach."""
    with httpx.Client(base_url=base, timeout=60) as client:
        verify_email(client, email, url)
