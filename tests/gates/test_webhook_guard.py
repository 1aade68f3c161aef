"""Webhook devices cannot make Tend call into its own network: loopback, private,
link-local (cloud metadata) and reserved addresses are refused at registration (422) and
again at every send, where the POST goes to the very address that was checked.

The other tests push to fake servers on 127.0.0.1 with TEND_WEBHOOK_ALLOW_PRIVATE on;
here it is off, as in production."""

import json
import random
import socket
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Environment
from app.db import make_session_factory, transaction
from app.main import create_app
from app.outbox import dispatcher
from app.outbox.channels import PushMessage
from app.outbox.channels.webhook import WebhookProvider
from app.outbox.dispatcher import Providers
from app.outbox.models import Notification
from tests.conftest import make_settings
from tests.factories import assert_problem, pair

DEVICES = "/v1/me/devices"


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append({"path": self.path, "host": self.headers["Host"]})
        self.send_response(204)
        self.end_headers()


@pytest.fixture
def receiver() -> Iterator[tuple[int, list[dict[str, str]]]]:
    handler = type("Receiver", (_Receiver,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], handler.received
    server.shutdown()
    server.server_close()


@pytest.fixture
def guarded(db, clock) -> Iterator[TestClient]:
    """The API as in production: private webhook addresses refused."""
    settings = make_settings(db.url, webhook_allow_private=False)
    with TestClient(create_app(settings, clock=clock, engine=db.engine)) as client:
        yield client


def _webhook(client: TestClient, headers: dict[str, str], url: str):  # type: ignore[no-untyped-def]
    body = {"provider": "webhook", "token": url, "platform": "server"}
    return client.post(DEVICES, json=body, headers=headers)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/push",
        "http://localhost:9000/push",
        "https://api.localhost/push",
        "http://10.1.2.3/hook",
        "http://172.16.0.9/hook",
        "http://192.168.1.20/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/hook",
        "http://0.0.0.0:8000/",
        "http://[::1]:9000/push",
        "http://[fd00:ec2::254]/latest/",
        "http://[::ffff:127.0.0.1]/push",
        "http://224.0.0.1/hook",
    ],
)
def test_registration_refuses_webhooks_into_private_networks(guarded, url):
    alex, _ = pair(guarded)

    problem = assert_problem(_webhook(guarded, alex.headers, url), 422)

    assert problem["errors"][0]["loc"][-1] == "token"
    assert "private" in problem["detail"] or "localhost" in problem["detail"]
    assert guarded.get(DEVICES, headers=alex.headers).json() == []


def test_registration_accepts_public_addresses_and_names(guarded):
    alex, _ = pair(guarded)
    for url in ("https://93.184.215.14/hook", "https://hooks.example.com/tend/alex"):
        assert _webhook(guarded, alex.headers, url).status_code == 201, url


def _log_pending_bid(client: TestClient, headers: dict[str, str]) -> None:
    body = {"id": str(uuid.uuid4()), "kind": "hug", "initiator": "me"}
    assert client.post("/v1/bids", json=body, headers=headers).status_code == 201


def _dispatch(db, clock, *, allow_private: bool) -> dispatcher.DispatchResult:  # type: ignore[no-untyped-def]
    settings = make_settings(db.url, push_provider="webhook", webhook_allow_private=allow_private)
    providers = Providers(settings)
    try:
        return dispatcher.dispatch_once(
            make_session_factory(db.engine), providers, clock, settings, random.Random(1)
        )
    finally:
        providers.close()


def test_the_dispatcher_refuses_a_name_that_resolves_to_loopback_at_send_time(
    client, db, clock, receiver
):
    """Registered while allowed (or before the name pointed home); refused when sent."""
    port, received = receiver
    alex, sam = pair(client)
    assert _webhook(client, sam.headers, f"http://localhost:{port}/hook").status_code == 201
    _log_pending_bid(client, alex.headers)

    result = _dispatch(db, clock, allow_private=False)

    assert (result.delivered, result.dead) == (0, 1)
    assert received == []
    with transaction(make_session_factory(db.engine), write=False) as session:
        [row] = session.scalars(select(Notification)).all()
    assert row.status == "dead" and "refused" in (row.last_error or "")

    # The same device, allowed: the push arrives, so the refusal above was the guard's.
    _log_pending_bid(client, alex.headers)
    assert _dispatch(db, clock, allow_private=True).delivered == 1
    assert [r["path"] for r in received] == ["/hook"]


def _message(url: str) -> PushMessage:
    return PushMessage(str(uuid.uuid4()), url, "Tend", "A small idea for today")


def test_the_post_goes_to_the_checked_address_with_the_original_host(receiver):
    """DNS is the edge of the outside world here: a resolver that answers for a name no
    real DNS knows shows the connection uses its answer, not a second lookup."""
    port, received = receiver
    asked: list[str] = []

    def resolve(host: str, _port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    provider = WebhookProvider(1.0, allow_private=True, resolve=resolve)
    try:
        [outcome] = provider.send([_message(f"http://hooks.tend.invalid:{port}/in")])
    finally:
        provider.close()

    assert outcome.accepted, outcome
    assert asked == ["hooks.tend.invalid"]
    assert received == [{"path": "/in", "host": f"hooks.tend.invalid:{port}"}]


def test_a_name_rebound_to_a_private_address_is_refused_without_connecting(receiver):
    port, received = receiver
    answers = {"public": ["93.184.215.14"], "rebound": ["93.184.215.14", "127.0.0.1"]}
    provider = WebhookProvider(
        1.0, allow_private=False, resolve=lambda host, _port: answers[host.split(".")[0]]
    )
    try:
        [rebound] = provider.send([_message(f"http://rebound.tend.invalid:{port}/in")])
        [unknown] = WebhookProvider(
            1.0, resolve=lambda *_: (_ for _ in ()).throw(socket.gaierror("no such name"))
        ).send([_message("https://nowhere.tend.invalid/in")])
    finally:
        provider.close()

    assert not rebound.accepted and not rebound.retryable and "refused" in (rebound.error or "")
    assert received == []
    assert not unknown.accepted and unknown.retryable  # DNS may be back on the next try


def test_production_refuses_to_allow_private_webhooks():
    with pytest.raises(ValueError, match="TEND_WEBHOOK_ALLOW_PRIVATE"):
        make_settings("sqlite://", env=Environment.production, webhook_allow_private=True)


def test_problem_is_json(guarded):
    alex, _ = pair(guarded)
    response = _webhook(guarded, alex.headers, "http://127.0.0.1/")
    assert response.headers["content-type"] == "application/problem+json"
    assert json.loads(response.text)["status"] == 422
