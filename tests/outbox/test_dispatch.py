"""The dispatcher against a fake Expo server on 127.0.0.1 speaking the real wire format."""

import json
import random
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, update

from app.db import make_session_factory, transaction
from app.outbox import dispatcher
from app.outbox.channels.expo import retry_after_seconds
from app.outbox.dispatcher import Providers
from app.outbox.models import Device, Notification, PushTicket
from tests.conftest import make_settings
from tests.factories import add_device, log_bid, pair
from tests.fake_expo import Failure, FakeExpo

TOKEN = "ExponentPushToken[{}]"


@pytest.fixture
def expo():
    with FakeExpo() as fake:
        yield fake


@pytest.fixture
def push_settings(db, expo):
    return make_settings(
        db.url,
        push_provider="expo",
        expo_base_url=expo.url,
        expo_access_token="expo-access-token-for-tests",
        push_timeout_seconds=0.5,
        push_max_attempts=3,
    )


@pytest.fixture
def factory(db):
    return make_session_factory(db.engine)


def log_pending_bids(client, account, count):
    for _ in range(count):
        log_bid(client, account, id=str(uuid.uuid4()), note="private")


def dispatch(factory, push_settings, clock, rng_seed=1):
    providers = Providers(push_settings)
    try:
        return dispatcher.dispatch_once(
            factory, providers, clock, push_settings, random.Random(rng_seed)
        )
    finally:
        providers.close()


def notifications(factory):
    with transaction(factory, write=False) as session:
        return session.scalars(select(Notification).order_by(Notification.created_at)).all()


def test_delivers_discreet_text_to_every_device(client, clock, factory, push_settings, expo):
    alex, sam = pair(client)
    add_device(client, sam, TOKEN.format("phone"))
    add_device(client, sam, TOKEN.format("tablet"))
    log_pending_bids(client, alex, 1)

    result = dispatch(factory, push_settings, clock)

    assert (result.claimed, result.delivered) == (1, 1)
    assert sorted(m["to"] for m in expo.state.accepted) == [
        TOKEN.format("phone"),
        TOKEN.format("tablet"),
    ]
    for message in expo.state.accepted:
        assert message["title"] == "Tend"
        assert message["body"] == "Alex logged a moment with you"
        assert "private" not in str(message) and "hug" not in str(message)
    assert expo.state.auth_headers == ["Bearer expo-access-token-for-tests"]
    [row] = notifications(factory)
    assert row.status == "delivered" and row.delivered_at == clock.now()
    with transaction(factory, write=False) as session:
        assert len(session.scalars(select(PushTicket)).all()) == 2


def test_messages_go_in_batches_of_at_most_100(client, clock, factory, push_settings, expo):
    alex, sam = pair(client)
    add_device(client, sam, TOKEN.format("phone"))
    log_pending_bids(client, alex, 250)

    result = dispatch(factory, push_settings, clock)

    assert result.delivered == 250
    assert expo.state.batch_sizes == [100, 100, 50]


def test_server_errors_are_retried_with_backoff_then_delivered_once(
    client, clock, factory, push_settings, expo
):
    alex, sam = pair(client)
    add_device(client, sam, TOKEN.format("phone"))
    log_pending_bids(client, alex, 1)
    expo.state.failures.append(Failure(status=500))

    first = dispatch(factory, push_settings, clock)
    assert (first.retried, first.delivered) == (1, 0)
    [row] = notifications(factory)
    assert row.status == "pending" and row.attempts == 1 and "HTTP 500" in row.last_error
    delay = (row.next_attempt_at - clock.now()).total_seconds()
    base = push_settings.push_retry_base_seconds
    assert base / 2 <= delay <= base  # equal jitter around the first step

    assert dispatch(factory, push_settings, clock).claimed == 0  # not before its time
    clock.set(row.next_attempt_at)
    second = dispatch(factory, push_settings, clock)
    assert second.delivered == 1
    assert len(expo.state.accepted) == 1


def test_retry_after_is_honoured(client, clock, factory, push_settings, expo):
    alex, sam = pair(client)
    add_device(client, sam, TOKEN.format("phone"))
    log_pending_bids(client, alex, 1)
    expo.state.failures.append(Failure(status=429, retry_after="600"))

    dispatch(factory, push_settings, clock)

    [row] = notifications(factory)
    assert row.status == "pending"
    assert row.next_attempt_at >= clock.now() + timedelta(seconds=600)


def test_a_timeout_is_retried(client, clock, factory, push_settings, expo):
    alex, sam = pair(client)
    add_device(client, sam, TOKEN.format("phone"))
    log_pending_bids(client, alex, 1)
    expo.state.failures.append(Failure(status=200, delay=1.5))  # past the 0.5 s timeout

    result = dispatch(factory, push_settings, clock)

    assert result.retried == 1
    [row] = notifications(factory)
    assert row.status == "pending" and row.last_error == "timeout"


def test_gives_up_after_the_last_attempt_with_a_reason(client, clock, factory, push_settings, expo):
    alex, sam = pair(client)
    add_device(client, sam, TOKEN.format("phone"))
    log_pending_bids(client, alex, 1)
    expo.state.failures.extend(Failure(status=503) for _ in range(push_settings.push_max_attempts))

    for _ in range(push_settings.push_max_attempts):
        dispatch(factory, push_settings, clock)
        clock.advance(hours=2)

    [row] = notifications(factory)
    assert row.status == "dead"
    assert row.attempts == push_settings.push_max_attempts
    assert row.last_error.startswith(f"gave up after {push_settings.push_max_attempts} attempts")
    assert expo.state.accepted == []


def test_device_not_registered_disables_the_device(client, clock, factory, push_settings, expo):
    alex, sam = pair(client)
    gone = TOKEN.format("old-phone")
    add_device(client, sam, gone)
    add_device(client, sam, TOKEN.format("new-phone"))
    expo.state.unregistered.add(gone)
    log_pending_bids(client, alex, 1)

    result = dispatch(factory, push_settings, clock)

    assert result.delivered == 1  # the other device got it
    devices = {d["enabled"] for d in client.get("/v1/me/devices", headers=sam.headers).json()}
    assert devices == {True, False}
    log_pending_bids(client, alex, 1)
    dispatch(factory, push_settings, clock)
    assert [m["to"] for m in expo.state.accepted].count(gone) == 0
    assert len(expo.state.accepted) == 2


def test_only_an_unregistered_device_makes_the_nudge_dead(
    client, clock, factory, push_settings, expo
):
    alex, sam = pair(client)
    expo.state.unregistered.add(TOKEN.format("phone"))
    add_device(client, sam, TOKEN.format("phone"))
    log_pending_bids(client, alex, 1)

    result = dispatch(factory, push_settings, clock)

    assert result.dead == 1
    [row] = notifications(factory)
    assert row.status == "dead" and "DeviceNotRegistered" in row.last_error


def test_a_receipt_saying_device_not_registered_disables_the_device(
    client, clock, factory, push_settings, expo
):
    alex, sam = pair(client)
    token = TOKEN.format("phone")
    add_device(client, sam, token)
    expo.state.unregistered_on_receipt.add(token)
    log_pending_bids(client, alex, 1)
    dispatch(factory, push_settings, clock)
    providers = Providers(push_settings)
    try:
        assert dispatcher.check_receipts(factory, providers, clock) == 0  # too early to ask
        clock.advance(minutes=16)
        assert dispatcher.check_receipts(factory, providers, clock) == 1
    finally:
        providers.close()
    with transaction(factory, write=False) as session:
        device = session.scalars(select(Device)).one()
        ticket = session.scalars(select(PushTicket)).one()
    assert device.disabled_at is not None and device.disabled_reason == "DeviceNotRegistered"
    assert ticket.receipt_status == "DeviceNotRegistered"


def test_no_device_means_dead_with_a_reason_but_kept_in_the_inbox(
    client, clock, factory, push_settings, expo
):
    alex, sam = pair(client)
    log_pending_bids(client, alex, 1)

    assert dispatch(factory, push_settings, clock).dead == 1

    [row] = notifications(factory)
    assert row.status == "dead" and "no active device" in row.last_error
    inbox = client.get("/v1/me/notifications", headers=sam.headers).json()["items"]
    assert [n["id"] for n in inbox] == [str(row.id)]


def test_a_nudge_missed_beyond_the_grace_window_is_dropped(
    client, clock, factory, push_settings, expo
):
    alex, sam = pair(client)
    add_device(client, sam, TOKEN.format("phone"))
    log_pending_bids(client, alex, 2)
    [late, recent] = notifications(factory)
    with transaction(factory) as session:
        session.execute(
            update(Notification)
            .where(Notification.id == late.id)
            .values(
                due_at=clock.now() - timedelta(hours=3),
                next_attempt_at=clock.now() - timedelta(hours=3),
            )
        )

    result = dispatch(factory, push_settings, clock)

    assert (result.dropped, result.delivered) == (1, 1)
    statuses = {n.id: n.status for n in notifications(factory)}
    assert statuses == {late.id: "dropped", recent.id: "delivered"}
    assert len(expo.state.accepted) == 1


def test_a_claim_left_by_a_dead_worker_is_taken_over_after_its_lease(
    client, clock, factory, push_settings, expo
):
    alex, sam = pair(client)
    add_device(client, sam, TOKEN.format("phone"))
    log_pending_bids(client, alex, 1)
    with transaction(factory) as session:  # a worker claimed it, then died before sending
        claimed, _ = dispatcher.claim(session, clock.now(), push_settings)
    assert len(claimed) == 1

    assert dispatch(factory, push_settings, clock).claimed == 0  # the lease still holds
    clock.advance(seconds=push_settings.push_lease_seconds + 1)
    assert dispatch(factory, push_settings, clock).delivered == 1
    assert len(expo.state.accepted) == 1


def test_two_workers_never_send_the_same_nudge(client, clock, factory, push_settings, expo):
    alex, sam = pair(client)
    add_device(client, sam, TOKEN.format("phone"))
    log_pending_bids(client, alex, 300)
    small_batches = push_settings.model_copy(update={"dispatch_batch_size": 25})
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        providers = Providers(small_batches)
        try:
            start.wait()
            while dispatcher.dispatch_once(
                factory, providers, clock, small_batches, random.Random(seed)
            ).claimed:
                pass
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            providers.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    sent = [m["data"]["notification_id"] for m in expo.state.accepted]
    assert len(sent) == 300
    assert len(set(sent)) == 300
    assert {n.status for n in notifications(factory)} == {"delivered"}


def test_retry_after_accepts_seconds_and_http_dates():
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    future = (datetime.now(UTC) + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 80 <= retry_after_seconds(future) <= 91


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append({"path": self.path, **body})
        self.send_response(410 if self.path == "/gone" else 204)
        self.end_headers()


@pytest.fixture
def receiver():
    handler = type("Receiver", (_Receiver,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.received
    server.shutdown()
    server.server_close()


def test_webhook_devices_get_a_json_post_and_a_410_disables_them(
    client, clock, factory, push_settings, receiver
):
    url, received = receiver
    alex, sam = pair(client)
    for path in ("/ok", "/gone"):
        response = client.post(
            "/v1/me/devices",
            json={"provider": "webhook", "token": url + path, "platform": "server"},
            headers=sam.headers,
        )
        assert response.status_code == 201
    log_pending_bids(client, alex, 1)

    assert dispatch(factory, push_settings, clock).delivered == 1

    assert sorted(r["path"] for r in received) == ["/gone", "/ok"]
    assert all(r["body"] == "Alex logged a moment with you" for r in received)
    devices = client.get("/v1/me/devices", headers=sam.headers).json()
    assert sorted((d["enabled"], d["disabled_reason"]) for d in devices) == [
        (False, "HTTP 410"),
        (True, None),
    ]
