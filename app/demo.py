"""Demo data for `tend demo`: two couples with weeks of bids and a coach both trust.

Everything is made through Tend's own services, in the order it would have happened, with
a FrozenClock moved along the timeline: registration, pairing, bids logged a little after
they happened (up to a week back is all the API allows), answers by the partner, consent
to the coach, nudge settings. The bank rollups, streaks and coach views are therefore
exactly what the API would have produced. The load is one transaction: all or nothing.
"""

import io
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app import security
from app.accounts.models import Role, User
from app.accounts.schemas import RegisterRequest
from app.bank import service as bank
from app.bank.math import Response
from app.bids import service as bids
from app.bids.models import Bid
from app.bids.schemas import BidCreate, Initiator
from app.clock import Clock, FrozenClock
from app.coaching import service as coaching
from app.config import Settings
from app.couples import service as couples
from app.couples.calendar import local_day, wall_to_instant
from app.couples.models import Couple, CoupleMember
from app.couples.schemas import CoupleUpdate
from app.db import transaction
from app.keystore import KeyStore
from app.lifecycle import service as lifecycle
from app.nudges import service as nudges
from app.nudges.schemas import NudgeKinds, NudgeSettingsUpdate
from app.practices import service as practices
from app.practices.schemas import PlanCreate
from app.progress import Progress
from app.stats import service as stats

DEMO_PASSWORD = "demo-password-123"  # noqa: S105 - published on purpose: demo accounts only
SEED = 20260310


def _at(hours: int, minutes: int = 0) -> int:
    return hours * 60 + minutes


@dataclass(frozen=True)
class Person:
    key: str
    email: str
    display_name: str
    timezone: str
    role: Role = Role.partner
    locale: str = "en"  # the language Tend writes to them in (app.i18n)


@dataclass(frozen=True)
class Nudging:
    daily_time: time
    quiet_start: time = time(22, 0)
    quiet_end: time = time(7, 0)
    discreet: bool = True
    weekly_summary: bool = True


@dataclass(frozen=True)
class Moment:
    """A bid that happens in every run of the demo, so each kind of answer shows."""

    days_ago: int
    minute: int  # after local midnight
    kind: str
    response: Response
    note: str


@dataclass(frozen=True)
class Story:
    """How a couple's weeks go; rates move from ``early`` to ``late`` over their days."""

    key: str
    first: Person  # invites the other, so the couple takes this partner's time zone
    second: Person
    paired_days_ago: int
    toward: tuple[float, float]
    against_share: tuple[float, float]  # of the bids not turned toward
    weekday_bids: tuple[int, int]
    weekend_bids: tuple[int, int]
    quiet_day_chance: tuple[float, float]
    first_initiates: float
    unbroken_days: int  # every one of the last days before today has a bid turned toward
    consent_after_days: tuple[int, int]
    nudging: tuple[Nudging, Nudging]
    days_apart: tuple[int, ...] = ()  # days ago without a bid: a trip, a cold, a row
    moments: tuple[Moment, ...] = ()
    half_life_hours: int | None = None


COACH = Person("robin", "robin@demo.example.com", "Robin Park", "Europe/London", Role.coach)
STORIES = (
    Story(
        key="berlin",
        # Lena reads Tend in German, Jonas in English: one couple, each in their language.
        first=Person(
            "lena", "lena@demo.example.com", "Lena Hoffmann", "Europe/Berlin", locale="de"
        ),
        second=Person("jonas", "jonas@demo.example.com", "Jonas Weber", "Europe/Berlin"),
        paired_days_ago=32,
        toward=(0.82, 0.9),
        against_share=(0.25, 0.15),
        weekday_bids=(2, 5),
        weekend_bids=(3, 6),
        quiet_day_chance=(0.08, 0.04),
        first_initiates=0.55,
        unbroken_days=16,
        consent_after_days=(5, 6),
        nudging=(Nudging(time(8, 0)), Nudging(time(19, 30), discreet=False)),
        days_apart=(23, 24),
        moments=(
            Moment(12, _at(19, 40), "question", Response.against, "snapped about the laundry"),
            Moment(6, _at(19, 30), "date", Response.toward, "the new Thai place"),
            Moment(4, _at(21, 10), "share", Response.away, "was on my phone, missed it"),
        ),
    ),
    Story(
        key="new_york",
        first=Person("maya", "maya@demo.example.com", "Maya Johnson", "America/New_York"),
        second=Person("sam", "sam@demo.example.com", "Sam Rivera", "America/New_York"),
        paired_days_ago=25,
        toward=(0.5, 0.85),
        against_share=(0.45, 0.2),
        weekday_bids=(1, 3),
        weekend_bids=(2, 5),
        quiet_day_chance=(0.3, 0.05),
        first_initiates=0.68,
        unbroken_days=6,
        consent_after_days=(3, 3),
        nudging=(
            Nudging(time(20, 0), quiet_start=time(23, 0)),
            Nudging(time(7, 45), quiet_start=time(21, 30), quiet_end=time(6, 30)),
        ),
        days_apart=(9,),
        moments=(
            Moment(17, _at(20, 15), "check_in", Response.against, "answered with a sigh"),
            Moment(10, _at(18, 45), "help", Response.away, "too tired, didn't notice"),
            Moment(2, _at(19), "date", Response.toward, "climbing, then ice cream"),
        ),
        half_life_hours=96,
    ),
)
PEOPLE: tuple[Person, ...] = (
    *(p for story in STORIES for p in (story.first, story.second)),
    COACH,
)
EMAILS: tuple[str, ...] = tuple(p.email for p in PEOPLE)


@dataclass(frozen=True)
class Slot:
    """A part of the couple's day: minutes after local midnight (past 24:00 is after
    midnight, still the same couple day) and the kinds of bid it brings."""

    start: int
    end: int
    kinds: tuple[str, ...]
    weight: float
    weekend_only: bool = False


SLOTS = (
    Slot(_at(6, 30), _at(8, 45), ("kiss", "hug", "check_in", "smile", "thanks", "help"), 3),
    Slot(_at(12), _at(13, 45), ("check_in", "share", "question", "compliment", "laugh"), 2),
    Slot(_at(14), _at(17), ("date", "hand_hold", "laugh", "help", "share"), 2, True),
    Slot(
        _at(18),
        _at(21, 30),
        (
            "hug",
            "share",
            "help",
            "laugh",
            "phone_down",
            "question",
            "massage",
            "cuddle",
            "compliment",
            "thanks",
            "long_kiss",
            "date",
        ),
        5,
    ),
    Slot(
        _at(22),
        _at(25),
        ("cuddle", "caress", "long_kiss", "shared_look", "hand_hold", "kiss", "other"),
        3,
    ),
)

DURATIONS: dict[str, tuple[int, int]] = {
    "hug": (5, 40),
    "kiss": (2, 12),
    "long_kiss": (20, 45),
    "cuddle": (120, 2400),
    "hand_hold": (20, 900),
    "massage": (180, 1200),
    "date": (3600, 3 * 3600),
}

NOTES: dict[str, tuple[str, ...]] = {
    "hug": ("after the long meeting", "at the door, coming home", "just because"),
    "kiss": ("before leaving for work", "in the kitchen"),
    "long_kiss": ("a real one, not a peck", "on the balcony"),
    "cuddle": ("sofa, rain outside", "Sunday morning in bed"),
    "massage": ("shoulders after the gym", "feet, while watching a film"),
    "check_in": ("texted: how did the interview go?", "asked how the day really was"),
    "question": ("asked about the dream from last night", "what would you do with a free year?"),
    "share": ("told me about the new project", "a memory from school"),
    "compliment": ("said the new haircut looks great", "noticed the effort with my parents"),
    "thanks": ("for the coffee in bed", "for picking up the kids"),
    "help": ("did the dishes without asking", "fixed the bike"),
    "laugh": ("the cat and the cucumber", "silly voices while cooking"),
    "phone_down": ("put the phone away at dinner", "no screens after nine"),
    "date": ("pizza and a walk by the river", "the new Thai place", "climbing, then ice cream"),
    "hand_hold": ("on the way to the market",),
    "other": ("a note left on the mirror",),
}
MISSED_NOTES = ("was on my phone, missed it", "too tired, didn't notice", "mind elsewhere")
AGAINST_NOTES = ("snapped about the laundry, sorry", "answered with a sigh", "bad mood, not fair")

# How a bid is logged: by its maker, answered later by the partner in the app, or noted
# with how it went right away by the maker or by the one who received it.
ANSWERED_LATER = 0.45
NEVER_ANSWERED = 0.04
WITH_NOTE = 0.3


class AlreadyLoaded(Exception):
    """The demo accounts exist already; `--reset` replaces them."""

    def __init__(self, emails: list[str]) -> None:
        super().__init__(", ".join(emails))
        self.emails = emails


class CannotReset(Exception):
    """A demo account's password was changed, so it is not erased on the demo's say-so."""


@dataclass
class World:
    """What the timeline has made so far, for the steps that come later."""

    settings: Settings
    users: dict[str, User] = field(default_factory=dict)
    invites: dict[str, str] = field(default_factory=dict)
    coach_code: str = ""
    practices: dict[str, uuid.UUID] = field(default_factory=dict)


Action = Callable[[Session, World, datetime], None]


@dataclass(frozen=True, order=True)
class Step:
    at: datetime
    seq: int
    action: Action = field(compare=False)


@dataclass(frozen=True)
class CoupleFigures:
    names: tuple[str, str]
    timezone: str
    bids: int
    balance: float
    streak_days: int
    toward_rate: float | None


@dataclass(frozen=True)
class Loaded:
    accounts: tuple[Person, ...]
    couples: list[CoupleFigures]
    steps: int
    replaced: bool


# --- the steps -------------------------------------------------------------------------


def _register(person: Person) -> Action:
    def run(session: Session, world: World, now: datetime) -> None:
        data = RegisterRequest(
            email=person.email,
            password=DEMO_PASSWORD,
            display_name=person.display_name,
            timezone=person.timezone,
            role=person.role,
        )
        # demo.example.com gets no mail; its addresses count as verified, so the partners
        # can consent to the coach (SPEC §3).
        user, _ = lifecycle.register(
            session,
            data,
            now=now,
            settings=world.settings,
            locale=person.locale,
            address_verified=True,
        )
        world.users[person.key] = user
        if person.role == Role.coach:
            world.coach_code = coaching.profile_of(session, user, now).code

    return run


def _invite(story: Story) -> Action:
    def run(session: Session, world: World, now: datetime) -> None:
        code, _ = couples.create_invite(
            session, world.users[story.first.key], now=now, settings=world.settings
        )
        world.invites[story.key] = code

    return run


def _join(story: Story) -> Action:
    def run(session: Session, world: World, now: datetime) -> None:
        couples.join(
            session,
            world.users[story.second.key],
            world.invites.pop(story.key),
            now=now,
            settings=world.settings,
        )

    return run


def _active_couple(session: Session, user: User) -> Couple:
    couple = couples.active_couple_of(session, user.id)
    assert couple is not None, "the demo pairs every partner before using the couple"
    return couple


def _set_half_life(story: Story, hours: int) -> Action:
    def run(session: Session, world: World, now: datetime) -> None:
        user = world.users[story.first.key]
        lifecycle.change_couple(
            session, _active_couple(session, user), CoupleUpdate(half_life_hours=hours), now=now
        )

    return run


def _consent(person: Person) -> Action:
    def run(session: Session, world: World, now: datetime) -> None:
        user = world.users[person.key]
        coaching.grant(session, user, _active_couple(session, user), world.coach_code, now)

    return run


def _coach_reads(session: Session, world: World, now: datetime) -> None:
    """The coach looked at the dashboard a few days ago: the partners see it in their log."""
    coach = world.users[COACH.key]
    for summary in coaching.consenting_couples(session, coach, now, limit=50, after=None):
        coaching.progress(session, coach, summary.couple_id, 12, now)
        coaching.practice_adherence(session, coach, summary.couple_id, 12, now)


def _propose_practice(story: "Story", practice: str) -> Action:
    """The coach suggests a practice to a couple that lets them in (both must accept)."""

    def run(session: Session, world: World, now: datetime) -> None:
        couple = _active_couple(session, world.users[story.first.key])
        body = PlanCreate(practice=practice)
        plan = coaching.propose_practice(session, world.users[COACH.key], couple.id, body, now)
        world.practices[story.key] = plan.id

    return run


def _accept_practice(story: "Story", person: Person) -> Action:
    def run(session: Session, world: World, now: datetime) -> None:
        user = world.users[person.key]
        practices.accept(
            session, _active_couple(session, user), user, world.practices[story.key], now
        )

    return run


def _log_bid(logger: Person, data: BidCreate) -> Action:
    def run(session: Session, world: World, now: datetime) -> None:
        bids.create(session, world.users[logger.key], data, now=now)

    return run


def _answer(responder: Person, bid_id: uuid.UUID, response: Response) -> Action:
    def run(session: Session, world: World, now: datetime) -> None:
        user = world.users[responder.key]
        bid = bids.get_readable(session, user, bid_id)
        bids.respond(session, user, bid, response, now=now)

    return run


def _nudge_settings(person: Person, nudging: Nudging) -> Action:
    def run(session: Session, world: World, now: datetime) -> None:
        data = NudgeSettingsUpdate(
            enabled=True,
            discreet=nudging.discreet,
            daily_time=nudging.daily_time,
            quiet_start=nudging.quiet_start,
            quiet_end=nudging.quiet_end,
            kinds=NudgeKinds(
                daily_suggestion=True,
                partner_bid=True,
                reconnect=True,
                weekly_summary=nudging.weekly_summary,
            ),
        )
        nudges.replace_settings(session, world.users[person.key], data, now)

    return run


# --- the timeline ----------------------------------------------------------------------


def _lerp(pair: tuple[float, float], progress: float) -> float:
    return pair[0] + (pair[1] - pair[0]) * progress


def _wall(day: date, minutes: int, timezone: str) -> datetime:
    return wall_to_instant(datetime.combine(day, time()) + timedelta(minutes=minutes), timezone)


class Timeline:
    """The steps of the whole demo, in the order they happen."""

    def __init__(self, now: datetime, seed: int = SEED) -> None:
        self.now = now
        self.rng = random.Random(seed)  # noqa: S311 - demo content, not a secret
        self._steps: list[Step] = []

    def add(self, at: datetime, action: Action) -> None:
        self._steps.append(Step(at, len(self._steps), action))

    def steps(self) -> list[Step]:
        return sorted(self._steps)

    def build(self) -> list[Step]:
        first_day = {s.key: self._first_day(s) for s in STORIES}
        earliest = min(first_day.values())
        self.add(_wall(earliest - timedelta(days=3), _at(10), COACH.timezone), _register(COACH))
        for story in STORIES:
            self._story(story, first_day[story.key])
        # The coach proposed a twenty-second hug to the first couple; both accepted it.
        story = STORIES[0]
        proposed = self.now - timedelta(days=6, hours=3)
        self.add(proposed, _propose_practice(story, "twenty-second-hug"))
        self.add(proposed + timedelta(hours=2), _accept_practice(story, story.first))
        self.add(proposed + timedelta(hours=5), _accept_practice(story, story.second))
        coach_looked = self.now - timedelta(days=4, hours=2)
        self.add(coach_looked, _coach_reads)
        # The nudge settings as they stand today, so the next daily nudge is still ahead.
        for story in STORIES:
            for person, nudging in zip((story.first, story.second), story.nudging, strict=True):
                self.add(self.now - timedelta(minutes=30), _nudge_settings(person, nudging))
        return self.steps()

    def _first_day(self, story: Story) -> date:
        today = local_day(self.now, story.first.timezone, 0)
        return today - timedelta(days=story.paired_days_ago)

    def _story(self, story: Story, first_day: date) -> None:
        tz = story.first.timezone
        evening = _wall(first_day, _at(20), tz)
        self.add(evening, _register(story.first))
        self.add(evening + timedelta(minutes=6), _register(story.second))
        self.add(evening + timedelta(minutes=9), _invite(story))
        self.add(evening + timedelta(minutes=14), _join(story))
        if story.half_life_hours is not None:
            self.add(evening + timedelta(minutes=20), _set_half_life(story, story.half_life_hours))
        partners = (story.first, story.second)
        for person, after in zip(partners, story.consent_after_days, strict=True):
            at = _wall(first_day + timedelta(days=after), _at(21) + self.rng.randint(0, 90), tz)
            self.add(at, _consent(person))

        couple_today = local_day(self.now, tz, 4)  # the default day start hour
        day = first_day + timedelta(days=1)
        span = max((couple_today - day).days, 1)
        while day <= couple_today:
            progress = (day - first_day).days / span
            unbroken = couple_today - timedelta(days=story.unbroken_days) <= day < couple_today
            if (couple_today - day).days not in story.days_apart:
                self._day(story, day, progress, unbroken)
            day += timedelta(days=1)
        for moment in story.moments:
            occurred_at = _wall(couple_today - timedelta(days=moment.days_ago), moment.minute, tz)
            self._bid(
                story,
                moment.kind,
                occurred_at,
                moment.response,
                answered_at_once=True,
                note=moment.note,
            )
        # Something shared a moment ago, still waiting for the partner's answer.
        just_now = BidCreate(
            id=uuid.uuid4(),
            kind="share",
            initiator="me",
            occurred_at=self.now - timedelta(minutes=15),
            note="sent a photo from the walk home",
        )
        self.add(self.now - timedelta(minutes=12), _log_bid(story.first, just_now))

    def _day(self, story: Story, day: date, progress: float, unbroken: bool) -> None:
        rng = self.rng
        weekend = day.weekday() >= 5
        if not unbroken and rng.random() < _lerp(story.quiet_day_chance, progress):
            return  # a day apart: travel, a cold, a busy week
        low, high = story.weekend_bids if weekend else story.weekday_bids
        slots = [s for s in SLOTS if weekend or not s.weekend_only]
        moments = []
        for _ in range(rng.randint(low, high)):
            slot = rng.choices(slots, weights=[s.weight for s in slots])[0]
            minute = rng.randint(slot.start, slot.end)
            moments.append((minute, rng.choice(slot.kinds)))
        moments.sort()
        planned = [self._response(story, progress) for _ in moments]
        if unbroken and Response.toward not in planned:
            planned[0] = Response.toward
        # One bid a day that stays in the streak is noted as it happened, never left pending.
        sure = planned.index(Response.toward) if unbroken else -1
        for n, ((minute, kind), response) in enumerate(zip(moments, planned, strict=True)):
            occurred_at = _wall(day, minute, story.first.timezone) + timedelta(
                seconds=rng.randint(0, 59)
            )
            self._bid(story, kind, occurred_at, response, answered_at_once=n == sure)

    def _response(self, story: Story, progress: float) -> Response:
        if self.rng.random() < _lerp(story.toward, progress):
            return Response.toward
        if self.rng.random() < _lerp(story.against_share, progress):
            return Response.against
        return Response.away

    def _bid(
        self,
        story: Story,
        kind: str,
        occurred_at: datetime,
        response: Response,
        *,
        answered_at_once: bool,
        note: str | None = None,
    ) -> None:
        rng = self.rng
        if occurred_at >= self.now - timedelta(minutes=1):
            return  # not happened yet today
        maker, receiver = (story.first, story.second)
        if rng.random() >= story.first_initiates:
            maker, receiver = receiver, maker
        logged_at = min(occurred_at + timedelta(minutes=rng.randint(1, 90)), self.now)
        later = not answered_at_once and rng.random() < ANSWERED_LATER
        if later:
            logger, initiator, stated = maker, "me", Response.pending
        elif rng.random() < 0.5:
            logger, initiator, stated = maker, "me", response
        else:
            logger, initiator, stated = receiver, "partner", response
        data = BidCreate(
            id=uuid.uuid4(),
            kind=kind,
            initiator=_initiator(initiator),
            occurred_at=occurred_at,
            duration_seconds=self._duration(kind),
            note=note or self._note(kind, response),
            response=stated,
        )
        self.add(logged_at, _log_bid(logger, data))
        if later and rng.random() >= NEVER_ANSWERED:
            answered_at = logged_at + timedelta(minutes=rng.randint(3, 300))
            if answered_at < self.now:  # else the partner has not answered yet
                assert data.id is not None
                self.add(answered_at, _answer(receiver, data.id, response))

    def _duration(self, kind: str) -> int | None:
        bounds = DURATIONS.get(kind)
        if bounds is None or self.rng.random() < 0.25:
            return None
        return self.rng.randint(*bounds)

    def _note(self, kind: str, response: Response) -> str | None:
        if self.rng.random() >= WITH_NOTE:
            return None
        if response == Response.away:
            return self.rng.choice(MISSED_NOTES)
        if response == Response.against:
            return self.rng.choice(AGAINST_NOTES)
        return self.rng.choice(NOTES.get(kind, NOTES["other"]))


def _initiator(value: str) -> Initiator:
    return "me" if value == "me" else "partner"


# --- loading ---------------------------------------------------------------------------


def existing_accounts(session: Session) -> list[User]:
    return list(
        session.scalars(select(User).where(User.email.in_(EMAILS)).order_by(User.created_at))
    )


def _erase_previous(session: Session, found: list[User], settings: Settings, now: datetime) -> None:
    """Erase the earlier demo the way DELETE /v1/me does, then the couples left empty."""
    for user in found:
        # Checked before anything is erased: a failed check would commit its attempt.
        if not security.verify_password(DEMO_PASSWORD, user.password_hash):
            raise CannotReset(
                f"{user.email} no longer has the demo password; erase that account yourself "
                "(DELETE /v1/me) or use a fresh database"
            )
    couple_ids = set(
        session.scalars(
            select(CoupleMember.couple_id).where(CoupleMember.user_id.in_([u.id for u in found]))
        )
    )
    for user in found:
        keys = KeyStore.from_settings(settings)
        lifecycle.erase(session, user, DEMO_PASSWORD, now=now, settings=settings, keys=keys)
    for couple_id in couple_ids:
        members = session.scalar(
            select(func.count())
            .select_from(CoupleMember)
            .where(CoupleMember.couple_id == couple_id)
        )
        if not members:  # nobody can see it any more; its rows go with it (cascade)
            couple = session.get(Couple, couple_id)
            if couple is not None:
                session.delete(couple)
    session.flush()


def _figures(session: Session, world: World, now: datetime) -> Iterator[CoupleFigures]:
    for story in STORIES:
        user = world.users[story.first.key]
        couple = _active_couple(session, user)
        figures = stats.couple_stats(session, couple, user.id, 30, now)
        count = session.scalar(
            select(func.count()).select_from(Bid).where(Bid.couple_id == couple.id)
        )
        yield CoupleFigures(
            names=(story.first.display_name, story.second.display_name),
            timezone=couple.timezone,
            bids=int(count or 0),
            balance=bank.balance_now(session, couple, now),
            streak_days=figures.streak_days,
            toward_rate=figures.toward_rate,
        )


def _silent(total: int) -> Progress:
    return Progress("demo", total, stream=io.StringIO())


def has_accounts(factory: sessionmaker[Session]) -> bool:
    """Whether anyone has an account here (``tend demo --if-empty`` then loads nothing)."""
    with factory() as session:
        return session.scalar(select(User.id).limit(1)) is not None


def load(
    factory: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
    *,
    reset: bool = False,
    progress: Callable[[int], Progress] = _silent,
) -> Loaded:
    """Load the demo as of ``clock.now()``; AlreadyLoaded if it is there and not ``reset``."""
    now = clock.now()
    steps = Timeline(now).build()
    timeline = FrozenClock(steps[0].at)
    with transaction(factory) as session:
        found = existing_accounts(session)
        if found and not reset:
            raise AlreadyLoaded([u.email for u in found])
        if found:
            _erase_previous(session, found, settings, now)
        world = World(settings=settings)
        with progress(len(steps)) as meter:
            for step in steps:
                timeline.set(step.at)
                step.action(session, world, timeline.now())
                meter.advance()
        figures = list(_figures(session, world, now))
    return Loaded(accounts=PEOPLE, couples=figures, steps=len(steps), replaced=bool(found))
