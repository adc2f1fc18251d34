"""Brute-force protection for codes.

A failure (an unknown code, or a real code with the wrong customer) draws on several budgets at
once, so that no way of spreading guesses escapes all of them:

- the credential (API key or console user): `code_failures_per_minute`;
- the client address, within the organisation: `code_failures_per_minute` (one organisation's
  guessing does not block another organisation's till behind the same address);
- the organisation, across all its keys and addresses: `code_failures_per_organization_per_minute`
  (an alert metric and an audit event when it runs out);
- the customer the attempt names: `code_failures_per_customer_per_hour`;
- the code: `wrong_customer_attempts_per_code` wrong customers within `code_lock_minutes` lock it
  for `code_lock_minutes`. A locked code answers 429 `coupon_locked` even with its own customer,
  so the customer of a known code cannot be guessed; the customer asks again once the lock has
  passed, or customer service issues a new code.

A spent budget answers 429 `too_many_attempts` with Retry-After, before the code is looked up.
The tills' lane asks `refusal` as well before it answers, so both paths apply the same limits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import NamedTuple

from fastapi import Request

from amends.actor import Actor
from amends.audit import service as audit
from amends.coupons.errors import CouponNotFound, WrongCustomer
from amends.errors import TooManyAttempts
from amends.kit import codes
from amends.kit.client import client_address, limit_bucket
from amends.kit.ratelimit import RateLimiter, hidden
from amends.ops.metrics import CODE_GUESSING_BLOCKED, CODE_GUESSING_ORGANIZATION_BLOCKED

GUESSING_SIGNS = (CouponNotFound, WrongCustomer)


class CouponLocked(TooManyAttempts):
    code, title = "coupon_locked", "The coupon is locked for a while"


_REFUSALS = {
    "credential": "Too many failed code checks with this API key or login; wait before "
                  "trying again.",
    "address": "Too many failed code checks from this address; wait before trying again.",
    "organization": "Too many failed code checks across your organisation; wait before "
                    "trying again.",
    "customer": "Too many failed code checks for this customer; wait before trying again.",
}


class Budget(NamedTuple):
    by: str  # what it counts: credential, address, organization, customer or code
    limit: str  # the RateLimiter item
    key: str


@dataclass(frozen=True, slots=True)
class Attempt:
    """One code check: who makes it from where, and the budgets it draws on."""

    address: str
    names_customer: bool
    failure_budgets: tuple[Budget, ...]
    lock: Budget  # the code's; its key also counts the code's wrong customers

    @classmethod
    def of(cls, actor: Actor, address: str, *, code: str, customer: str | None) -> Attempt:
        org = str(actor.organization_id)
        budgets = [Budget("credential", "code_failures", f"codes:{actor.kind}:{actor.id}"),
                   Budget("address", "code_failures", f"codes:ip:{org}:{limit_bucket(address)}"),
                   Budget("organization", "code_failures_organization", f"codes:org:{org}")]
        if customer:
            budgets.append(Budget("customer", "code_failures_customer",
                                  f"codes:customer:{org}:{hidden(customer)}"))
        # The canonical form: every way of typing one stored code shares its lock.
        lock = Budget("code", "code_lock", f"codes:code:{org}:{hidden(codes.normalise(code))}")
        return cls(address=address, names_customer=bool(customer),
                   failure_budgets=tuple(budgets), lock=lock)


async def refusal(limiter: RateLimiter, attempt: Attempt) -> Budget | None:
    """The budget that refuses this attempt now, or None when it may be evaluated.

    The budgets come before the code's lock: a caller who has spent them learns nothing more
    about which codes are real."""
    for budget in (*attempt.failure_budgets, attempt.lock):
        if not await limiter.allowed(budget.limit, budget.key):
            return budget
    return None


async def count_failure(limiter: RateLimiter, attempt: Attempt, *, wrong_customer: bool
                        ) -> None:
    for budget in attempt.failure_budgets:
        await limiter.hit(budget.limit, budget.key)
    # A till that forgot the customer is not guessing one: only a named wrong customer counts.
    if wrong_customer and attempt.names_customer:
        code = attempt.lock.key
        await limiter.hit("wrong_customer", code)
        if not await limiter.allowed("wrong_customer", code):
            await limiter.hit("code_lock", code)


@asynccontextmanager
async def code_guard(request: Request, actor: Actor, *, code: str, customer: str | None
                     ) -> AsyncIterator[None]:
    """Refuse the check when a budget is spent or the code is locked; count it when it fails
    as a guess would."""
    limiter: RateLimiter = request.app.state.limiter
    attempt = Attempt.of(actor, client_address(request.scope), code=code, customer=customer)
    refused = await refusal(limiter, attempt)
    if refused is not None:
        raise await _refuse(request, limiter, actor, attempt, refused)
    try:
        yield
    except GUESSING_SIGNS as error:
        await count_failure(limiter, attempt, wrong_customer=isinstance(error, WrongCustomer))
        raise


async def _refuse(request: Request, limiter: RateLimiter, actor: Actor, attempt: Attempt,
                  budget: Budget) -> TooManyAttempts:
    CODE_GUESSING_BLOCKED.labels(by=budget.by).inc()
    retry_after = await limiter.retry_after(budget.limit, budget.key)
    error = CouponLocked(
        "This code is locked after too many attempts with the wrong customer; it can be "
        f"used again in {-(-retry_after // 60)} minute(s).", retry_after=retry_after,
    ) if budget.by == "code" else TooManyAttempts(_REFUSALS[budget.by], retry_after=retry_after)
    # Recorded once a minute per budget, in the request's transaction, which then commits.
    if await limiter.hit("audit_once", f"audit:{budget.key}"):
        object_type, object_id = ("api_key" if actor.kind == "api_key" else "user"), actor.id
        if budget.by == "organization":
            CODE_GUESSING_ORGANIZATION_BLOCKED.inc()
            object_type, object_id = "organization", actor.organization_id
        await audit.record(request.state.session, actor, action="codes.guessing_blocked",
                           object_type=object_type, object_id=object_id,
                           after={"limited_by": budget.by, "address": attempt.address})
        error.keep_changes = True
    return error
