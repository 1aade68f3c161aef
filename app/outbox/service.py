"""Putting messages (nudges and mails) in the outbox: rows with a unique dedupe key, so
enqueueing one twice is harmless, and taking back messages that name something deleted."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.db import insert_for, table_of
from app.outbox.models import Mail, Notification


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


def enqueue(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert messages; one whose dedupe key exists already is skipped, not an error."""
    if rows:
        # Core, not ORM: the planner inserts thousands of rows a batch.
        session.execute(
            insert_for(session)(table_of(Notification)).on_conflict_do_nothing(
                index_elements=["dedupe_key"]
            ),
            rows,
        )


def withdraw(session: Session, user_ids: Sequence[uuid.UUID], dedupe_keys: list[str]) -> None:
    """Delete these users' messages with these dedupe keys, sent or not."""
    for start in range(0, len(dedupe_keys), 500):
        session.execute(
            delete(Notification).where(
                Notification.user_id.in_(user_ids),
                Notification.dedupe_key.in_(dedupe_keys[start : start + 500]),
            )
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
