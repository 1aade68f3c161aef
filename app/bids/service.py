"""Bids for connection: log, replay, edit, answer, delete; each moves the bank account."""

import hashlib
import json
import uuid
from datetime import datetime, timedelta

from sqlalchemy import Select, literal, select
from sqlalchemy import delete as delete_rows
from sqlalchemy.orm import Session

from app import access
from app.accounts.models import User
from app.bank import service as bank
from app.bank.math import Response, deposit
from app.bids.kinds import BY_KIND
from app.bids.models import Bid, BidTombstone
from app.bids.schemas import BidCreate, BidPublic, BidUpdate, Initiator
from app.couples import calendar
from app.couples import service as couples
from app.couples.models import Couple, CoupleMember
from app.errors import Conflict, Forbidden, Gone, Invalid, NotFound
from app.nudges import service as nudges
from app.pagination import decode_instant_cursor, encode_instant_cursor, page_of

MAX_BACKDATE = timedelta(days=7)
MAX_AHEAD = timedelta(minutes=5)


def _check_occurred_at(occurred_at: datetime, now: datetime) -> None:
    if occurred_at < now - MAX_BACKDATE:
        raise Invalid("occurred_at may be at most 7 days in the past.", field="occurred_at")
    if occurred_at > now + MAX_AHEAD:
        raise Invalid("occurred_at may be at most 5 minutes in the future.", field="occurred_at")


def _deposit_of(bid: Bid) -> float:
    kind = BY_KIND[bid.kind]
    return deposit(
        bid.response,
        weight=kind.weight,
        linger_seconds=kind.linger_seconds,
        duration_seconds=bid.duration_seconds,
    )


def entry_for(couple: Couple, bid: Bid) -> bank.Entry:
    """What the bid puts into the couple's account."""
    return bank.Entry(
        day=calendar.day_of(couple, bid.occurred_at),
        occurred_at=bid.occurred_at,
        deposit=bid.deposit,
        response=bid.response,
    )


def rebuild_bank(session: Session, couple: Couple) -> None:
    """Recompute the couple's account from its bids (``bank.rebuild``)."""
    bids = session.scalars(select(Bid).where(Bid.couple_id == couple.id).order_by(Bid.occurred_at))
    bank.rebuild(session, couple, (entry_for(couple, bid) for bid in bids))


def erase_logged_by(session: Session, couple: Couple, user_id: uuid.UUID, *, now: datetime) -> None:
    """Delete every bid this person logged in the (locked) couple, and what names them, as
    an account is erased; the account is recomputed from the partner's bids alone."""
    erased = session.scalars(
        select(Bid.id).where(Bid.couple_id == couple.id, Bid.logged_by_id == user_id)
    ).all()
    nudges.forget_bids(session, couple.id, user_id, erased, now=now)
    # The partner's phone learns of them as deletions at its next sync.
    stamp = couples.next_stamp(couple, now)
    session.add_all(
        BidTombstone(id=bid_id, couple_id=couple.id, deleted_at=now, stamp=stamp)
        for bid_id in erased
    )
    session.execute(delete_rows(Bid).where(Bid.couple_id == couple.id, Bid.logged_by_id == user_id))
    rebuild_bank(session, couple)


def readable_bids(user_id: uuid.UUID) -> Select[Bid]:
    """Every bid this user may read (``app.access``): their couples', past and present."""
    return select(Bid).where(access.partner_may_read(user_id, Bid.couple_id))


def _request_hash(data: BidCreate) -> str:
    # Defaults filled in and instants in UTC: the same content hashes alike however sent.
    content = data.model_dump(mode="json", exclude={"id"})
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _partner_id(session: Session, couple: Couple, user_id: uuid.UUID) -> uuid.UUID:
    return couples.partner_in(session, couple, user_id).id


def _initiator_id(session: Session, couple: Couple, user: User, initiator: Initiator) -> uuid.UUID:
    return user.id if initiator == "me" else _partner_id(session, couple, user.id)


def to_public(bid: Bid, viewer_id: uuid.UUID) -> BidPublic:
    def seen(user_id: uuid.UUID | None) -> Initiator:
        return "me" if user_id == viewer_id else "partner"

    return BidPublic(
        id=bid.id,
        couple_id=bid.couple_id,
        kind=bid.kind,
        initiator=seen(bid.initiator_id),
        logged_by=seen(bid.logged_by_id),
        occurred_at=bid.occurred_at,
        duration_seconds=bid.duration_seconds,
        note=bid.note,
        response=Response(bid.response),
        responded_by=seen(bid.responded_by_id) if bid.responded_by_id else None,
        responded_at=bid.responded_at,
        deposit=bid.deposit,
        created_at=bid.created_at,
        updated_at=bid.updated_at,
    )


def get_readable(session: Session, user: User, bid_id: uuid.UUID) -> Bid:
    bid = session.scalars(readable_bids(user.id).where(Bid.id == bid_id)).one_or_none()
    if bid is None:
        raise NotFound("No bid with this id.")
    return bid


def _replayed(session: Session, user: User, data: BidCreate, request_hash: str) -> Bid | None:
    """The stored bid if this create was already made; a 409 or 410 if its id is taken."""
    if data.id is None:
        return None
    # One query for the usual case, an id never seen: is it a bid's, or a deleted one's?
    taken = session.execute(
        select(Bid.id, literal(False))
        .where(Bid.id == data.id)
        .union_all(select(BidTombstone.id, literal(True)).where(BidTombstone.id == data.id))
    ).first()
    if taken is None:
        return None
    if taken[1]:
        raise Gone("The bid with this id was deleted.")
    existing = session.get_one(Bid, data.id)
    if existing.logged_by_id == user.id and existing.request_hash == request_hash:
        return existing
    raise Conflict("A bid with this id already exists with other content.")


def create(session: Session, user: User, data: BidCreate, *, now: datetime) -> tuple[Bid, bool]:
    """The bid and whether it was created (False: a replay of one already stored)."""
    request_hash = _request_hash(data)
    couple = couples.lock_active_couple_of(session, user.id)
    if couple is None:
        # A replay answers with the stored bid even if the couple has ended since.
        if (replayed := _replayed(session, user, data, request_hash)) is not None:
            return replayed, False
        raise Conflict("You are not in a couple, so there is nobody to log a bid with.")
    # Looked up under the couple's lock only: two copies of one create then cannot both
    # insert, and a new bid costs one lookup, not two.
    if (replayed := _replayed(session, user, data, request_hash)) is not None:
        return replayed, False
    occurred_at = data.occurred_at or now
    _check_occurred_at(occurred_at, now)
    bid = Bid(
        id=data.id or uuid.uuid4(),
        couple_id=couple.id,
        logged_by_id=user.id,
        initiator_id=_initiator_id(session, couple, user, data.initiator),
        kind=data.kind,
        occurred_at=occurred_at,
        duration_seconds=data.duration_seconds,
        note=data.note,
        response=data.response.value,
        responded_by_id=user.id if data.response != Response.pending else None,
        responded_at=now if data.response != Response.pending else None,
        request_hash=request_hash,
        created_at=now,
        updated_at=now,
        deposit=0.0,
        stamp=couples.next_stamp(couple, now),
    )
    bid.deposit = _deposit_of(bid)
    session.add(bid)
    session.flush()
    bank.record_change(session, couple, None, entry_for(couple, bid))
    # The outbox row commits with the bid, or not at all; only a bid that waits for the
    # partner's answer tells them.
    if data.response == Response.pending:
        nudges.on_bid_logged(
            session,
            bid_id=bid.id,
            kind_label=BY_KIND[bid.kind].label,
            author_name=user.display_name,
            recipient_id=_partner_id(session, couple, user.id),
            now=now,
        )
    return bid, True


def _locked(session: Session, bid: Bid) -> Couple:
    """Lock the bid's couple, then re-read the bid: a writer that waited for the lock must
    start from what the one before it committed, not from the copy it read before waiting
    (else two partners answering at once would leave the rollups off by one answer)."""
    couple = couples.lock_couple(session, bid.couple_id)
    current = session.scalars(
        select(Bid).where(Bid.id == bid.id).execution_options(populate_existing=True)
    ).one_or_none()
    if current is None:
        raise NotFound("No bid with this id.")
    return couple


def _writable(session: Session, bid: Bid) -> Couple:
    couple = _locked(session, bid)
    if couple.ended_at is not None:
        raise Conflict("This couple has ended; its history can be read but not changed.")
    return couple


def update(session: Session, user: User, bid: Bid, data: BidUpdate, *, now: datetime) -> Bid:
    if bid.logged_by_id != user.id:
        raise Forbidden("Only the partner who logged a bid can change it.")
    couple = _writable(session, bid)
    old = entry_for(couple, bid)
    changes = data.changes()
    if "occurred_at" in changes:
        _check_occurred_at(data.occurred_at, now)  # type: ignore[arg-type]
        bid.occurred_at = data.occurred_at  # type: ignore[assignment]
    if "initiator" in changes:
        bid.initiator_id = _initiator_id(session, couple, user, data.initiator)  # type: ignore[arg-type]
    for field in ("kind", "duration_seconds", "note"):
        if field in changes:
            setattr(bid, field, changes[field])
    bid.deposit = _deposit_of(bid)
    bid.updated_at = now
    bid.stamp = couples.next_stamp(couple, now)
    session.flush()
    bank.record_change(session, couple, old, entry_for(couple, bid))
    return bid


def respond(session: Session, user: User, bid: Bid, response: Response, *, now: datetime) -> Bid:
    couple = _writable(session, bid)
    old = entry_for(couple, bid)
    bid.response = response.value
    answered = response != Response.pending
    bid.responded_by_id = user.id if answered else None
    bid.responded_at = now if answered else None
    bid.deposit = _deposit_of(bid)
    bid.updated_at = now
    bid.stamp = couples.next_stamp(couple, now)
    session.flush()
    bank.record_change(session, couple, old, entry_for(couple, bid))
    return bid


def delete(session: Session, user: User, bid: Bid, *, now: datetime) -> None:
    if bid.logged_by_id != user.id:
        raise Forbidden("Only the partner who logged a bid can delete it.")
    # Deleting stays possible after a couple ended: history is kept until its owner deletes it.
    couple = _locked(session, bid)
    bank.record_change(session, couple, entry_for(couple, bid), None)
    session.add(
        BidTombstone(
            id=bid.id,
            couple_id=bid.couple_id,
            deleted_at=now,
            stamp=couples.next_stamp(couple, now),
        )
    )
    nudges.forget_bids(session, bid.couple_id, user.id, [bid.id], now=now)
    session.delete(bid)
    session.flush()


def history_couple_id(session: Session, user: User, couple_id: uuid.UUID | None) -> uuid.UUID:
    """The couple whose bids a list shows: the one asked for, else the active or latest one."""
    if couple_id is None:
        latest = couples.latest_couple_of(session, user.id)
        if latest is None:
            raise NotFound("No couple to show bids for.")
        return latest.id
    found = session.scalars(
        select(CoupleMember.couple_id).where(
            CoupleMember.user_id == user.id, CoupleMember.couple_id == couple_id
        )
    ).first()
    if found is None:
        raise NotFound("No couple to show bids for.")
    return found


def list_bids(
    session: Session,
    user: User,
    *,
    couple_id: uuid.UUID | None,
    since: datetime | None,
    until: datetime | None,
    kind: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Bid], str | None]:
    query = readable_bids(user.id).where(
        Bid.couple_id == history_couple_id(session, user, couple_id)
    )
    if since is not None:
        query = query.where(Bid.occurred_at >= since)
    if until is not None:
        query = query.where(Bid.occurred_at < until)
    if kind is not None:
        query = query.where(Bid.kind == kind)
    if cursor is not None:
        after_at, after_id = decode_instant_cursor(cursor)
        query = query.where(
            (Bid.occurred_at < after_at) | ((Bid.occurred_at == after_at) & (Bid.id < after_id))
        )
    rows = list(
        session.scalars(query.order_by(Bid.occurred_at.desc(), Bid.id.desc()).limit(limit + 1))
    )
    return page_of(rows, limit, lambda b: encode_instant_cursor(b.occurred_at, b.id))
