"""What the image and compose.yaml run, checked without Docker (no daemon here or in CI):
the files as written, the lock files against pyproject.toml, and the health checks that
the image and compose call, run for real against a worker and a server."""

import os
import re
import subprocess
import time
import tomllib
from configparser import ConfigParser
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from app.heartbeat import HEARTBEAT_STALE_SECONDS
from tests.conftest import TEST_SECRET
from tests.processes import TEND, free_port, start, stop, tend_env, wait_ready

ROOT = Path(__file__).resolve().parents[2]
TEND_SERVICES = ("api-1", "api-2", "worker")


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _command(service: dict) -> str:
    command = service["command"]
    return command if isinstance(command, str) else " ".join(command)


def test_compose_runs_two_apis_a_worker_postgres_and_pgbouncer():
    services = _compose()["services"]
    assert set(services) == {"postgres", "pgbouncer", *TEND_SERVICES}
    for name in TEND_SERVICES:
        service = services[name]
        env = service["environment"]
        assert service["build"] == "." and env["TEND_ENV"] == "production"
        assert env["TEND_SECRET_KEY"].startswith("${TEND_SECRET_KEY:?"), "no default secret"
        assert "@pgbouncer:6432/" in env["TEND_DATABASE_URL"] and env["TEND_PGBOUNCER"] == "true"
        assert service["depends_on"], name
    for name in ("api-1", "api-2"):
        api = services[name]
        assert re.search(r"tend migrate && exec tend serve --host 0\.0\.0\.0", _command(api))
        assert api["environment"]["TEND_SCHEDULER"] == "off"
        assert api["healthcheck"]["test"] == ["CMD", "tend", "healthcheck"]
        assert api["ports"][0].startswith("127.0.0.1:")
    worker = services["worker"]
    assert _command(worker) == "tend worker"
    assert worker["healthcheck"]["test"] == ["CMD", "tend", "worker", "--check"]
    assert worker["depends_on"]["api-1"]["condition"] == "service_healthy"
    for name in ("postgres", "pgbouncer"):
        assert "pg_isready" in services[name]["healthcheck"]["test"]
    assert services["pgbouncer"]["build"] == "deploy/pgbouncer"
    config = ConfigParser()
    config.read(ROOT / "deploy" / "pgbouncer" / "pgbouncer.ini")
    assert config["pgbouncer"]["pool_mode"] == "transaction"
    assert config["databases"]["tend"].startswith("host=postgres ")


def test_the_image_installs_locked_dependencies_and_root_owned_code():
    dockerfile = (ROOT / "Dockerfile").read_text()
    lines = [line.strip() for line in dockerfile.splitlines() if line.strip()]
    runtime = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM ")) :]
    installs = [i for i, line in enumerate(runtime) if "pip install" in line]
    assert "pip install --require-hashes -r /tmp/requirements.lock" in runtime[installs[0]]
    assert "pip install --no-deps /tmp/dist/*.whl" in runtime[installs[1]]
    assert not [line for line in lines if re.search(r"pip install .*(-e|--editable)\b", line)]
    assert "chown" not in dockerfile
    user = runtime.index("USER tend")
    assert user > max(installs), "the runtime user must not own what pip installed"
    assert [line for line in runtime if line.startswith("HEALTHCHECK ")] == [
        'HEALTHCHECK --interval=30s --timeout=5s --start-period=30s CMD ["tend", "healthcheck"]'
    ]


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text()
    return {
        canonicalize_name(name): version
        for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", text, re.M)
    }


def test_the_lock_files_pin_what_pyproject_asks_for_with_hashes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    for lock, pins, wanted in (
        ("requirements.lock", runtime, project["dependencies"]),
        (
            "requirements-dev.lock",
            dev,
            [*project["dependencies"], *project["optional-dependencies"]["dev"]],
        ),
    ):
        for spec in wanted:
            requirement = Requirement(spec)
            name = canonicalize_name(requirement.name)
            assert name in pins, f"{lock} lacks {name}: run make lock"
            assert requirement.specifier.contains(pins[name], prereleases=True), (
                f"{lock} pins {name}=={pins[name]}, pyproject wants {requirement.specifier}: "
                "run make lock"
            )
        blocks = re.split(r"\n(?=[A-Za-z])", (ROOT / lock).read_text())
        unhashed = [b.split()[0] for b in blocks if "==" in b and "--hash=sha256:" not in b]
        assert not unhashed, f"{lock}: pins without a hash: {unhashed}"
    # The image runs what the tests ran.
    assert {name: dev[name] for name in runtime} == runtime


def _heartbeat_env(url: str, heartbeat: Path, **settings: str) -> dict[str, str]:
    return tend_env(url, TEST_SECRET, TEND_WORKER_HEARTBEAT_FILE=str(heartbeat), **settings)


def _tend(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TEND, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_worker_check_follows_the_heartbeat(migrated_url, tmp_path):
    heartbeat = tmp_path / "run" / "worker.heartbeat"
    env = _heartbeat_env(migrated_url, heartbeat, TEND_SCHEDULER_TICK_SECONDS="1")
    before = _tend(["worker", "--check"], env)
    assert before.returncode == 1 and "no heartbeat" in before.stderr

    worker = start(["worker"], env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not heartbeat.exists():
            assert worker.poll() is None and time.monotonic() < deadline, "no heartbeat written"
            time.sleep(0.2)
        alive = _tend(["worker", "--check"], env)
        assert alive.returncode == 0, alive.stderr
        assert _tend(["healthcheck"], env).returncode == 0  # the image's check, in a worker
        # The worker keeps beating: an old file is fresh again within one beat.
        os.utime(heartbeat, (time.time() - 3600, time.time() - 3600))
        deadline = time.monotonic() + 15
        while time.time() - heartbeat.stat().st_mtime > 60:
            assert time.monotonic() < deadline, "the heartbeat stopped"
            time.sleep(0.5)
    finally:
        stop(worker)
    stale = time.time() - HEARTBEAT_STALE_SECONDS - 5
    os.utime(heartbeat, (stale, stale))
    dead = _tend(["worker", "--check"], env)
    assert dead.returncode == 1 and "old" in dead.stderr
    assert _tend(["healthcheck"], env).returncode == 1


def test_healthcheck_asks_the_api_where_no_worker_runs(migrated_url, tmp_path):
    port = free_port()
    env = _heartbeat_env(
        migrated_url, tmp_path / "none.heartbeat", TEND_PORT=str(port), TEND_SCHEDULER="off"
    )
    down = _tend(["healthcheck"], env)
    assert down.returncode == 1 and f"127.0.0.1:{port}/healthz" in down.stderr
    server = start(
        ["serve", "--port", str(port)], env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", server)
        assert _tend(["healthcheck"], env).returncode == 0
    finally:
        stop(server)


@pytest.mark.parametrize("path", ["/", "/docs", "/redoc"])
def test_pages_link_to_local_things_only(client, path):
    page = client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    sources = re.findall(r"""(?:src|href)=["']?([^"' >]+)""", page.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    if path == "/":
        assert {"/docs", "/coach", "/redoc", "/openapi.json"} <= set(sources)
    for source in sources:
        if source.startswith("/docs/assets/"):
            assert client.get(source).status_code == 200, source


def test_the_docs_link_only_to_files_inside_the_repository():
    """The README once sent readers to ../shared/SPEC.md, which a clone does not have."""
    for doc in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        text = doc.read_text()
        assert "../shared" not in text and "SPEC.md" not in text, doc.name
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path = (doc.parent / target).resolve()
            assert path.is_relative_to(ROOT) and path.exists(), (doc.name, target)
