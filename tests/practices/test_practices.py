"""Practices (SPEC §13): the catalogue, couple plans and their answers, progress, the coach's
proposals and weekly adherence, and bad input refused with nothing written.

The clock starts on Tuesday 2026-03-10 12:00 UTC (13:00 in Berlin, the couples' zone; their
days begin at 04:00); the local week began on Monday 2026-03-09.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.bids.kinds import BY_KIND
from app.clock import FrozenClock
from app.practices.catalogue import CATALOGUE
from app.practices.models import CouplePractice
from tests.conftest import Database
from tests.factories import (
    Account,
    assert_problem,
    code_of,
    consent,
    consenting_couple,
    couple_id_of,
    end_couple,
    log_bid,
    login,
    new_coach,
    ok,
    pair,
)

THIS_MONDAY = date(2026, 3, 9)
PLANS = "/v1/couple/practices"


def propose(client: TestClient, who: Account, **body: Any) -> dict[str, Any]:
    plan: dict[str, Any] = ok(
        client.post(PLANS, json={"practice": "twenty-second-hug", **body}, headers=who.headers),
        201,
    )
    return plan


def answer(client: TestClient, who: Account, plan_id: str, action: str) -> Any:
    return client.post(f"{PLANS}/{plan_id}/{action}", headers=who.headers)


def plan_count(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(CouplePractice)) or 0)


def hug(client: TestClient, who: Account, at: datetime, seconds: int = 25, **body: Any) -> None:
    log_bid(
        client,
        who,
        kind="hug",
        occurred_at=at,
        duration_seconds=seconds,
        response="toward",
        **body,
    )


# --- the catalogue ------------------------------------------------------------------------


def test_the_catalogue_holds_the_practices_the_spec_names(client: TestClient) -> None:
    found = {p["practice"]: p for p in ok(client.get("/v1/practices"))}
    assert {
        "six-second-kiss",
        "twenty-second-hug",
        "thirty-second-kiss",
        "phone-free-dinner",
        "daily-check-in",
        "evening-cuddle",
        "appreciation",
        "weekly-date",
        "gentle-touch-ladder",
    } <= set(found)
    assert found["twenty-second-hug"]["min_duration_seconds"] == 20
    assert found["weekly-date"]["cadence"] == "weekly"
    ladder = [s["title"] for s in found["gentle-touch-ladder"]["stages"]]
    assert ladder == ["Holding hands", "Hugs", "Cuddles", "Massage"]
    assert found["six-second-kiss"]["stages"] is None


def test_every_practice_counts_only_known_kinds_and_sane_targets() -> None:
    for practice in CATALOGUE:
        kinds = set(practice.kinds) | {k for s in practice.stages for k in s.kinds}
        assert kinds <= set(BY_KIND), practice.practice
        assert 1 <= practice.default_target <= practice.max_target, practice.practice


# --- plans: propose, accept, decline, end -------------------------------------------------


def test_a_proposal_waits_for_the_other_partner_who_accepts_it(client: TestClient) -> None:
    alex, sam = pair(client)
    plan = propose(client, alex, days_of_week=[5, 1, 3])
    assert (plan["status"], plan["proposed_by"], plan["waiting_for"]) == (
        "pending",
        "me",
        "partner",
    )
    assert plan["days_of_week"] == [1, 3, 5]
    assert (plan["target"], plan["starts_on"], plan["ends_on"]) == (1, "2026-03-10", None)
    [seen] = ok(client.get(PLANS, headers=sam.headers))
    assert (seen["proposed_by"], seen["waiting_for"]) == ("partner", "me")
    accepted = ok(answer(client, sam, plan["id"], "accept"))
    assert (accepted["status"], accepted["waiting_for"]) == ("active", None)
    assert accepted["decided_at"]


def test_accepting_ones_own_proposal_is_refused_and_changes_nothing(
    client: TestClient, db: Database
) -> None:
    alex, _ = pair(client)
    plan = propose(client, alex)
    problem = assert_problem(answer(client, alex, plan["id"], "accept"), 409)
    assert "your partner accepts" in problem["detail"]
    assert_problem(answer(client, alex, plan["id"], "decline"), 409)
    [seen] = ok(client.get(PLANS, headers=alex.headers))
    assert seen["status"] == "pending"


def test_the_other_partner_declines_and_a_declined_plan_cannot_be_accepted(
    client: TestClient,
) -> None:
    alex, sam = pair(client)
    plan = propose(client, alex)
    assert ok(answer(client, sam, plan["id"], "decline"))["status"] == "declined"
    assert_problem(answer(client, sam, plan["id"], "accept"), 409)


def test_either_partner_ends_a_plan(client: TestClient) -> None:
    alex, sam = pair(client)
    plan = propose(client, alex)
    ok(answer(client, sam, plan["id"], "accept"))
    ok(client.delete(f"{PLANS}/{plan['id']}", headers=sam.headers), 204)
    [seen] = ok(client.get(PLANS, headers=alex.headers))
    assert (seen["status"], seen["ended_at"] is not None) == ("ended", True)
    assert_problem(client.delete(f"{PLANS}/{plan['id']}", headers=alex.headers), 409)


def test_a_sixth_active_plan_is_refused(client: TestClient, db: Database) -> None:
    alex, sam = pair(client)
    for practice in ("twenty-second-hug", "six-second-kiss", "appreciation", "weekly-date"):
        ok(answer(client, sam, propose(client, alex, practice=practice)["id"], "accept"))
    fifth = propose(client, alex, practice="daily-check-in")
    sixth = propose(client, sam, practice="evening-cuddle")  # proposals may wait
    ok(answer(client, sam, fifth["id"], "accept"))
    problem = assert_problem(answer(client, alex, sixth["id"], "accept"), 409)
    assert "5 practices" in problem["detail"]
    before = plan_count(db)
    assert_problem(
        client.post(PLANS, json={"practice": "phone-free-dinner"}, headers=alex.headers), 409
    )
    assert plan_count(db) == before
    ok(client.delete(f"{PLANS}/{fifth['id']}", headers=alex.headers), 204)
    assert ok(answer(client, alex, sixth["id"], "accept"))["status"] == "active"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"practice": "forty-minute-kiss"}, "practice"),
        ({"practice": "twenty-second-hug", "target": 0}, "target"),
        ({"practice": "twenty-second-hug", "target": 15}, "target"),
        ({"practice": "twenty-second-hug", "target": 4}, "target"),  # above its max of 3
        ({"practice": "twenty-second-hug", "days_of_week": []}, "days_of_week"),
        ({"practice": "twenty-second-hug", "days_of_week": [0]}, "days_of_week"),
        ({"practice": "twenty-second-hug", "days_of_week": [8]}, "days_of_week"),
        ({"practice": "twenty-second-hug", "days_of_week": [1, 1]}, "days_of_week"),
        ({"practice": "twenty-second-hug", "starts_on": "2026-02-01"}, "starts_on"),
        ({"practice": "twenty-second-hug", "starts_on": "2028-01-01"}, "starts_on"),
        ({"practice": "twenty-second-hug", "ends_on": "2026-03-09"}, "ends_on"),
        ({"practice": "twenty-second-hug", "target": True}, "target"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field_and_nothing_is_written(
    client: TestClient, db: Database, body: dict[str, Any], field: str
) -> None:
    alex, _ = pair(client)
    problem = assert_problem(client.post(PLANS, json=body, headers=alex.headers), 422)
    assert any(field in [str(p) for p in e["loc"]] for e in problem["errors"]), problem
    assert plan_count(db) == 0


def test_unknown_or_foreign_plans_answer_404(client: TestClient) -> None:
    alex, sam = pair(client)
    carol, _ = pair(client)
    plan = propose(client, alex)
    for who in (carol,):
        for action in ("accept", "decline"):
            assert_problem(answer(client, who, plan["id"], action), 404)
        assert_problem(client.get(f"{PLANS}/{plan['id']}/progress", headers=who.headers), 404)
        assert_problem(client.delete(f"{PLANS}/{plan['id']}", headers=who.headers), 404)
    assert ok(client.get(PLANS, headers=carol.headers)) == []
    assert ok(client.get(PLANS, headers=sam.headers))[0]["status"] == "pending"


def test_ending_the_couple_ends_its_plans_and_keeps_them_readable(client: TestClient) -> None:
    alex, sam = pair(client)
    plan = propose(client, alex)
    ok(answer(client, sam, plan["id"], "accept"))
    end_couple(client, alex)
    [seen] = ok(client.get(PLANS, headers=sam.headers))
    assert seen["status"] == "ended"
    ok(client.get(f"{PLANS}/{plan['id']}/progress", headers=sam.headers))


# --- progress -----------------------------------------------------------------------------


def test_progress_counts_hugs_turned_toward_that_lasted_twenty_seconds(
    client: TestClient, clock: FrozenClock
) -> None:
    alex, sam = pair(client)
    plan = propose(client, alex, starts_on="2026-03-09", days_of_week=[1, 2, 3, 4, 5])
    ok(answer(client, sam, plan["id"], "accept"))
    monday = datetime(2026, 3, 9, 19, 0, tzinfo=UTC)
    hug(client, alex, monday)
    hug(client, sam, monday + timedelta(minutes=5))  # a second one the same day: capped
    hug(client, alex, monday + timedelta(days=1, hours=-9), seconds=10)  # too short
    log_bid(client, alex, kind="hug", occurred_at=monday, duration_seconds=30)  # not answered
    # 02:30 Wednesday in Berlin belongs to Tuesday (days begin at 04:00).
    clock.set(datetime(2026, 3, 11, 12, 0, tzinfo=UTC))
    sam = login(client, sam)
    hug(client, sam, datetime(2026, 3, 11, 1, 30, tzinfo=UTC))
    found = ok(client.get(f"{PLANS}/{plan['id']}/progress?weeks=2", headers=sam.headers))
    assert [(d["day"], d["done"], d["target"]) for d in found["days"]] == [
        ("2026-03-09", 2, 1),
        ("2026-03-10", 1, 1),
        ("2026-03-11", 0, 1),
    ]
    assert found["weeks"] == [{"week_start": "2026-03-09", "done": 2, "target": 5, "partial": True}]
    assert (found["streak"], found["streak_unit"]) == (2, "days")


def test_the_touch_ladder_moves_to_its_next_stage_each_week(
    client: TestClient, clock: FrozenClock
) -> None:
    alex, sam = pair(client)
    plan = propose(client, alex, practice="gentle-touch-ladder")
    assert plan["stage"] == "Holding hands"
    ok(answer(client, sam, plan["id"], "accept"))
    clock.advance(timedelta(days=7))
    alex = login(client, alex)
    [seen] = ok(client.get(PLANS, headers=alex.headers))
    assert seen["stage"] == "Hugs"
    clock.advance(timedelta(days=100))
    alex = login(client, alex)
    [seen] = ok(client.get(PLANS, headers=alex.headers))
    assert seen["stage"] == "Massage"


def test_a_weekly_practice_counts_per_week(client: TestClient, clock: FrozenClock) -> None:
    alex, sam = pair(client)
    plan = propose(client, alex, practice="weekly-date", target=2, starts_on="2026-03-09")
    ok(answer(client, sam, plan["id"], "accept"))
    log_bid(
        client,
        alex,
        kind="date",
        occurred_at=datetime(2026, 3, 9, 18, tzinfo=UTC),
        response="toward",
    )
    found = ok(client.get(f"{PLANS}/{plan['id']}/progress", headers=alex.headers))
    assert found["weeks"] == [{"week_start": "2026-03-09", "done": 1, "target": 2, "partial": True}]
    assert [(d["done"], d["target"]) for d in found["days"]] == [(1, None), (0, None)]
    assert (found["streak"], found["streak_unit"]) == (0, "weeks")


# --- the coach ----------------------------------------------------------------------------


def test_a_coach_proposes_both_partners_accept_and_the_coach_reads_weekly_adherence(
    client: TestClient, clock: FrozenClock
) -> None:
    coach = new_coach(client)
    alex, sam, couple_id = consenting_couple(client, coach)
    url = f"/v1/coach/couples/{couple_id}/practices"
    proposed = ok(
        client.post(url, json={"practice": "twenty-second-hug"}, headers=coach.headers), 201
    )
    assert (proposed["status"], proposed["proposed_by"]) == ("pending", "you")
    [seen] = ok(client.get(PLANS, headers=alex.headers))
    assert (seen["proposed_by"], seen["waiting_for"]) == ("coach", "both")
    first = ok(answer(client, alex, seen["id"], "accept"))
    assert (first["status"], first["waiting_for"]) == ("pending", "partner")
    assert_problem(answer(client, alex, seen["id"], "accept"), 409)
    assert ok(answer(client, sam, seen["id"], "accept"))["status"] == "active"

    hug(client, alex, clock.now() - timedelta(hours=1), note="by the window")
    [adherence] = ok(client.get(url, headers=coach.headers))
    assert adherence["weeks"] == [
        {"week_start": "2026-03-09", "done": 1, "target": 6, "partial": True}
    ]
    assert set(adherence) == {
        "id",
        "practice",
        "title",
        "status",
        "proposed_by",
        "starts_on",
        "ends_on",
        "weeks",
    }
    log = ok(client.get("/v1/couple/coach-access-log", headers=sam.headers))["items"]
    assert [e["view"] for e in log][:1] == ["practices"]


def test_a_coach_without_both_consents_can_neither_propose_nor_read(
    client: TestClient, db: Database
) -> None:
    coach = new_coach(client)
    alex, sam = pair(client)
    consent(client, code_of(client, coach), alex)  # only one of the two
    url = f"/v1/coach/couples/{couple_id_of(client, alex)}/practices"
    assert_problem(client.post(url, json={"practice": "weekly-date"}, headers=coach.headers), 404)
    assert_problem(client.get(url, headers=coach.headers), 404)
    assert plan_count(db) == 0
    log = ok(client.get("/v1/couple/coach-access-log", headers=sam.headers))["items"]
    assert log == []


def test_a_coachs_pending_proposals_are_withdrawn_when_a_consent_ends(
    client: TestClient, db: Database
) -> None:
    """Proposals the couple accepted stay theirs; those still waiting go, since the coach
    could no longer follow them."""
    coach = new_coach(client)
    alex, sam, couple_id = consenting_couple(client, coach)
    url = f"/v1/coach/couples/{couple_id}/practices"
    kept = ok(client.post(url, json={"practice": "weekly-date"}, headers=coach.headers), 201)
    for partner in (alex, sam):
        ok(answer(client, partner, kept["id"], "accept"))
    waiting = ok(client.post(url, json={"practice": "appreciation"}, headers=coach.headers), 201)

    coach_id = ok(client.get("/v1/me", headers=coach.headers))["id"]
    response = client.delete(f"/v1/couple/coaches/{coach_id}", headers=sam.headers)
    assert response.status_code == 204, response.text

    plans = {p["id"]: p for p in ok(client.get(PLANS, headers=alex.headers))}
    assert plans[kept["id"]]["status"] == "active"
    assert plans[waiting["id"]]["status"] == "ended"
    assert_problem(answer(client, alex, waiting["id"], "accept"), 409)
