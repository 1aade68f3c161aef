"""The hard case of change stamps: a writer that has taken its stamp but not committed while
a pull runs. Whichever goes first, the bid reaches the phone by the next pull at the latest,
and the pull never answers a timestamp at or past a stamp it did not see."""

import threading
import time
import uuid
from typing import Any

from app.accounts.models import User
from app.bids import service as bids
from app.bids.schemas import BidCreate
from app.db import make_session_factory, transaction
from app.sync import service as sync
from tests.factories import pair


def _updated_ids(pulled: sync.Pulled) -> set[uuid.UUID]:
    return {raw["id"] for raw in pulled.changes["bids"].updated}


def test_a_pull_waits_for_a_writer_that_holds_a_stamp(client, db, clock, settings):
    alex, sam = pair(client)
    factory = make_session_factory(db.engine)
    with factory() as session:
        alex_user = session.get_one(User, uuid.UUID(alex.id))
        base = sync.pull(session, alex_user, None, now=clock.now(), settings=settings).timestamp
        session.commit()

    stamped, release = threading.Event(), threading.Event()
    written: dict[str, Any] = {}

    def slow_writer() -> None:
        with transaction(factory) as session:
            user = session.get_one(User, uuid.UUID(sam.id))
            bid, _ = bids.create(
                session, user, BidCreate(kind="hug", initiator="me"), now=clock.now()
            )
            written["id"], written["stamp"] = bid.id, bid.stamp
            stamped.set()
            release.wait(10)

    pulled: dict[str, Any] = {}

    def puller() -> None:
        with transaction(factory) as session:
            user = session.get_one(User, uuid.UUID(alex.id))
            pulled["first"] = sync.pull(session, user, base, now=clock.now(), settings=settings)
            pulled["done_at"] = time.monotonic()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert stamped.wait(10)
    reader = threading.Thread(target=puller)
    reader.start()
    time.sleep(0.5)
    # The stamp is taken, the commit not yet: the pull is held at the couple's lock.
    assert reader.is_alive()
    released_at = time.monotonic()
    release.set()
    writer.join(10)
    reader.join(10)
    assert pulled["done_at"] >= released_at
    first = pulled["first"]
    assert written["id"] in _updated_ids(first)
    assert first.timestamp >= written["stamp"]


def test_a_writer_that_waits_for_a_pull_stamps_past_it(client, db, clock, settings):
    alex, sam = pair(client)
    factory = make_session_factory(db.engine)
    holding, release = threading.Event(), threading.Event()
    pulled: dict[str, Any] = {}

    def slow_pull() -> None:
        with transaction(factory) as session:
            user = session.get_one(User, uuid.UUID(alex.id))
            pulled["first"] = sync.pull(session, user, None, now=clock.now(), settings=settings)
            holding.set()
            release.wait(10)

    written: dict[str, Any] = {}

    def writer() -> None:
        with transaction(factory) as session:
            user = session.get_one(User, uuid.UUID(sam.id))
            bid, _ = bids.create(
                session, user, BidCreate(kind="kiss", initiator="me"), now=clock.now()
            )
            written["id"], written["stamp"] = bid.id, bid.stamp

    reader = threading.Thread(target=slow_pull)
    reader.start()
    assert holding.wait(10)
    late = threading.Thread(target=writer)
    late.start()
    time.sleep(0.5)
    assert late.is_alive()  # the writer waits for the pull's locks
    release.set()
    reader.join(10)
    late.join(10)
    first = pulled["first"]
    assert written["id"] not in _updated_ids(first)
    # The frozen clock has not moved, yet the writer's stamp is past the pull's timestamp.
    assert written["stamp"] > first.timestamp
    with transaction(factory) as session:
        user = session.get_one(User, uuid.UUID(alex.id))
        second = sync.pull(session, user, first.timestamp, now=clock.now(), settings=settings)
    assert written["id"] in _updated_ids(second)
