"""Tend as a newcomer installs it: a wheel, in a fresh virtual environment, run from a
directory that is not the checkout; and several replicas migrating at the same moment.

The wheel is built from a copy of the sources (no stale build/ directory can leak into it)
and installed with --no-deps into a new venv whose dependencies come from this test
environment through a .pth file, so the test needs no network and takes seconds.
"""

import shutil
import site
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app import i18n, migrations
from app.db import make_engine
from tests.conftest import TEST_SECRET, drop_database, fresh_database_url
from tests.processes import free_port, stop, tend_env, wait_ready

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=300, check=False, **kwargs
    )  # type: ignore[call-overload]
    assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-2000:])
    return result  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ directory of a fresh venv with only Tend's wheel installed into it."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "app", source / "app", ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip"]
    dist = work / "dist"
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(source)])
    [wheel] = (work / "dist").glob("tend-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "app/migrations/env.py" in names and "app/migrations/script.py.mako" in names
    shipped = {Path(n).name for n in names if n.startswith("app/migrations/versions/")}
    assert shipped == {p.name for p in (migrations.SCRIPTS / "versions").glob("*.py")}
    # Every language's compiled catalogue travels too: without it, Tend speaks only English.
    catalogues = {n for n in names if n.startswith("app/i18n/locale/") and n.endswith(".mo")}
    assert catalogues == {
        f"app/i18n/locale/{lang}/LC_MESSAGES/tend.mo"
        for lang in i18n.SUPPORTED_LOCALES
        if lang != i18n.DEFAULT_LOCALE
    }

    venv = work / "venv"
    _run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    _run([*pip, "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)])
    # Tend's dependencies from this environment, appended after the venv's own packages.
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
    (Path(purelib) / "tend-test-deps.pth").write_text("\n".join(sorted(ours)) + "\n")
    return venv / "bin"


def test_the_wheel_migrates_and_serves_from_any_directory(installed, database, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    url = fresh_database_url(database.backend, elsewhere, "wheel")
    env = tend_env(url, TEST_SECRET, TEND_SCHEDULER="off")
    env.pop("PYTHONPATH", None)
    env["PATH"] = f"{installed}:/usr/bin:/bin"
    try:
        where = _run(
            [str(installed / "python"), "-c", "import app; print(app.__file__)"],
            cwd=elsewhere,
            env=env,
        ).stdout
        assert where.startswith(str(installed.parent)), where

        migrated = _run([str(installed / "tend"), "migrate"], cwd=elsewhere, env=env)
        assert migrations.head_revision() in migrated.stdout

        port = free_port()
        server = subprocess.Popen(
            [str(installed / "tend"), "serve", "--port", str(port)],
            cwd=elsewhere,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, server)
            assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
            ready = httpx.get(f"{base}/readyz").json()
            assert ready["migration"] == migrations.head_revision() == ready["expected_migration"]
            docs = httpx.get(f"{base}/docs")
            assert docs.status_code == 200 and "cdn" not in docs.text
            script = httpx.get(f"{base}/docs/assets/swagger-ui-bundle.js")
            assert script.status_code == 200 and len(script.content) > 100_000
        finally:
            stop(server)

        heartbeat = elsewhere / "worker.heartbeat"
        worker_env = {**env, "TEND_WORKER_HEARTBEAT_FILE": str(heartbeat)}
        worker = subprocess.Popen(
            [str(installed / "tend"), "worker"],
            cwd=elsewhere,
            env=worker_env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while not heartbeat.exists():
                assert worker.poll() is None, stop(worker)
                assert time.monotonic() < deadline, "the worker wrote no heartbeat"
                time.sleep(0.2)
            _run([str(installed / "tend"), "worker", "--check"], cwd=elsewhere, env=worker_env)
        finally:
            stop(worker)
    finally:
        drop_database(url)


def test_four_replicas_migrating_at_once_migrate_once(database, tmp_path):
    """As N containers do when they all start with `tend migrate`: each waits for the
    migration lock, one migrates, the others find the schema at head."""
    url = fresh_database_url(database.backend, tmp_path, "race")
    env = tend_env(url, TEST_SECRET)
    tend = str(Path(sys.executable).with_name("tend"))
    try:
        processes = [
            subprocess.Popen(
                [tend, "migrate"],
                env=env,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(4)
        ]
        outputs = [p.communicate(timeout=120) for p in processes]
        assert [p.returncode for p in processes] == [0, 0, 0, 0], [o[1][-1500:] for o in outputs]
        engine = make_engine(url)
        try:
            assert migrations.current_revision(engine) == migrations.head_revision()
            with engine.connect() as connection:
                rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
            assert [r[0] for r in rows] == [migrations.head_revision()]
        finally:
            engine.dispose()
    finally:
        drop_database(url)
