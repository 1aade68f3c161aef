"""GET /metrics in the Prometheus text format.

Request counts and latencies are per route template (never a concrete path, so no id
reaches the metrics). With several server processes (``tend serve --workers N``) they are
summed across processes through prometheus_client's multiprocess mode, which ``tend serve``
switches on. The outbox and push figures are read from the database at scrape time, so
every replica answers the same, whichever worker process did the sending.
"""

import os
import time
from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock
from app.outbox.models import Notification, PushTicket

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "tend_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "tend_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

router = APIRouter(include_in_schema=False)


def observe(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


class OutboxCollector(Collector):
    """Nudges by state, due nudges waiting to be sent, and push receipts by outcome."""

    def __init__(self, session_factory: sessionmaker[Session], clock: Clock) -> None:
        self.session_factory = session_factory
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        started = time.perf_counter()
        with self.session_factory() as session:
            by_status = session.execute(
                select(Notification.status, func.count()).group_by(Notification.status)
            ).all()
            due = session.scalar(
                select(func.count()).where(
                    Notification.status == "pending",
                    Notification.next_attempt_at <= self.clock.now(),
                )
            )
            receipts = session.execute(
                select(PushTicket.receipt_status, func.count()).group_by(PushTicket.receipt_status)
            ).all()
        nudges = GaugeMetricFamily(
            "tend_nudges", "Nudges in the outbox, by state.", labels=["status"]
        )
        for status, count in by_status:
            nudges.add_metric([status], count)
        yield nudges
        yield GaugeMetricFamily(
            "tend_outbox_due", "Pending nudges whose time has come (the outbox depth).", due or 0
        )
        tickets = GaugeMetricFamily(
            "tend_push_receipts", "Pushes accepted by a provider, by receipt.", labels=["receipt"]
        )
        for receipt, count in receipts:
            tickets.add_metric([receipt or "unchecked"], count)
        yield tickets
        yield GaugeMetricFamily(
            "tend_metrics_scrape_seconds",
            "Time spent reading the outbox figures for this scrape.",
            time.perf_counter() - started,
        )


def _registry(request: Request) -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROCESS_ENV):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(OutboxCollector(request.app.state.session_factory, request.app.state.clock))
    return registry


@router.get("/metrics")
def metrics(request: Request) -> Response:
    return Response(generate_latest(_registry(request)), media_type=CONTENT_TYPE_LATEST)
