"""The background scheduler: in-process with `tend serve`, alone with `tend worker`.

Every job is safe to run on several processes at once: each one's effect is decided in
the database, never in process memory.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.orm import Session, sessionmaker

from app import housekeeping
from app.clock import Clock
from app.config import Settings
from app.db import transaction

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    session_factory: sessionmaker[Session]


def run_housekeeping(runtime: Runtime) -> None:
    with transaction(runtime.session_factory) as session:
        purged = housekeeping.purge(session, runtime.clock.now())
    log.info("housekeeping", extra={"purged": vars(purged)})


def _jobs(runtime: Runtime) -> list[tuple[str, Callable[[], None], int]]:
    """(id, function, interval in seconds) for each recurring job."""
    return [("housekeeping", lambda: run_housekeeping(runtime), 60 * 60)]


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
    scheduler = BlockingScheduler(timezone="UTC")
    _add_jobs(scheduler, runtime)
    return scheduler
