"""`tend demo`: two couples with weeks of history and a coach, seen through the API."""

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app import admin, cli, demo, migrations
from app.accounts.models import User
from app.bids.models import Bid
from app.clock import FrozenClock, SystemClock
from app.config import get_settings
from app.couples.models import Couple
from app.db import make_session_factory
from app.main import create_app
from tests.conftest import TEST_SECRET, make_settings
from tests.processes import TEND, free_port, start, stop, tend_env, wait_ready

PARTNERS = {
    "lena@demo.example.com": ("Europe/Berlin", "Jonas"),
    "jonas@demo.example.com": ("Europe/Berlin", "Lena"),
    "maya@demo.example.com": ("America/New_York", "Sam"),
    "sam@demo.example.com": ("America/New_York", "Maya"),
}
COACH_EMAIL = "robin@demo.example.com"


@pytest.fixture
def api(db) -> Iterator[TestClient]:
    """The API on the real clock: the demo's history ends now."""
    app = create_app(make_settings(db.url), clock=SystemClock(), engine=db.engine)
    with TestClient(app) as client:
        yield client


def _login(client: TestClient | httpx.Client, email: str) -> dict[str, str]:
    response = client.post("/v1/auth/login", json={"email": email, "password": demo.DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _all_bids(client: TestClient, headers: dict[str, str]) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"limit": 200} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/bids", params=params, headers=headers).json()
        items += page["items"]
        if not (cursor := page["next_cursor"]):
            return items


def _demo_users(db) -> dict[str, str]:
    with Session(db.engine) as session:
        rows = session.execute(select(User.email, User.id).where(User.email.in_(demo.EMAILS)))
        return {email: str(user_id) for email, user_id in rows}


def _count(db, model) -> int:
    with Session(db.engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_demo_shows_weeks_of_history_balances_streaks_and_a_coach(tend_settings, api, db, capsys):
    assert cli.main(["demo"]) == 0
    out, err = capsys.readouterr()
    for email in demo.EMAILS:
        assert email in out
    assert f"Password for every demo account: {demo.DEMO_PASSWORD}" in out
    assert "demo: " in err and "(100%)" in err  # progress went to stderr, not stdout
    assert "demo: " not in out

    for email, (timezone, partner_name) in PARTNERS.items():
        headers = _login(api, email)
        couple = api.get("/v1/couple", headers=headers).json()
        assert couple["timezone"] == timezone
        assert couple["partner"]["display_name"].startswith(partner_name)
        assert api.get("/v1/couple/balance", headers=headers).json()["balance"] > 0

        story = next(s for s in demo.STORIES if email in (s.first.email, s.second.email))
        stats = api.get("/v1/couple/stats", params={"days": 30}, headers=headers).json()
        assert stats["streak_days"] >= story.unbroken_days
        assert stats["longest_streak_days"] >= stats["streak_days"]
        assert stats["toward_rate"] > story.toward[0] - 0.15
        assert stats["by_initiator"]["me"] > 0 and stats["by_initiator"]["partner"] > 0

        points = api.get("/v1/couple/balance/history", params={"days": 30}, headers=headers)
        values = [p["balance"] for p in points.json()["points"]]
        assert len(values) == 30 and len({round(v, 6) for v in values}) > 10

        bids = _all_bids(api, headers)
        occurred = [datetime.fromisoformat(b["occurred_at"]) for b in bids]
        assert max(occurred) - min(occurred) > timedelta(days=21)
        assert len({b["kind"] for b in bids}) >= 12
        assert {b["response"] for b in bids} == {"toward", "away", "against", "pending"}
        assert sum(b["note"] is not None for b in bids) >= 5
        hours = {t.astimezone(ZoneInfo(timezone)).hour for t in occurred}
        parts_of_day = {
            "night" if h < 5 or h >= 22 else "morning" if h < 11 else "day" if h < 18 else "evening"
            for h in hours
        }
        assert parts_of_day == {"morning", "day", "evening", "night"}

        prefs = api.get("/v1/me/nudge-settings", headers=headers).json()
        assert datetime.fromisoformat(prefs["next_daily_at"]) > datetime.now(ZoneInfo("UTC"))
        log = api.get("/v1/couple/coach-access-log", headers=headers).json()["items"]
        assert log, "the coach looked at the dashboard a few days ago"

    lena_headers = _login(api, "lena@demo.example.com")
    lena = api.get("/v1/me/nudge-settings", headers=lena_headers)
    assert lena.json()["daily_time"] == "08:00"
    # Lena reads Tend in German: her inbox speaks it, Jonas's English.
    assert api.get("/v1/me", headers=lena_headers).json()["locale"] == "de"
    lena_inbox = api.get("/v1/me/notifications", headers=lena_headers).json()["items"]
    assert any("Moment mit dir festgehalten" in n["title"] for n in lena_inbox)
    jonas = api.get("/v1/me/nudge-settings", headers=_login(api, "jonas@demo.example.com"))
    assert jonas.json()["discreet"] is False

    coach = _login(api, COACH_EMAIL)
    couples = api.get("/v1/coach/couples", headers=coach).json()["items"]
    assert sorted(sorted(c["first_names"]) for c in couples) == [
        ["Jonas", "Lena"],
        ["Maya", "Sam"],
    ]
    for summary in couples:
        assert summary["balance"] > 0 and summary["toward_rate_30d"] is not None
        progress = api.get(
            f"/v1/coach/couples/{summary['couple_id']}/progress",
            params={"weeks": 8},
            headers=coach,
        ).json()
        active_weeks = [w for w in progress["weeks"] if w["bids"]]
        assert len(active_weeks) >= 3
        assert all(w["active_days"] > 0 for w in active_weeks)
        assert "note" not in str(progress)
    assert api.get("/coach").status_code == 200

    # The rollups the services kept are what a rebuild from the bids gives.
    with Session(db.engine) as session:
        for couple_id in session.scalars(select(Couple.id)):
            assert admin.recompute_couple(session, couple_id, SystemClock()).days_fixed == 0
        session.rollback()


def test_a_second_run_refuses_and_reset_loads_afresh(tend_settings, api, db, capsys):
    assert cli.main(["demo"]) == 0
    first_ids = _demo_users(db)
    bids = _count(db, Bid)
    capsys.readouterr()

    assert cli.main(["demo"]) == 1
    out, err = capsys.readouterr()
    assert "already loaded" in err and "tend demo --reset" in err
    assert demo.DEMO_PASSWORD in err
    assert _demo_users(db) == first_ids and _count(db, Bid) == bids

    assert cli.main(["demo", "--reset"]) == 0
    out, _ = capsys.readouterr()
    assert "erased first" in out
    second_ids = _demo_users(db)
    assert set(second_ids) == set(demo.EMAILS)
    assert not set(second_ids.values()) & set(first_ids.values())
    # The erased demo left nothing behind: two couples, each with its own bids.
    assert _count(db, Couple) == 2
    with Session(db.engine) as session:
        orphans = session.scalar(
            text("SELECT count(*) FROM bids WHERE couple_id NOT IN (SELECT id FROM couples)")
        )
    assert orphans == 0
    coach = _login(api, COACH_EMAIL)
    assert len(api.get("/v1/coach/couples", headers=coach).json()["items"]) == 2


def test_if_empty_loads_into_a_new_database_only(tend_settings, db, capsys):
    """`make run` runs `tend demo --if-empty`: a fresh clone shows the demo at once, and a
    database with accounts (the demo's or anyone's) is left as it is."""
    assert cli.main(["demo", "--if-empty", "--base-url", "http://127.0.0.1:8123/"]) == 0
    assert set(_demo_users(db)) == set(demo.EMAILS)
    bids = _count(db, Bid)
    out, _ = capsys.readouterr()
    # `make run PORT=8123` passes its address: the closing message names that port.
    assert "http://127.0.0.1:8123/coach" in out and ":8000" not in out

    assert cli.main(["demo", "--if-empty"]) == 0
    _, err = capsys.readouterr()
    assert "has accounts already" in err
    assert _count(db, Bid) == bids and _count(db, Couple) == 2


def test_production_refuses_without_force(tend_settings, db, capsys):
    tend_settings.setenv("TEND_ENV", "production")
    get_settings.cache_clear()
    assert cli.main(["demo"]) == 2
    assert "--force" in capsys.readouterr().err
    assert _count(db, User) == 0
    assert cli.main(["demo", "--reset"]) == 2  # resetting is loading too
    assert _count(db, User) == 0

    assert cli.main(["demo", "--force"]) == 0
    assert set(_demo_users(db)) == set(demo.EMAILS)


def test_an_unmigrated_database_is_refused(tmp_path, monkeypatch, capsys):
    for key in [k for k in os.environ if k.startswith("TEND_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("TEND_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    get_settings.cache_clear()
    try:
        assert cli.main(["demo"]) == 2
    finally:
        get_settings.cache_clear()
    assert "tend migrate" in capsys.readouterr().err


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TEND, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_newcomer_loads_the_demo_beside_a_running_server(tmp_path):
    """`make run` in one terminal, `tend demo` in another: the server shows it at once.
    On SQLite, as `make run` does; the demo's one transaction shares the file with the
    server and its scheduler."""
    url = f"sqlite:///{tmp_path / 'tend.db'}"
    env = tend_env(url, TEST_SECRET)  # the scheduler on, as under `make run`
    migrations.upgrade(url)
    port = free_port()
    server = start(
        ["serve", "--port", str(port)], env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, server)
        loaded = _run(["demo"], env)
        assert loaded.returncode == 0, loaded.stderr
        assert demo.DEMO_PASSWORD in loaded.stdout
        # Not a terminal: a few plain progress lines, the last with the total time.
        lines = [line for line in loaded.stderr.splitlines() if line.startswith("demo: ")]
        assert 2 <= len(lines) <= 12 and "done in" in lines[-1]
        assert "\r" not in loaded.stderr
        with httpx.Client(base_url=base) as client:
            coach = _login(client, COACH_EMAIL)
            couples = client.get("/v1/coach/couples", headers=coach).json()["items"]
            assert len(couples) == 2
            lena = _login(client, "lena@demo.example.com")
            assert client.get("/v1/couple/balance", headers=lena).json()["balance"] > 0
            assert "Tend" in client.get("/coach").text
    finally:
        stop(server)


def test_the_demo_holds_on_a_night_when_the_clocks_change(db):
    """Loaded at 01:30 in Berlin as summer time begins (before the couple's day starts at
    4): still a streak, every kind of answer, and rollups equal to a rebuild."""
    now = FrozenClock(datetime(2026, 3, 29, 0, 30, tzinfo=UTC))
    loaded = demo.load(make_session_factory(db.engine), make_settings(db.url), now)
    for story, figures in zip(demo.STORIES, loaded.couples, strict=True):
        assert figures.streak_days >= story.unbroken_days and figures.balance > 0
    with Session(db.engine) as session:
        assert set(session.scalars(select(Bid.response).distinct())) == {
            "toward",
            "away",
            "against",
            "pending",
        }
        for couple_id in session.scalars(select(Couple.id)):
            assert admin.recompute_couple(session, couple_id, now).days_fixed == 0
        session.rollback()
