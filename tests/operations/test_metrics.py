"""GET /metrics: Prometheus text, by route template, summed across server processes."""

import uuid
from datetime import timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families

from app.outbox.models import Notification
from tests.conftest import TEST_SECRET
from tests.factories import pair, pair_over_http, register
from tests.processes import tend_server


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def requests_total(figures: dict, route: str, status: str, method: str = "GET") -> float:
    labels = (("method", method), ("route", route), ("status", status))
    return figures.get(("tend_http_requests_total", labels), 0.0)


def test_metrics_count_requests_by_route_template_never_by_path(client):
    alex, _ = pair(client)
    bid_id = str(uuid.uuid4())
    before = samples(client.get("/metrics").text)
    for _ in range(3):
        client.get(f"/v1/bids/{bid_id}", headers=alex.headers)
    client.get("/v1/couple/balance", headers=alex.headers)

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)
    route = "/v1/bids/{bid_id}"
    assert requests_total(after, route, "404") - requests_total(before, route, "404") == 3
    balance = requests_total(after, "/v1/couple/balance", "200")
    assert balance - requests_total(before, "/v1/couple/balance", "200") == 1
    assert bid_id not in response.text
    assert alex.id not in response.text
    latency = (("method", "GET"), ("route", route))
    assert after[("tend_http_request_duration_seconds_count", latency)] >= 3


def test_metrics_report_the_outbox_from_the_database(client, db, clock):
    account = register(client)
    now = clock.now()
    rows = [("pending", -5), ("pending", -1), ("pending", 60), ("delivered", -30), ("dead", -30)]
    with db.engine.begin() as conn:
        for status, minutes in rows:
            conn.execute(
                Notification.__table__.insert().values(
                    id=uuid.uuid4(),
                    user_id=uuid.UUID(account.id),
                    kind="daily_suggestion",
                    dedupe_key=uuid.uuid4().hex,
                    title="t",
                    body="b",
                    push_title="t",
                    push_body="b",
                    data={},
                    created_at=now,
                    due_at=now + timedelta(minutes=minutes),
                    status=status,
                    next_attempt_at=now + timedelta(minutes=minutes),
                )
            )

    figures = samples(client.get("/metrics").text)

    assert figures[("tend_nudges", (("status", "pending"),))] == 3
    assert figures[("tend_nudges", (("status", "delivered"),))] == 1
    assert figures[("tend_nudges", (("status", "dead"),))] == 1
    assert figures[("tend_outbox_due", ())] == 2


def test_metrics_add_up_across_server_processes(db):
    with (
        tend_server(db.url, TEST_SECRET, workers=2, TEND_SCHEDULER="off") as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        # Fresh connections spread requests over both processes.
        for _ in range(40):
            with httpx.Client(base_url=base, timeout=30) as one:
                assert one.get("/healthz").status_code == 200
        pair_over_http(http)
        scrapes = []
        for _ in range(8):
            with httpx.Client(base_url=base, timeout=30) as one:
                scrapes.append(samples(one.get("/metrics").text))
    # Whichever process answers the scrape, it reports the requests of both.
    assert {requests_total(s, "/healthz", "200") for s in scrapes} == {40}
