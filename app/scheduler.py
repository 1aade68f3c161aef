"""The background scheduler: in-process with `tend serve`, alone with `tend worker`.

Every job is safe to run on several processes at once: each one's effect is decided in
the database, never in process memory.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.orm import Session, sessionmaker

from app import heartbeat, housekeeping
from app.clock import Clock
from app.config import Settings
from app.db import transaction
from app.keystore import KeyStore
from app.outbox import dispatcher
from app.outbox.dispatcher import Providers
from app.planning import service as planning

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    session_factory: sessionmaker[Session]
    key_store: KeyStore | None = None  # the app's own; else one from the settings
    _providers: Providers | None = None

    @property
    def keys(self) -> KeyStore:
        if self.key_store is None:
            self.key_store = KeyStore.from_settings(self.settings)
        return self.key_store

    @property
    def providers(self) -> Providers:
        if self._providers is None:
            self._providers = Providers(self.settings)
        return self._providers


def run_nudges(runtime: Runtime) -> None:
    """Plan every due daily slot, then send until nothing is left to claim."""
    settings, factory, clock = runtime.settings, runtime.session_factory, runtime.clock
    grace = timedelta(minutes=settings.nudge_grace_minutes)
    planned = 0
    while True:
        with transaction(factory) as session:
            plan = planning.plan_due(
                session,
                clock.now(),
                grace=grace,
                batch_size=settings.plan_batch_size,
                keys=runtime.keys,
            )
        planned += plan.planned
        if plan.users == 0:
            break
    totals = {"delivered": 0, "retried": 0, "dead": 0, "dropped": 0}
    while True:
        result = dispatcher.dispatch_once(factory, runtime.providers, clock, settings)
        for key in totals:
            totals[key] += getattr(result, key)
        if result.claimed == 0 and result.dropped == 0:
            break
    receipts = dispatcher.check_receipts(factory, runtime.providers, clock)
    if planned or any(totals.values()) or receipts:
        log.info("nudges", extra={"planned": planned, **totals, "receipts": receipts})


def run_mail(runtime: Runtime) -> None:
    """Send waiting mail until nothing is left to claim."""
    totals = {"delivered": 0, "retried": 0, "dead": 0}
    while True:
        result = dispatcher.dispatch_mail_once(
            runtime.session_factory, runtime.providers.mail, runtime.clock, runtime.settings
        )
        for key in totals:
            totals[key] += getattr(result, key)
        if result.claimed == 0:
            break
    if any(totals.values()):
        log.info("mail", extra=totals)


def run_housekeeping(runtime: Runtime) -> None:
    with transaction(runtime.session_factory) as session:
        purged = housekeeping.purge(
            session,
            runtime.clock.now(),
            keep_tombstones=timedelta(days=runtime.settings.sync_tombstone_days),
        )
    log.info("housekeeping", extra={"purged": vars(purged)})


def _jobs(runtime: Runtime) -> list[tuple[str, Callable[[], None], int]]:
    """(id, function, interval in seconds) for each recurring job."""
    return [
        ("nudges", lambda: run_nudges(runtime), runtime.settings.scheduler_tick_seconds),
        ("mail", lambda: run_mail(runtime), runtime.settings.mail_tick_seconds),
        ("housekeeping", lambda: run_housekeeping(runtime), 60 * 60),
    ]


def _add_jobs(scheduler: BaseScheduler, runtime: Runtime) -> BaseScheduler:
    for job_id, func, seconds in _jobs(runtime):
        scheduler.add_job(
            func,
            "interval",
            seconds=seconds,
            id=job_id,
            name=job_id,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=seconds,
        )
    return scheduler


def background(runtime: Runtime) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    _add_jobs(scheduler, runtime)
    return scheduler


def blocking(runtime: Runtime) -> BlockingScheduler:
    """The worker's scheduler, with the heartbeat that `tend worker --check` reads."""
    scheduler = BlockingScheduler(timezone="UTC")
    _add_jobs(scheduler, runtime)
    path = runtime.settings.heartbeat_path
    heartbeat.beat(path)
    scheduler.add_job(
        heartbeat.beat,
        "interval",
        args=[path],
        seconds=heartbeat.HEARTBEAT_SECONDS,
        id="heartbeat",
        max_instances=1,
        coalesce=True,
    )
    return scheduler
