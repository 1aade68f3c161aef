"""Putting messages (nudges and mails) in the outbox: rows with a unique dedupe key, so
enqueueing one twice is harmless, and taking back messages that name something deleted."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, select
from sqlalchemy.orm import Session

from app.clock import epoch_ms
from app.db import insert_for, table_of
from app.outbox.models import InboxClock, Mail, Notification, NotificationTombstone


@dataclass(frozen=True)
class Texts:
    """What a message says: in full in the in-app inbox, and on a lock screen (push)."""

    title: str
    body: str
    push_title: str
    push_body: str


def message(
    *,
    user_id: uuid.UUID,
    kind: str,
    dedupe_key: str,
    words: Texts,
    due_at: datetime,
    now: datetime,
    data: dict[str, Any],
    gesture: str | None = None,
) -> dict[str, Any]:
    """One outbox row, as ``enqueue`` takes it."""
    return {
        "id": uuid.uuid4(),
        "user_id": user_id,
        "kind": kind,
        "dedupe_key": dedupe_key,
        "title": words.title,
        "body": words.body,
        "push_title": words.push_title,
        "push_body": words.push_body,
        "data": data,
        "gesture": gesture,
        "created_at": now,
        "due_at": due_at,
        "next_attempt_at": due_at,
        "status": "pending",
        "attempts": 0,
    }


def inbox_stamps(
    session: Session, user_ids: Sequence[uuid.UUID], now: datetime
) -> dict[uuid.UUID, int]:
    """Move each user's inbox clock past its last stamp and ``now`` (in milliseconds), and
    answer the new stamps. The clock's row stays locked until the transaction ends, so a
    pull that takes it too (``lock_inbox``) never misses a change that commits later."""
    if not user_ids:
        return {}
    table = table_of(InboxClock)
    wanted = epoch_ms(now)
    insert = insert_for(session)(table)
    upsert = insert.on_conflict_do_update(
        index_elements=["user_id"],
        set_={
            "clock": case(
                (insert.excluded.clock > table.c.clock, insert.excluded.clock),
                else_=table.c.clock + 1,
            )
        },
    ).returning(table.c.user_id, table.c.clock)
    # In one order, so that two transactions moving the same clocks cannot deadlock.
    ordered = sorted(set(user_ids))
    return dict(session.execute(upsert, [{"user_id": u, "clock": wanted} for u in ordered]).all())


def lock_inbox(session: Session, user_id: uuid.UUID) -> InboxClock:
    """The user's inbox clock, created (at 0) if missing, locked until the transaction ends;
    taking it changes nothing."""
    session.execute(
        insert_for(session)(table_of(InboxClock))
        .values(user_id=user_id, clock=0)
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    return session.scalars(
        select(InboxClock)
        .where(InboxClock.user_id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def enqueue(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert messages; one whose dedupe key exists already is skipped, not an error."""
    if rows:
        stamps = inbox_stamps(session, [row["user_id"] for row in rows], rows[0]["created_at"])
        for row in rows:
            row["stamp"] = stamps[row["user_id"]]
        # Core, not ORM: the planner inserts thousands of rows a batch.
        session.execute(
            insert_for(session)(table_of(Notification)).on_conflict_do_nothing(
                index_elements=["dedupe_key"]
            ),
            rows,
        )


def withdraw(
    session: Session, user_ids: Sequence[uuid.UUID], dedupe_keys: list[str], now: datetime
) -> None:
    """Delete these users' messages with these dedupe keys, sent or not; phones drop them
    from their inbox at their next sync."""
    gone: list[tuple[uuid.UUID, uuid.UUID]] = []
    for start in range(0, len(dedupe_keys), 500):
        gone += [
            (row.id, row.user_id)
            for row in session.execute(
                delete(Notification)
                .where(
                    Notification.user_id.in_(user_ids),
                    Notification.dedupe_key.in_(dedupe_keys[start : start + 500]),
                )
                .returning(Notification.id, Notification.user_id)
            )
        ]
    bury(session, gone, now)


def bury(session: Session, gone: Sequence[tuple[uuid.UUID, uuid.UUID]], now: datetime) -> None:
    """Tombstones for these (notification id, user id) pairs, stamped by the users' inbox
    clocks (taken after the rows: every path locks a notification before its clock)."""
    if not gone:
        return
    stamps = inbox_stamps(session, [user_id for _, user_id in gone], now)
    session.execute(
        insert_for(session)(table_of(NotificationTombstone)).on_conflict_do_nothing(
            index_elements=["id"]
        ),
        [
            {"id": nid, "user_id": user_id, "deleted_at": now, "stamp": stamps[user_id]}
            for nid, user_id in gone
        ],
    )


@dataclass(frozen=True)
class MailWords:
    """What a mail says: a subject, plain text and simple HTML; the bodies hold ``{link}``
    where the one-time link goes (it is kept apart so it can be cleared once sent)."""

    subject: str
    text: str
    html: str


def enqueue_mail(
    session: Session,
    *,
    user_id: uuid.UUID,
    kind: str,
    dedupe_key: str,
    to: str,
    words: MailWords,
    now: datetime,
    link: str | None = None,
) -> None:
    """Put a mail in the outbox, in the caller's transaction; the worker sends it. One
    whose dedupe key exists already is skipped, not an error."""
    session.execute(
        insert_for(session)(table_of(Mail)).on_conflict_do_nothing(index_elements=["dedupe_key"]),
        [
            {
                "id": uuid.uuid4(),
                "user_id": user_id,
                "kind": kind,
                "dedupe_key": dedupe_key,
                "to_address": to,
                "subject": words.subject,
                "text_body": words.text,
                "html_body": words.html,
                "link": link,
                "created_at": now,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
            }
        ],
    )
