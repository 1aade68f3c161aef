"""Mail through the outbox: MAILS mails enqueued, then sent by the dispatcher's mail round
to a local SMTP server (aiosmtpd on 127.0.0.1), with one worker process and with two.
Figures in mails per second. Baseline: smtplib alone sending the same messages over one
connection, no database: what the SMTP leg allows by itself."""

import multiprocessing
import random
import smtplib
import socket
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select

from app.accounts.models import User
from app.clock import FrozenClock
from app.config import Environment, Settings
from app.db import make_engine, make_session_factory, transaction
from app.outbox import dispatcher
from app.outbox import service as outbox
from app.outbox.channels.mail import MailMessage, SmtpTransport, transport_for
from app.outbox.models import Mail
from bench.common import SECRET, Figure, fresh_database
from tests.smtp_server import smtp_server

MAILS = 2_000
NOW = datetime(2026, 6, 10, 17, 0, tzinfo=UTC)
WORDS = outbox.MailWords(
    "Reset your Tend password",
    "Hi Alex,\n\nOpen this link within 30 minutes:\n\n{link}\n\n— Tend\n",
    '<p>Hi Alex,</p><p><a href="{link}">Choose a new password</a></p><p>— Tend</p>',
)


def _settings(url: str, smtp_url: str) -> Settings:
    return Settings(
        env=Environment.test,
        database_url=url,
        secret_key=SECRET,
        scheduler="off",
        mail_url=smtp_url,
        app_url="https://app.tend.example",
    )


def _enqueue(factory, user_id: uuid.UUID, label: str) -> None:
    with transaction(factory) as session:
        for n in range(MAILS):
            outbox.enqueue_mail(
                session,
                user_id=user_id,
                kind="reset_password",
                dedupe_key=f"bench:{label}:{n}",
                to="alex@example.com",
                words=WORDS,
                now=NOW,
                link=f"https://app.tend.example/reset-password?token={uuid.uuid4().hex}",
            )


def _send_all(url: str, smtp_url: str, seed: int) -> None:
    """One worker: mail rounds until nothing is left to claim (SKIP LOCKED splits them)."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    settings = _settings(url, smtp_url)
    transport = transport_for(settings.mail_url, settings.mail_from, 10, show_links=False)
    rng = random.Random(seed)
    clock = FrozenClock(NOW)
    while dispatcher.dispatch_mail_once(factory, transport, clock, settings, rng).claimed:
        pass
    engine.dispose()


def _time_workers(url: str, smtp_url: str, workers: int) -> float:
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_send_all, args=(url, smtp_url, n)) for n in range(workers)]
    started = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError("a mail worker failed")
    return time.perf_counter() - started


def _smtplib_alone(smtp_url: str, host: str, port: int, count: int) -> None:
    transport = SmtpTransport(smtp_url, "Tend <no-reply@tend.localhost>", 10)
    with smtplib.SMTP(host, port, timeout=10) as smtp:
        smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count):
            message = MailMessage(
                str(uuid.uuid4()), "alex@example.com", WORDS.subject, WORDS.text, WORDS.html, NOW
            )
            smtp.send_message(transport.mime(message))


def _baseline(smtp_url: str, host: str, port: int) -> float:
    """smtplib alone, in a process of its own as the workers are: the same number of
    messages over one connection, no database."""
    process = multiprocessing.get_context("spawn").Process(
        target=_smtplib_alone, args=(smtp_url, host, port, MAILS)
    )
    started = time.perf_counter()
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError("the smtplib baseline failed")
    return time.perf_counter() - started


def run(backend: str) -> list[Figure]:
    figures = []
    with fresh_database(backend) as url, smtp_server() as smtp:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        user_id = uuid.uuid4()
        with transaction(factory) as session:
            session.execute(
                insert(User),
                [
                    {
                        "id": user_id,
                        "email": "alex@example.com",
                        "password_hash": "x",
                        "display_name": "Alex",
                        "timezone": "Europe/Berlin",
                        "role": "partner",
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                ],
            )
        baseline = MAILS / _baseline(smtp.url, smtp.host, smtp.port)
        smtp.handler.received.clear()
        for workers in (1, 2):
            _enqueue(factory, user_id, f"w{workers}")
            seconds = _time_workers(url, smtp.url, workers)
            with transaction(factory, write=False) as session:
                delivered = session.scalar(
                    select(func.count()).select_from(Mail).where(Mail.status == "delivered")
                )
            ids = [r.message["Message-ID"] for r in smtp.received]
            if delivered != MAILS or len(ids) != MAILS or len(set(ids)) != MAILS:
                raise RuntimeError(
                    f"{workers} workers: {delivered} delivered, {len(ids)} received, "
                    f"{len(set(ids))} distinct"
                )
            with transaction(factory) as session:
                session.execute(delete(Mail))
            smtp.handler.received.clear()
            figures.append(
                Figure(
                    f"mail to local SMTP, {workers} worker{'s' if workers > 1 else ''} [{backend}]",
                    MAILS / seconds,
                    "mails/s",
                    baseline=baseline,
                    baseline_name=f"smtplib alone, {MAILS:,} mails on one connection, no database",
                )
            )
        engine.dispose()
    return figures
