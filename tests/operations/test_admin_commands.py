"""`tend recompute` and `tend export`, and the progress they show on stderr."""

import io
import json
import math
import os
import pty
import re
import stat
import subprocess
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app import admin, cli
from app.bank.models import CoupleDay
from app.progress import Progress, duration
from tests.conftest import TEST_SECRET
from tests.factories import (
    Account,
    add_device,
    code_of,
    consent,
    couple_id_of,
    end_couple,
    log_bid,
    login,
    new_coach,
    pair,
    register,
)
from tests.processes import TEND, tend_env

LINE = re.compile(
    r"^(?P<label>\w+): (?P<done>\d+)/(?P<total>\d+)( \w+)? \((?P<percent>\d+)%\)"
    r"(, \d+\.\d/s)?(, (ETA|done in) [\dhms.]+)?$"
)


def _progress_lines(stderr: str, label: str, total: int) -> list[re.Match[str]]:
    """The plain progress lines a non-terminal gets, checked to be sane."""
    assert "\r" not in stderr and "\x1b" not in stderr
    lines = [LINE.match(line) for line in stderr.splitlines() if line.startswith(f"{label}:")]
    assert lines and all(lines), stderr
    matches = [m for m in lines if m is not None]
    assert all(int(m["total"]) == total for m in matches)
    done = [int(m["done"]) for m in matches]
    percents = [int(m["percent"]) for m in matches]
    assert done == sorted(done) and percents == sorted(percents)
    assert done[0] == 0 and done[-1] == total and percents[-1] == 100
    assert "done in" in matches[-1].group(0)
    assert len(matches) <= 12  # a line per 10 %, not one per item
    return matches


# --- data made through the API ---------------------------------------------------------


@dataclass
class History:
    alex: Account
    sam: Account
    kim: Account
    lee: Account
    ana: Account
    ben: Account
    couple_id: str  # Alex and Sam's
    ended_id: str  # Kim and Lee's

    @property
    def accounts(self) -> list[Account]:
        return [self.alex, self.sam, self.kim, self.lee, self.ana, self.ben]


def _history(client, clock) -> History:
    """Alex and Sam with ten days of bids (one deleted, leaving an empty day behind);
    Kim and Lee, who ended their couple; Ana and Ben, paired without a bid."""
    alex, sam = pair(client)
    lone = log_bid(client, alex, kind="smile", response="toward")
    client.delete(f"/v1/bids/{lone['id']}", headers=alex.headers).raise_for_status()
    for day in range(10):
        clock.advance(days=1)
        login(client, alex)
        login(client, sam)
        log_bid(client, alex, kind="hug", response="toward", duration_seconds=25)
        asked = log_bid(client, sam, kind="question", note="how was the day?")
        answer = "against" if day == 6 else "away" if day % 3 == 0 else "toward"
        client.put(
            f"/v1/bids/{asked['id']}/response", json={"response": answer}, headers=alex.headers
        ).raise_for_status()
    couple_id = couple_id_of(client, alex)

    kim, lee = pair(
        client, register(client, display_name="Kim"), register(client, display_name="Lee")
    )
    for kind in ("kiss", "share", "help"):
        log_bid(client, kim, kind=kind, response="toward")
        clock.advance(hours=5)
        login(client, kim)
    ended_id = couple_id_of(client, kim)
    end_couple(client, kim)
    ana, ben = pair(
        client, register(client, display_name="Ana"), register(client, display_name="Ben")
    )
    for account in (alex, sam, kim, lee):  # the clock moved past their access tokens
        login(client, account)
    return History(alex, sam, kim, lee, ana, ben, couple_id, ended_id)


def _views(client, who: Account) -> dict:
    """What the partner sees of the account: balance, stats and the balance history."""
    balance = client.get("/v1/couple/balance", headers=who.headers).json()
    stats = client.get("/v1/couple/stats", params={"days": 14}, headers=who.headers).json()
    history = client.get(
        "/v1/couple/balance/history", params={"days": 14}, headers=who.headers
    ).json()
    return {
        "balance": balance["balance"],
        "deposits_7d": balance["deposits_7d"],
        "stats": stats,
        "history": [p["balance"] for p in history["points"]],
    }


def _same(a: dict, b: dict) -> bool:
    close = all(
        math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)
        for x, y in zip(
            [a["balance"], a["deposits_7d"], *a["history"]],
            [b["balance"], b["deposits_7d"], *b["history"]],
            strict=True,
        )
    )
    return close and a["stats"] == b["stats"]


def _latest_day(session: Session, couple_id: str):
    return session.scalar(
        select(func.max(CoupleDay.day)).where(CoupleDay.couple_id == _uuid(couple_id))
    )


def _uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)


# --- recompute -------------------------------------------------------------------------


def test_recompute_repairs_corrupted_rollups_and_leaves_sound_ones(
    tend_settings, client, clock, db, capsys
):
    tend_settings.setattr(admin, "BATCH", 2)  # three couples come in two batches
    made = _history(client, clock)
    alex, couple_id, ended_id = made.alex, made.couple_id, made.ended_id
    sound = _views(client, alex)
    assert sound["balance"] > 0

    # Rollups kept bid by bid (an edit, a deletion) match a rebuild: nothing to fix.
    assert cli.main(["recompute"]) == 0
    out, err = capsys.readouterr()
    assert "recomputed 3 couples from their bids: all matched already" in out
    _progress_lines(err, "recompute", 3)
    assert _same(_views(client, alex), sound)

    with Session(db.engine) as session, session.begin():
        latest = _latest_day(session, couple_id)
        session.execute(
            update(CoupleDay)
            .where(CoupleDay.couple_id == _uuid(couple_id), CoupleDay.day == latest)
            .values(end_balance=CoupleDay.end_balance + 40)
        )
        session.execute(  # a day that loses its answers breaks the streak
            update(CoupleDay)
            .where(
                CoupleDay.couple_id == _uuid(couple_id),
                CoupleDay.day == latest - timedelta(days=3),
            )
            .values(toward=0)
        )
        # As if an update of the ended couple had been lost.
        session.execute(
            delete(CoupleDay).where(
                CoupleDay.couple_id == _uuid(ended_id),
                CoupleDay.day == _latest_day(session, ended_id),
            )
        )
    corrupted = _views(client, alex)
    assert corrupted["balance"] > sound["balance"] + 10
    assert corrupted["stats"]["streak_days"] == 3 < sound["stats"]["streak_days"]

    assert cli.main(["recompute", "--check"]) == 1
    out, _ = capsys.readouterr()
    assert couple_id in out and ended_id in out
    assert "2 differ from their bids" in out
    assert _same(_views(client, alex), corrupted)  # --check changed nothing

    assert cli.main(["recompute"]) == 0
    out, _ = capsys.readouterr()
    assert "2 had drifted, now fixed" in out
    assert _same(_views(client, alex), sound)

    assert cli.main(["recompute", "--check"]) == 0
    assert "0 differ" in capsys.readouterr().out


def test_recompute_of_an_empty_database(tend_settings, capsys):
    assert cli.main(["recompute"]) == 0
    out, err = capsys.readouterr()
    assert "recomputed 0 couples" in out
    _progress_lines(err, "recompute", 0)


# --- export ----------------------------------------------------------------------------


def test_export_all_writes_each_accounts_document_as_the_api_answers(
    tend_settings, client, clock, tmp_path, capsys
):
    tend_settings.setattr(admin, "BATCH", 3)  # accounts come in several batches
    made = _history(client, clock)
    coach = new_coach(client)
    consent(client, code_of(client, coach), made.alex, made.sam)
    assert len(client.get("/v1/coach/couples", headers=coach.headers).json()["items"]) == 1
    alex = made.alex
    add_device(client, alex, "ExponentPushToken[abcdef123]")
    loner = register(client, display_name="Noa")
    accounts = [*made.accounts, coach, loner]

    out = tmp_path / "exports"
    assert cli.main(["export", "--all", "--out", str(out)]) == 0
    stdout, stderr = capsys.readouterr()
    assert f"exported {len(accounts)} accounts" in stdout
    _progress_lines(stderr, "export", len(accounts))

    assert sorted(p.name for p in out.iterdir()) == sorted(f"{a.id}.json" for a in accounts)
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for account in accounts:
        path = out / f"{account.id}.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        written = json.loads(path.read_text(encoding="utf-8"))
        response = client.get("/v1/me/export", headers=account.headers)
        assert response.status_code == 200
        answered = response.json()
        assert written.pop("exported_at") and answered.pop("exported_at")
        assert written == answered
    alex_export = json.loads((out / f"{alex.id}.json").read_text(encoding="utf-8"))
    assert len(alex_export["couples"][0]["bids"]) == 20  # the deleted one is gone
    assert alex_export["devices"][0]["token_hint"] == "…123]"
    assert "ExponentPushToken[abcdef123]" not in (out / f"{alex.id}.json").read_text()


def test_export_by_email(tend_settings, client, tmp_path, capsys):
    alex = register(client, email="alex@example.com")
    register(client, email="sam@example.com")

    assert cli.main(["export", "ALEX@example.com", "--out", str(tmp_path / "one")]) == 0
    assert [p.name for p in (tmp_path / "one").iterdir()] == [f"{alex.id}.json"]

    unknown = ["export", "alex@example.com", "nobody@example.com", "--out", str(tmp_path / "x")]
    assert cli.main(unknown) == 1
    assert "nobody@example.com" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # nothing written when one name is wrong

    (tmp_path / "a-file").write_text("not a directory")
    assert cli.main(["export", "--all", "--out", str(tmp_path / "a-file")]) == 1
    assert "cannot write" in capsys.readouterr().err

    assert cli.main(["export", "--out", str(tmp_path / "y")]) == 2
    assert cli.main(["export", "--all", "alex@example.com", "--out", str(tmp_path / "y")]) == 2
    assert not (tmp_path / "y").exists()


# --- progress --------------------------------------------------------------------------


def test_progress_on_a_terminal_is_one_line_redrawn(client, db):
    """`tend recompute` with stderr on a real pseudo-terminal."""
    for _ in range(3):
        pair(client)
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [TEND, "recompute"],
        env=tend_env(db.url, TEST_SECRET, TEND_SCHEDULER="off"),
        stdout=subprocess.PIPE,
        stderr=secondary,
        text=True,
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    stdout, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert "recomputed 3 couples" in stdout
    terminal = b"".join(chunks).decode()
    assert terminal.count("\n") == 1 and terminal.endswith("\n")  # one line, ended once
    redraws = [part.removesuffix("\x1b[K") for part in terminal.strip().split("\r") if part]
    assert redraws[0] == "recompute: 0/3 couples (0%)"
    assert LINE.match(redraws[-1]) and "3/3 couples (100%)" in redraws[-1]
    assert "done in" in redraws[-1]


class Ticks:
    """A stopwatch the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plain_progress_prints_a_line_per_tenth_not_per_item():
    ticks, stream = Ticks(), io.StringIO()
    with Progress("job", 1000, unit="items", stream=stream, timer=ticks) as progress:
        for _ in range(1000):
            ticks.now += 0.001
            progress.advance()
    lines = stream.getvalue().splitlines()
    assert [int(LINE.match(line)["percent"]) for line in lines] == [*range(0, 100, 10), 100]
    assert lines[0] == "job: 0/1000 items (0%)"
    assert lines[5] == "job: 500/1000 items (50%), 1000.0/s, ETA 0.5s"
    assert lines[-1] == "job: 1000/1000 items (100%), 1000.0/s, done in 1.0s"


def test_plain_progress_speaks_up_every_few_seconds_when_slow():
    ticks, stream = Ticks(), io.StringIO()
    progress = Progress("slow", 1000, stream=stream, timer=ticks, every_seconds=5)
    for _ in range(12):
        ticks.now += 1
        progress.advance()
    lines = stream.getvalue().splitlines()
    assert lines == [
        "slow: 0/1000 (0%)",
        "slow: 5/1000 (0%), 1.0/s, ETA 16m35s",
        "slow: 10/1000 (1%), 1.0/s, ETA 16m30s",
    ]


def test_terminal_progress_redraws_at_most_ten_times_a_second():
    ticks, stream = Ticks(), io.StringIO()
    with Progress("fast", 1000, stream=stream, interactive=True, timer=ticks) as progress:
        for _ in range(1000):
            ticks.now += 0.002
            progress.advance()
    shown = stream.getvalue()
    assert shown.endswith("\n") and shown.count("\n") == 1
    assert 18 <= shown.count("\r") <= 23  # 2 s of work: the first, ~20 redraws, the last
    assert shown.rstrip("\n").endswith("fast: 1000/1000 (100%), 500.0/s, done in 2.0s\x1b[K")


def test_terminal_progress_leaves_the_line_when_the_work_fails():
    stream = io.StringIO()
    with pytest.raises(RuntimeError), Progress("doomed", 10, stream=stream, interactive=True):
        raise RuntimeError("the database went away")
    assert stream.getvalue() == "\rdoomed: 0/10 (0%)\x1b[K\n"  # no "done", a fresh line


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.44, "0.4s"), (9.94, "9.9s"), (9.96, "10s"), (12.4, "12s"), (245, "4m05s"), (7380, "2h03m")],
)
def test_durations_read_easily(seconds, shown):
    assert duration(seconds) == shown
