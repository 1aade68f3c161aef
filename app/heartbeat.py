"""Health checks for containers, light enough to run every few seconds: the worker's
heartbeat file, and the API's /healthz. They import only the settings, never the app.

`tend worker` touches its heartbeat file (TEND_WORKER_HEARTBEAT_FILE, by default
tend-worker.heartbeat in the temporary directory) every HEARTBEAT_SECONDS from a scheduler
job; a file older than HEARTBEAT_STALE_SECONDS means its scheduler loop has stopped.
"""

import os
import sys
import time
import urllib.request
from pathlib import Path

from app.config import Settings, get_settings

HEARTBEAT_SECONDS = 10
HEARTBEAT_STALE_SECONDS = 60


def beat(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def worker_problem(settings: Settings) -> str | None:
    """None when the worker's heartbeat is fresh, else what is wrong."""
    path = settings.heartbeat_path
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return f"no heartbeat at {path}: no worker has started here"
    if age > HEARTBEAT_STALE_SECONDS:
        return f"the worker's last heartbeat ({path}) is {age:.0f} s old"
    return None


def api_problem() -> str | None:
    url = f"http://127.0.0.1:{os.environ.get('TEND_PORT', '8000')}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return None if response.status == 200 else f"{url} answered {response.status}"
    except OSError as exc:
        return f"{url}: {exc}"


def check(command: str) -> int:
    """`tend worker --check` (command "worker") or `tend healthcheck`: the worker's
    heartbeat where a worker has run, else the API's /healthz. Exit status 0 or 1."""
    settings = get_settings()
    worker = command == "worker" or settings.heartbeat_path.exists()
    problem = worker_problem(settings) if worker else api_problem()
    name = "tend worker --check" if command == "worker" else "tend healthcheck"
    if problem:
        print(f"{name}: {problem}", file=sys.stderr)
        return 1
    print(f"{name}: {'worker' if worker else 'API'} alive")
    return 0
