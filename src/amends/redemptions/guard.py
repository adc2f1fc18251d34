"""Brute-force protection for codes: failures (unknown code, wrong customer) are counted per API
key and per client address; past the limit the caller gets 429 until the window moves on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Request

from amends.actor import Actor
from amends.audit import service as audit
from amends.coupons.errors import CouponNotFound, WrongCustomer
from amends.errors import TooManyAttempts
from amends.kit.ratelimit import RateLimiter
from amends.ops.metrics import CODE_GUESSING_BLOCKED

GUESSING_SIGNS = (CouponNotFound, WrongCustomer)


@asynccontextmanager
async def code_guard(request: Request, actor: Actor) -> AsyncIterator[None]:
    limiter: RateLimiter = request.app.state.limiter
    keys = {"credential": f"codes:{actor.kind}:{actor.id}",
            "address": f"codes:ip:{request.client.host if request.client else 'unknown'}"}
    for by, key in keys.items():
        if not await limiter.allowed("code_failures", key):
            CODE_GUESSING_BLOCKED.labels(by=by).inc()
            error = TooManyAttempts("Too many unknown codes; wait before trying again.",
                                    retry_after=await limiter.retry_after("code_failures", key))
            if await limiter.hit("audit_once", f"audit:{key}"):
                await audit.record(request.state.session, actor,
                                   action="codes.guessing_blocked",
                                   object_type="api_key" if actor.kind == "api_key" else "user",
                                   object_id=actor.id, after={"limited_by": by})
                error.keep_changes = True
            raise error
    try:
        yield
    except GUESSING_SIGNS:
        for key in keys.values():
            await limiter.hit("code_failures", key)
        raise

