"""Care data is health data (SPEC §12), on SQLite and PostgreSQL: no plaintext in any
table, each value bound to its person and field, opened only in the person's own export,
never in logs, push, mail, the partner's export or a coach's view; a copy of the database
made before an erasure stays sealed after it; the key-encryption key rotates while the
app serves; and the partner's care nudge and soothing ideas."""

import json
import logging
import uuid
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select, update

from app import cli, crypto
from app.care.models import CareProfile
from app.config import get_settings
from app.db import make_session_factory, transaction
from app.keystore import KeyStore, PersonKey
from app.main import create_app
from app.outbox.models import Mail, Notification
from app.planning import service as planning
from app.planning.catalogue import BY_KEY, SOOTHING_KINDS
from tests.conftest import make_settings
from tests.databases import create_database, drop_database
from tests.factories import (
    EVERY_NUDGE,
    add_device,
    assert_problem,
    consenting_couple,
    log_bid,
    login,
    new_coach,
    ok,
    pair,
)
from tests.fake_expo import FakeExpo
from tests.gates.test_privacy import _send_nudges

CARE = "/v1/me/care"
STARTS = ["2026-01-13", "2026-02-10"]
CYCLE = {
    "enabled": True,
    "mode": "cycle",
    "share_with_partner": True,
    "cycle": {"period_starts": STARTS, "typical_length_days": 29, "days_before": 5},
}
# What must never be readable outside the person's own view and export.
SECRETS = [*STARTS, "period_starts", "typical_length_days", "share_with_partner", '"cycle"']


@pytest.fixture
def expo():
    with FakeExpo() as fake:
        yield fake


def _every_value(db) -> list[tuple[str, str, str]]:
    """Every value of every table, as text (bytes as Latin-1 so no byte hides)."""
    metadata = MetaData()
    metadata.reflect(db.engine)
    found = []
    with db.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                for column, value in row._mapping.items():
                    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    found.append((table.name, column, text))
    return found


def test_no_table_holds_a_care_value_in_the_clear(client, db):
    alex, sam = pair(client)
    ok(client.put(CARE, json=CYCLE, headers=alex.headers))
    ok(client.post(f"{CARE}/days", json={"date": "2026-03-20"}, headers=alex.headers))
    ok(client.put(CARE, json={"enabled": True, "mode": "days"}, headers=sam.headers))
    values = _every_value(db)
    assert any(table == "care_profiles" for table, _, _ in values)
    leaks = [
        (table, column)
        for table, column, text in values
        for secret in [*SECRETS, "2026-03-20", '"days"', '"steady"']
        if secret in text
    ]
    assert leaks == []
    # Sealed values are padded: a person on "days" and one with a cycle look alike in size.
    with db.engine.connect() as connection:
        sizes = connection.execute(select(CareProfile.sealed_settings)).scalars().all()
    assert len({len(s) for s in sizes}) == 1


def test_a_sealed_value_opens_only_for_its_person_and_field(client, db):
    alex, sam = pair(client)
    ok(client.put(CARE, json=CYCLE, headers=alex.headers))
    ok(client.put(CARE, json={"enabled": True, "mode": "days"}, headers=sam.headers))
    with db.engine.begin() as connection:
        alex_settings = connection.execute(
            select(CareProfile.sealed_settings).where(CareProfile.user_id == uuid.UUID(alex.id))
        ).scalar_one()
        # Alex's settings copied over Sam's, and Alex's settings put in the days' field.
        connection.execute(
            update(CareProfile)
            .where(CareProfile.user_id == uuid.UUID(sam.id))
            .values(sealed_settings=alex_settings)
        )
        connection.execute(
            update(CareProfile)
            .where(CareProfile.user_id == uuid.UUID(alex.id))
            .values(sealed_days=alex_settings)
        )
    for account in (alex, sam):
        problem = assert_problem(client.get(CARE, headers=account.headers), 409)
        assert problem["type"].endswith("care-unreadable")
        assert "2026" not in json.dumps(problem)
    # The partner's view neither fails nor tells: as outside a window.
    assert ok(client.get("/v1/couple/care", headers=sam.headers))["partner_in_care_window"] is False
    # Turning care off always works, and starts afresh.
    ok(client.put(CARE, json={"enabled": False}, headers=alex.headers))
    assert ok(client.get(CARE, headers=alex.headers))["enabled"] is False


def test_exports_logs_push_mail_and_the_coach_never_hold_care(client, db, clock, caplog, expo):
    caplog.set_level(logging.DEBUG)
    coach = new_coach(client)
    alex, sam, couple_id = consenting_couple(client, coach)
    log_bid(client, sam, kind="hug", response="toward")
    ok(client.put("/v1/me/nudge-settings", json=EVERY_NUDGE, headers=sam.headers))
    add_device(client, sam)
    ok(client.put(CARE, json=CYCLE, headers=alex.headers))
    ok(client.get(f"{CARE}/status", headers=alex.headers))
    ok(client.get("/v1/couple/care", headers=sam.headers))

    mine = ok(client.get("/v1/me/export", headers=alex.headers))
    assert mine["care"]["cycle"]["period_starts"] == STARTS
    assert mine["care"]["share_with_partner"] is True and mine["care"]["consented_at"]
    theirs = ok(client.get("/v1/me/export", headers=sam.headers))
    assert theirs["care"] is None
    coach_views = [
        ok(client.get("/v1/coach/couples", headers=coach.headers)),
        ok(client.get(f"/v1/coach/couples/{couple_id}/progress", headers=coach.headers)),
        ok(client.get("/v1/me/export", headers=coach.headers)),
    ]
    # The partner's nudge on a gentle day, planned at Sam's 19:00 slot.
    clock.set(datetime(2026, 3, 10, 18, 1, tzinfo=clock.now().tzinfo))
    _plan(db, client, clock.now())
    assert _send_nudges(db, clock, expo) >= 1
    sent = expo.state.accepted
    assert any(m.get("body") == "A gentle reminder from Tend" for m in sent), sent
    with db.engine.connect() as connection:
        pushed = connection.execute(select(Notification)).all()
        mailed = connection.execute(select(Mail)).all()
    assert pushed

    for where, text in [
        ("partner's export", json.dumps(theirs)),
        *((f"coach view {i}", json.dumps(v)) for i, v in enumerate(coach_views)),
        ("notifications", repr(pushed)),
        ("push payloads", json.dumps(sent)),
        ("mails", repr(mailed)),
        ("logs", caplog.text + repr([r.__dict__ for r in caplog.records])),
    ]:
        for secret in SECRETS:
            assert secret not in text, f"{secret} in {where}"


def _plan(db, client: TestClient, now: datetime) -> None:
    keys: KeyStore = client.app.state.keys  # type: ignore[attr-defined]
    factory = make_session_factory(db.engine)
    for _ in range(10):
        with transaction(factory) as session:
            result = planning.plan_due(
                session, now, grace=timedelta(hours=2), batch_size=100, keys=keys
            )
        if result.users == 0:
            return


def _notifications(db, account, kind: str | None = None) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == uuid.UUID(account.id))
    if kind:
        query = query.where(Notification.kind == kind)
    with db.engine.connect() as connection:
        return list(connection.execute(query.order_by(Notification.due_at)).all())


def test_the_partner_gets_one_care_nudge_per_window_and_soothing_ideas(client, db, clock):
    alex, sam = pair(client)
    for account in (alex, sam):
        ok(client.put("/v1/me/nudge-settings", json=EVERY_NUDGE, headers=account.headers))
    balance = ok(client.get("/v1/couple/balance", headers=sam.headers))
    ok(client.put(CARE, json=CYCLE, headers=alex.headers))  # window: Mar 5 to Mar 12
    assert ok(client.get("/v1/couple/balance", headers=sam.headers)) == balance

    start = clock.now()
    for day in range(6):  # Tuesday to Sunday, each at 19:01 in Berlin
        _plan(db, client, start.replace(hour=18, minute=1) + timedelta(days=day))

    cares = _notifications(db, sam, "care")
    assert len(cares) == 1  # once for the window, though it ran three of these days
    care = cares[0]
    assert care.title == "A gentle day for Alex"
    assert care.push_title == "Tend" and care.push_body == "A gentle reminder from Tend"
    assert care.data == {}
    assert care.due_at == start.replace(hour=18, minute=0)  # Sam's daily slot, 19:00 Berlin
    assert _notifications(db, alex, "care") == []  # the person is not nudged about themselves

    # The day's idea (a daily suggestion, or a reconnect in its place).
    ideas = {n.due_at.date(): BY_KEY[n.gesture].kind for n in _notifications(db, sam) if n.gesture}
    in_window = [kind for day, kind in ideas.items() if day.day <= 12]
    assert len(in_window) == 3 and set(in_window) <= SOOTHING_KINDS
    # Alex's own ideas are not about Alex's window.
    assert len([n for n in _notifications(db, alex) if n.gesture]) == 6

    # Not sharing: no care nudge for the next window either.
    ok(
        client.put(
            CARE, json={**CYCLE, "share_with_partner": False}, headers=login(client, alex).headers
        )
    )
    _plan(db, client, datetime(2026, 4, 7, 17, 1, tzinfo=start.tzinfo))
    assert len(_notifications(db, sam, "care")) == 1


@pytest.fixture
def key_database(database, tmp_path):
    url = create_database(database.backend, tmp_path, "keys")
    yield url
    drop_database(url)


def test_a_copy_made_before_erasure_stays_sealed_after_it(db, clock, key_database):
    """With the keys in a database of their own (TEND_KEY_DATABASE_URL), a copy of the main
    database taken before an erasure holds the care rows, but no key opens them after."""
    settings = make_settings(db.url, key_database_url=key_database)
    app = create_app(settings, clock=clock, engine=db.engine)
    with TestClient(app) as client:
        alex, _ = pair(client)
        ok(client.put(CARE, json=CYCLE, headers=alex.headers))
        with db.engine.connect() as connection:
            copy = connection.execute(select(CareProfile)).all()  # the backup
            assert connection.execute(select(PersonKey)).all() == []  # no key in it
        keys = KeyStore.from_settings(settings)

        def open_copy() -> dict:
            row = copy[0]
            with make_session_factory(db.engine)() as session:
                key = keys.key(session, row.user_id)
            return json.loads(
                crypto.open_sealed(
                    key, row.sealed_settings, user_id=row.user_id, field="care.settings"
                )
            )

        assert open_copy()["cycle"]["period_starts"] == STARTS  # before: the copy opens
        erase = client.request(
            "DELETE", "/v1/me", json={"password": alex.password}, headers=alex.headers
        )
        assert erase.status_code == 204
        with pytest.raises(crypto.Undecryptable):
            open_copy()
        with db.engine.connect() as connection:
            assert connection.execute(select(CareProfile)).all() == []
        with keys.engine.connect() as connection:  # type: ignore[union-attr]
            assert connection.execute(select(PersonKey)).all() == []


def test_erasure_in_the_main_database_destroys_the_key_too(client, db):
    alex, _ = pair(client)
    ok(client.put(CARE, json=CYCLE, headers=alex.headers))
    erase = client.request(
        "DELETE", "/v1/me", json={"password": alex.password}, headers=alex.headers
    )
    assert erase.status_code == 204
    with db.engine.connect() as connection:
        assert connection.execute(select(PersonKey)).all() == []
        assert connection.execute(select(CareProfile)).all() == []


NEW_KEY = "bmV3LWRhdGEta2V5LWFmdGVyLWEtcm90YXRpb24tMzI="


def test_the_data_key_rotates_while_the_app_serves(db, clock, tend_settings, capsys):
    old = make_settings(db.url)
    with TestClient(create_app(old, clock=clock, engine=db.engine)) as before:
        alex, sam = pair(before)
        ok(before.put(CARE, json=CYCLE, headers=alex.headers))
        ok(before.put(CARE, json={"enabled": True, "mode": "days"}, headers=sam.headers))
    # Every process now runs with the new key and the old one as previous...
    rolling = make_settings(db.url, data_key=NEW_KEY, data_key_previous=old.data_key)
    with TestClient(create_app(rolling, clock=clock, engine=db.engine)) as during:
        assert ok(during.get(CARE, headers=alex.headers))["cycle"]["period_starts"] == STARTS
        # ...and the rotation rewraps every key.
        tend_settings.setenv("TEND_DATA_KEY", NEW_KEY)
        tend_settings.setenv("TEND_DATA_KEY_PREVIOUS", old.data_key)
        get_settings.cache_clear()
        assert cli.main(["rotate-data-key"]) == 0
        assert "rewrapped 2 person keys" in capsys.readouterr().out
        assert ok(during.get(CARE, headers=alex.headers))["enabled"] is True
        assert cli.main(["rotate-data-key"]) == 0  # again: nothing left to do
        assert "rewrapped 0 person keys" in capsys.readouterr().out
    with db.engine.connect() as connection:
        ids = set(connection.execute(select(PersonKey.kek_id)).scalars())
    assert ids == {crypto.key_id(crypto.parse_key(NEW_KEY))}
    # After: the old key is gone from the settings, and everything still opens.
    after = make_settings(db.url, data_key=NEW_KEY)
    with TestClient(create_app(after, clock=clock, engine=db.engine)) as client:
        assert ok(client.get(CARE, headers=alex.headers))["cycle"]["period_starts"] == STARTS
    # The old key alone opens nothing any more.
    with TestClient(create_app(old, clock=clock, engine=db.engine)) as stale:
        assert_problem(stale.get(CARE, headers=alex.headers), 409)


def test_production_needs_a_data_key_and_development_says_it_made_one():
    from pydantic import ValidationError

    from app.config import Environment, Settings

    with pytest.raises(ValidationError, match="TEND_DATA_KEY is required"):
        Settings(env=Environment.production, secret_key="x" * 40)
    with pytest.raises(ValidationError, match="32 random bytes"):
        Settings(secret_key="x" * 40, data_key="too-short")
    development = Settings(secret_key="x" * 40)
    assert development.generated_data_key is True
    assert len(crypto.parse_key(development.data_key)) == 32


def test_the_care_nudge_speaks_the_partners_language(client, db, clock):
    """Sam reads German: the gentle day comes in German, the lock screen stays discreet."""
    alex, sam = pair(client)
    ok(client.patch("/v1/me", json={"locale": "de"}, headers=sam.headers))
    ok(client.put("/v1/me/nudge-settings", json=EVERY_NUDGE, headers=sam.headers))
    ok(client.put(CARE, json=CYCLE, headers=alex.headers))
    _plan(db, client, clock.now().replace(hour=18, minute=1))
    [care] = _notifications(db, sam, "care")
    assert care.title == "Ein sanfter Tag für Alex"
    assert care.push_title == "Tend" and "Alex" not in care.push_body
    assert care.push_body != "A gentle reminder from Tend"  # translated, still discreet
