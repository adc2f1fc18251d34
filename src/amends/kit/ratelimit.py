"""Rate limits with the `limits` library: memory by default, Redis when AMENDS_REDIS_URL is set
(so that several processes share one count)."""

from __future__ import annotations

import time

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
        self._items: dict[str, RateLimitItem] = {
            "login": parse(f"{settings.login_attempts_per_minute}/minute"),
            "code_failures": parse(f"{settings.code_failures_per_minute}/minute"),
            "audit_once": parse("1/minute"),
        }

    async def allowed(self, name: str, key: str) -> bool:
        return await self._limiter.test(self._items[name], key)

    async def hit(self, name: str, key: str) -> bool:
        return await self._limiter.hit(self._items[name], key)

    async def retry_after(self, name: str, key: str) -> int:
        stats = await self._limiter.get_window_stats(self._items[name], key)
        return max(1, int(stats.reset_time - time.time()))


async def get_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter
