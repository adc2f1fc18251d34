"""Rate limits with the `limits` library: memory by default, Redis when AMENDS_REDIS_URL is set
(so that several processes share one count)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable

from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from amends.config import Settings


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        storage: Storage = (
            storage_from_string(f"async+{settings.redis_url}")  # type: ignore[assignment]
            if settings.redis_url
            else MemoryStorage()
        )
        self._limiter = MovingWindowRateLimiter(storage)
        lock = settings.code_lock_minutes
        self._items: dict[str, RateLimitItem] = {
            "login": parse(f"{settings.login_attempts_per_minute}/minute"),
            "login_address": parse(f"{settings.login_failures_per_address_per_minute}/minute"),
            "login_account": parse(f"{settings.login_failures_per_account_per_hour}/hour"),
            "code_failures": parse(f"{settings.code_failures_per_minute}/minute"),
            "code_failures_organization": parse(
                f"{settings.code_failures_per_organization_per_minute}/minute"),
            "code_failures_customer": parse(f"{settings.code_failures_per_customer_per_hour}/hour"),
            "wrong_customer": parse(
                f"{settings.wrong_customer_attempts_per_code} per {lock} minutes"),
            # A lock is one entry that stays in its window for the lock's whole length.
            "code_lock": parse(f"1 per {lock} minutes"),
            "coupon_page_misses": parse(f"{settings.coupon_page_misses_per_minute}/minute"),
            "audit_once": parse("1/minute"),
        }

    async def allowed(self, name: str, key: str) -> bool:
        return await self._limiter.test(self._items[name], key)

    async def hit(self, name: str, key: str) -> bool:
        return await self._limiter.hit(self._items[name], key)

    async def first_spent(self, budgets: Iterable[tuple[str, str]]) -> tuple[str, str] | None:
        """The first (limit, key) whose window is full, or None when every one has room."""
        for name, key in budgets:
            if not await self._limiter.test(self._items[name], key):
                return name, key
        return None

    async def hit_all(self, budgets: Iterable[tuple[str, str]]) -> None:
        for name, key in budgets:
            await self._limiter.hit(self._items[name], key)

    async def retry_after(self, name: str, key: str) -> int:
        stats = await self._limiter.get_window_stats(self._items[name], key)
        return max(1, int(stats.reset_time - time.time()))


def hidden(text: str) -> str:
    """A key part for a secret or personal value (a code, an e-mail address), which then
    does not sit in the limiter's store (Redis) as itself."""
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


async def get_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter
