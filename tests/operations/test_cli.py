"""The `tend` command as a newcomer runs it: real processes, a real server, real HTTP."""

import subprocess

import httpx
import pytest

from tests.conftest import TEST_SECRET, drop_database, fresh_database_url
from tests.processes import TEND, free_port, start, stop, tend_env, wait_ready


def _env(url: str, **extra: str) -> dict[str, str]:
    return tend_env(url, TEST_SECRET, TEND_SCHEDULER="off", **extra)


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TEND, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def empty_url(database, tmp_path):
    url = fresh_database_url(database.backend, tmp_path, "cli")
    yield url
    drop_database(url)


def test_serve_refuses_an_unmigrated_database(empty_url):
    result = _run(["serve", "--port", str(free_port())], _env(empty_url))
    assert result.returncode == 2
    assert "tend migrate" in result.stderr


def test_worker_refuses_an_unmigrated_database(empty_url):
    result = _run(["worker"], _env(empty_url))
    assert result.returncode == 2
    assert "tend migrate" in result.stderr


def test_production_without_secret_key_refuses_to_start(empty_url):
    env = _env(empty_url, TEND_ENV="production")
    del env["TEND_SECRET_KEY"]
    result = _run(["migrate"], env)
    assert result.returncode == 2
    assert "TEND_SECRET_KEY is required" in result.stderr


def test_migrate_then_serve_over_real_http(empty_url):
    env = _env(empty_url)
    migrated = _run(["migrate"], env)
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    server = start(
        ["serve", "--host", "127.0.0.1", "--port", str(port)],
        env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, server)
        registered = httpx.post(
            f"{base}/v1/auth/register",
            json={
                "email": "cli@example.com",
                "password": "a long passphrase",
                "display_name": "Cli",
            },
        )
        assert registered.status_code == 201
        token = registered.json()["access_token"]
        me = httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["email"] == "cli@example.com"
        assert httpx.get(f"{base}/docs").status_code == 200
    finally:
        output = stop(server)
    # The server logged its requests as JSON lines, without the password.
    assert '"route": "/v1/auth/register"' in output
    assert "a long passphrase" not in output
