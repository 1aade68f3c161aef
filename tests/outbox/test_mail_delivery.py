"""Mail through the outbox's dispatcher to a real SMTP server on 127.0.0.1 (aiosmtpd):
delivered once as text and HTML, retried with backoff, dead with a reason, never sent
twice by two workers, and never in the in-app inbox."""

import random
import threading
import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from sqlalchemy import select

from app.db import make_session_factory, transaction
from app.outbox import dispatcher
from app.outbox import service as outbox
from app.outbox.channels.mail import transport_for
from app.outbox.models import Mail
from tests.conftest import TEST_DATA_KEY, make_settings
from tests.factories import register
from tests.smtp_server import smtp_server

APP_URL = "https://app.tend.example"


@pytest.fixture
def smtp():
    with smtp_server() as server:
        yield server


@pytest.fixture
def settings(database, smtp):
    return make_settings(
        database.url,
        mail_url=smtp.url,
        mail_from="Tend <no-reply@tend.example>",
        app_url=APP_URL,
        mail_timeout_seconds=0.5,
        push_max_attempts=3,
    )


@pytest.fixture
def factory(db):
    return make_session_factory(db.engine)


def send(factory, settings, clock, seed=1):
    transport = transport_for(
        settings.mail_url, settings.mail_from, settings.mail_timeout_seconds, show_links=False
    )
    return dispatcher.dispatch_mail_once(factory, transport, clock, settings, random.Random(seed))


def mails(factory):
    with transaction(factory, write=False) as session:
        return session.scalars(select(Mail).order_by(Mail.created_at, Mail.kind)).all()


def test_a_verification_mail_arrives_once_as_text_and_html(client, clock, factory, settings, smtp):
    alex = register(client, email="Alex@Example.com", display_name="Alex")

    result = send(factory, settings, clock)

    assert (result.claimed, result.delivered) == (1, 1)
    [mail] = smtp.received
    assert mail.rcpt_tos == ["alex@example.com"]
    assert mail.message["From"] == "Tend <no-reply@tend.example>"
    assert mail.message["Subject"] == "Confirm your email address for Tend"
    assert mail.message.get_content_type() == "multipart/alternative"
    assert f"{APP_URL}/verify-email?token=" in mail.text
    assert f'href="{APP_URL}/verify-email?token=' in mail.html
    assert "Hi Alex," in mail.text
    [row] = mails(factory)
    assert (row.status, row.attempts, row.delivered_at) == ("delivered", 1, clock.now())
    assert row.link is None, "a sent mail keeps no link: its token lives on only as a hash"
    assert row.claim_id is None
    assert mail.message["Message-ID"] == f"<{row.id}@tend.example>"
    # Sending again finds nothing: the mail went out once.
    assert send(factory, settings, clock).claimed == 0
    assert len(smtp.received) == 1
    inbox = client.get("/v1/me/notifications", headers=alex.headers).json()["items"]
    assert inbox == [], "mail never shows in the in-app inbox"


def test_enqueueing_the_same_mail_twice_sends_it_once(client, clock, factory, settings, smtp):
    alex = register(client)
    for _ in range(2):
        with transaction(factory) as session:
            outbox.enqueue_mail(
                session,
                user_id=uuid.UUID(alex.id),
                kind="password_changed",
                dedupe_key="mail:test:once",
                to=alex.email,
                words=outbox.MailWords("Subject", "text", "<p>html</p>"),
                now=clock.now(),
            )
    send(factory, settings, clock)
    assert len(smtp.to(alex.email)) == 2  # the verification and this one, once


def test_a_refusing_server_ends_the_mail_dead_with_the_code_at_once(
    client, clock, factory, settings, smtp
):
    smtp.handler.refuse_with = "550 5.1.1 <nobody@example.com>: Recipient address rejected"
    register(client)

    result = send(factory, settings, clock)

    assert (result.delivered, result.retried, result.dead) == (0, 0, 1)
    [row] = mails(factory)
    assert row.status == "dead" and row.attempts == 1
    assert row.last_error == "SMTP 550 5.1.1", "the code, never the server's words (the address)"
    assert row.link is None


def test_a_temporary_refusal_is_retried_with_backoff_then_dead_with_a_reason(
    client, clock, factory, settings, smtp
):
    smtp.handler.refuse_with = "451 4.3.0 Try again later"
    register(client)

    for attempt in (1, 2):
        result = send(factory, settings, clock, seed=attempt)
        assert result.retried == 1
        [row] = mails(factory)
        assert row.status == "pending" and row.attempts == attempt
        ceiling = settings.push_retry_base_seconds * 2 ** (attempt - 1)
        wait = (row.next_attempt_at - clock.now()).total_seconds()
        assert ceiling / 2 <= wait <= ceiling, "exponential backoff with equal jitter"
        assert row.link is not None, "the link waits with the mail"
        assert send(factory, settings, clock).claimed == 0, "not before its time"
        clock.advance(seconds=wait)

    result = send(factory, settings, clock)
    assert result.dead == 1
    [row] = mails(factory)
    assert row.status == "dead" and row.attempts == 3
    assert row.last_error == "gave up after 3 attempts: SMTP 451 4.3.0"
    assert row.link is None
    assert smtp.received == []


def test_a_server_that_times_out_is_retried_then_given_up(client, clock, factory, settings, smtp):
    smtp.handler.stall_seconds = 2.0  # longer than the 0.5 s timeout
    register(client)

    for _ in range(3):
        send(factory, settings, clock)
        clock.advance(hours=2)

    [row] = mails(factory)
    assert row.status == "dead" and row.attempts == 3
    assert row.last_error == "gave up after 3 attempts: SMTP timeout"
    assert smtp.received == []


def test_a_server_that_is_not_there_is_retried(client, clock, factory, db, smtp):
    register(client)
    closed = make_settings(db.url, mail_url="smtp://127.0.0.1:9", mail_timeout_seconds=0.5)

    result = send(factory, closed, clock)

    assert result.retried == 1
    [row] = mails(factory)
    assert row.status == "pending"
    assert row.last_error.startswith("SMTP connection error")


def test_a_claim_left_by_a_dead_worker_is_sent_after_its_lease(
    client, clock, factory, settings, smtp
):
    register(client)
    with transaction(factory) as session:
        [claimed] = dispatcher.claim_mail(session, clock.now(), settings)  # then the worker died
    assert send(factory, settings, clock).claimed == 0, "another worker leaves a live claim"

    clock.advance(seconds=settings.push_lease_seconds + 1)

    assert send(factory, settings, clock).delivered == 1
    assert len(smtp.received) == 1
    assert str(claimed.id) in smtp.received[0].message["Message-ID"]


def test_two_workers_never_send_the_same_mail(client, clock, factory, db, smtp):
    settings = make_settings(db.url, mail_url=smtp.url, mail_batch_size=5)
    alex = register(client)
    with transaction(factory) as session:
        for n in range(40):
            outbox.enqueue_mail(
                session,
                user_id=uuid.UUID(alex.id),
                kind="password_changed",
                dedupe_key=f"mail:test:{n}",
                to=alex.email,
                words=outbox.MailWords(f"Mail {n}", "text", "<p>html</p>"),
                now=clock.now(),
            )
    sent = {0: 0, 1: 0}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker(n):
        try:
            start.wait()
            while (result := send(factory, settings, clock, seed=n)).claimed:
                sent[n] += result.delivered
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    ids = [r.message["Message-ID"] for r in smtp.received]
    assert len(ids) == 41 and len(set(ids)) == 41, "every mail once: 40 and the verification"
    assert sent[0] + sent[1] == 41
    assert all(row.status == "delivered" for row in mails(factory))


def test_mail_waits_are_not_dropped_like_late_nudges(client, clock, factory, settings, smtp):
    """A mail someone asked for still goes out after a long outage."""
    register(client)
    clock.advance(days=2)
    assert send(factory, settings, clock).delivered == 1


def test_the_worker_sends_mail_on_its_own_tick(client, clock, db, settings, smtp):
    from app import scheduler

    register(client)
    runtime = scheduler.Runtime(settings, clock, make_session_factory(db.engine))
    scheduler.run_mail(runtime)
    assert len(smtp.received) == 1
    ticks = {job_id: seconds for job_id, _, seconds in scheduler._jobs(runtime)}
    assert ticks["mail"] == settings.mail_tick_seconds


def test_the_retry_never_waits_less_than_the_backoff_floor(settings):
    rng = random.Random(7)
    for attempt in range(1, 6):
        delay = dispatcher.backoff(attempt, settings, None, rng)
        assert (
            delay
            >= min(
                settings.push_retry_max_seconds,
                settings.push_retry_base_seconds * 2 ** (attempt - 1),
            )
            / 2
        )
        assert delay <= settings.push_retry_max_seconds
    assert timedelta(seconds=dispatcher.backoff(1, settings, 900, rng)) >= timedelta(seconds=900)


def test_housekeeping_forgets_sent_mail_after_a_month_and_tokens_after_expiry(
    client, clock, factory, settings, smtp
):
    from app import housekeeping
    from app.accounts.models import EmailToken

    register(client)
    send(factory, settings, clock)
    clock.advance(days=14)  # the link's 7 days and a week more for a late click
    with transaction(factory) as session:
        purged = housekeeping.purge(
            session, clock.now(), keep_tombstones=timedelta(days=settings.sync_tombstone_days)
        )
    assert (purged.mails, purged.email_tokens) == (0, 0)
    clock.advance(days=1)
    with transaction(factory) as session:
        purged = housekeeping.purge(
            session, clock.now(), keep_tombstones=timedelta(days=settings.sync_tombstone_days)
        )
    assert (purged.mails, purged.email_tokens) == (0, 1)
    clock.advance(days=16)
    with transaction(factory) as session:
        assert (
            housekeeping.purge(
                session, clock.now(), keep_tombstones=timedelta(days=settings.sync_tombstone_days)
            ).mails
            == 1
        )
    with transaction(factory, write=False) as session:
        assert session.scalars(select(Mail)).all() == []
        assert session.scalars(select(EmailToken)).all() == []


def test_mail_settings_refuse_what_cannot_work_and_production_warns():
    from pydantic import ValidationError

    from app.config import Environment, Settings

    base = {"secret_key": "k" * 40, "database_url": "sqlite://", "data_key": TEST_DATA_KEY}
    for bad in (
        {"mail_url": "http://mail.example.com"},
        {"mail_url": "smtp://"},
        {"app_url": "app.tend.example"},
        {"app_url": "https://app.tend.example/?next=evil"},
        {"mail_from": "not an address"},
    ):
        with pytest.raises(ValidationError):
            Settings(**base, **bad)
    production = Settings(**base, env=Environment.production)
    assert len(production.mail_warnings) == 2
    ready = Settings(
        **base,
        env=Environment.production,
        mail_url="smtps://tend:hunter2-pw@mail.example.com",
        app_url="https://app.tend.example/",
    )
    assert ready.mail_warnings == []
    assert ready.app_base_url == "https://app.tend.example"
    assert "hunter2-pw" not in repr(ready)


@pytest.mark.parametrize(
    ("header", "subject", "greeting", "deadline"),
    [
        ("de-DE,de;q=0.9", "Bestätige deine E-Mail-Adresse für Tend", "Hallo Alex,", "7 Tagen"),
        ("es-ES", "Confirma tu dirección de correo para Tend", "Hola, Alex:", "7 días"),
    ],
)
def test_a_mail_arrives_in_the_recipients_language(
    client, clock, factory, settings, smtp, header, subject, greeting, deadline
):
    register(client, email="alex@example.com", display_name="Alex", accept_language=header)

    assert send(factory, settings, clock).delivered == 1

    [mail] = smtp.received
    assert mail.message["Subject"] == subject
    assert greeting in mail.text and deadline in mail.text
    assert f'<html lang="{header[:2]}">' in mail.html
    assert f"{APP_URL}/verify-email?token=" in mail.text


def test_a_new_language_reaches_the_next_mail(client, clock, factory, settings, smtp):
    alex = register(client, email="alex@example.com", display_name="Alex")
    assert send(factory, settings, clock).delivered == 1  # the verification, in English
    client.patch("/v1/me", json={"locale": "fr"}, headers=alex.headers).raise_for_status()
    client.post(
        "/v1/me/password",
        json={"current_password": alex.password, "new_password": "a fresh long passphrase"},
        headers=alex.headers,
    ).raise_for_status()

    assert send(factory, settings, clock).delivered == 1

    english, french = smtp.received
    assert english.message["Subject"] == "Confirm your email address for Tend"
    assert french.message["Subject"] == "Ton mot de passe Tend a été modifié"
    # The day of the change, written the French way, in Alex's time zone.
    day = clock.now().astimezone(ZoneInfo("Europe/Berlin")).date()
    assert f"modifié le {format_date(day, 'long', locale='fr')}" in french.text
