"""Care phases over HTTP (SPEC §12), on SQLite and PostgreSQL: off by default, consent on
enabling, the person's status, the partner's one fact, marked days, turning off deletes,
and bad input refused with nothing written.

The clock starts on Tuesday 2026-03-10, 13:00 in Berlin, where the partners live."""

import pytest
from sqlalchemy import func, select

from app.care.models import CareProfile
from app.keystore import PersonKey
from tests.factories import assert_problem, login, ok, pair, register

CARE = "/v1/me/care"
STATUS = "/v1/me/care/status"
DAYS = "/v1/me/care/days"
PARTNER = "/v1/couple/care"
# Two logged starts 28 days apart: the next is predicted for 2026-03-10 (today), so the
# window runs 5 days before through 2 days after it.
CYCLE = {
    "enabled": True,
    "mode": "cycle",
    "share_with_partner": True,
    "cycle": {"period_starts": ["2026-01-13", "2026-02-10"], "days_before": 5, "days_after": 2},
}


def count(db, model) -> int:
    with db.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(model)).scalar_one()


def put(client, account, body, status=200):
    response = client.put(CARE, json=body, headers=account.headers)
    return ok(response, status) if status < 400 else assert_problem(response, status)


def test_care_is_off_by_default_and_shows_what_turning_it_on_agrees_to(client, db):
    alex, sam = pair(client)
    care = ok(client.get(CARE, headers=alex.headers))
    assert care["enabled"] is False and care["consented_at"] is None
    assert care["terms"]["version"] and "health data" in care["terms"]["text"]
    assert ok(client.get(STATUS, headers=alex.headers)) == {
        "in_window": False,
        "window": None,
        "next_start": None,
    }
    assert ok(client.get(PARTNER, headers=sam.headers)) == {
        "partner_in_care_window": False,
        "until": None,
    }
    assert count(db, CareProfile) == 0 and count(db, PersonKey) == 0


def test_a_cycle_window_for_the_person_and_only_a_gentle_day_for_the_partner(client, clock):
    alex, sam = pair(client)
    care = put(client, alex, CYCLE)
    assert care["enabled"] is True and care["mode"] == "cycle"
    assert care["consented_at"].startswith("2026-03-10T12:00")  # the consent, recorded now
    assert care["consent_version"] == care["terms"]["version"]
    assert care["cycle"]["period_starts"] == ["2026-01-13", "2026-02-10"]

    status = ok(client.get(STATUS, headers=alex.headers))
    assert status == {
        "in_window": True,
        "window": {"start": "2026-03-05", "end": "2026-03-12"},
        "next_start": "2026-04-02",  # the cycle after: 2026-04-07 less 5 days
    }
    partner = ok(client.get(PARTNER, headers=sam.headers))
    assert partner == {"partner_in_care_window": True, "until": "2026-03-12"}
    # Alex's own view of Sam, who has care off, says nothing either.
    assert ok(client.get(PARTNER, headers=alex.headers))["partner_in_care_window"] is False

    clock.advance(days=3)  # Friday 13th: the window has ended
    alex, sam = login(client, alex), login(client, sam)
    assert ok(client.get(PARTNER, headers=sam.headers)) == {
        "partner_in_care_window": False,
        "until": None,
    }
    status = ok(client.get(STATUS, headers=alex.headers))
    assert status["in_window"] is False
    assert status["window"] == {"start": "2026-04-02", "end": "2026-04-09"}


def test_not_sharing_looks_exactly_like_no_window(client):
    alex, sam = pair(client)
    put(client, alex, {**CYCLE, "share_with_partner": False})
    assert ok(client.get(STATUS, headers=alex.headers))["in_window"] is True
    hidden = client.get(PARTNER, headers=sam.headers)
    put(client, alex, {"enabled": False})
    off = client.get(PARTNER, headers=sam.headers)
    assert hidden.json() == off.json() == {"partner_in_care_window": False, "until": None}


def test_steady_weekdays_and_days_marked_by_hand(client):
    alex, sam = pair(client)
    care = put(client, alex, {"enabled": True, "mode": "steady", "steady": {"weekdays": [2]}})
    assert care["share_with_partner"] is False
    status = ok(client.get(STATUS, headers=alex.headers))
    assert status == {
        "in_window": True,
        "window": {"start": "2026-03-10", "end": "2026-03-10"},
        "next_start": "2026-03-17",
    }
    # Marked days join the Tuesday: Wednesday and Thursday too.
    marked = ok(
        client.post(DAYS, json={"date": "2026-03-11", "until": "2026-03-12"}, headers=alex.headers)
    )
    assert marked["marked_days"] == ["2026-03-11", "2026-03-12"]
    status = ok(client.get(STATUS, headers=alex.headers))
    assert status["window"] == {"start": "2026-03-10", "end": "2026-03-12"}
    # Taken back: Thursday only.
    left = ok(client.request("DELETE", DAYS, json={"date": "2026-03-12"}, headers=alex.headers))
    assert left["marked_days"] == ["2026-03-11"]
    assert ok(client.get(STATUS, headers=alex.headers))["window"]["end"] == "2026-03-11"
    # In "days" mode only the marked days count.
    put(client, alex, {"enabled": True, "mode": "days", "share_with_partner": True})
    status = ok(client.get(STATUS, headers=alex.headers))
    assert status == {
        "in_window": False,
        "window": {"start": "2026-03-11", "end": "2026-03-11"},
        "next_start": "2026-03-11",
    }
    assert ok(client.get(PARTNER, headers=sam.headers))["partner_in_care_window"] is False


def test_turning_care_off_deletes_every_care_record_and_the_key(client, db):
    alex, sam = pair(client)
    put(client, alex, CYCLE)
    ok(client.post(DAYS, json={"date": "2026-03-20"}, headers=alex.headers))
    put(client, sam, {"enabled": True, "mode": "days"})
    assert count(db, CareProfile) == 2 and count(db, PersonKey) == 2
    off = put(client, alex, {"enabled": False})
    assert off["enabled"] is False and off["marked_days"] == [] and off["consented_at"] is None
    assert count(db, CareProfile) == 1 and count(db, PersonKey) == 1  # Sam's stay
    # Turned on again: a new consent and a new key, nothing of before.
    again = put(client, alex, {"enabled": True, "mode": "days"})
    assert again["marked_days"] == []


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({**CYCLE, "cycle": {"period_starts": ["2026-02-10", "2026-03-11"]}}, "future"),
        ({**CYCLE, "cycle": {"period_starts": ["2026-02-10", "2026-02-10"]}}, "once"),
        ({**CYCLE, "cycle": {"period_starts": ["2026-02-10", "2026-01-13"]}}, "in order"),
        ({**CYCLE, "cycle": {"period_starts": ["2026-02-28", "2026-03-08"]}}, "15 to 60"),
        ({**CYCLE, "cycle": {"period_starts": ["2025-12-01", "2026-02-10"]}}, "15 to 60"),
        ({**CYCLE, "cycle": {"period_starts": [], "typical_length_days": 14}}, None),
        ({**CYCLE, "cycle": {"period_starts": [], "typical_length_days": 61}}, None),
        ({**CYCLE, "cycle": {"period_starts": [], "days_before": 15}}, None),
        ({"enabled": False, "share_with_partner": True}, "turn it on"),
        ({"enabled": True}, "mode is required"),
        ({"enabled": True, "mode": "steady"}, "weekdays"),
        ({"enabled": True, "mode": "steady", "steady": {"weekdays": [0]}}, "weekdays"),
        ({"enabled": True, "mode": "steady", "steady": {"weekdays": [1, 1]}}, "once"),
        ({"enabled": True, "mode": "moon"}, None),
        ({"enabled": "yes please", "mode": "days"}, None),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_written(client, db, body, words):
    alex, _ = pair(client)
    problem = put(client, alex, body, 422)
    if words:
        assert words in str(problem), problem
    assert count(db, CareProfile) == 0 and count(db, PersonKey) == 0
    assert ok(client.get(CARE, headers=alex.headers))["enabled"] is False


def test_bad_changes_leave_the_settings_as_they_were(client):
    alex, _ = pair(client)
    before = put(client, alex, CYCLE)
    put(client, alex, {**CYCLE, "cycle": {"period_starts": ["2026-04-01"]}}, 422)
    assert ok(client.get(CARE, headers=alex.headers)) == before


def test_marking_days_needs_care_on_and_at_most_fourteen_days(client):
    alex, _ = pair(client)
    problem = assert_problem(
        client.post(DAYS, json={"date": "2026-03-11"}, headers=alex.headers), 409
    )
    assert "turn it on" in problem["detail"]
    put(client, alex, {"enabled": True, "mode": "days"})
    too_long = client.post(
        DAYS, json={"date": "2026-03-11", "until": "2026-03-25"}, headers=alex.headers
    )
    assert "at most 14 days" in assert_problem(too_long, 422)["detail"]
    for bad in (
        {"date": "2026-03-09"},  # yesterday
        {"date": "2026-03-12", "until": "2026-03-11"},
        {"date": "2027-06-01"},
        {"date": "someday"},
    ):
        assert_problem(client.post(DAYS, json=bad, headers=alex.headers), 422)
    # Fourteen days is the most: accepted.
    fourteen = {"date": "2026-03-11", "until": "2026-03-24"}
    assert len(ok(client.post(DAYS, json=fourteen, headers=alex.headers))["marked_days"]) == 14
    assert ok(client.get(CARE, headers=alex.headers))["marked_days"][0] == "2026-03-11"


def test_a_coach_has_no_care_of_their_own_and_sees_none(client):
    coach = register(client, role="coach", display_name="Robin")
    for method, path in (("GET", CARE), ("GET", STATUS), ("GET", PARTNER)):
        assert_problem(client.request(method, path, headers=coach.headers), 403)
    assert_problem(client.put(CARE, json=CYCLE, headers=coach.headers), 403)


def test_an_unpaired_person_keeps_care_and_has_no_partner_view(client):
    loner = register(client)
    put(client, loner, {**CYCLE, "share_with_partner": False})
    assert ok(client.get(STATUS, headers=loner.headers))["in_window"] is True
    assert_problem(client.get(PARTNER, headers=loner.headers), 404)


def test_the_window_follows_the_persons_own_time_zone(client, clock):
    """Alex lives in Auckland, where it is already Wednesday 01:00 when Berlin has Tuesday
    13:00; Sam in Berlin. Alex's window ends on Alex's calendar, not Sam's."""
    alex = register(client, timezone="Pacific/Auckland", display_name="Alex")
    sam = register(client, display_name="Sam")
    pair(client, alex, sam)
    put(client, alex, {**CYCLE, "cycle": {**CYCLE["cycle"], "days_after": 1}})
    assert ok(client.get(PARTNER, headers=sam.headers))["until"] == "2026-03-11"
    clock.advance(hours=22, minutes=59)  # Auckland: Wednesday 23:59, Berlin: Wednesday 12:59
    sam = login(client, sam)
    assert ok(client.get(PARTNER, headers=sam.headers))["partner_in_care_window"] is True
    clock.advance(minutes=1)  # Auckland has Thursday: the window is over there
    assert ok(client.get(PARTNER, headers=sam.headers))["partner_in_care_window"] is False
