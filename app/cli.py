"""The `tend` command: serve, migrate, worker."""

import argparse
import atexit
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence

from app import metrics, migrations, scheduler
from app.clock import SystemClock
from app.config import get_settings
from app.db import make_engine, make_session_factory
from app.observability import configure_logging

log = logging.getLogger("tend")


def _migrate(_args: argparse.Namespace) -> int:
    settings = get_settings()
    migrations.upgrade(settings.database_url)
    print(f"database migrated to {migrations.head_revision()}")
    return 0


def _require_migrated() -> str | None:
    """None when the database is at head, else what to do about it."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        current = migrations.current_revision(engine)
    except Exception as exc:
        return f"cannot reach the database at TEND_DATABASE_URL: {exc.__class__.__name__}: {exc}"
    finally:
        engine.dispose()
    head = migrations.head_revision()
    if current != head:
        return (
            f"the database is at migration {current or '(none)'} but this Tend needs {head}; "
            "run `tend migrate` first"
        )
    return None


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    problem = _require_migrated()
    if problem:
        print(f"tend serve: {problem}", file=sys.stderr)
        return 2
    if args.workers > 1 and not os.environ.get(metrics.MULTIPROCESS_ENV):
        # Server processes add up their request metrics in files here (see app.metrics).
        directory = tempfile.mkdtemp(prefix="tend-metrics-")
        os.environ[metrics.MULTIPROCESS_ENV] = directory
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
    uvicorn.run(
        "app.main:serve_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        proxy_headers=True,
    )
    return 0


def _worker(_args: argparse.Namespace) -> int:
    problem = _require_migrated()
    if problem:
        print(f"tend worker: {problem}", file=sys.stderr)
        return 2
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    engine = make_engine(settings.database_url)
    runtime = scheduler.Runtime(
        settings=settings, clock=SystemClock(), session_factory=make_session_factory(engine)
    )
    worker = scheduler.blocking(runtime)
    signal.signal(signal.SIGTERM, lambda *_: worker.shutdown(wait=False))
    log.info("worker started")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        worker.start()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tend", description="Tend's backend.")
    commands = parser.add_subparsers(dest="command", required=True)

    migrate = commands.add_parser(
        "migrate", help="apply database migrations (alembic upgrade head)"
    )
    migrate.set_defaults(func=_migrate)

    serve = commands.add_parser(
        "serve", help="serve the API (and the scheduler unless TEND_SCHEDULER=off)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="server processes")
    serve.set_defaults(func=_serve)

    worker = commands.add_parser(
        "worker", help="run only the scheduler, for many-replica deployments"
    )
    worker.set_defaults(func=_worker)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except ValueError as exc:  # settings that refuse to start, with their reason
        print(f"tend: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
