"""Admission: how many requests are inside the database section of one server process.

Tend's request path is synchronous: the session dependency, the caller's dependencies,
the endpoint and the response's validation each run on a thread of AnyIO's pool, one
after the other, and a write holds its lock (SQLite's writer lock, a couple's row lock on
PostgreSQL) and its pooled connection from the first of these steps to the commit. When
more requests are inside than there are threads, every thread can be waiting for the lock
that one request holds while that request waits for a thread to take its next step: the
process stalls until the lock wait times out.

So a request enters only while fewer than ``in_flight`` requests are inside, a number
below both the thread pool and the connection pool: each request inside uses at most one
thread and one connection at a time, so the one holding a lock always finds both. The
others wait here, on the event loop, holding no thread, no connection and no lock:

- at most ``queue`` requests wait; the next one is answered 503 with Retry-After at once;
- one account (the user of a valid access token) has at most ``account_in_flight``
  requests inside and ``account_queue`` waiting; the next one is answered 429 with
  Retry-After at once. Waiting accounts take turns (round robin), so a burst from one
  couple does not hold back anybody else's requests;
- a request that waited ``wait_seconds`` without getting in is answered 503.

Requests without a valid token (register, login, …) share one turn and no account limit:
behind a proxy they all come from one address, and login failures are limited elsewhere.
/healthz and /readyz never wait here; they answer from the event loop. On SQLite, writes
(every method but GET, HEAD and OPTIONS) also take turns for the one writer's place
before they take a place inside, so a read is not kept out by writers that only wait.
"""

import asyncio
import math
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID
from weakref import WeakKeyDictionary

from starlette.types import ASGIApp, Receive, Scope, Send

from app import security
from app.errors import problem_response

# What the service time of a request is taken to be before any has been measured.
_FIRST_SERVICE_SECONDS = 0.05
_MAX_RETRY_AFTER_SECONDS = 60
UNAVAILABLE_DETAIL = "The service is briefly unavailable; try again shortly."
_READS = frozenset({"GET", "HEAD", "OPTIONS"})

Key = UUID | None


@dataclass(frozen=True)
class Limits:
    in_flight: int
    queue: int
    account_in_flight: int
    account_queue: int
    wait_seconds: float


class Refused(Exception):
    """The request was not let in: answer ``status`` with Retry-After ``retry_after``."""

    def __init__(self, status: int, retry_after: int) -> None:
        super().__init__(status, retry_after)
        self.status = status
        self.retry_after = retry_after


class Admission:
    """The counters and the waiting line of one process; used from its event loop only."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.inside = 0
        self.waiting = 0
        self._inside_by_key: dict[Key, int] = {}
        self._waiters: dict[Key, deque[asyncio.Future[None]]] = {}
        # Keys with waiters that may enter now (under their own limit), in turn order.
        self._turns: OrderedDict[Key, None] = OrderedDict()
        self._service_seconds = _FIRST_SERVICE_SECONDS

    def _cap(self, key: Key) -> int:
        return self.limits.in_flight if key is None else self.limits.account_in_flight

    async def enter(self, key: Key) -> None:
        """Return once inside (then call ``leave``), or raise Refused."""
        if self.inside < self.limits.in_flight and self._inside_by_key.get(key, 0) < self._cap(key):
            self._take(key)
            return
        line = self._waiters.get(key)
        if key is not None and line is not None and len(line) >= self.limits.account_queue:
            raise Refused(429, self._retry_after(len(line), self.limits.account_in_flight))
        if self.waiting >= self.limits.queue:
            raise Refused(503, self._retry_after(self.waiting, self.limits.in_flight))
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if line is None:
            line = self._waiters[key] = deque()
        line.append(waiter)
        self.waiting += 1
        if self._inside_by_key.get(key, 0) < self._cap(key):
            self._turns.setdefault(key)
        try:
            async with asyncio.timeout(self.limits.wait_seconds):
                await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self.leave(key, 0.0)  # let in just as the wait ended: pass the place on
            else:
                self._forget(key, waiter)
            if isinstance(exc, TimeoutError):
                raise Refused(503, self._retry_after(self.waiting, self.limits.in_flight)) from exc
            raise

    def leave(self, key: Key, seconds: float) -> None:
        self.inside -= 1
        left = self._inside_by_key[key] - 1
        if left:
            self._inside_by_key[key] = left
        else:
            del self._inside_by_key[key]
        if seconds:
            self._service_seconds += (seconds - self._service_seconds) / 16
        if key in self._waiters and left < self._cap(key):
            self._turns.setdefault(key)
        self._let_in()

    def _take(self, key: Key) -> None:
        self.inside += 1
        self._inside_by_key[key] = self._inside_by_key.get(key, 0) + 1

    def _let_in(self) -> None:
        while self.inside < self.limits.in_flight and self._turns:
            key, _ = self._turns.popitem(last=False)
            line = self._waiters[key]
            waiter = line.popleft()
            self.waiting -= 1
            if not line:
                del self._waiters[key]
            self._take(key)
            waiter.set_result(None)
            if line and self._inside_by_key[key] < self._cap(key):
                self._turns[key] = None  # its next turn comes after every other key's

    def _forget(self, key: Key, waiter: asyncio.Future[None]) -> None:
        line = self._waiters[key]
        line.remove(waiter)
        self.waiting -= 1
        if not line:
            del self._waiters[key]
            self._turns.pop(key, None)

    def _retry_after(self, ahead: int, lanes: int) -> int:
        """Seconds until ``ahead`` waiting requests have gone through ``lanes`` at once."""
        seconds = math.ceil(ahead * self._service_seconds / max(lanes, 1))
        return max(1, min(_MAX_RETRY_AFTER_SECONDS, seconds))


class AdmissionMiddleware:
    """Pure ASGI: lets a request into the app through ``Admission``, or answers for it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: Limits,
        secret_key: str,
        now: Callable[[], datetime],
        one_writer: bool = False,
        exempt: frozenset[str] = frozenset({"/healthz", "/readyz"}),
    ) -> None:
        self.app = app
        self.limits = limits
        self.one_writer = one_writer
        # A line per event loop: its futures belong to one loop. A server process runs one;
        # tests may serve one app from several (a TestClient each) at once.
        self._lines: WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[Admission, Admission | None]
        ] = WeakKeyDictionary()
        self.secret_key = secret_key
        self.now = now
        self.exempt = exempt

    def _lines_of(self, loop: asyncio.AbstractEventLoop) -> tuple[Admission, Admission | None]:
        lines = self._lines.get(loop)
        if lines is None:
            # SQLite takes one writer at a time: the others wait here, in turns, rather
            # than on a thread for the process's writer lock, whose wait ends in 503.
            writers = Admission(replace(self.limits, in_flight=1)) if self.one_writer else None
            lines = self._lines[loop] = (Admission(self.limits), writers)
        return lines

    def _account(self, scope: Scope) -> Key:
        for name, value in scope.get("headers") or ():
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer" or not token:
                    return None
                try:
                    claims = security.decode_access_token(
                        token.strip(), secret_key=self.secret_key, now=self.now()
                    )
                except security.InvalidToken:
                    return None  # answered 401 inside, without waiting for a lock
                return claims.user_id
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        key = self._account(scope)
        loop = asyncio.get_running_loop()
        admission, writers = self._lines_of(loop)
        if scope["method"] in _READS:
            writers = None
        try:
            if writers is not None:
                await writers.enter(key)
            try:
                await admission.enter(key)
            except BaseException:
                if writers is not None:
                    writers.leave(key, 0.0)
                raise
        except Refused as refused:
            await _refusal(refused)(scope, receive, send)
            return
        started = loop.time()
        try:
            await self.app(scope, receive, send)
        finally:
            seconds = loop.time() - started
            admission.leave(key, seconds)
            if writers is not None:
                writers.leave(key, seconds)


def _refusal(refused: Refused) -> ASGIApp:
    headers = {"Retry-After": str(refused.retry_after)}
    if refused.status == 429:
        return problem_response(
            429,
            "too-many-requests",
            "Too many requests",
            f"Too many requests from this account at once. "
            f"Try again in {refused.retry_after} seconds.",
            headers=headers,
        )
    return problem_response(
        503, "service-unavailable", "Service unavailable", UNAVAILABLE_DETAIL, headers=headers
    )
