# ruff: noqa: S608 - the statements are built from constants of this file, never input
"""The database's own limit for POST /v1/bids: the statements one bid create costs, run
without Tend in between.

The statements are the ones SQLAlchemy logs for one ``POST /v1/bids`` (captured with
``logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)`` around one request, see
docs/benchmarks.md), in the same transaction:

    the pool's pre-ping (PostgreSQL: pool_pre_ping=True)     SELECT 1
    BEGIN (SQLite: BEGIN IMMEDIATE, the app's writer lock)
    auth: the caller's user row                               SELECT users
    the caller's active couple, locked (FOR UPDATE OF         SELECT couples JOIN couple_members
      couples on PostgreSQL only)                               ... FOR UPDATE OF couples
    replay check under the lock: is the id a bid's or a       SELECT bids UNION ALL
      deleted bid's                                             SELECT bid_tombstones
    the bid, stamped with the couple's next sync tick         INSERT bids
    the couple's sync clock (what phones pull since)          UPDATE couples
    its day's rollup (and any later days', and the day        SELECT couple_days
      before when the day is new)
    the day's counts and sums ("toward": its end balance)     UPDATE couple_days
    "pending" only: the partner, the partner's nudge          SELECT users JOIN couple_members
      settings, the partner's inbox clock, and the "your      SELECT nudge_settings JOIN users
      partner logged a bid" nudge in the outbox               INSERT inbox_clocks ON CONFLICT
                                                              INSERT notifications ON CONFLICT
    COMMIT

Half the bids are answered "toward" as they are logged, half are left "pending", as in
bench/writes.py. Each client stands for one partner, clients 2k and 2k+1 share couple k,
so two clients contend for each couple's row lock just as two partners do there.

On PostgreSQL this is a pgbench custom script (``pgbench -n -M prepared -c C -j 2 -T s``;
psycopg prepares a statement on a connection after its fifth use, hence -M prepared). On
SQLite, which has no pgbench, the same statements run through the ``sqlite3`` module in
one process on one connection: SQLite has one writer at a time, so more connections could
only wait.

``python -m bench.pgbench`` prints the two pgbench scripts.
"""

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as clock_time
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.engine import make_url

from app.accounts.models import User
from app.bank.models import CoupleDay
from app.bids.kinds import BY_KIND
from app.couples.models import Couple, CoupleMember
from app.db import make_engine, make_session_factory, transaction
from app.nudges import texts
from app.nudges.models import NudgeSettings

PGBENCH = shutil.which("pgbench") or "/usr/bin/pgbench"
THREADS = 2  # pgbench -j: one per core of the 2-core machine
KIND, WEIGHT = "hug", 2.0  # the bid bench/writes.py logs: a 25-second hug, weight 2 x 1.5
DEPOSIT = WEIGHT * 1.5
NAME = "Partner"
WORDS = texts.partner_bid(NAME, BY_KIND[KIND].label, discreet=True, locale="en")

_USERS = [
    "users.id",
    "users.email",
    "users.password_hash",
    "users.display_name",
    "users.timezone",
    "users.role",
    "users.session_version",
    "users.email_verified_at",
    "users.created_at",
    "users.updated_at",
]
_BIDS = (
    "bids.id, bids.couple_id, bids.logged_by_id, bids.initiator_id, bids.kind, "
    "bids.occurred_at, bids.duration_seconds, bids.note, bids.response, bids.responded_by_id, "
    "bids.responded_at, bids.deposit, bids.request_hash, bids.created_at, bids.updated_at"
)
_COUPLES = (
    "couples.id, couples.created_at, couples.ended_at, couples.timezone, "
    "couples.day_start_hour, couples.half_life_hours, couples.sync_clock, "
    "couples.created_stamp, couples.stamp"
)
_DAYS = (
    "couple_days.couple_id, couple_days.day, couple_days.bids, couple_days.toward, "
    "couple_days.away, couple_days.against, couple_days.deposits, couple_days.withdrawals, "
    "couple_days.end_balance"
)
_NUDGES = (
    "nudge_settings.user_id, nudge_settings.enabled, nudge_settings.discreet, "
    "nudge_settings.daily_time, nudge_settings.quiet_start, nudge_settings.quiet_end, "
    "nudge_settings.daily_suggestion, nudge_settings.partner_bid, nudge_settings.reconnect, "
    "nudge_settings.weekly_summary, nudge_settings.next_daily_at, nudge_settings.updated_at, "
    "users.timezone"
)


def statements(response: str, *, postgresql: bool) -> list[str]:
    """One bid create, in order, with {me} {partner} {couple} {bid} {now} {day} {data}
    {dedupe} for the values (rendered per database below)."""
    toward = response == "toward"
    hash_ = "'" + "0" * 64 + "'"
    sql = [
        f"SELECT {', '.join(_USERS)} FROM users WHERE users.id = {{me}}",
        f"SELECT {_COUPLES} FROM couples JOIN couple_members "
        "ON couple_members.couple_id = couples.id "
        "WHERE couple_members.user_id = {me} AND couple_members.left_at IS NULL"
        # SQLite has no FOR UPDATE: the app's write lock (BEGIN IMMEDIATE) does its work there.
        + (" FOR UPDATE OF couples" if postgresql else ""),
        "SELECT bids.id, false AS gone FROM bids WHERE bids.id = {bid} UNION ALL "
        "SELECT bid_tombstones.id, true FROM bid_tombstones WHERE bid_tombstones.id = {bid}",
        "INSERT INTO bids (id, couple_id, logged_by_id, initiator_id, kind, occurred_at, "
        "duration_seconds, note, response, responded_by_id, responded_at, deposit, "
        "request_hash, created_at, updated_at, stamp) VALUES ({bid}, {couple}, {me}, {me}, "
        f"'{KIND}', {{now}}, 25, NULL, '{response}', "
        + ("{me}, {now}, " if toward else "NULL, NULL, ")
        + f"{DEPOSIT if toward else 0.0}, {hash_}, {{now}}, {{now}}, "
        "(SELECT couples.sync_clock + 1 FROM couples WHERE couples.id = {couple}))",
        # the couple's sync clock ticks once per change a phone will pull (docs/sync.md)
        "UPDATE couples SET sync_clock = sync_clock + 1 WHERE couples.id = {couple}",
        f"SELECT {_DAYS} FROM couple_days WHERE couple_days.couple_id = {{couple}} "
        "AND couple_days.day >= coalesce((SELECT max(couple_days.day) FROM couple_days "
        "WHERE couple_days.couple_id = {couple} AND couple_days.day < {day}), {day}) "
        "ORDER BY couple_days.day",
        "UPDATE couple_days SET bids = bids + 1"
        + (
            f", toward = toward + 1, deposits = deposits + {DEPOSIT}, "
            f"end_balance = end_balance + {DEPOSIT}"
            if toward
            else ""
        )
        + " WHERE couple_days.couple_id = {couple} AND couple_days.day = {day}",
    ]
    if not toward:
        sql += [
            f"SELECT {', '.join(_USERS)} FROM users JOIN couple_members "
            "ON couple_members.user_id = users.id "
            "WHERE couple_members.couple_id = {couple} AND couple_members.user_id != {me}",
            f"SELECT {_NUDGES} FROM nudge_settings JOIN users "
            "ON users.id = nudge_settings.user_id WHERE nudge_settings.user_id = {partner}",
            # the partner's inbox clock moves past now (in ms) or by one, for offline sync
            "INSERT INTO inbox_clocks (user_id, clock) VALUES ({partner}, "
            f"{int(time.time() * 1000)}) ON CONFLICT (user_id) DO UPDATE SET clock = CASE "
            "WHEN excluded.clock > inbox_clocks.clock THEN excluded.clock "
            "ELSE inbox_clocks.clock + 1 END RETURNING inbox_clocks.user_id, inbox_clocks.clock",
            "INSERT INTO notifications (id, user_id, kind, dedupe_key, title, body, push_title, "
            "push_body, data, gesture, created_at, due_at, status, attempts, next_attempt_at, "
            "stamp) VALUES ({notification}, {partner}, 'partner_bid', {dedupe}, "
            f"{_quote(WORDS.title)}, {_quote(WORDS.body)}, {_quote(WORDS.push_title)}, "
            f"{_quote(WORDS.push_body)}, {{data}}, NULL, {{now}}, {{now}}, 'pending', 0, "
            "{now}, (SELECT inbox_clocks.clock FROM inbox_clocks "
            "WHERE inbox_clocks.user_id = {partner})) ON CONFLICT (dedupe_key) DO NOTHING",
        ]
    return sql


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --- the same rows on both databases -----------------------------------------------------


def user_id(n: int) -> uuid.UUID:
    return uuid.UUID(f"10000000-0000-4000-8000-{n:012d}")


def couple_id(n: int) -> uuid.UUID:
    return uuid.UUID(f"20000000-0000-4000-8000-{n:012d}")


def seed(url: str, couples: int, day: date) -> None:
    """``couples`` couples (users 2k and 2k+1 in couple k), UTC days starting at midnight,
    both partners with partner-bid nudges on, and each couple's rollup row for ``day``."""
    now = datetime.now(UTC)
    engine = make_engine(url)
    rows: dict[type, list[dict[str, object]]] = {
        User: [],
        Couple: [],
        CoupleMember: [],
        NudgeSettings: [],
        CoupleDay: [],
    }
    for k in range(couples):
        rows[Couple].append(
            {
                "id": couple_id(k),
                "created_at": now,
                "timezone": "UTC",
                "day_start_hour": 0,
                "half_life_hours": 72,
            }
        )
        rows[CoupleDay].append(
            {
                "couple_id": couple_id(k),
                "day": day,
                "bids": 0,
                "toward": 0,
                "away": 0,
                "against": 0,
                "deposits": 0.0,
                "withdrawals": 0.0,
                "end_balance": 0.0,
            }
        )
        for n in (2 * k, 2 * k + 1):
            rows[User].append(
                {
                    "id": user_id(n),
                    "email": f"pgbench{n}@example.com",
                    "password_hash": "x" * 97,
                    "display_name": NAME,
                    "timezone": "UTC",
                    "role": "partner",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            rows[CoupleMember].append(
                {"couple_id": couple_id(k), "user_id": user_id(n), "joined_at": now}
            )
            rows[NudgeSettings].append(
                {
                    "user_id": user_id(n),
                    "enabled": True,
                    "discreet": True,
                    "daily_time": clock_time(19),
                    "quiet_start": clock_time(22),
                    "quiet_end": clock_time(7),
                    "next_daily_at": None,
                    "updated_at": now,
                }
            )
    with transaction(make_session_factory(engine)) as session:
        for model in (User, Couple, CoupleMember, NudgeSettings, CoupleDay):
            session.execute(insert(model), rows[model])
    engine.dispose()


# --- PostgreSQL: pgbench -----------------------------------------------------------------

_PG_VALUES = {
    "me": "('10000000-0000-4000-8000-' || lpad(:me::text, 12, '0'))::uuid",
    "partner": "('10000000-0000-4000-8000-' || lpad(:partner::text, 12, '0'))::uuid",
    "couple": "('20000000-0000-4000-8000-' || lpad(:couple::text, 12, '0'))::uuid",
    "bid": "(lpad(to_hex(:r1::bigint), 16, '0') || lpad(to_hex(:r2::bigint), 16, '0'))::uuid",
    "notification": (
        "(lpad(to_hex(:r2::bigint), 16, '0') || lpad(to_hex(:r1::bigint), 16, '0'))::uuid"
    ),
    "now": "now()",
    "day": ":day::date",
}
_PG_VALUES["data"] = '(\'{"bid_id": "\' || ' + _PG_VALUES["bid"] + " || '\"}')::json"
_PG_VALUES["dedupe"] = (
    "'partner_bid:' || " + _PG_VALUES["partner"] + " || ':' || " + _PG_VALUES["bid"]
)


def pgbench_script(response: str) -> str:
    head = [
        "-- One POST /v1/bids (response " + response + "), as bench/pgbench.py describes.",
        "\\set me :client_id",
        "\\set couple :client_id / 2",
        "\\set partner :client_id + 1 - 2 * (:client_id % 2)",
        "\\set r1 random(1, 4611686018427387903)",
        "\\set r2 random(1, 4611686018427387903)",
        "SELECT 1;",
        "BEGIN;",
    ]
    body = [s.format(**_PG_VALUES) + ";" for s in statements(response, postgresql=True)]
    return "\n".join([*head, *body, "COMMIT;", ""])


@dataclass
class Limit:
    rate: float  # bid creates (transactions) per second
    how: str


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    parsed = make_url(url)
    args = ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432)]
    if parsed.username:
        args += ["-U", parsed.username]
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return [*args, str(parsed.database)], env


def postgres_limit(url: str, concurrency: int, seconds: float) -> Limit:
    """pgbench's bid creates per second on ``url`` (seeded with enough couples)."""
    if not Path(PGBENCH).exists():
        raise RuntimeError("pgbench not found: install PostgreSQL's client programs")
    connection, env = _libpq(url)
    with tempfile.TemporaryDirectory() as directory:
        scripts = []
        for response in ("toward", "pending"):
            path = Path(directory) / f"{response}.sql"
            path.write_text(pgbench_script(response))
            scripts += ["-f", f"{path}@1"]
        command = [
            PGBENCH,
            "-n",
            "-M",
            "prepared",
            "-c",
            str(concurrency),
            "-j",
            str(min(THREADS, concurrency)),
            "-T",
            str(max(1, round(seconds))),
            "-D",
            f"day={datetime.now(UTC).date().isoformat()}",
            *scripts,
            *connection,
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    output = done.stdout + done.stderr
    found = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", output)
    failed = re.search(r"number of failed transactions: (\d+)", output)
    if done.returncode != 0 or found is None or "aborted" in output or (failed and int(failed[1])):
        raise RuntimeError(f"pgbench failed ({done.returncode}):\n{output}")
    return Limit(float(found[1]), f"pgbench -c {concurrency} -j {min(THREADS, concurrency)}")


# --- SQLite: the sqlite3 module --------------------------------------------------------------

_SQLITE_VALUES = {
    name: f":{name}"
    for name in ("me", "partner", "couple", "bid", "notification", "now", "day", "data", "dedupe")
}


def sqlite_limit(url: str, seconds: float) -> Limit:
    """Bid creates per second through ``sqlite3`` on one connection with the app's pragmas."""
    path = make_url(url).database
    assert path
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in (
        "foreign_keys=ON",
        "busy_timeout=30000",
        "journal_mode=WAL",
        "synchronous=NORMAL",
    ):
        connection.execute(f"PRAGMA {pragma}")
    scripts = [
        [s.format(**_SQLITE_VALUES) for s in statements(r, postgresql=False)]
        for r in ("toward", "pending")
    ]
    day = datetime.now(UTC).date().isoformat()
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        n = done % 2  # alternate toward / pending, both partners of couple 0 in turn
        me, partner = user_id(n % 2), user_id(1 - n % 2)
        bid = uuid.uuid4()
        values = {
            "me": me.hex,
            "partner": partner.hex,
            "couple": couple_id(0).hex,
            "bid": bid.hex,
            "notification": uuid.uuid4().hex,
            # SQLAlchemy stores naive UTC on SQLite, in this form:
            "now": datetime.now(UTC)
            .replace(tzinfo=None)
            .isoformat(sep=" ", timespec="microseconds"),
            "day": day,
            "data": json.dumps({"bid_id": str(bid)}),
            "dedupe": f"partner_bid:{partner}:{bid}",
        }
        connection.execute("BEGIN IMMEDIATE")
        for statement in scripts[n]:
            connection.execute(statement, values).fetchall()
        connection.execute("COMMIT")
        done += 1
    elapsed = time.perf_counter() - started
    connection.close()
    return Limit(done / elapsed, "the same statements via sqlite3, 1 connection")


def database_limit(backend: str, url: str, concurrency: int, seconds: float) -> Limit:
    return (
        postgres_limit(url, concurrency, seconds)
        if backend == "postgresql"
        else sqlite_limit(url, seconds)
    )


if __name__ == "__main__":
    for response in ("toward", "pending"):
        sys.stdout.write(f"-- {response}.sql\n{pgbench_script(response)}\n")
