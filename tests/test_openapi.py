"""The published OpenAPI document: current, complete, and its examples true.

docs/openapi.json is what a mobile team generates its client from, so it must be the
document the code gives; every operation is named, summarised and tagged, every error is
problem+json, every request body has examples that the API accepts as they stand (the
ids, codes and tokens of a real couple put in where the example can only show one), and
the problem examples are what the API answers, word for word.
"""

import difflib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from app.clock import FrozenClock
from app.db import make_engine
from app.fields import StrictInput
from app.main import create_app
from app.openapi_doc import REGENERATE_COMMAND, main, openapi_document, render_openapi
from tests.conftest import make_settings
from tests.factories import assert_problem, invite, pair, register

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "docs" / "openapi.json"
PROBLEM = "application/problem+json"
METHODS = ("get", "put", "post", "delete", "patch")
# Readiness probes read a document of their own, not a problem: {status, database, ...}.
NOT_PROBLEMS = {("get", "/readyz", "503"): "#/components/schemas/Readiness"}

Document = dict[str, Any]


@pytest.fixture(scope="module")
def document() -> Document:
    return openapi_document()


def _operations(document: Document) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method in METHODS:
                yield method, path, operation


def _body_examples(operation: dict[str, Any]) -> dict[str, Any]:
    examples: dict[str, Any] = operation["requestBody"]["content"]["application/json"].get(
        "examples", {}
    )
    return examples


def _problem_examples(response: dict[str, Any]) -> dict[str, Any]:
    examples: dict[str, Any] = response.get("content", {}).get(PROBLEM, {}).get("examples", {})
    return examples


def _component(document: Document, ref: str) -> dict[str, Any]:
    section, name = ref.removeprefix("#/components/").split("/")
    component: dict[str, Any] = document["components"][section][name]
    return component


def _validator(document: Document, ref: str) -> Any:
    # The document's components travel along, so that the schema's own $refs resolve.
    schema = {"$ref": ref, "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def _models() -> dict[str, type[StrictInput]]:
    found: dict[str, type[StrictInput]] = {}
    pending: list[type[StrictInput]] = [StrictInput]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        found[model.__name__] = model
    return found


# -- the published file ------------------------------------------------------------------


def test_published_document_is_current() -> None:
    published = PUBLISHED.read_text(encoding="utf-8") if PUBLISHED.exists() else ""
    fresh = render_openapi()
    if published != fresh:
        diff = difflib.unified_diff(
            published.splitlines(),
            fresh.splitlines(),
            "docs/openapi.json",
            "generated",
            n=1,
            lineterm="",
        )
        shown = "\n".join(list(diff)[:60])
        pytest.fail(
            f"docs/openapi.json is out of date; regenerate it with `{REGENERATE_COMMAND}` "
            f"and commit it.\n{shown}"
        )


def test_rendering_depends_on_neither_environment_nor_hash_seed() -> None:
    """Another process, with other TEND_* settings and another hash seed, prints the same
    bytes: nothing of the machine or of the deployment leaks into the document."""
    env = {
        **os.environ,
        "PYTHONHASHSEED": "12345",
        "TEND_ENV": "production",
        "TEND_SECRET_KEY": "a-production-secret-that-must-not-appear-0123456789",
        "TEND_DATABASE_URL": "postgresql+psycopg://someone:something@db.internal:5432/tend",
        "TEND_MAX_BODY_BYTES": "2048",
        "TEND_DOCS_ENABLED": "false",
        "TEND_CORS_ORIGINS": "https://app.example.com",
    }
    printed = subprocess.run(
        [sys.executable, "-m", "app.openapi_doc"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    assert printed == render_openapi().encode("utf-8")
    assert b"db.internal" not in printed and b"a-production-secret" not in printed


def test_write_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "openapi.json"
    assert main(["--check", "--path", str(target)]) == 1
    assert REGENERATE_COMMAND in capsys.readouterr().err
    assert main(["--write", "--path", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render_openapi()
    assert target.read_bytes().endswith(b"}\n")
    assert main(["--check", "--path", str(target)]) == 0
    target.write_text(target.read_text(encoding="utf-8").replace("Tend API", "Tent API"))
    assert main(["--check", "--path", str(target)]) == 1


def test_document_is_generic(document: Document) -> None:
    assert document["openapi"].startswith("3.1")
    assert "servers" not in document
    # FastAPI's own 422 schema is not used: validation errors are problems too.
    assert "HTTPValidationError" not in document["components"]["schemas"]


# -- every operation ---------------------------------------------------------------------


def test_every_operation_is_named_summarised_and_tagged(document: Document) -> None:
    ids = [operation.get("operationId") for _, _, operation in _operations(document)]
    assert all(ids), ids
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for method, path, operation in _operations(document):
        assert operation.get("summary"), (method, path)
        assert operation.get("tags"), (method, path)


def test_every_error_is_a_problem(document: Document) -> None:
    problem_ref = "#/components/schemas/Problem"
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status[0] not in "45":
                continue
            where = (method, path, status)
            content = response.get("content")
            if where in NOT_PROBLEMS:
                assert content["application/json"]["schema"]["$ref"] == NOT_PROBLEMS[where]
                continue
            assert list(content or {}) == [PROBLEM], where
            assert content[PROBLEM]["schema"] == {"$ref": problem_ref}, where
            assert response.get("description"), where
        if path.startswith("/v1/"):
            assert {"400", "422", "503"} <= set(operation["responses"]), (method, path)
        if "requestBody" in operation:
            assert {"400", "413", "422"} <= set(operation["responses"]), (method, path)
        if operation.get("security"):
            assert "401" in operation["responses"], (method, path)


def test_every_request_body_has_examples(document: Document) -> None:
    bodies = 0
    for method, path, operation in _operations(document):
        if "requestBody" not in operation:
            continue
        bodies += 1
        examples = _body_examples(operation)
        assert examples, f"{method.upper()} {path} has no request body example"
        for name, example in examples.items():
            assert example.get("summary"), (method, path, name)
            assert isinstance(example.get("value"), dict), (method, path, name)
    assert bodies >= 15


def test_request_examples_match_schema_and_model(document: Document) -> None:
    models = _models()
    for method, path, operation in _operations(document):
        if "requestBody" not in operation:
            continue
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        validator = _validator(document, ref)
        model = models[ref.rpartition("/")[2]]
        for name, example in _body_examples(operation).items():
            where = f"{method.upper()} {path}, example {name!r}"
            errors = [e.message for e in validator.iter_errors(example["value"])]
            assert not errors, f"{where} breaks its schema: {errors}"
            model.model_validate_json(json.dumps(example["value"]))


def test_problem_examples_match_the_problem_schema(document: Document) -> None:
    validator = _validator(document, "#/components/schemas/Problem")
    examples = document["components"]["examples"]
    referenced = set()
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            for example in _problem_examples(response).values():
                value = _component(document, example["$ref"])["value"]
                assert str(value["status"]) == status, (method, path, example)
                referenced.add(example["$ref"])
    assert referenced == {f"#/components/examples/{name}" for name in examples}
    for name, example in examples.items():
        assert validator.is_valid(example["value"]), name


# -- the examples, against the API -------------------------------------------------------


class Api:
    """Sends requests by operationId, with the path and method from the document."""

    def __init__(self, client: TestClient, document: Document) -> None:
        self.client = client
        self.document = document
        self.operations = {op["operationId"]: (m, p, op) for m, p, op in _operations(document)}
        self.sent: set[str] = set()

    def operation(self, operation_id: str) -> dict[str, Any]:
        return self.operations[operation_id][2]

    def call(
        self,
        operation_id: str,
        token: str | None = None,
        *,
        path: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        method, template, _ = self.operations[operation_id]
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.request(
            method,
            template.format(**(path or {})),
            headers=headers,
            params=params,
            **kwargs,
        )

    def problem_example(self, name: str) -> dict[str, Any]:
        value: dict[str, Any] = self.document["components"]["examples"][name]["value"]
        return value

    def send_examples(
        self,
        operation_id: str,
        token: str | None = None,
        *,
        path: dict[str, str] | None = None,
        resolve: Callable[[dict[str, Any]], dict[str, Any]] = lambda value: value,
    ) -> list[Any]:
        """Each example of the operation's body, with its placeholders resolved; every one
        must succeed. First the same body with a field too many, and one that is not JSON:
        those must be answered exactly as the document's problem examples say."""
        examples = _body_examples(self.operation(operation_id))
        first = resolve(dict(next(iter(examples.values()))["value"]))
        extra = self.call(operation_id, token, path=path, json={**first, "nickname": "Al"})
        assert_problem(extra, 422)
        assert extra.json() == self.problem_example("unknown-field"), operation_id
        broken = self.call(
            operation_id,
            token,
            path=path,
            content=json.dumps(first)[:-1],
            headers={"Content-Type": "application/json"},
        )
        assert_problem(broken, 400)
        assert broken.json() == self.problem_example("malformed-json"), operation_id

        answers = []
        for name, example in examples.items():
            response = self.call(operation_id, token, path=path, json=resolve(example["value"]))
            assert 200 <= response.status_code < 300, (operation_id, name, response.text)
            answers.append(response.json() if response.content else None)
        self.sent.add(operation_id)
        return answers


def test_request_examples_are_accepted(client: TestClient) -> None:
    """A story told with the examples alone: Alex registers, signs in, joins Sam, logs and
    answers bids, sets nudges and a device, lets a coach in, and finally leaves."""
    document = client.app.openapi()
    api = Api(client, document)

    partner, coach = api.send_examples("register")
    alex = partner["access_token"]
    # The login example signs in with the partner example's email and password.
    (tokens,) = api.send_examples("login")
    assert tokens["token_type"] == "bearer"

    sam = register(client, display_name="Sam")
    code = invite(client, sam)
    (couple,) = api.send_examples("joinCouple", alex, resolve=lambda v: {**v, "code": code})
    assert couple["partner"]["display_name"] == "Sam"
    api.send_examples("updateCouple", alex)

    bids = api.send_examples("createBid", alex)
    assert {b["kind"] for b in bids} == {"hug", "question", "phone_down"}
    hug = next(b for b in bids if b["kind"] == "hug")
    assert hug["deposit"] == 3.0  # a hug's 2.0, held past its 20 s: ×1.5
    api.send_examples("updateBid", alex, path={"bid_id": hug["id"]})
    api.send_examples("respondToBid", alex, path={"bid_id": hug["id"]})

    api.send_examples("replaceNudgeSettings", alex)
    api.send_examples("registerDevice", alex)

    coach_code = client.get(
        "/v1/coach/profile", headers={"Authorization": f"Bearer {coach['access_token']}"}
    ).json()["code"]
    api.send_examples("grantCoachAccess", alex, resolve=lambda v: {**v, "coach_code": coach_code})
    api.send_examples("updateMe", alex)

    refresh = tokens["refresh_token"]

    def current_refresh_token(value: dict[str, Any]) -> dict[str, Any]:
        return {**value, "refresh_token": refresh}

    (tokens,) = api.send_examples("refreshTokens", resolve=current_refresh_token)
    refresh = tokens["refresh_token"]
    api.send_examples("logout", resolve=current_refresh_token)

    # The current password of the change example is the one Alex registered with.
    (tokens,) = api.send_examples("changePassword", alex)
    alex = tokens["access_token"]
    (change,) = _body_examples(api.operation("changePassword")).values()
    new_password = change["value"]["new_password"]
    api.send_examples("deleteMe", alex, resolve=lambda v: {**v, "password": new_password})

    with_body = {op["operationId"] for _, _, op in _operations(document) if "requestBody" in op}
    assert api.sent == with_body, f"no story for: {sorted(with_body - api.sent)}"


def test_problem_examples_are_what_the_api_answers(client: TestClient) -> None:
    """Each operation that refers to a problem example answers it word for word."""
    document = client.app.openapi()
    api = Api(client, document)
    partner, _ = pair(client)
    coach = register(client, role="coach")
    ids = {"bid_id", "couple_id", "coach_id", "device_id", "notification_id"}
    nowhere = {name: str(uuid.uuid4()) for name in ids}
    limit = api.problem_example("limit-too-large")["errors"][0]["msg"].rpartition(" ")[2]

    checked: set[str] = set()
    for _, _, operation in _operations(document):
        token = coach.access_token if "coach" in operation["tags"] else partner.access_token
        op = operation["operationId"]
        body = None
        if "requestBody" in operation:
            body = next(iter(_body_examples(operation).values()))["value"]
        for status, response in operation["responses"].items():
            for ref in _problem_examples(response).values():
                name = ref["$ref"].rpartition("/")[2]
                if name == "unauthorized":
                    answer = api.call(op, "not-a-token", path=nowhere, json=body)
                elif name == "invalid-cursor":
                    answer = api.call(op, token, params={"cursor": "not-a-cursor"})
                elif name == "limit-too-large":
                    answer = api.call(op, token, params={"limit": int(limit) + 1})
                elif name == "payload-too-large":
                    padding = "x" * client.app.state.settings.max_body_bytes
                    answer = api.call(op, token, path=nowhere, json={"padding": padding})
                else:
                    # The body's problems are checked with the story above, and the database
                    # going away below.
                    continue
                assert answer.status_code == int(status), (op, name, answer.text)
                assert answer.json() == api.problem_example(name), (op, name)
                checked.add(name)
    assert checked == {"unauthorized", "invalid-cursor", "limit-too-large", "payload-too-large"}


def test_the_database_away_is_answered_as_the_example(clock: FrozenClock) -> None:
    url = "sqlite:////nonexistent-directory/tend.db"
    engine = make_engine(url, pool_pre_ping=False)
    app = create_app(make_settings(url), clock=clock, engine=engine)
    example = app.openapi()["components"]["examples"]["service-unavailable"]["value"]
    body = {"email": "alex@example.com", "password": "blue kettle at dawn"}
    with TestClient(app) as client:
        response = client.post("/v1/auth/login", json=body)
    assert_problem(response, 503)
    assert response.json() == example
