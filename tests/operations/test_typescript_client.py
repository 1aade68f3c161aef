"""The phone app's side of the contract: a TypeScript client generated from Tend's OpenAPI
document (openapi-typescript and openapi-fetch, clients/typescript), with a script that walks
a couple's first week, type-checked by `tsc --strict` and run by Node against a real
`tend serve`. The document is made afresh from the app on every run and never committed,
so a change to the API that breaks the client fails here.

Needs node and npm; CI installs them (.ci/run) and fails if they are missing, elsewhere
the tests are skipped with that reason. `npm ci` runs again only when the lock changes."""

import hashlib
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.access.models import CoachConsent
from app.bank.math import balance_at, deposit
from app.bids.kinds import BY_KIND
from app.bids.models import Bid
from app.couples.models import Couple, CoupleMember
from app.main import create_app
from app.outbox.models import Device
from tests.conftest import TEST_SECRET, make_settings
from tests.processes import tend_server
from tests.smtp_server import mailbox_over_http, smtp_server

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "typescript"
SCRIPT = CLIENT / "dist" / "first-week.js"

Document = dict[str, Any]


def _node_or_skip() -> None:
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if not missing:
        return
    reason = f"needs {' and '.join(missing)} (apt-get install nodejs npm)"
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the TypeScript client tests: {reason}")
    pytest.skip(reason)


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _succeeds(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{result.args} failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """clients/typescript/node_modules as package-lock.json says, installed once per lock."""
    _node_or_skip()
    lock = hashlib.sha256(
        (CLIENT / "package.json").read_bytes() + (CLIENT / "package-lock.json").read_bytes()
    ).hexdigest()[:16]
    stamp = CLIENT / "node_modules" / f".tend-installed-{lock}"
    if not stamp.exists():
        _succeeds(_run(["npm", "ci", "--no-audit", "--no-fund"], CLIENT))
        stamp.touch()
    return CLIENT / "node_modules"


@pytest.fixture(scope="session")
def openapi_document(tmp_path_factory: pytest.TempPathFactory) -> Document:
    directory = tmp_path_factory.mktemp("openapi")
    app = create_app(make_settings(f"sqlite:///{directory / 'unused.db'}"))
    return app.openapi()


def _write(document: Document, directory: Path) -> Path:
    path = directory / "openapi.json"
    path.write_text(json.dumps(document))
    return path


@pytest.fixture(scope="session")
def first_week_script(
    node_modules: Path, openapi_document: Document, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The client generated from this app's document, and the script compiled against it."""
    document = _write(openapi_document, tmp_path_factory.mktemp("client"))
    shutil.rmtree(CLIENT / "dist", ignore_errors=True)
    _succeeds(_run(["npm", "run", "generate"], CLIENT, TEND_OPENAPI=str(document)))
    _succeeds(_run(["npm", "run", "build"], CLIENT))
    assert SCRIPT.exists()
    return SCRIPT


def test_a_couples_first_week_through_the_generated_client(first_week_script, db):
    # Mail goes to a real SMTP server; the walk reads its links where a mail catcher shows
    # them, as a phone would receive them by a tap on the link in the mail.
    with (
        smtp_server() as smtp,
        mailbox_over_http(smtp) as mailbox,
        tend_server(
            db.url,
            TEST_SECRET,
            TEND_SCHEDULER="on",
            TEND_MAIL_URL=smtp.url,
            TEND_MAIL_TICK_SECONDS="1",
            TEND_APP_URL="https://app.tend.example",
        ) as base,
    ):
        result = _run(
            ["node", str(first_week_script), base, "--json", f"--mailbox={mailbox}"], CLIENT
        )
        # The script checks every answer: one it did not expect stops it, saying which.
        astray = _run(["node", str(first_week_script), f"{base}/elsewhere"], CLIENT)
        # The "password changed" notice goes out on the mail worker's next tick, after the
        # walk has read what it needed: wait for it while the server still runs.
        subjects = _subjects_once_arrived(smtp, {"Your Tend password was changed"})
    assert result.returncode == 0, f"the first week failed:\n{result.stdout}\n{result.stderr}"
    assert astray.returncode == 1
    assert "register Alex: expected 201, got 404" in astray.stderr, astray.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    couple_id = uuid.UUID(summary["couple_id"])
    as_of = datetime.fromisoformat(summary["as_of"])

    with Session(db.engine) as session:
        couple = session.get_one(Couple, couple_id)
        bids = session.scalars(select(Bid).where(Bid.couple_id == couple_id)).all()
        members = select(CoupleMember.user_id).where(CoupleMember.couple_id == couple_id)
        devices = session.scalars(select(Device.user_id).where(Device.user_id.in_(members))).all()
        consents = session.scalar(
            select(func.count())
            .select_from(CoachConsent)
            .where(CoachConsent.couple_id == couple_id, CoachConsent.revoked_at.is_(None))
        )

    # Each bid the phones synced is stored once under the phone's id, the resent one too,
    # and the conflicting one changed nothing; every bid got its answer.
    assert sorted(str(b.id) for b in bids) == sorted(summary["bid_ids"])
    assert len(bids) == 10
    assert {b.kind for b in bids} >= {"hug", "compliment", "kiss"}
    assert "smile" not in {b.kind for b in bids}
    assert [b.id for b in bids if b.response == "pending" or b.responded_at is None] == []
    # The balance the client read is the stored bids' deposits decayed to its as_of.
    deposits = [
        (
            b.occurred_at,
            deposit(
                b.response,
                weight=BY_KIND[b.kind].weight,
                linger_seconds=BY_KIND[b.kind].linger_seconds,
                duration_seconds=b.duration_seconds,
            ),
        )
        for b in bids
    ]
    expected = balance_at(deposits, as_of, couple.half_life_hours)
    assert summary["balance"] == pytest.approx(expected, rel=1e-9)
    assert summary["balance"] > 0
    # Each phone registered twice (the app does so at every start): one device each.
    assert len(devices) == 2 and len(set(devices)) == 2
    assert consents == 2
    assert summary["coach_bids_seen"] == 10
    # Robin confirmed the address before the consents; Sam got back in with a reset link.
    assert summary["robin_verified"] is True and summary["sam_reset"] is True
    assert {"Reset your Tend password", "Your Tend password was changed"} <= subjects


def _subjects_once_arrived(smtp: Any, wanted: set[str], timeout: float = 30.0) -> set[str]:
    deadline = time.monotonic() + timeout
    while True:
        subjects = {m.message["Subject"] for m in smtp.received}
        if wanted <= subjects or time.monotonic() > deadline:
            return subjects
        time.sleep(0.1)


def _rename_field(schema: str, old: str, new: str) -> Callable[[Document], None]:
    def change(document: Document) -> None:
        target = document["components"]["schemas"][schema]
        target["properties"][new] = target["properties"].pop(old)
        target["required"] = [new if name == old else name for name in target.get("required", [])]

    return change


def _rename_path(old: str, new: str) -> Callable[[Document], None]:
    def change(document: Document) -> None:
        document["paths"][new] = document["paths"].pop(old)

    return change


def _retype_field(schema: str, field: str, new_type: str) -> Callable[[Document], None]:
    def change(document: Document) -> None:
        document["components"]["schemas"][schema]["properties"][field] = {"type": new_type}

    return change


BREAKING_CHANGES = {
    "a field of an answer renamed": (
        _rename_field("RegisterResponse", "access_token", "token"),
        "Property 'access_token' does not exist",
    ),
    "a field of a request renamed": (
        _rename_field("BidCreate", "occurred_at", "happened_at"),
        "'occurred_at' does not exist in type",
    ),
    "a path renamed": (
        _rename_path("/v1/couple/join", "/v1/couple/pairings"),
        '"/v1/couple/join"',
    ),
    "a field's type changed": (
        _retype_field("BalancePublic", "balance", "string"),
        "Operator '>' cannot be applied to types 'string' and 'number'",
    ),
}


def _check_against(document: Document, directory: Path, node_modules: Path) -> str:
    """`npm run generate` then `npm run check` (tsc --strict) in a copy of the client package
    beside ``document``; what tsc printed, or a failure if it accepted first-week.ts."""
    directory.mkdir()
    for name in ("package.json", "tsconfig.json"):
        shutil.copy(CLIENT / name, directory / name)
    shutil.copytree(CLIENT / "src", directory / "src", ignore=shutil.ignore_patterns("schema.*"))
    (directory / "node_modules").symlink_to(node_modules, target_is_directory=True)
    path = _write(document, directory)
    _succeeds(_run(["npm", "run", "generate"], directory, TEND_OPENAPI=str(path)))
    checked = _run(["npm", "run", "check"], directory)
    assert checked.returncode != 0, "tsc accepted first-week.ts against the changed API"
    return checked.stdout


@pytest.fixture(scope="session")
def type_check_of_changed_apis(
    node_modules: Path, openapi_document: Document, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Future[str]]:
    """Each breaking change checked at once, side by side (tsc takes seconds)."""
    root = tmp_path_factory.mktemp("changed")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        checks = {}
        for number, (change, (edit, _)) in enumerate(BREAKING_CHANGES.items()):
            document = json.loads(json.dumps(openapi_document))
            edit(document)
            checks[change] = pool.submit(
                _check_against, document, root / f"change-{number}", node_modules
            )
    return checks


@pytest.mark.parametrize("change", BREAKING_CHANGES, ids=list(BREAKING_CHANGES))
def test_a_change_that_breaks_the_client_fails_the_type_check(change, type_check_of_changed_apis):
    output = type_check_of_changed_apis[change].result()
    _, message = BREAKING_CHANGES[change]
    assert "src/first-week.ts" in output
    assert message in output, output
