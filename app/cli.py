"""The `tend` command: serve, migrate, worker, and admin tasks (demo, recompute, export)."""

import argparse
import atexit
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app import admin, demo, heartbeat, metrics, migrations, scheduler
from app.clock import SystemClock
from app.config import Environment, get_settings
from app.crypto import Undecryptable
from app.db import make_session_factory, settings_engine
from app.errors import AppError
from app.keystore import KeyStore
from app.observability import configure_logging
from app.progress import Progress

log = logging.getLogger("tend")


def _migrate(_args: argparse.Namespace) -> int:
    settings = get_settings()
    migrations.upgrade(settings.database_url, pgbouncer=settings.pgbouncer)
    KeyStore.from_settings(settings).ensure_schema()  # a key database of its own, if any
    print(f"database migrated to {migrations.head_revision()}")
    return 0


def _rotate_data_key(_args: argparse.Namespace) -> int:
    settings = get_settings()
    if settings.generated_data_key:
        print("tend rotate-data-key: set TEND_DATA_KEY (the new key) first", file=sys.stderr)
        return 2
    with _database("rotate-data-key") as factory:
        if factory is None:
            return 2
        keys = KeyStore.from_settings(settings)
        try:
            rewrapped = keys.rotate(factory)
        except Undecryptable as exc:
            print(
                f"tend rotate-data-key: a person's key cannot be unwrapped ({exc}); put the key "
                "that wrapped it in TEND_DATA_KEY_PREVIOUS and run again",
                file=sys.stderr,
            )
            return 1
    print(
        f"rewrapped {rewrapped} person keys with the current data key; "
        "TEND_DATA_KEY_PREVIOUS can now be removed"
    )
    return 0


def _require_migrated() -> str | None:
    """None when the database is at head, else what to do about it."""
    engine = settings_engine(get_settings())
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
        # uvicorn restarts a server process that does not answer its ping within this
        # time; on a loaded host, starting one (imports, the app) takes longer than the
        # default 5 s, and the restarts never end.
        timeout_worker_healthcheck=60,
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    if args.check:
        return heartbeat.check("worker")
    problem = _require_migrated()
    if problem:
        print(f"tend worker: {problem}", file=sys.stderr)
        return 2
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    engine = settings_engine(settings)
    runtime = scheduler.Runtime(
        settings=settings, clock=SystemClock(), session_factory=make_session_factory(engine)
    )
    worker = scheduler.blocking(runtime)
    signal.signal(signal.SIGTERM, lambda *_: worker.shutdown(wait=False))
    log.info("worker started")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        worker.start()
    return 0


@contextlib.contextmanager
def _database(command: str) -> Iterator[sessionmaker[Session] | None]:
    """A session factory on the migrated database, or None after saying what is wrong."""
    problem = _require_migrated()
    if problem:
        print(f"tend {command}: {problem}", file=sys.stderr)
        yield None
        return
    engine = settings_engine(get_settings())
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def _shown_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _demo(args: argparse.Namespace) -> int:
    settings = get_settings()
    if settings.env == Environment.production and not args.force:
        print(
            "tend demo: TEND_ENV=production: demo accounts share a published password, so "
            "they are not loaded here; pass --force if this really is a demo server",
            file=sys.stderr,
        )
        return 2
    with _database("demo") as factory:
        if factory is None:
            return 2
        if args.if_empty and demo.has_accounts(factory):
            print(
                "tend demo: the database has accounts already, so the demo is not loaded "
                "(run `tend demo` to add it anyway)",
                file=sys.stderr,
            )
            return 0
        print(f"loading the demo into {_shown_url(settings.database_url)}", file=sys.stderr)
        try:
            loaded = demo.load(
                factory,
                settings,
                SystemClock(),
                reset=args.reset,
                progress=lambda total: Progress("demo", total, unit="steps"),
            )
        except demo.AlreadyLoaded as exc:
            print(
                f"tend demo: the demo is already loaded ({', '.join(exc.emails)}; password "
                f"{demo.DEMO_PASSWORD}). Run `tend demo --reset` to replace it with a fresh one.",
                file=sys.stderr,
            )
            return 1
        except (demo.CannotReset, AppError) as exc:
            print(f"tend demo: {exc}; nothing was loaded", file=sys.stderr)
            return 1
    _print_demo(loaded, args.base_url.rstrip("/"))
    return 0


def _print_demo(loaded: demo.Loaded, base_url: str) -> None:
    replaced = " (the earlier demo was erased first)" if loaded.replaced else ""
    print(f"Demo loaded{replaced}: {len(loaded.couples)} couples and a coach.\n")
    width = max(len(p.email) for p in loaded.accounts)
    for story, figures in zip(demo.STORIES, loaded.couples, strict=True):
        rate = "-" if figures.toward_rate is None else f"{figures.toward_rate:.0%}"
        print(f"  {figures.names[0]} & {figures.names[1]}, {figures.timezone}")
        print(
            f"    {figures.bids} bids, balance {figures.balance:.1f}, streak "
            f"{figures.streak_days} days, {rate} turned toward in 30 days"
        )
        for person in (story.first, story.second):
            print(f"    {person.email:<{width}}  {person.display_name}")
    print("  Coach, both couples consent:")
    print(f"    {demo.COACH.email:<{width}}  {demo.COACH.display_name}")
    print(f"\nPassword for every demo account: {demo.DEMO_PASSWORD}")
    print(
        f"Sign in with POST {base_url}/v1/auth/login, or as the coach on the dashboard at "
        f"{base_url}/coach."
    )


def _recompute(args: argparse.Namespace) -> int:
    with _database("recompute") as factory:
        if factory is None:
            return 2
        total = admin.count_couples(factory)
        with Progress("recompute", total, unit="couples") as progress:
            drifted = admin.recompute_all(factory, SystemClock(), progress, check_only=args.check)
    for result in drifted:
        print(
            f"couple {result.couple_id}: {result.days_fixed} days differed from its bids; "
            f"balance {result.balance_before:.6g} -> {result.balance_after:.6g}"
        )
    if args.check:
        print(f"checked {total} couples: {len(drifted)} differ from their bids (left as they are)")
        return 1 if drifted else 0
    if drifted:
        print(f"recomputed {total} couples from their bids: {len(drifted)} had drifted, now fixed")
    else:
        print(f"recomputed {total} couples from their bids: all matched already")
    return 0


def _export(args: argparse.Namespace) -> int:
    if bool(args.all) == bool(args.emails):
        print("tend export: name accounts by email, or pass --all (not both)", file=sys.stderr)
        return 2
    out = Path(args.out)
    with _database("export") as factory:
        if factory is None:
            return 2
        if args.all:
            total, user_ids = admin.count_users(factory), admin.all_user_ids(factory)
        else:
            try:
                ids = admin.user_ids_by_email(factory, args.emails)
            except admin.UnknownEmails as exc:
                print(f"tend export: no account with email {exc}; nothing written", file=sys.stderr)
                return 1
            total, user_ids = len(ids), iter(ids)
        try:
            with Progress("export", total, unit="accounts") as progress:
                keys = KeyStore.from_settings(get_settings())
                written = admin.export_users(
                    factory, user_ids, out, SystemClock(), progress, keys=keys
                )
        except OSError as exc:
            print(f"tend export: cannot write to {out}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    print(f"exported {len(written)} accounts to {out}/ (one <user id>.json each, owner-only)")
    return 0


def _healthcheck(_args: argparse.Namespace) -> int:
    return heartbeat.check("healthcheck")


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
    worker.add_argument(
        "--check",
        action="store_true",
        help="exit 0 if a worker on this machine wrote its heartbeat (TEND_WORKER_HEARTBEAT_FILE) "
        f"within {heartbeat.HEARTBEAT_STALE_SECONDS} s, else 1: a container health check",
    )
    worker.set_defaults(func=_worker)

    healthcheck = commands.add_parser(
        "healthcheck",
        help="the Docker image's health check: the worker's heartbeat where `tend worker` "
        "runs, else GET /healthz on 127.0.0.1:$TEND_PORT (8000)",
    )
    healthcheck.set_defaults(func=_healthcheck)

    demo_command = commands.add_parser(
        "demo",
        help="load two demo couples with weeks of bids and a coach (password "
        f"{demo.DEMO_PASSWORD})",
        description="Load two demo couples (Europe/Berlin, America/New_York) with weeks of "
        "bids, answers, notes and nudge settings, and a coach both couples consent to; "
        "all made through Tend's own services. Refuses if the demo accounts exist already.",
    )
    demo_command.add_argument(
        "--reset", action="store_true", help="erase an earlier demo's accounts, then load afresh"
    )
    demo_command.add_argument(
        "--force", action="store_true", help="load even when TEND_ENV=production"
    )
    demo_command.add_argument(
        "--if-empty",
        action="store_true",
        help="load only into a database without accounts (what `make run` does); else do "
        "nothing and exit 0",
    )
    demo_command.add_argument(
        "--base-url",
        default="http://127.0.0.1:8000",
        metavar="URL",
        help="where the server that serves this database answers, for the closing message "
        "(make run passes its HOST and PORT)",
    )
    demo_command.set_defaults(func=_demo)

    recompute = commands.add_parser(
        "recompute",
        help="rebuild every couple's day rollups (balance, stats) from its bids",
        description="Rebuild every couple's day rollups, which the balance, history, stats, "
        "streaks and coach views read, from the bids themselves; one couple per transaction.",
    )
    recompute.add_argument(
        "--check",
        action="store_true",
        help="change nothing; report couples whose rollups differ and exit 1 if any do",
    )
    recompute.set_defaults(func=_recompute)

    export_command = commands.add_parser(
        "export",
        help="write accounts' export documents (as GET /v1/me/export) to a directory",
        description="Write each account's export document, the one GET /v1/me/export "
        "answers, as DIR/<user id>.json (readable by you only).",
    )
    export_command.add_argument("emails", nargs="*", metavar="EMAIL", help="accounts to export")
    export_command.add_argument("--all", action="store_true", help="every account")
    export_command.add_argument("--out", required=True, metavar="DIR", help="directory to write to")
    export_command.set_defaults(func=_export)

    rotate = commands.add_parser(
        "rotate-data-key",
        help="rewrap every person's care key with TEND_DATA_KEY (the old one in "
        "TEND_DATA_KEY_PREVIOUS); the API keeps serving meanwhile",
        description="Rewrap each person's data key with the key in TEND_DATA_KEY, a batch "
        "per transaction. Before: every process runs with the new TEND_DATA_KEY and the old "
        "one in TEND_DATA_KEY_PREVIOUS. After: drop TEND_DATA_KEY_PREVIOUS.",
    )
    rotate.set_defaults(func=_rotate_data_key)
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
