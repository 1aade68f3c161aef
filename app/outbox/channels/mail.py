"""Mail transports, chosen by ``TEND_MAIL_URL``: SMTP through the standard library's
``smtplib`` (plain, ``?starttls=true`` or implicit TLS with ``smtps://``), or the log.

smtplib rather than aiosmtplib: the dispatcher is synchronous (worker threads under
APScheduler, one code path with the sync sessions), smtplib does STARTTLS, implicit TLS,
AUTH and timeouts, ships with Python and is maintained with it; an async client would
need an event loop in the worker for no gain, since one connection per round carries
the whole batch.

Each transport says per message whether it was accepted, is worth another try (a 4xx
reply, a timeout, a lost connection) or never will go through (a 5xx reply). Reasons
name the SMTP code, never the address or the server's words (they often quote it).
"""

import logging
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from app.outbox.channels import PushOutcome as Outcome

log = logging.getLogger("tend.mail")
_ENHANCED = re.compile(rb"^\d\.\d{1,3}\.\d{1,3}")


@dataclass(frozen=True)
class MailMessage:
    mail_id: str
    to: str
    subject: str
    text: str
    html: str
    created_at: datetime
    link: str | None = None  # what the log transport may show outside production


class MailTransport(Protocol):
    name: str

    def send(self, messages: list[MailMessage]) -> list[Outcome]:
        """One outcome per message, in order."""
        ...


def _failed(count: int, error: str, *, retryable: bool) -> list[Outcome]:
    return [Outcome(accepted=False, retryable=retryable, error=error) for _ in range(count)]


def _reason(code: int, message: bytes | str) -> str:
    raw = message if isinstance(message, bytes) else message.encode()
    enhanced = _ENHANCED.match(raw.strip())
    return f"SMTP {code}" + (f" {enhanced.group().decode()}" if enhanced else "")


def _transport_error(exc: BaseException) -> str:
    # smtplib turns a timeout while reading a reply into SMTPServerDisconnected.
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return "SMTP timeout"
    return f"SMTP connection error: {exc.__class__.__name__}"


class SmtpTransport:
    name = "smtp"

    def __init__(self, url: str, sender: str, timeout: float) -> None:
        parts = urlsplit(url)
        query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
        self._implicit_tls = parts.scheme == "smtps"
        self._starttls = query.get("starttls") in ("true", "1", "yes")
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (465 if self._implicit_tls else 587 if self._starttls else 25)
        self._username = unquote(parts.username or "")
        self._password = unquote(parts.password or "")
        self._sender = sender
        self._timeout = timeout
        self._tls = ssl.create_default_context()
        domain = parseaddr(sender)[1].rpartition("@")[2]
        self._domain = domain or "tend.localhost"

    def _connect(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP
        if self._implicit_tls:
            smtp = smtplib.SMTP_SSL(
                self._host, self._port, timeout=self._timeout, context=self._tls
            )
        else:
            smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        try:
            # Each message ends in a small last segment; without NODELAY, Nagle holds it
            # until the server's delayed ACK (~40 ms a mail, measured: bench/mail.py).
            if smtp.sock is not None:
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._starttls:
                smtp.starttls(context=self._tls)
            if self._username:
                smtp.login(self._username, self._password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def mime(self, message: MailMessage) -> EmailMessage:
        mime = EmailMessage()
        mime["From"] = self._sender
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime["Date"] = format_datetime(message.created_at)
        # The same id on every try, so a receiving server can drop a duplicate delivery.
        mime["Message-ID"] = f"<{message.mail_id}@{self._domain}>"
        mime["Auto-Submitted"] = "auto-generated"
        mime.set_content(message.text)
        mime.add_alternative(message.html, subtype="html")
        return mime

    def send(self, messages: list[MailMessage]) -> list[Outcome]:
        try:
            smtp = self._connect()
        except smtplib.SMTPResponseException as exc:
            return _failed(len(messages), _reason(exc.smtp_code, exc.smtp_error), retryable=True)
        except (OSError, smtplib.SMTPException) as exc:
            return _failed(len(messages), _transport_error(exc), retryable=True)
        outcomes: list[Outcome] = []
        try:
            for message in messages:
                try:
                    smtp.send_message(self.mime(message), self._sender, [message.to])
                    outcomes.append(Outcome(accepted=True))
                except smtplib.SMTPRecipientsRefused as exc:
                    code, words = next(iter(exc.recipients.values()), (550, b""))
                    reason = _reason(code, words)
                    outcomes.append(Outcome(accepted=False, retryable=code < 500, error=reason))
                except smtplib.SMTPResponseException as exc:
                    code = exc.smtp_code
                    reason = _reason(code, exc.smtp_error)
                    outcomes.append(Outcome(accepted=False, retryable=code < 500, error=reason))
                except (OSError, smtplib.SMTPException) as exc:
                    # The connection is gone: this message and the rest wait for another try.
                    left = len(messages) - len(outcomes)
                    outcomes += _failed(left, _transport_error(exc), retryable=True)
                    break
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        return outcomes


class LogTransport:
    """Development: logs that a mail would go out, its subject and (outside production)
    its link, so a reset or verification works without a mail server. Never the address."""

    name = "log"

    def __init__(self, show_links: bool) -> None:
        self._show_links = show_links

    def send(self, messages: list[MailMessage]) -> list[Outcome]:
        for message in messages:
            extra = {"mail_id": message.mail_id, "subject": message.subject}
            if self._show_links and message.link:
                extra["link"] = message.link
            log.info("mail (log transport)", extra=extra)
        return [Outcome(accepted=True) for _ in messages]


def transport_for(url: str, sender: str, timeout: float, *, show_links: bool) -> MailTransport:
    if url.partition(":")[0] in ("smtp", "smtps"):
        return SmtpTransport(url, sender, timeout)
    return LogTransport(show_links)
