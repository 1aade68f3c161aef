"""Coaches and consent (SPEC §8): the coach code, each partner's consent and its history,
the aggregate views a coach gets while both partners consent, the access log, and roles.

The clock stands still on Tuesday 2026-03-10 12:00 UTC (13:00 in Berlin, the couples' time
zone); the current local week started on Monday 2026-03-09.
"""

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.access.models import CoachConsent
from app.clock import FrozenClock
from app.coaching.models import CONSENT_SCOPE, CONSENT_TEXT_VERSION
from app.config import Settings
from app.main import create_app
from tests.factories import (
    Account,
    assert_problem,
    code_of,
    consenting_couple,
    couple_id_of,
    grant,
    invite,
    log_bid,
    login,
    new_coach,
    ok,
    pair,
    register,
)

COACH_CODE = re.compile(r"^[0-9ABCDEFGHJKMNPQRSTVWXYZ]{10}$")
DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
UNKNOWN_CODE = "0000000000"
THIS_MONDAY = date(2026, 3, 9)
SWAPPED = {"me": "partner", "partner": "me"}


# --- helpers ---------------------------------------------------------------------------


def at(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


def granted(client: TestClient, partner: Account, code: str) -> dict[str, Any]:
    body: dict[str, Any] = ok(grant(client, partner, code), 201)
    return body


def revoke(client: TestClient, partner: Account, coach_id: str) -> Any:
    return client.delete(f"/v1/couple/coaches/{coach_id}", headers=partner.headers)


def state_of(client: TestClient, partner: Account, coach: Account) -> dict[str, Any]:
    states = ok(client.get("/v1/couple/coaches", headers=partner.headers))
    mine = [s for s in states if s["coach"]["id"] == coach.id]
    assert len(mine) == 1, states
    assert mine[0]["coach"]["display_name"] == coach.display_name
    return mine[0]  # type: ignore[no-any-return]


def assert_states(
    client: TestClient, coach: Account, expected: dict[str, tuple[Account, str]]
) -> None:
    for name, (partner, state) in expected.items():
        assert state_of(client, partner, coach)["state"] == state, name


def coached(client: TestClient, coach: Account) -> list[dict[str, Any]]:
    couples: list[dict[str, Any]] = ok(client.get("/v1/coach/couples", headers=coach.headers))[
        "items"
    ]
    return couples


def progress(client: TestClient, coach: Account, couple_id: str, **params: Any) -> Any:
    return client.get(
        f"/v1/coach/couples/{couple_id}/progress", params=params, headers=coach.headers
    )


def access_log(client: TestClient, partner: Account, **params: Any) -> Any:
    return client.get("/v1/couple/coach-access-log", params=params, headers=partner.headers)


def logged_at(client: TestClient, account: Account, when: str, **body: Any) -> dict[str, Any]:
    """A bid that happened at ``when``, answered toward unless the body says otherwise."""
    return log_bid(client, account, occurred_at=when, **{"response": "toward", **body})


def shares(week: dict[str, Any]) -> dict[str, float]:
    return {s["first_name"]: s["share"] for s in week["initiative"]}


# --- the coach's profile ---------------------------------------------------------------


def test_coach_profile_has_a_code_that_rotates(client: TestClient, clock: FrozenClock) -> None:
    coach = new_coach(client)
    profile = ok(client.get("/v1/coach/profile", headers=coach.headers))
    assert COACH_CODE.match(profile["code"]), profile
    assert at(profile["code_rotated_at"]) == clock.now()
    assert profile["consent_text_version"] == CONSENT_TEXT_VERSION
    assert code_of(client, coach) == profile["code"]  # reading it does not change it

    rotated_at = clock.advance(minutes=1)
    rotated = ok(client.post("/v1/coach/profile/code", headers=coach.headers))
    assert COACH_CODE.match(rotated["code"]) and rotated["code"] != profile["code"]
    assert at(rotated["code_rotated_at"]) == rotated_at
    assert code_of(client, coach) == rotated["code"]

    alex, _ = pair(client)
    assert_problem(grant(client, alex, profile["code"]), 404)
    assert granted(client, alex, rotated["code"])["coach"]["id"] == coach.id


def test_rotating_the_code_keeps_the_consents_already_given(client: TestClient) -> None:
    coach = new_coach(client)
    _, _, couple_id = consenting_couple(client, coach)
    ok(client.post("/v1/coach/profile/code", headers=coach.headers))
    assert [c["couple_id"] for c in coached(client, coach)] == [couple_id]


def test_partners_and_strangers_cannot_use_coach_endpoints(client: TestClient) -> None:
    alex, _ = pair(client)
    couple_id = couple_id_of(client, alex)
    calls = [
        ("GET", "/v1/coach/profile"),
        ("POST", "/v1/coach/profile/code"),
        ("GET", "/v1/coach/couples"),
        ("GET", f"/v1/coach/couples/{couple_id}/progress"),
    ]
    for method, path in calls:
        assert_problem(client.request(method, path, headers=alex.headers), 403)
        assert_problem(client.request(method, path), 401)
        bad_token = {"Authorization": "Bearer not-a-token"}
        assert_problem(client.request(method, path, headers=bad_token), 401)


# --- consent ---------------------------------------------------------------------------


def test_coach_sees_a_couple_only_while_both_partners_consent(
    client: TestClient, clock: FrozenClock
) -> None:
    coach = new_coach(client)
    alex, sam = pair(client)
    couple_id = couple_id_of(client, alex)
    code = code_of(client, coach)

    first = granted(client, alex, code)
    assert first["coach"] == {"id": coach.id, "display_name": coach.display_name}
    assert first["state"] == "waiting_for_partner" and first["active_since"] is None
    assert_states(
        client, coach, {"alex": (alex, "waiting_for_partner"), "sam": (sam, "waiting_for_you")}
    )
    assert state_of(client, sam, coach)["active_since"] is None
    assert coached(client, coach) == []
    assert_problem(progress(client, coach, couple_id), 404)

    both_at = clock.advance(minutes=1)
    second = granted(client, sam, code)
    assert second["state"] == "active" and at(second["active_since"]) == both_at
    for partner in (alex, sam):
        state = state_of(client, partner, coach)
        assert state["state"] == "active" and at(state["active_since"]) == both_at
    [seen] = coached(client, coach)
    assert seen["couple_id"] == couple_id
    assert sorted(seen["first_names"]) == ["Alex", "Sam"]
    assert at(seen["since"]) == both_at
    assert seen["last_active_day"] is None
    assert seen["balance"] == 0 and seen["toward_rate_30d"] is None
    assert ok(progress(client, coach, couple_id))["couple_id"] == couple_id

    clock.advance(minutes=1)
    response = revoke(client, alex, coach.id)
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert coached(client, coach) == []
    assert_problem(progress(client, coach, couple_id), 404)
    # Sam's consent still stands: now Alex is the one the coach waits for.
    assert_states(
        client, coach, {"alex": (alex, "waiting_for_you"), "sam": (sam, "waiting_for_partner")}
    )
    assert state_of(client, alex, coach)["active_since"] is None

    assert revoke(client, sam, coach.id).status_code == 204
    assert_states(client, coach, {"alex": (alex, "revoked"), "sam": (sam, "revoked")})

    granted(client, alex, code)
    granted(client, sam, code)
    assert [c["couple_id"] for c in coached(client, coach)] == [couple_id]


def test_history_keeps_every_grant_and_revocation(client: TestClient, clock: FrozenClock) -> None:
    coach = new_coach(client)
    alex, sam = pair(client)
    code = code_of(client, coach)

    t0 = clock.now()
    granted(client, alex, code)
    t1 = clock.advance(minutes=1)
    granted(client, sam, code)
    t2 = clock.advance(minutes=1)
    assert revoke(client, alex, coach.id).status_code == 204
    t3 = clock.advance(minutes=1)
    again = granted(client, alex, code)
    assert again["state"] == "active" and at(again["active_since"]) == t3

    expected = [  # (who, granted_at, revoked_at, revoke_reason), as Alex sees it
        ("me", t0, t2, "revoked"),
        ("partner", t1, None, None),
        ("me", t3, None, None),
    ]
    for viewer, seen_as in ((alex, {"me": "me", "partner": "partner"}), (sam, SWAPPED)):
        history = state_of(client, viewer, coach)["history"]
        assert len(history) == 3, history
        for event, (who, granted_at, revoked_at, reason) in zip(history, expected, strict=True):
            assert event["partner"] == seen_as[who], (viewer.display_name, event)
            assert at(event["granted_at"]) == granted_at
            assert (event["revoked_at"] and at(event["revoked_at"])) == revoked_at
            assert event["revoke_reason"] == reason
            assert event["scope"] == CONSENT_SCOPE == "aggregate_progress"
            assert event["consent_version"] == CONSENT_TEXT_VERSION


def test_coach_codes_are_forgiving_when_typed(client: TestClient) -> None:
    coach = new_coach(client)
    alex, sam = pair(client)
    code = code_of(client, coach)
    # Lower case, a hyphen, spaces, and Crockford's look-alikes (o for 0, l for 1).
    typed = code.lower().replace("0", "o").replace("1", "l")
    typed = f" {typed[:5]}-{typed[5:]} "
    assert granted(client, alex, typed)["coach"]["id"] == coach.id
    assert granted(client, sam, code.lower())["state"] == "active"


def test_bad_consent_requests_get_a_clear_4xx(client: TestClient) -> None:
    coach = new_coach(client)
    alex, sam = pair(client)
    loner = register(client)
    code = code_of(client, coach)

    body = assert_problem(grant(client, alex, UNKNOWN_CODE), 404)
    assert "code" in body["detail"].lower()
    assert_problem(grant(client, alex, "not a code"), 404)
    assert ok(client.get("/v1/couple/coaches", headers=alex.headers)) == []

    granted(client, alex, code)
    assert_problem(grant(client, alex, code), 409)
    assert len(state_of(client, alex, coach)["history"]) == 1

    assert_problem(revoke(client, sam, coach.id), 404)  # Sam never granted
    assert_problem(revoke(client, alex, str(uuid.uuid4())), 404)
    assert_problem(revoke(client, alex, alex.id), 404)
    assert revoke(client, alex, coach.id).status_code == 204
    assert_problem(revoke(client, alex, coach.id), 404)  # already revoked
    assert len(state_of(client, alex, coach)["history"]) == 1

    assert_problem(grant(client, coach, code), 403)  # a coach using their own code
    assert_problem(grant(client, loner, code), 404)  # no couple to consent for
    assert_problem(revoke(client, loner, coach.id), 404)

    for bad in [{}, {"coach_code": code, "extra": 1}, {"coach_code": 12}, {"coach_code": ""}]:
        body = assert_problem(client.post("/v1/couple/coaches", json=bad, headers=sam.headers), 422)
        assert body["errors"], body
    not_json = client.post(
        "/v1/couple/coaches",
        content=b"{",
        headers={**sam.headers, "Content-Type": "application/json"},
    )
    assert_problem(not_json, 400)  # the app answers malformed JSON with 400
    assert_problem(revoke(client, alex, "not-a-uuid"), 422)
    assert state_of(client, sam, coach)["state"] == "revoked"  # nothing above wrote for Sam


def test_guessing_coach_codes_is_rate_limited(client: TestClient, clock: FrozenClock) -> None:
    coach = new_coach(client)
    alex, sam = pair(client)
    code = code_of(client, coach)
    for n in range(10):
        assert_problem(grant(client, alex, f"{n:010d}"), 404)

    blocked = grant(client, alex, code)  # a valid code, but too late
    assert "code" in assert_problem(blocked, 429)["detail"].lower()
    retry_after = int(blocked.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert ok(client.get("/v1/couple/coaches", headers=alex.headers)) == []
    assert granted(client, sam, code)["state"] == "waiting_for_partner"  # Sam is not blocked

    clock.advance(seconds=retry_after + 1)
    assert granted(client, alex, code)["state"] == "active"
    # A success forgets the failures: one more wrong code is an ordinary 404.
    assert_problem(grant(client, alex, UNKNOWN_CODE), 404)


def test_ending_the_couple_revokes_every_coach(
    client: TestClient, db: Any, clock: FrozenClock
) -> None:
    coach, other = new_coach(client), new_coach(client, "Kim Other")
    alex, sam, couple_id = consenting_couple(client, coach)
    granted(client, alex, code_of(client, other))
    earlier = clock.advance(minutes=1)
    assert revoke(client, alex, other.id).status_code == 204

    assert len(coached(client, coach)) == 1  # one read, logged
    ended_at = clock.advance(minutes=1)
    assert client.delete("/v1/couple", headers=sam.headers).status_code == 204
    assert coached(client, coach) == []
    assert_problem(progress(client, coach, couple_id), 404)
    # The history stays readable to both after the couple ended (SPEC §4).
    after = ok(client.get("/v1/couple/coaches", headers=alex.headers))
    assert {c["coach"]["id"]: c["state"] for c in after} == {
        coach.id: "revoked",
        other.id: "revoked",
    }
    reasons = {
        e["revoke_reason"] for c in after if c["coach"]["id"] == coach.id for e in c["history"]
    }
    assert reasons == {"couple_ended"}
    log = ok(client.get("/v1/couple/coach-access-log", headers=sam.headers))["items"]
    assert [(e["coach"]["id"], e["view"]) for e in log] == [(coach.id, "couples")]

    with Session(db.engine) as session:
        rows = session.scalars(
            select(CoachConsent).where(CoachConsent.couple_id == uuid.UUID(couple_id))
        ).all()
    by_coach = {(str(r.coach_id), str(r.partner_id)): r for r in rows}
    assert len(rows) == 3 and len(by_coach) == 3
    for partner in (alex, sam):
        row = by_coach[(coach.id, partner.id)]
        assert (row.revoked_at, row.revoke_reason) == (ended_at, "couple_ended")
        assert str(row.revoked_by_id) == sam.id
    kept = by_coach[(other.id, alex.id)]  # revoked before: its record is left as it was
    assert (kept.revoked_at, kept.revoke_reason, str(kept.revoked_by_id)) == (
        earlier,
        "revoked",
        alex.id,
    )

    # Pairing again makes a new couple: the old consents do not carry over.
    pair(client, alex, sam)
    assert ok(client.get("/v1/couple/coaches", headers=alex.headers)) == []
    assert coached(client, coach) == []


# --- the coach's views -----------------------------------------------------------------


def test_coach_views_never_show_a_note_a_bid_or_a_time_of_day(client: TestClient) -> None:
    coach = new_coach(client)
    alex, sam, couple_id = consenting_couple(client, coach, "Alex Morgan", "Sam Rivera")
    notes = ["our secret picnic by the lake", "the argument about money"]
    bids = [
        logged_at(client, alex, "2026-03-09T18:30:00Z", note=notes[0]),
        logged_at(
            client, sam, "2026-03-10T07:15:00Z", kind="check_in", response="against", note=notes[1]
        ),
    ]
    for raw in (
        progress(client, coach, couple_id).text,
        client.get("/v1/coach/couples", headers=coach.headers).text,
    ):
        for secret in [
            *notes,
            *(b["id"] for b in bids),
            "note",
            "occurred_at",
            "kind",
            "Morgan",
            "Rivera",
        ]:
            assert secret not in raw, secret
    raw_progress = progress(client, coach, couple_id, weeks=2).text
    assert not DATETIME.search(raw_progress), raw_progress
    assert sorted(ok(progress(client, coach, couple_id))["first_names"]) == ["Alex", "Sam"]


@pytest.mark.parametrize("weeks", [None, 1, 5, 52])
def test_progress_has_n_consecutive_weeks_ending_with_this_one(
    client: TestClient, weeks: int | None
) -> None:
    coach = new_coach(client)
    _, _, couple_id = consenting_couple(client, coach)
    body = ok(progress(client, coach, couple_id, **({} if weeks is None else {"weeks": weeks})))
    n = weeks or 12
    assert [date.fromisoformat(w["week_start"]) for w in body["weeks"]] == [
        THIS_MONDAY - timedelta(weeks=n - 1 - i) for i in range(n)
    ]


def test_progress_weeks_out_of_range_are_refused(client: TestClient) -> None:
    coach = new_coach(client)
    _, _, couple_id = consenting_couple(client, coach)
    for weeks in (0, 53, -1, "twelve"):
        assert_problem(progress(client, coach, couple_id, weeks=weeks), 422)
    assert_problem(progress(client, coach, "not-a-uuid"), 422)


def test_progress_figures_come_from_the_couples_days(client: TestClient) -> None:
    coach = new_coach(client)
    alex, sam, couple_id = consenting_couple(client, coach, "Alex Morgan", "Sam Rivera")
    # Last week (Mon 2 to Sun 8 March, local days starting at 04:00 Berlin time).
    logged_at(client, alex, "2026-03-04T10:00:00Z")  # Alex initiated
    logged_at(
        client,
        alex,
        "2026-03-04T18:00:00Z",
        kind="compliment",
        initiator="partner",
        response="away",
    )
    logged_at(client, sam, "2026-03-06T10:00:00Z")
    logged_at(client, sam, "2026-03-06T11:00:00Z", kind="check_in", response="against")
    logged_at(client, sam, "2026-03-07T20:00:00Z", kind="laugh", initiator="partner")  # Alex
    # 02:00 on Monday in Berlin is still Sunday's couple day: last week.
    logged_at(client, sam, "2026-03-09T01:00:00Z")
    # This week so far.
    logged_at(client, alex, "2026-03-09T10:00:00Z")
    logged_at(client, alex, "2026-03-10T08:00:00Z", kind="kiss", response="pending")
    logged_at(client, sam, "2026-03-10T09:00:00Z", kind="thanks", initiator="partner")  # Alex

    empty, last, this = ok(progress(client, coach, couple_id, weeks=3))["weeks"]
    assert [empty["week_start"], last["week_start"], this["week_start"]] == [
        "2026-02-23",
        "2026-03-02",
        "2026-03-09",
    ]
    assert (empty["bids"], empty["active_days"], empty["end_balance"]) == (0, 0, 0)
    assert empty["toward_rate"] is None and empty["positive_negative_ratio"] is None
    assert set(shares(empty).values()) == {0}  # nobody took initiative in a week without bids

    assert (last["bids"], last["active_days"]) == (6, 4)
    assert last["toward_rate"] == pytest.approx(4 / 6)
    assert last["positive_negative_ratio"] == pytest.approx(2.0)
    assert shares(last) == pytest.approx({"Alex": 2 / 6, "Sam": 4 / 6})
    assert sum(shares(last).values()) == pytest.approx(1.0)

    assert (this["bids"], this["active_days"]) == (3, 2)
    assert this["toward_rate"] == pytest.approx(1.0)
    assert this["positive_negative_ratio"] is None  # no negatives
    assert shares(this) == pytest.approx({"Alex": 1.0, "Sam": 0.0})

    balance = ok(client.get("/v1/couple/balance", headers=alex.headers))["balance"]
    points = ok(client.get("/v1/couple/balance/history?days=30", headers=sam.headers))["points"]
    sunday = {p["date"]: p["balance"] for p in points}["2026-03-08"]
    assert this["end_balance"] == pytest.approx(balance, rel=1e-9)
    assert last["end_balance"] == pytest.approx(sunday, rel=1e-9)
    assert 0 < sunday != pytest.approx(balance)

    [seen] = coached(client, coach)
    assert seen["last_active_day"] == "2026-03-10"
    assert seen["balance"] == pytest.approx(balance, rel=1e-9)
    assert seen["toward_rate_30d"] == pytest.approx(6 / 8)


def test_progress_weeks_agree_with_each_bid_and_each_sunday_across_a_dst_change(
    client: TestClient, clock: FrozenClock
) -> None:
    """The view counts each bid in the week of its couple day (found once, by the instants
    at which the weeks start) and reads each week's end balance from one sweep of the
    rollups: both checked against a bid-by-bid count and the balance history, over eight
    weeks that contain Europe's spring-forward and a Monday-night bid on every boundary."""
    first_monday = date(2026, 3, 2)
    clock.set(at("2026-03-06T12:00:00Z"))
    coach = new_coach(client)
    alex, sam, couple_id = consenting_couple(client, coach)
    expected: dict[str, dict[str, int]] = {}
    for n in range(8):
        monday = first_monday + timedelta(weeks=n)
        clock.set(datetime.combine(monday, time(12), UTC) + timedelta(days=4))
        alex, sam = login(client, alex), login(client, sam)  # bids go 7 days back at most
        week = expected.setdefault(monday.isoformat(), {"Alex": 0, "Sam": 0})
        # 01:30 UTC on a Monday is before 04:00 in Berlin: the previous week's Sunday.
        logged_at(client, alex if n % 2 else sam, f"{monday.isoformat()}T01:30:00Z")
        if n:
            previous = (monday - timedelta(weeks=1)).isoformat()
            expected[previous]["Alex" if n % 2 else "Sam"] += 1
        for k in range(n % 3 + 1):  # inside the week, some initiated by the partner
            by = alex if k % 2 == 0 else sam
            initiator = "me" if k < 2 else "partner"
            when = f"{(monday + timedelta(days=k + 1)).isoformat()}T09:00:00Z"
            logged_at(client, by, when, initiator=initiator, response="toward" if k else "away")
            week["Alex" if (by is alex) == (initiator == "me") else "Sam"] += 1
    weeks = ok(progress(client, login(client, coach), couple_id, weeks=8))["weeks"]
    assert [w["week_start"] for w in weeks] == list(expected)
    points = ok(client.get("/v1/couple/balance/history?days=60", headers=sam.headers))["points"]
    sundays = {p["date"]: p["balance"] for p in points}
    for week in weeks:
        counts = expected[week["week_start"]]
        total = sum(counts.values())
        assert shares(week) == pytest.approx({k: v / total for k, v in counts.items()})
    for week in weeks[:-1]:
        sunday = (date.fromisoformat(week["week_start"]) + timedelta(days=6)).isoformat()
        assert week["end_balance"] == pytest.approx(sundays[sunday], rel=1e-9)


def test_progress_is_404_without_both_partners_consent(client: TestClient) -> None:
    coach, stranger, half = (
        new_coach(client),
        new_coach(client, "Kim Stranger"),
        new_coach(client, "Lee Half"),
    )
    alex, sam, couple_id = consenting_couple(client, coach)
    granted(client, alex, code_of(client, half))  # only one partner let this coach in

    for other in (stranger, half):
        refused = assert_problem(progress(client, other, couple_id), 404)
        missing = assert_problem(progress(client, other, str(uuid.uuid4())), 404)
        assert (refused["title"], refused["detail"]) == (missing["title"], missing["detail"])
        assert coached(client, other) == []
    assert_problem(progress(client, coach, str(uuid.uuid4())), 404)
    # Refused reads are not the couple's business: nothing was seen, nothing is logged.
    assert ok(access_log(client, sam))["items"] == []


# --- the access log --------------------------------------------------------------------


def test_every_coach_read_is_logged_for_both_partners(
    client: TestClient, clock: FrozenClock
) -> None:
    coach = new_coach(client)
    alex, sam, couple_id = consenting_couple(client, coach)
    jo, _, _ = consenting_couple(client, coach, "Jo", "Max")

    t0 = clock.now()
    assert len(coached(client, coach)) == 2
    t1 = clock.advance(minutes=1)
    ok(progress(client, coach, couple_id, weeks=2))
    ok(progress(client, coach, couple_id))  # the same instant: the cursor must break the tie
    reads = [("progress", t1), ("progress", t1), ("couples", t0)]  # newest first
    assert_problem(progress(client, coach, str(uuid.uuid4())), 404)

    for partner in (alex, sam):
        page = ok(access_log(client, partner))
        assert page["next_cursor"] is None
        assert [(e["view"], at(e["at"])) for e in page["items"]] == reads
        for entry in page["items"]:
            assert entry["coach"] == {"id": coach.id, "display_name": coach.display_name}
            uuid.UUID(entry["id"])

    walked, cursor = [], None
    for _ in range(len(reads)):
        page = ok(access_log(client, alex, limit=1, **({"cursor": cursor} if cursor else {})))
        walked.extend(page["items"])
        cursor = page["next_cursor"]
    assert cursor is None
    assert walked == ok(access_log(client, sam))["items"]

    assert_problem(access_log(client, alex, cursor="garbage!!"), 400)
    assert_problem(access_log(client, alex, limit=0), 422)
    # The other couple was only in the list read.
    assert [e["view"] for e in ok(access_log(client, jo))["items"]] == ["couples"]


# --- roles -----------------------------------------------------------------------------


def test_a_coach_cannot_act_as_a_partner(client: TestClient) -> None:
    coach = new_coach(client)
    alex = register(client, display_name="Alex")
    code = invite(client, alex)
    bid = {"kind": "hug", "initiator": "me"}
    assert_problem(client.post("/v1/bids", json=bid, headers=coach.headers), 403)
    assert_problem(client.post("/v1/couple/join", json={"code": code}, headers=coach.headers), 403)
    assert_problem(client.post("/v1/couple/invites", headers=coach.headers), 403)
    for path in ("/v1/couple/coaches", "/v1/couple/coach-access-log"):
        assert_problem(client.get(path, headers=coach.headers), 403)
    # The refused join did not use up the invite: a partner can still join with it.
    sam = register(client, display_name="Sam")
    ok(client.post("/v1/couple/join", json={"code": code}, headers=sam.headers), 201)


# --- concurrency -----------------------------------------------------------------------


def test_coach_reads_alongside_partner_writes_never_fail(
    db: Any, settings: Settings, clock: FrozenClock
) -> None:
    """A coach read writes its access-log entry: it must not fail while partners log bids
    (nor while the coach's dashboard loads several views at once)."""
    app = create_app(settings, clock=clock, engine=db.engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        coach = new_coach(client)
        alex, sam, couple_id = consenting_couple(client, coach)

        def coach_read(n: int) -> Any:
            if n % 2:
                return progress(client, coach, couple_id, weeks=4)
            return client.get("/v1/coach/couples", headers=coach.headers)

        def partner_write(n: int) -> Any:
            bid = {"kind": "hug", "initiator": "me", "response": "toward"}
            return client.post("/v1/bids", json=bid, headers=(alex, sam)[n % 2].headers)

        with ThreadPoolExecutor(8) as pool:
            reads = [pool.submit(coach_read, n) for n in range(12)]
            writes = [pool.submit(partner_write, n) for n in range(12)]
            read_statuses = [f.result().status_code for f in reads]
            write_statuses = [f.result().status_code for f in writes]
        assert write_statuses == [201] * 12
        assert read_statuses == [200] * 12
        assert len(ok(access_log(client, alex))["items"]) == 12


def test_the_coach_list_comes_in_pages_and_logs_only_what_it_showed(client, db):
    coach = register(client, role="coach")
    couple_ids = sorted(consenting_couple(client, coach)[2] for _ in range(3))

    first = ok(client.get("/v1/coach/couples", params={"limit": 2}, headers=coach.headers))
    second = ok(
        client.get(
            "/v1/coach/couples",
            params={"limit": 2, "cursor": first["next_cursor"]},
            headers=coach.headers,
        )
    )

    assert [c["couple_id"] for c in first["items"]] == couple_ids[:2]
    assert [c["couple_id"] for c in second["items"]] == couple_ids[2:]
    assert second["next_cursor"] is None
    with db.engine.connect() as conn:
        logged = conn.execute(
            text("SELECT couple_id FROM coach_access_log WHERE view = 'couples'")
        ).all()
    assert sorted(str(uuid.UUID(str(row[0]))) for row in logged) == couple_ids
