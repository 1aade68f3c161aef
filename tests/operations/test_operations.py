"""Errors are problem+json everywhere; health and readiness; request ids."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app import db as app_db
from app import migrations
from app.db import make_engine
from app.main import create_app
from tests.conftest import drop_database, fresh_database_url, make_settings
from tests.factories import assert_problem, register


def test_unknown_path_is_a_problem(client):
    body = assert_problem(client.get("/v1/nothing-here"), 404)
    assert body["type"].endswith("not-found")


def test_wrong_method_is_a_problem(client):
    assert_problem(client.delete("/v1/auth/login"), 405)


def test_malformed_json_is_400(client):
    response = client.post(
        "/v1/auth/login",
        content=b'{"email": "a@example.com", ',
        headers={"Content-Type": "application/json"},
    )
    body = assert_problem(response, 400)
    assert "JSON" in body["detail"]


def test_non_json_body_is_a_client_error(client):
    response = client.post(
        "/v1/auth/login", content=b"email=a", headers={"Content-Type": "text/plain"}
    )
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/problem+json")


def test_validation_error_lists_fields_without_echoing_input(client):
    response = client.post(
        "/v1/auth/register",
        json={"email": "not-an-email", "password": "s3cr3t!", "display_name": ""},
    )
    body = assert_problem(response, 422)
    fields = {tuple(e["loc"]) for e in body["errors"]}
    assert ("body", "email") in fields
    assert ("body", "password") in fields
    assert ("body", "display_name") in fields
    assert "s3cr3t!" not in response.text


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_when_migrated(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["migration"] == body["expected_migration"] == migrations.head_revision()


def test_readyz_when_not_migrated(database, tmp_path, clock):
    url = fresh_database_url(database.backend, tmp_path, "unmigrated")
    engine = make_engine(url)
    try:
        app = create_app(make_settings(url), clock=clock, engine=engine)
        with TestClient(app) as client:
            response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["migration"] is None
    finally:
        engine.dispose()
        drop_database(url)


def test_readyz_when_database_unreachable(clock, tmp_path):
    url = "postgresql+psycopg://nobody:nothing@127.0.0.1:9/none"
    engine = make_engine(url, pool_pre_ping=False)
    app = create_app(make_settings(url), clock=clock, engine=engine)
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("postgresql+psycopg://nobody:nothing@127.0.0.1:9/none", id="postgresql"),
        pytest.param("sqlite:////nonexistent-directory/tend.db", id="sqlite"),
    ],
)
def test_an_unreachable_database_is_503_with_retry_after(clock, url):
    engine = make_engine(url, pool_pre_ping=False)
    app = create_app(make_settings(url), clock=clock, engine=engine)
    body = {"email": "someone@example.com", "password": "a long passphrase"}
    with TestClient(app) as client:
        response = client.post("/v1/auth/login", json=body)
    problem = assert_problem(response, 503)
    assert problem["type"].endswith("service-unavailable")
    assert response.headers["retry-after"] == "1"
    assert "nobody" not in response.text and "nonexistent" not in response.text


def test_request_id_is_returned_and_kept_when_safe(client):
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32
    kept = client.get("/healthz", headers={"X-Request-ID": "phone-abc.123"}).headers["x-request-id"]
    assert kept == "phone-abc.123"
    replaced = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"}).headers[
        "x-request-id"
    ]
    assert replaced != "bad id\nwith newline" and len(replaced) == 32


def test_access_log_has_route_not_secrets(client, caplog):
    caplog.set_level("INFO", logger="tend.access")
    account = register(client)
    client.post("/v1/auth/login", json={"email": account.email, "password": account.password})
    logged = " ".join(str(vars(r)) for r in caplog.records)
    assert "/v1/auth/login" in logged
    assert account.password not in logged
    assert account.refresh_token not in logged
    assert account.access_token not in logged


def test_openapi_documents_problems(client):
    document = client.get("/openapi.json").json()
    assert "Problem" in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation.get("operationId"), (method, path)
            assert operation.get("summary"), (method, path)
            assert operation.get("tags"), (method, path)
            if path.startswith("/v1/"):
                assert "422" in operation["responses"], (method, path)
                problem = operation["responses"]["422"]["content"]
                assert "application/problem+json" in problem, (method, path)


def test_a_writer_that_waits_too_long_is_503_not_a_wedged_process(client, db, clock, monkeypatch):
    """Every server thread waiting for a lock whose holder needs a thread to commit would
    wedge the process: waits end, answered 503, and the next request works."""
    account = register(client)
    monkeypatch.setattr(app_db, "LOCK_WAIT_SECONDS", 0.2)
    body = {"display_name": "Renamed"}
    if db.backend == "sqlite":
        lock = app_db._sqlite_writer_locks[db.engine]
        with lock:
            response = client.patch("/v1/me", json=body, headers=account.headers)
    else:
        engine = make_engine(db.url, connect_args={"options": "-c lock_timeout=200"})
        try:
            with engine.connect() as conn:
                conn.execute(
                    text("SELECT 1 FROM users WHERE id = :id FOR UPDATE"), {"id": account.id}
                )
                waiting = make_engine(db.url, connect_args={"options": "-c lock_timeout=200"})
                app = create_app(make_settings(db.url), clock=clock, engine=waiting)
                with TestClient(app) as other:
                    response = other.patch("/v1/me", json=body, headers=account.headers)
                waiting.dispose()
        finally:
            engine.dispose()
    problem = assert_problem(response, 503)
    assert problem["type"].endswith("service-unavailable")
    assert client.patch("/v1/me", json=body, headers=account.headers).status_code == 200
