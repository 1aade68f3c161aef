"""The published OpenAPI document: current, complete, and its examples true.

docs/openapi.json is what a mobile team generates its client from, so it must be the
document the code gives; every operation is named, summarised and tagged, every error is
problem+json, every request body has examples that the API accepts as they stand (the
ids, codes and tokens of a real couple put in where the example can only show one), and
the problem examples are what the API answers, word for word. Answers are typed exactly,
so that a generated client's types are: timestamps say they are, enumerations are listed,
every field the server always sends is required, and every schema has a readable name.
"""

import difflib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, get_args

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from app.bids.kinds import KIND_NAMES
from app.clock import FrozenClock
from app.db import make_engine
from app.fields import StrictInput
from app.main import create_app
from app.openapi_doc import REGENERATE_COMMAND, main, openapi_document, render_openapi
from tests.conftest import make_settings
from tests.factories import assert_problem, consent, invite, mailed_token, pair, register

ROOT = Path(__file__).resolve().parents[2]
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
        "TEND_DATA_KEY": "cHJvZHVjdGlvbi1kYXRhLWtleS0zMi1ieXRlcy1sb24=",
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


# -- answers, typed exactly --------------------------------------------------------------


def _referenced(document: Document, node: object, found: set[str]) -> set[str]:
    """The names of the component schemas that ``node`` refers to, directly or not."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        name = ref.removeprefix("#/components/schemas/")
        if name != ref and name not in found:
            found.add(name)
            _referenced(document, document["components"]["schemas"][name], found)
        for value in node.values():
            _referenced(document, value, found)
    elif isinstance(node, list):
        for value in node:
            _referenced(document, value, found)
    return found


def _answer_schemas(document: Document) -> dict[str, dict[str, Any]]:
    """The component schemas that some success answer uses, directly or inside another."""
    names: set[str] = set()
    for _, _, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                _referenced(document, response, names)
    return {name: document["components"]["schemas"][name] for name in sorted(names)}


def _types_in(annotation: Any) -> Iterator[Any]:
    yield annotation
    for arg in get_args(annotation):
        yield from _types_in(arg)


def _answer_models(document: Document) -> list[type[BaseModel]]:
    """The app's models whose schemas some success answer uses (schemas take their names
    from their models)."""
    answers = _answer_schemas(document)
    found: dict[str, type[BaseModel]] = {}
    pending: list[type[BaseModel]] = [BaseModel]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if model.__module__.startswith("app.") and model.__name__ in answers:
            assert found.setdefault(model.__name__, model) is model, model
    return list(found.values())


def _strings(prop: dict[str, Any]) -> list[dict[str, Any]]:
    """The string alternatives of a property, or of its items when it is a list."""
    if prop.get("type") == "array":
        prop = prop["items"]
    return [alt for alt in prop.get("anyOf", [prop]) if alt.get("type") == "string"]


def test_answer_instants_and_days_say_so(document: Document) -> None:
    """Every datetime an answer model holds is a date-time in the document, every date a
    date (a serializer that writes text must not leave a bare string behind)."""
    schemas = document["components"]["schemas"]
    checked = set()
    for model in _answer_models(document):
        for name, field in model.model_fields.items():
            kinds = {t for t in _types_in(field.annotation) if t in (datetime, date)}
            if not kinds:
                continue
            expected = "date-time" if datetime in kinds else "date"
            prop = schemas[model.__name__]["properties"][name]
            assert [alt.get("format") for alt in _strings(prop)] == [expected], (model, name)
            checked.add(f"{model.__name__}.{name}")
    assert {"BidPublic.occurred_at", "BalancePublic.as_of", "BalancePoint.date"} <= checked
    # By name too: the export's instants are text already (RFC 3339 with an offset). The
    # records of offline sync are WatermelonDB's raw records: integer ms, as it demands.
    for schema_name, schema in _answer_schemas(document).items():
        for name, prop in schema.get("properties", {}).items():
            if schema_name.endswith("Raw") and name.endswith("_at"):
                assert {alt.get("type") for alt in prop.get("anyOf", [prop])} <= {
                    "integer",
                    "null",
                }, (schema_name, name)
            elif name.endswith("_at") or name == "as_of":
                strings = _strings(prop)
                assert strings, (schema_name, name)
                assert all(alt.get("format") == "date-time" for alt in strings), (schema_name, name)


def test_answers_require_every_field_the_server_sends(document: Document) -> None:
    answers = _answer_schemas(document)
    assert {"TokenPair", "RegisterResponse", "BidPublic", "StatsPublic"} <= set(answers)
    # Sync's answers carry WatermelonDB's experimental fields only when they say something.
    sometimes = {"SyncPull": {"experimentalStrategy"}, "SyncPushed": {"experimentalRejectedIds"}}
    for name, schema in answers.items():
        if "properties" in schema:
            always = set(schema["properties"]) - sometimes.get(name, set())
            assert sorted(schema.get("required", [])) == sorted(always), name
    # A default does not make an answer's field optional: the server always sends it.
    assert "default" in answers["TokenPair"]["properties"]["token_type"]
    assert "token_type" in answers["TokenPair"]["required"]
    # A request's fields with a default stay optional.
    schemas = document["components"]["schemas"]
    assert "response" not in schemas["BidCreate"]["required"]
    assert not {"timezone", "role"} & set(schemas["RegisterRequest"]["required"])


def test_every_schema_has_a_readable_name(document: Document) -> None:
    schemas = document["components"]["schemas"]
    for name, schema in schemas.items():
        # No Page_BidPublic_, and no model split into a -Input and an -Output schema.
        assert name.isidentifier() and "_" not in name, name
        assert schema.get("title") == name, name
    pages = {
        n for n, s in schemas.items() if set(s.get("properties", {})) == {"items", "next_cursor"}
    }
    assert pages == {"AccessLogEntryPage", "BidPage", "CoachedCouplePage", "NotificationPage"}
    bids = schemas["BidPage"]
    assert bids["properties"]["items"]["items"] == {"$ref": "#/components/schemas/BidPublic"}
    assert bids["required"] == ["items", "next_cursor"]
    # Every reference, renamed ones included, points at a schema that is there.
    assert _referenced(document, document, set()) <= set(schemas)


def test_answers_use_the_types_that_requests_use(document: Document) -> None:
    schemas = document["components"]["schemas"]

    def prop(schema: str, field: str) -> dict[str, Any]:
        value: dict[str, Any] = schemas[schema]["properties"][field]
        return value

    kinds = list(KIND_NAMES)
    assert prop("BidPublic", "kind")["enum"] == prop("BidCreate", "kind")["enum"] == kinds
    assert prop("BidKindPublic", "kind")["enum"] == kinds
    for field in ("provider", "platform"):
        assert prop("DevicePublic", field)["enum"] == prop("DeviceCreate", field)["enum"]
    counts = _component(document, prop("StatsPublic", "by_initiator")["$ref"])
    assert counts["required"] == ["me", "partner"]
    assert counts["properties"] == {
        "me": {"title": "Me", "type": "integer"},
        "partner": {"title": "Partner", "type": "integer"},
    }


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
        params: dict[str, Any] | None = None,
        resolve: Callable[[dict[str, Any]], dict[str, Any]] = lambda value: value,
    ) -> list[Any]:
        """Each example of the operation's body, with its placeholders resolved; every one
        must succeed. First the same body with a field too many, and one that is not JSON:
        those must be answered exactly as the document's problem examples say."""
        examples = _body_examples(self.operation(operation_id))
        first = resolve(dict(next(iter(examples.values()))["value"]))
        extra = self.call(
            operation_id, token, path=path, params=params, json={**first, "nickname": "Al"}
        )
        assert_problem(extra, 422)
        assert extra.json() == self.problem_example("unknown-field"), operation_id
        broken = self.call(
            operation_id,
            token,
            path=path,
            params=params,
            content=json.dumps(first)[:-1],
            headers={"Content-Type": "application/json"},
        )
        assert_problem(broken, 400)
        assert broken.json() == self.problem_example("malformed-json"), operation_id

        answers = []
        for name, example in examples.items():
            response = self.call(
                operation_id, token, path=path, params=params, json=resolve(example["value"])
            )
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
    # A phone that logged a bid offline syncs it (WatermelonDB's push), after a pull.
    pulled = client.get("/v1/sync", headers={"Authorization": f"Bearer {alex}"})
    since = {"last_pulled_at": pulled.json()["timestamp"]}
    (pushed, deleted) = api.send_examples("pushChanges", alex, params=since)
    assert pushed == {} and deleted == {}

    api.send_examples("replaceNudgeSettings", alex)
    api.send_examples("registerDevice", alex)
    # Care: off, then a cycle, then steady days (on at the end), then days by hand.
    *_, steady = api.send_examples("putCare", alex)
    assert steady["mode"] == "steady" and steady["consented_at"]
    marked = api.send_examples("markCareDays", alex)
    assert marked[-1]["marked_days"] == ["2026-12-03", "2026-12-04", "2026-12-05"]
    left = api.send_examples("unmarkCareDays", alex)
    assert left[-1]["marked_days"] == []

    coach_code = client.get(
        "/v1/coach/profile", headers={"Authorization": f"Bearer {coach['access_token']}"}
    ).json()["code"]
    # A partner may consent only to a coach whose address is verified: the mailed link.
    coach_email = coach["user"]["email"]
    api.send_examples(
        "verifyEmail", resolve=lambda v: {**v, "token": mailed_token(client, coach_email)}
    )
    api.send_examples("grantCoachAccess", alex, resolve=lambda v: {**v, "coach_code": coach_code})
    # Alex proposes practices to Sam; once Sam consents too, the coach proposes some.
    api.send_examples("proposePractice", alex)
    consent(client, coach_code, sam)
    api.send_examples(
        "proposeCouplePractice", coach["access_token"], path={"couple_id": couple["id"]}
    )
    api.send_examples("updateMe", alex)
    # One example switched Alex to German; the checks below read English problem titles.
    client.patch(
        "/v1/me", json={"locale": "en"}, headers={"Authorization": f"Bearer {alex}"}
    ).raise_for_status()
    # The change example's password is the one Alex registered with.
    api.send_examples("changeEmail", alex)

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
    # Forgotten anyway: the reset example's address is Alex's, its password the same new one.
    api.send_examples("requestPasswordReset")
    email = partner["user"]["email"]
    api.send_examples(
        "confirmPasswordReset",
        resolve=lambda v: {**v, "token": mailed_token(client, email, "reset-password")},
    )
    (reset,) = _body_examples(api.operation("confirmPasswordReset")).values()
    assert reset["value"]["password"] == new_password
    signed_in = client.post("/v1/auth/login", json={"email": email, "password": new_password})
    alex = signed_in.json()["access_token"]
    api.send_examples("deleteMe", alex, resolve=lambda v: {**v, "password": new_password})

    with_body = {op["operationId"] for _, _, op in _operations(document) if "requestBody" in op}
    assert api.sent == with_body, f"no story for: {sorted(with_body - api.sent)}"


def test_problem_examples_are_what_the_api_answers(client: TestClient) -> None:
    """Each operation that refers to a problem example answers it word for word."""
    document = client.app.openapi()
    api = Api(client, document)
    partner, _ = pair(client)
    coach = register(client, role="coach")
    ids = {"bid_id", "couple_id", "coach_id", "device_id", "notification_id", "practice_id"}
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


def test_answers_are_what_the_exact_schemas_say(client: TestClient) -> None:
    """A couple's answers hold to the document with its formats checked: the exact types
    promise nothing the server does not send."""
    document = client.app.openapi()
    api = Api(client, document)
    alex, sam = pair(client)

    def answer(operation_id: str, token: str | None = None, **kwargs: Any) -> Any:
        response = api.call(operation_id, token, **kwargs)
        assert 200 <= response.status_code < 300, (operation_id, response.text)
        media = api.operation(operation_id)["responses"][str(response.status_code)]["content"]
        schema = {**media["application/json"]["schema"], "components": document["components"]}
        validator = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)
        body = response.json()
        errors = [e.message for e in validator.iter_errors(body)]
        assert not errors, (operation_id, errors)
        return body

    tokens = answer("login", json={"email": alex.email, "password": alex.password})
    assert tokens["token_type"] == "bearer"
    answer("refreshTokens", json={"refresh_token": tokens["refresh_token"]})
    bid = answer("createBid", alex.access_token, json={"kind": "hug", "initiator": "me"})
    answer(
        "respondToBid", sam.access_token, path={"bid_id": bid["id"]}, json={"response": "toward"}
    )
    answer("createBid", sam.access_token, json={"kind": "smile", "initiator": "me"})
    device = {"provider": "webhook", "token": "https://hooks.example.com/a", "platform": "server"}
    answer("registerDevice", alex.access_token, json=device)
    for operation_id in (
        "getMe",
        "getCouple",
        "listBidKinds",
        "listBids",
        "getBalance",
        "getBalanceHistory",
        "listDevices",
        "getNudgeSettings",
        "listNotifications",
        "listCoupleCoaches",
        "getCoachAccessLog",
        "exportMe",
    ):
        answer(operation_id, alex.access_token)
    stats = answer("getCoupleStats", alex.access_token)
    assert stats["by_initiator"] == {"me": 1, "partner": 1}
