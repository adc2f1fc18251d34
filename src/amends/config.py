"""Settings from AMENDS_* environment variables (and a .env file)."""

from __future__ import annotations

import json
from functools import lru_cache
from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AMENDS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(
        default="sqlite+aiosqlite:///./amends.db",
        description="SQLAlchemy URL; postgresql+asyncpg://... selects PostgreSQL.",
    )
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = Field(
        default="FULL",
        description="FULL so that an acknowledged redemption survives a power cut.",
    )
    sqlite_busy_timeout_ms: int = 30_000
    db_pool_size: int = Field(
        default=20,
        description="Connections kept open per process; size it to the requests in flight, "
        "since connections beyond it (the overflow) are closed when returned.",
    )
    db_max_overflow: int = 10
    db_pool_timeout_seconds: float = 30.0

    base_url: str = "http://127.0.0.1:8000"
    cookie_secure: bool = Field(
        default=True, description="Send the console session cookie only over HTTPS."
    )
    session_hours: int = 12
    api_key_cache_seconds: float = Field(
        default=5.0, description="How long a verified API key is trusted without a database read."
    )

    embedded_worker: bool = Field(
        default=True, description="amends serve also runs jobs in-process."
    )
    worker_concurrency: int = 8
    worker_poll_seconds: float = 0.25
    job_lease_seconds: float = 60.0
    job_max_attempts: int = 10
    job_backoff_base_seconds: float = 2.0
    job_backoff_max_seconds: float = 3600.0
    idempotency_key_hours: int = 24

    sweep_interval_seconds: int = Field(
        default=300, description="How often the worker evaluates the proactive-recovery rules.")

    redis_url: str | None = Field(
        default=None, description="Redis for rate limits shared by several processes."
    )
    login_attempts_per_minute: int = Field(
        default=10, ge=1,
        description="Failed console logins per account and client address before 429.")
    login_failures_per_address_per_minute: int = Field(
        default=30, ge=1,
        description="Failed console logins from one client address, whatever the account, "
        "before 429 (one address trying a password on many accounts).")
    code_failures_per_minute: int = Field(
        default=30, ge=1,
        description="Failed validate/redeem attempts (unknown code, wrong customer) per API key "
        "and per client address before 429.",
    )

    code_failures_per_organization_per_minute: int = Field(
        default=300, ge=1,
        description="Failed code attempts across a whole organisation (all its keys and "
        "addresses) before its code checks get 429; an alert metric and an audit event say so.",
    )
    code_failures_per_customer_per_hour: int = Field(
        default=20, ge=1,
        description="Failed code attempts that name one customer, per hour, before 429.",
    )
    wrong_customer_attempts_per_code: int = Field(
        default=5, ge=1,
        description="Wrong-customer attempts on one code, within code_lock_minutes, that lock "
        "it.")
    code_lock_minutes: int = Field(
        default=15, ge=1,
        description="How long a code stays locked after too many wrong customers.")
    coupon_page_misses_per_minute: int = Field(
        default=30, ge=1, description="Unknown coupon-page links (/c/...) per address before 429.")
    login_failures_per_account_per_hour: int = Field(
        default=50, ge=1,
        description="Failed console logins per account from any address before it is locked "
        "for the rest of the hour (rotating addresses cannot reset it).",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For is "
        "believed; none by default, so the client address is the connection's. Comma-separated "
        "or a JSON list.",
    )
    forwarded_header: Literal["X-Forwarded-For", "Forwarded"] = Field(
        default="X-Forwarded-For",
        description="The header the trusted proxies write the client's address in. Only that "
        "one is read: a client could send the other, and no proxy would correct it.",
    )
    outbound_allow_private: bool = Field(
        default=False,
        description="Let webhooks and channels connect to loopback, private, link-local and "
        "other non-public addresses (off: refused on save and at connect time).",
    )
    max_body_bytes: int = Field(
        default=1_000_000, description="Largest request body; above it 413.")
    max_upload_bytes: int = Field(
        default=512 * 1024 * 1024, description="Largest CSV upload (code pools, incidents).")
    template_max_output_chars: int = Field(
        default=200_000, description="Longest text a message template may render to.")
    template_max_seconds: float = Field(
        default=1.0, gt=0,
        description="Longest a message template may take to render; past it, it is refused.")
    apns_url: str | None = Field(
        default=None,
        description="Where Apple Wallet pass updates are pushed instead of Apple's APNs hosts "
        "(api.push.apple.com, or the sandbox's for an organisation that asks for it): a relay, "
        "or a local receiver in tests.")
    apns_ca_file: str | None = Field(
        default=None,
        description="PEM file of the certificates trusted for the APNs connection (default: "
        "the system's).")
    metrics_token: str | None = Field(
        default=None,
        description="When set, /metrics needs `Authorization: Bearer <token>`.",
    )

    demo_outbox: Path | None = Field(
        default=None,
        description="The demo's outbox folder: when set (`amends demo` sets it), a mail catcher "
        "listens on 127.0.0.1:demo_smtp_port, the SMS, helpdesk and webhook receivers answer "
        "under /demo/, and admins read every message sent on /outbox. Never in production.")
    demo_smtp_port: int = Field(default=8025, ge=1, le=65535,
                                description="The demo mail catcher's port.")

    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else [
                part.strip() for part in text.split(",") if part.strip()]
        if isinstance(value, list):
            for proxy in value:
                ip_network(str(proxy).strip(), strict=False)  # ValueError names the bad one
            return [str(proxy).strip() for proxy in value]
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
