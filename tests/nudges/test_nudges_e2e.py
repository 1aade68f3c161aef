"""Nudges through real processes: a bid logged over HTTP reaches a fake Expo server, sent
by the scheduler inside `tend serve`, or by `tend worker` beside a scheduler-less API."""

import subprocess
import time

import httpx
import pytest

from tests.conftest import TEST_SECRET
from tests.factories import EVERY_NUDGE, add_device, log_bid, pair_over_http
from tests.fake_expo import FakeExpo
from tests.processes import (
    free_port,
    start,
    stop,
    tend_env,
    tend_server,
    wait_ready,
)

TOKEN = "ExponentPushToken[e2e-sam]"


def _walk(base: str, languages: tuple[str | None, str | None] = (None, None)) -> None:
    """Alex and Sam pair, Sam registers a phone, Alex logs a bid waiting for Sam's answer."""
    with httpx.Client(base_url=base, timeout=10) as client:
        alex, sam = pair_over_http(client, ("Alex", "Sam"), languages)
        add_device(client, sam, TOKEN)
        # No quiet hours: the real clock may be in Sam's default quiet hours (22:00-07:00).
        client.put(
            "/v1/me/nudge-settings",
            json={**EVERY_NUDGE, "quiet_start": "00:00", "quiet_end": "00:00"},
            headers=sam.headers,
        ).raise_for_status()
        log_bid(client, alex, note="by the river")


def _wait_for_push(expo: FakeExpo, seconds: float = 30) -> dict:
    deadline = time.monotonic() + seconds
    while not expo.state.accepted:
        assert time.monotonic() < deadline, "no push reached the fake Expo server"
        time.sleep(0.2)
    time.sleep(1.5)  # a second tick must not send it again
    assert len(expo.state.accepted) == 1
    return expo.state.accepted[0]


def _settings(expo: FakeExpo, scheduler: str) -> dict[str, str]:
    return {
        "TEND_SCHEDULER": scheduler,
        "TEND_SCHEDULER_TICK_SECONDS": "1",
        "TEND_PUSH_PROVIDER": "expo",
        "TEND_EXPO_BASE_URL": expo.url,
    }


# Sam's push is in Sam's language, whatever Alex's phone speaks.
@pytest.mark.parametrize(
    ("languages", "lock_screen"),
    [
        ((None, None), "Alex logged a moment with you"),
        (("de-DE,de;q=0.9", "fr-FR,fr;q=0.9,en;q=0.5"), "Alex a noté un moment avec toi"),
    ],
    ids=["en", "de-to-fr"],
)
def test_tend_serve_runs_the_scheduler_in_process(migrated_url, languages, lock_screen):
    with FakeExpo() as expo:
        env = tend_env(migrated_url, TEST_SECRET, **_settings(expo, "on"))
        port = free_port()
        server = start(
            ["serve", "--port", str(port)], env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}", server)
            _walk(f"http://127.0.0.1:{port}", languages)
            push = _wait_for_push(expo)
        finally:
            output = stop(server)
    assert push["to"] == TOKEN
    assert (push["title"], push["body"]) == ("Tend", lock_screen)
    assert "by the river" not in output  # the note never reaches the logs


def test_tend_worker_sends_for_an_api_without_a_scheduler(migrated_url):
    with (
        FakeExpo() as expo,
        tend_server(migrated_url, TEST_SECRET, **_settings(expo, "off")) as base,
    ):
        _walk(base)
        time.sleep(2)
        assert expo.state.accepted == []  # the API alone sends nothing
        worker = start(
            ["worker"],
            tend_env(migrated_url, TEST_SECRET, **_settings(expo, "on")),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            push = _wait_for_push(expo)
        finally:
            stop(worker)
    assert push["to"] == TOKEN
