"""The practice nudge: on a day one of the couple's practices is kept, it takes the daily
suggestion's place (same slot, same one-a-day dedupe key, quiet hours and DST as every
daily nudge); on other days, and for a plan still pending or ended, the suggestion stays.
"""

from datetime import UTC, date, datetime, time, timedelta

from app.nudges import planner
from tests.factories import ok
from tests.planning.test_nudges_planning import (
    BERLIN,
    couple_at,
    daily_rows,
    days_from,
    notifications,
    plan,
    put_settings,
    walk_clock,
)

# Monday 23 March 2026, 08:00 in Berlin; clocks go forward on Sunday the 29th.
PAIRED = datetime(2026, 3, 23, 7, 0, tzinfo=UTC)
FIRST = date(2026, 3, 23)
PLANS = "/v1/couple/practices"


def keep(client, alex, sam, **body) -> dict:
    body = {"practice": "twenty-second-hug", **body}
    plan_ = ok(client.post(PLANS, json=body, headers=alex.headers), 201)
    return ok(client.post(f"{PLANS}/{plan_['id']}/accept", headers=sam.headers))


def test_practice_days_get_the_practice_nudge_once_across_dst_and_quiet_hours(
    db, client, clock
) -> None:
    alex, sam = couple_at(client, clock, PAIRED)
    plan_ = keep(client, alex, sam, days_of_week=[1, 3, 5, 7])  # Sunday the 29th: DST
    # 22:30 is inside 22:00-07:00: the slot moves to 07:00, practice or not. A silent
    # couple would get a reconnect in the daily slot instead: not what this is about.
    for account in (alex, sam):
        put_settings(
            client,
            account,
            kinds={"reconnect": False},
            daily_time="22:30",
            quiet_start="22:00",
            quiet_end="07:00",
        )
    totals = walk_clock(db, clock, PAIRED + timedelta(days=9), timedelta(minutes=30))
    assert totals.dropped == 0
    assert totals.planned == len(notifications(db))  # nothing planned twice

    for account in (alex, sam):
        by_date = daily_rows(db, account)
        assert sorted(by_date) == days_from(FIRST + timedelta(days=1), 9)  # 07:00, 24th to 1st
        for day, row in by_date.items():
            expected = "practice" if day.isoweekday() in (1, 3, 5, 7) else "daily_suggestion"
            assert row.kind == expected, day
            slot = planner.daily_slot(day, time(22, 30), time(22), time(7), BERLIN)
            assert row.due_at == slot
            assert planner.local_date(row.due_at, BERLIN) == day
            assert row.due_at.astimezone(planner.zone(BERLIN)).time() == time(7)
            if row.kind == "practice":
                assert row.data == {"practice": "twenty-second-hug", "practice_id": plan_["id"]}
                assert row.body == "Today's practice: a hug held for twenty seconds."
                assert row.gesture is None
    # Planning again creates nothing.
    assert plan(db, clock.now()).planned == 0


def test_a_pending_or_ended_plan_sends_no_practice_nudge(db, client, clock) -> None:
    alex, sam = couple_at(client, clock, PAIRED)
    ok(client.post(PLANS, json={"practice": "appreciation"}, headers=alex.headers), 201)
    ended = keep(client, alex, sam)
    ok(client.delete(f"{PLANS}/{ended['id']}", headers=sam.headers), 204)
    walk_clock(db, clock, PAIRED + timedelta(days=2), timedelta(minutes=30))
    kinds = {row.kind for row in notifications(db) if row.dedupe_key.startswith("daily:")}
    assert kinds == {"daily_suggestion"}


def test_discreet_push_names_no_practice(db, client, clock) -> None:
    alex, sam = couple_at(client, clock, PAIRED)
    keep(client, alex, sam)
    put_settings(client, alex, discreet=True)
    put_settings(client, sam, discreet=False)
    walk_clock(db, clock, PAIRED + timedelta(days=1), timedelta(minutes=30))
    pushes = {
        str(row.user_id): (row.push_title, row.push_body)
        for row in notifications(db, kind="practice")
    }
    assert pushes[alex.id] == ("Tend", "A small practice for today")
    assert pushes[sam.id] == (
        "Your practice today",
        "Today's practice: a hug held for twenty seconds.",
    )
