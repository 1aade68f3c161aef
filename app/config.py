"""Settings, read from environment variables prefixed ``TEND_``.

Unsafe production settings stop the process at start instead of running insecurely.
"""

import base64
import logging
import os
import secrets
import tempfile
from email.utils import parseaddr
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app import crypto

log = logging.getLogger(__name__)

MIN_SECRET_KEY_LENGTH = 32
# Threads and connections kept free of the admitted requests (see Settings).
ADMISSION_RESERVE = 2


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TEND_", extra="ignore")

    env: Environment = Environment.development
    database_url: str = "sqlite:///./tend.db"
    # The database URL is PgBouncer in transaction mode (see app.db.make_engine).
    pgbouncer: bool = False
    secret_key: str = Field(default="", repr=False)
    # Care data (SPEC §12) is sealed with a key per person, wrapped by this key-encryption
    # key: 32 random bytes in base64. Required in production. A rotation sets the new key
    # here and the old one in TEND_DATA_KEY_PREVIOUS (comma-separated), then runs
    # `tend rotate-data-key`, then drops the old one.
    data_key: str = Field(default="", repr=False)
    data_key_previous: str = Field(default="", repr=False)
    # Where the wrapped person keys live: empty is the main database. A separate database
    # (with its own, short-lived backups) makes an erased person's care data unreadable in
    # every backup of the main database too.
    key_database_url: str = Field(default="", repr=False)

    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    invite_hours: int = Field(default=72, ge=1, le=24 * 14)

    # Failed logins per account: free attempts, then an exponentially growing wait.
    login_free_failures: int = Field(default=5, ge=1)
    login_max_lockout_seconds: int = Field(default=15 * 60, ge=1)
    # Wrong invite codes per user in a rolling window before 429.
    join_max_failures: int = Field(default=10, ge=1)
    join_window_seconds: int = Field(default=60 * 60, ge=1)

    scheduler: Literal["on", "off"] = "on"
    scheduler_tick_seconds: int = Field(default=60, ge=1)

    # A nudge missed by downtime is still sent within this window, else dropped.
    nudge_grace_minutes: int = Field(default=120, ge=1)
    push_max_attempts: int = Field(default=8, ge=1)
    push_retry_base_seconds: float = Field(default=30, gt=0)
    push_retry_max_seconds: float = Field(default=3600, gt=0)
    push_timeout_seconds: float = Field(default=10, gt=0)
    # A claimed nudge is another worker's to retry only after this lease.
    push_lease_seconds: int = Field(default=300, ge=10)
    dispatch_batch_size: int = Field(default=500, ge=1)
    plan_batch_size: int = Field(default=2000, ge=1)

    # Mail (SPEC §11): `log:` (development: logs the subject and, outside production, the
    # link), `smtp://user:pass@host:port` (`?starttls=true`) or `smtps://` (implicit TLS).
    mail_url: str = Field(default="log:", repr=False)
    mail_from: str = "Tend <no-reply@tend.localhost>"
    mail_timeout_seconds: float = Field(default=10, gt=0)
    mail_batch_size: int = Field(default=100, ge=1)
    # Where the phone app opens links from mails: {app_url}/reset-password?token=…
    app_url: str = "http://127.0.0.1:8000"
    # How often the worker sends waiting mail (pushes go with the nudge tick).
    mail_tick_seconds: int = Field(default=5, ge=1)

    push_provider: Literal["log", "expo", "webhook"] = "log"
    expo_base_url: str = "https://exp.host"
    expo_access_token: str = Field(default="", repr=False)
    # Development and tests only: webhook devices may point at loopback, private and
    # link-local addresses (a fake push server on 127.0.0.1); never in production.
    webhook_allow_private: bool = False
    # `tend worker` touches this file every few seconds; `tend worker --check` reads it.
    worker_heartbeat_file: str = ""

    # Tend's bodies are small JSON documents; anything bigger is refused with 413.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # Offline sync (WatermelonDB): a push carries at most this many records in a body of at
    # most this size; deletions are remembered this long, older pulls get the full set.
    sync_max_records: int = Field(default=5000, ge=1)
    sync_max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024)
    sync_tombstone_days: int = Field(default=90, ge=90)
    # Browser origins allowed to call the API (comma-separated); none by default, since
    # the phone app is not a browser and the coach dashboard is served from this origin.
    cors_origins: str = ""

    # How many requests one server process works on inside its database section at once,
    # below both pools (README, "Bursts"): each uses one thread and one connection at a
    # time, so the one holding a lock can always take its next step.
    thread_pool_size: int = Field(default=40, ge=4, le=1000)
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=20, ge=0)
    admission_in_flight: int = Field(default=8, ge=1)
    # Requests waiting for a place (on the event loop, holding nothing); the next is 503.
    admission_queue: int = Field(default=2048, ge=0)
    # One account's requests inside at once, and waiting; the next one waiting is 429.
    admission_account_in_flight: int = Field(default=4, ge=1)
    admission_account_queue: int = Field(default=512, ge=0)
    # A request that waited this long for a place is answered 503 with Retry-After.
    admission_wait_seconds: float = Field(default=30, gt=0)
    # /readyz's own wait for the database.
    readyz_timeout_seconds: float = Field(default=5, gt=0)

    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"
    # /docs, /redoc and /openapi.json: on by default, off in production unless set to true.
    docs_enabled: bool | None = None

    # Set by the validator when development runs without a configured key.
    generated_secret_key: bool = False
    generated_data_key: bool = False

    @model_validator(mode="after")
    def _data_key_is_set(self) -> "Settings":
        if not self.data_key:
            if self.env == Environment.production:
                raise ValueError(
                    "TEND_DATA_KEY is required when TEND_ENV=production (generate one with: "
                    'python -c "import base64, os; '
                    'print(base64.urlsafe_b64encode(os.urandom(32)).decode())")'
                )
            # Development only: care data written now is unreadable after a restart.
            self.data_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
            self.generated_data_key = True
        crypto.parse_key(self.data_key)  # raises with how to make a good one
        for previous in self.previous_data_keys:
            crypto.parse_key(previous)
        return self

    @property
    def previous_data_keys(self) -> list[str]:
        return [k.strip() for k in self.data_key_previous.split(",") if k.strip()]

    @model_validator(mode="after")
    def _secret_key_is_safe(self) -> "Settings":
        if self.secret_key and len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                f"TEND_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters long"
            )
        if not self.secret_key:
            if self.env == Environment.production:
                raise ValueError(
                    "TEND_SECRET_KEY is required when TEND_ENV=production (generate one with: "
                    'python -c "import secrets; print(secrets.token_urlsafe(48))")'
                )
            # Development only: tokens stop working when the process restarts.
            self.secret_key = secrets.token_urlsafe(48)
            self.generated_secret_key = True
        return self

    @model_validator(mode="after")
    def _no_private_webhooks_in_production(self) -> "Settings":
        if self.webhook_allow_private and self.env == Environment.production:
            raise ValueError("TEND_WEBHOOK_ALLOW_PRIVATE is for development, not production")
        return self

    @model_validator(mode="after")
    def _cors_origins_are_exact(self) -> "Settings":
        for origin in self.cors_origin_list:
            scheme, _, host = origin.partition("://")
            if scheme not in ("http", "https") or not host or "/" in host or "*" in host:
                raise ValueError(
                    f"TEND_CORS_ORIGINS must list exact origins like https://app.example.com, "
                    f"not {origin!r}"
                )
        return self

    @model_validator(mode="after")
    def _admission_fits_the_pools(self) -> "Settings":
        # Two of each are kept for what runs beside the requests: /readyz and the
        # in-process scheduler.
        for name, pool in (
            ("TEND_THREAD_POOL_SIZE", self.thread_pool_size),
            ("TEND_DB_POOL_SIZE + TEND_DB_MAX_OVERFLOW", self.db_pool_size + self.db_max_overflow),
        ):
            if self.admission_in_flight > pool - ADMISSION_RESERVE:
                raise ValueError(
                    f"TEND_ADMISSION_IN_FLIGHT ({self.admission_in_flight}) must be at most "
                    f"{name} ({pool}) - {ADMISSION_RESERVE}: a request holding a lock must "
                    "always find a free thread and connection"
                )
        return self

    @model_validator(mode="after")
    def _mail_is_configured(self) -> "Settings":
        scheme = self.mail_url.partition(":")[0]
        if scheme not in ("log", "smtp", "smtps"):
            raise ValueError("TEND_MAIL_URL must be log:, smtp://host:port or smtps://host:port")
        if scheme != "log" and not urlsplit(self.mail_url).hostname:
            raise ValueError("TEND_MAIL_URL must name the SMTP server's host")
        app = urlsplit(self.app_url)
        if app.scheme not in ("http", "https") or not app.netloc or app.query or app.fragment:
            raise ValueError("TEND_APP_URL must be an http(s) URL without query or fragment")
        if "@" not in parseaddr(self.mail_from)[1]:
            raise ValueError("TEND_MAIL_FROM must be an address, e.g. Tend <no-reply@example.com>")
        return self

    @property
    def mail_warnings(self) -> list[str]:
        """What start-up warns about in production: mail that cannot get anyone back in."""
        if self.env != Environment.production:
            return []
        warnings = []
        if self.mail_url.startswith("log:"):
            warnings.append("TEND_MAIL_URL is log: mail is only logged, never sent")
        if not self.app_url.startswith("https://"):
            warnings.append("TEND_APP_URL is not https: mailed links will not open the app")
        return warnings

    @property
    def app_base_url(self) -> str:
        return self.app_url.rstrip("/")

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def serves_docs(self) -> bool:
        if self.docs_enabled is None:
            return self.env != Environment.production
        return self.docs_enabled

    @property
    def heartbeat_path(self) -> Path:
        if self.worker_heartbeat_file:
            return Path(self.worker_heartbeat_file)
        return Path(tempfile.gettempdir()) / "tend-worker.heartbeat"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
