"""Settings, read from environment variables prefixed ``TEND_``.

Unsafe production settings stop the process at start instead of running insecurely.
"""

import logging
import secrets
from enum import StrEnum
from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

MIN_SECRET_KEY_LENGTH = 32


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TEND_", extra="ignore")

    env: Environment = Environment.development
    database_url: str = "sqlite:///./tend.db"
    secret_key: str = Field(default="", repr=False)

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

    push_provider: Literal["log", "expo", "webhook"] = "log"
    expo_base_url: str = "https://exp.host"
    expo_access_token: str = Field(default="", repr=False)

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

    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"
    # /docs, /redoc and /openapi.json: on by default, off in production unless set to true.
    docs_enabled: bool | None = None

    # Set by the validator when development runs without a configured key.
    generated_secret_key: bool = False

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
    def _cors_origins_are_exact(self) -> "Settings":
        for origin in self.cors_origin_list:
            scheme, _, host = origin.partition("://")
            if scheme not in ("http", "https") or not host or "/" in host or "*" in host:
                raise ValueError(
                    f"TEND_CORS_ORIGINS must list exact origins like https://app.example.com, "
                    f"not {origin!r}"
                )
        return self

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def serves_docs(self) -> bool:
        if self.docs_enabled is None:
            return self.env != Environment.production
        return self.docs_enabled

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
