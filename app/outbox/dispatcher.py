"""Sending nudges: claim due outbox rows, push them outside the claiming transaction, record.

A claim marks rows ``sending`` with a claim id and a lease, taken with FOR UPDATE SKIP
LOCKED on PostgreSQL (the write lock on SQLite), so two workers never take the same row.
Outcomes are written only where the claim id still matches. Failed pushes back off
exponentially with jitter, never sooner than the provider's Retry-After, and every row
ends delivered or dead with a reason; one missed beyond the grace window is dropped.
"""

import html
import logging
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock
from app.config import Environment, Settings
from app.db import among, table_of, transaction
from app.outbox import service
from app.outbox.channels import PushMessage, PushOutcome, PushProvider, UnsupportedProvider
from app.outbox.channels.expo import ExpoProvider
from app.outbox.channels.log import LogProvider
from app.outbox.channels.mail import MailMessage, MailTransport, transport_for
from app.outbox.channels.webhook import WebhookProvider
from app.outbox.models import Device, Mail, Notification, PushTicket

log = logging.getLogger(__name__)

RECEIPT_DELAY = timedelta(minutes=15)
RECEIPT_GIVE_UP = timedelta(days=1)


class Providers:
    """Which provider sends to which kind of device, from the settings."""

    def __init__(self, settings: Settings) -> None:
        self._log = LogProvider() if settings.push_provider == "log" else None
        self._expo = (
            ExpoProvider(
                settings.expo_base_url, settings.expo_access_token, settings.push_timeout_seconds
            )
            if settings.push_provider == "expo"
            else None
        )
        self._webhook = WebhookProvider(
            settings.push_timeout_seconds, allow_private=settings.webhook_allow_private
        )
        self.mail: MailTransport = transport_for(
            settings.mail_url,
            settings.mail_from,
            settings.mail_timeout_seconds,
            show_links=settings.env != Environment.production,
        )

    def for_device(self, device_provider: str) -> PushProvider:
        if self._log is not None:
            return self._log
        if device_provider == "expo" and self._expo is not None:
            return self._expo
        if device_provider == "webhook":
            return self._webhook
        return UnsupportedProvider(device_provider)

    def close(self) -> None:
        if self._expo is not None:
            self._expo.close()
        self._webhook.close()


@dataclass
class Claimed:
    id: uuid.UUID
    claim_id: uuid.UUID
    user_id: uuid.UUID
    attempts: int
    title: str
    body: str
    data: dict[str, Any]
    devices: list[tuple[uuid.UUID, str, str]] = field(default_factory=list)  # id, provider, token


@dataclass(frozen=True)
class DispatchResult:
    claimed: int
    delivered: int
    retried: int
    dead: int
    dropped: int


def _due(model: type[Notification] | type[Mail], now: datetime) -> tuple[Any, Any]:
    """Rows whose time has come: waiting, or claimed by a worker whose lease ran out."""
    return (
        model.next_attempt_at <= now,
        or_(
            model.status == "pending",
            (model.status == "sending") & (model.claimed_until < now),
        ),
    )


def _take(
    session: Session, table: Table, ids: list[uuid.UUID], now: datetime, settings: Settings
) -> uuid.UUID:
    """Mark rows (selected FOR UPDATE SKIP LOCKED) as this worker's for one lease."""
    claim_id = uuid.uuid4()
    session.execute(
        update(table)
        .where(among(session, table.c.id, ids))
        .values(
            status="sending",
            claim_id=claim_id,
            claimed_until=now + timedelta(seconds=settings.push_lease_seconds),
        )
    )
    return claim_id


def _failure(
    attempts: int,
    retryable: bool,
    retry_after: float | None,
    errors: str,
    now: datetime,
    settings: Settings,
    rng: random.Random,
) -> dict[str, Any]:
    """Another try after a backoff, or dead with the reason once tries are spent or
    another would not help."""
    if retryable and attempts < settings.push_max_attempts:
        delay = backoff(attempts, settings, retry_after, rng)
        return {
            "status": "pending",
            "next_attempt_at": now + timedelta(seconds=delay),
            "last_error": errors[:500],
        }
    reason = f"gave up after {attempts} attempts: {errors}" if retryable else errors
    return {"status": "dead", "next_attempt_at": now, "last_error": reason[:500]}


def _write_outcomes(
    session: Session, table: Table, claim_id: uuid.UUID, changes: list[dict[str, Any]]
) -> None:
    """Write each row's outcome (``b_id`` names the row) only where this worker's claim
    still holds; rows with the same outcome share one UPDATE."""
    groups: dict[tuple[tuple[str, Any], ...], list[uuid.UUID]] = defaultdict(list)
    for change in changes:
        key = tuple(sorted((k, v) for k, v in change.items() if k != "b_id"))
        groups[key].append(change["b_id"])
    written = 0
    for key, ids in groups.items():
        result = session.execute(
            update(table)
            .where(among(session, table.c.id, ids), table.c.claim_id == claim_id)
            .values(**dict(key), claim_id=None, claimed_until=None)
        )
        written += result.rowcount  # type: ignore[attr-defined]
    if written != len(changes):
        log.warning(
            "claims expired before their outcome was recorded",
            extra={"table": table.name, "lost": len(changes) - written},
        )


def claim(session: Session, now: datetime, settings: Settings) -> tuple[list[Claimed], int]:
    """Take a batch of due rows for this worker; also drop the ones missed beyond grace.

    Set-based on purpose: one SELECT … FOR UPDATE SKIP LOCKED and one UPDATE per batch.
    """
    table = table_of(Notification)
    rows = session.execute(
        select(
            Notification.id,
            Notification.user_id,
            Notification.attempts,
            Notification.due_at,
            Notification.push_title,
            Notification.push_body,
            Notification.data,
        )
        .where(*_due(Notification, now))
        .order_by(Notification.next_attempt_at)
        .limit(settings.dispatch_batch_size)
        .with_for_update(skip_locked=True)
    ).all()
    grace = timedelta(minutes=settings.nudge_grace_minutes)
    missed = {r.id for r in rows if r.attempts == 0 and now - r.due_at > grace}
    if missed:
        session.execute(
            update(table)
            .where(among(session, table.c.id, missed))
            .values(status="dropped", last_error="missed: due too long ago when sending resumed")
        )
        # The inbox hides a dropped nudge; a phone that synced it while due drops it too.
        service.bury(session, [(r.id, r.user_id) for r in rows if r.id in missed], now)
    live = [r for r in rows if r.id not in missed]
    if not live:
        return [], len(missed)
    claim_id = _take(session, table, [r.id for r in live], now, settings)
    by_user: dict[uuid.UUID, list[tuple[uuid.UUID, str, str]]] = defaultdict(list)
    for device in session.execute(
        select(Device.user_id, Device.id, Device.provider, Device.token).where(
            among(session, Device.user_id, {r.user_id for r in live}),
            Device.disabled_at.is_(None),
        )
    ):
        by_user[device.user_id].append((device.id, device.provider, device.token))
    claimed = [
        Claimed(
            r.id,
            claim_id,
            r.user_id,
            r.attempts,
            r.push_title,
            r.push_body,
            dict(r.data or {}),
            by_user[r.user_id],
        )
        for r in live
    ]
    return claimed, len(missed)


def send(
    claimed: list[Claimed], providers: Providers
) -> dict[uuid.UUID, list[tuple[uuid.UUID, PushOutcome]]]:
    """Push every claimed nudge to each of its user's devices, in provider-sized batches."""
    queues: dict[int, tuple[PushProvider, list[tuple[uuid.UUID, PushMessage]]]] = {}
    for item in claimed:
        for device_id, device_provider, token in item.devices:
            provider = providers.for_device(device_provider)
            message = PushMessage(
                str(device_id),
                token,
                item.title,
                item.body,
                {**item.data, "notification_id": str(item.id)},
            )
            queues.setdefault(id(provider), (provider, []))[1].append((item.id, message))
    outcomes: dict[uuid.UUID, list[tuple[uuid.UUID, PushOutcome]]] = defaultdict(list)
    for provider, queue in queues.values():
        for start in range(0, len(queue), provider.max_batch):
            chunk = queue[start : start + provider.max_batch]
            results = provider.send([message for _, message in chunk])
            for (notification_id, message), outcome in zip(chunk, results, strict=True):
                outcomes[notification_id].append((uuid.UUID(message.device_id), outcome))
    return outcomes


def backoff(
    attempt: int, settings: Settings, retry_after: float | None, rng: random.Random
) -> float:
    """Seconds until the next try: exponential with equal jitter, at least Retry-After."""
    ceiling = min(
        settings.push_retry_max_seconds, settings.push_retry_base_seconds * 2 ** max(0, attempt - 1)
    )
    delay = rng.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


def record(
    session: Session,
    claimed: list[Claimed],
    outcomes: dict[uuid.UUID, list[tuple[uuid.UUID, PushOutcome]]],
    now: datetime,
    settings: Settings,
    rng: random.Random,
) -> tuple[int, int, int]:
    """Write each claimed row's outcome, only where this worker's claim still holds."""
    table = table_of(Notification)
    changes: list[dict[str, Any]] = []
    gone: dict[uuid.UUID, str] = {}
    tickets: list[dict[str, Any]] = []
    delivered = retried = dead = 0
    for item in claimed:
        results = outcomes.get(item.id, [])
        attempts = item.attempts + 1
        for device_id, outcome in results:
            if outcome.device_gone:
                gone[device_id] = outcome.error or "gone"
        accepted = [(d, o) for d, o in results if o.accepted]
        errors = "; ".join(sorted({o.error or "error" for _, o in results if not o.accepted}))
        change: dict[str, Any] = {
            "b_id": item.id,
            "attempts": attempts,
            "status": "dead",
            "delivered_at": None,
            "next_attempt_at": now,
            "last_error": None,
        }
        if not results:
            change["last_error"] = "no active device; kept in the inbox"
            dead += 1
        elif accepted:
            change |= {"status": "delivered", "delivered_at": now, "last_error": errors or None}
            delivered += 1
            tickets += [
                {
                    "id": uuid.uuid4(),
                    "notification_id": item.id,
                    "device_id": device_id,
                    "ticket": outcome.ticket,
                    "created_at": now,
                }
                for device_id, outcome in accepted
                if outcome.ticket
            ]
        else:
            retry_after = max((o.retry_after or 0.0) for _, o in results)
            retryable = any(o.retryable for _, o in results)
            change |= _failure(attempts, retryable, retry_after, errors, now, settings, rng)
            if change["status"] == "pending":
                retried += 1
            else:
                dead += 1
        changes.append(change)
    _write_outcomes(session, table, claimed[0].claim_id, changes)
    if tickets:
        session.execute(insert(table_of(PushTicket)), tickets)
    for device_id, reason in gone.items():
        disable_device(session, device_id, reason, now)
    return delivered, retried, dead


def disable_device(session: Session, device_id: uuid.UUID, reason: str, now: datetime) -> None:
    session.execute(
        update(Device)
        .where(Device.id == device_id, Device.disabled_at.is_(None))
        .values(disabled_at=now, disabled_reason=reason[:200])
    )


def dispatch_once(
    factory: sessionmaker[Session],
    providers: Providers,
    clock: Clock,
    settings: Settings,
    rng: random.Random | None = None,
) -> DispatchResult:
    """One claim → send → record round."""
    rng = rng or random.Random()  # noqa: S311 - jitter, not security
    with transaction(factory) as session:
        claimed, dropped = claim(session, clock.now(), settings)
    outcomes = send(claimed, providers) if claimed else {}
    delivered = retried = dead = 0
    if claimed:
        with transaction(factory) as session:
            delivered, retried, dead = record(
                session, claimed, outcomes, clock.now(), settings, rng
            )
    return DispatchResult(len(claimed), delivered, retried, dead, dropped)


# --- mail: the same claim, backoff and record, over the outbox's mail rows ----------------


@dataclass
class ClaimedMail:
    id: uuid.UUID
    claim_id: uuid.UUID
    attempts: int
    message: MailMessage


def claim_mail(session: Session, now: datetime, settings: Settings) -> list[ClaimedMail]:
    """Take a batch of due mails for this worker (FOR UPDATE SKIP LOCKED, as for pushes).
    A mail someone asked for is never dropped for being late: its link says how long it
    works, and a verification link works for days."""
    rows = session.execute(
        select(
            Mail.id,
            Mail.attempts,
            Mail.to_address,
            Mail.subject,
            Mail.text_body,
            Mail.html_body,
            Mail.link,
            Mail.created_at,
        )
        .where(*_due(Mail, now))
        .order_by(Mail.next_attempt_at)
        .limit(settings.mail_batch_size)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return []
    claim_id = _take(session, table_of(Mail), [r.id for r in rows], now, settings)
    return [
        ClaimedMail(
            r.id,
            claim_id,
            r.attempts,
            MailMessage(
                mail_id=str(r.id),
                to=r.to_address,
                subject=r.subject,
                text=r.text_body.replace("{link}", r.link or ""),
                html=r.html_body.replace("{link}", html.escape(r.link or "")),
                created_at=r.created_at,
                link=r.link,
            ),
        )
        for r in rows
    ]


def record_mail(
    session: Session,
    claimed: list[ClaimedMail],
    outcomes: list[PushOutcome],
    now: datetime,
    settings: Settings,
    rng: random.Random,
) -> tuple[int, int, int]:
    """Write each mail's outcome where this worker's claim still holds; a mail that ends
    (delivered or dead) loses its link, so its token lives on only as a hash."""
    changes: list[dict[str, Any]] = []
    delivered = retried = dead = 0
    for item, outcome in zip(claimed, outcomes, strict=True):
        attempts = item.attempts + 1
        change: dict[str, Any] = {"b_id": item.id, "attempts": attempts}
        if outcome.accepted:
            change |= {"status": "delivered", "delivered_at": now, "last_error": None}
        else:
            error = outcome.error or "error"
            change |= _failure(
                attempts, outcome.retryable, outcome.retry_after, error, now, settings, rng
            )
        if change["status"] == "pending":
            retried += 1
        else:
            change["link"] = None
            delivered, dead = (
                (delivered + 1, dead) if change["status"] == "delivered" else (delivered, dead + 1)
            )
        changes.append(change)
    _write_outcomes(session, table_of(Mail), claimed[0].claim_id, changes)
    return delivered, retried, dead


def dispatch_mail_once(
    factory: sessionmaker[Session],
    transport: MailTransport,
    clock: Clock,
    settings: Settings,
    rng: random.Random | None = None,
) -> DispatchResult:
    """One claim → send → record round of mail, on one SMTP connection."""
    rng = rng or random.Random()  # noqa: S311 - jitter, not security
    with transaction(factory) as session:
        claimed = claim_mail(session, clock.now(), settings)
    if not claimed:
        return DispatchResult(0, 0, 0, 0, 0)
    outcomes = transport.send([item.message for item in claimed])
    with transaction(factory) as session:
        delivered, retried, dead = record_mail(
            session, claimed, outcomes, clock.now(), settings, rng
        )
    return DispatchResult(len(claimed), delivered, retried, dead, 0)


def check_receipts(
    factory: sessionmaker[Session], providers: Providers, clock: Clock, limit: int = 1000
) -> int:
    """Ask providers how accepted pushes ended; disable devices they report as gone."""
    now = clock.now()
    with transaction(factory, write=False) as session:
        pending = session.execute(
            select(
                PushTicket.id,
                PushTicket.ticket,
                PushTicket.device_id,
                PushTicket.created_at,
                Device.provider,
            )
            .join(Device, Device.id == PushTicket.device_id)
            .where(
                PushTicket.receipt_checked_at.is_(None),
                PushTicket.created_at <= now - RECEIPT_DELAY,
            )
            .limit(limit)
        ).all()
    if not pending:
        return 0
    by_provider: dict[int, tuple[PushProvider, list[Any]]] = {}
    for row in pending:
        provider = providers.for_device(row.provider)
        by_provider.setdefault(id(provider), (provider, []))[1].append(row)
    checked = 0
    with transaction(factory) as session:
        for provider, rows in by_provider.values():
            found = provider.receipts([r.ticket for r in rows])
            for row in rows:
                outcome = found.get(row.ticket)
                if outcome is None and now - row.created_at < RECEIPT_GIVE_UP:
                    continue
                status = (
                    "unknown"
                    if outcome is None
                    else ("ok" if outcome.accepted else (outcome.error or "error"))
                )
                session.execute(
                    update(PushTicket)
                    .where(PushTicket.id == row.id)
                    .values(receipt_checked_at=now, receipt_status=status[:32])
                )
                if outcome is not None and outcome.device_gone:
                    disable_device(session, row.device_id, outcome.error or "gone", now)
                checked += 1
    return checked
