"""A fake Expo push server on 127.0.0.1 that speaks the real wire format.

Behaviour is scripted per test: whole-request failures (HTTP 500, 429 with Retry-After,
a delay longer than the client's timeout) are queued and used up one request at a time;
tokens listed in ``unregistered`` get a ``DeviceNotRegistered`` ticket error, and tokens in
``unregistered_on_receipt`` get an ok ticket whose receipt later says DeviceNotRegistered.
Every accepted message is recorded, so tests can count exactly what was delivered.
"""

import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Failure:
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0  # seconds to wait before answering (a timeout when long enough)


@dataclass
class FakeExpoState:
    failures: deque[Failure] = field(default_factory=deque)
    unregistered: set[str] = field(default_factory=set)
    unregistered_on_receipt: set[str] = field(default_factory=set)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    tickets: dict[str, str] = field(default_factory=dict)  # ticket -> token
    send_requests: int = 0
    receipt_requests: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    auth_headers: list[str | None] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    state: FakeExpoState

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        payload = json.loads(self.rfile.read(length) or b"null")
        state = self.state
        with state.lock:
            failure = state.failures.popleft() if state.failures else None
        if failure is not None:
            if failure.delay:
                time.sleep(failure.delay)
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            self._json(
                failure.status, {"errors": [{"code": "FAKE", "message": "scripted"}]}, headers
            )
            return
        if self.path == "/--/api/v2/push/send":
            self._send(payload)
        elif self.path == "/--/api/v2/push/getReceipts":
            self._receipts(payload)
        else:
            self._json(404, {"errors": [{"code": "NOT_FOUND"}]})

    def _send(self, messages: list[dict[str, Any]]) -> None:
        state = self.state
        data = []
        with state.lock:
            state.send_requests += 1
            state.batch_sizes.append(len(messages))
            state.auth_headers.append(self.headers.get("Authorization"))
            for message in messages:
                token = message["to"]
                if token in state.unregistered:
                    data.append(
                        {
                            "status": "error",
                            "message": f"{token} is not a registered push notification recipient",
                            "details": {"error": "DeviceNotRegistered", "expoPushToken": token},
                        }
                    )
                    continue
                ticket = str(uuid.uuid4())
                state.tickets[ticket] = token
                state.accepted.append(message)
                data.append({"status": "ok", "id": ticket})
        self._json(200, {"data": data})

    def _receipts(self, payload: dict[str, Any]) -> None:
        state = self.state
        data: dict[str, Any] = {}
        with state.lock:
            state.receipt_requests += 1
            for ticket in payload.get("ids", []):
                token = state.tickets.get(ticket)
                if token is None:
                    continue
                if token in state.unregistered_on_receipt:
                    data[ticket] = {
                        "status": "error",
                        "message": "gone",
                        "details": {"error": "DeviceNotRegistered"},
                    }
                else:
                    data[ticket] = {"status": "ok"}
        self._json(200, {"data": data})


class FakeExpo:
    def __init__(self) -> None:
        self.state = FakeExpoState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "FakeExpo":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
