"""What a coupon's change does for its wallet pass: one job row in the change's transaction
(the transactional outbox), only when the organisation has Apple Wallet passes set up.

The check is cached for a few seconds per process, so a redemption in an organisation without
wallet passes costs a dictionary lookup; a configuration saved in another process is seen
within that time (a pass downloaded in that window is found by the next change)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.jobs import service as jobs
from amends.kit.cache import TtlCache
from amends.models import WalletConfig

PASS_CHANGED = "wallet.pass_changed"
_configured: TtlCache[bool] = TtlCache(5.0)


def forget() -> None:
    _configured.forget()


async def apple_configured(session: AsyncSession, organization_id: uuid.UUID) -> bool:
    async def load() -> bool:
        settings = await session.scalar(select(WalletConfig.settings).where(
            WalletConfig.organization_id == organization_id, WalletConfig.platform == "apple"))
        return bool(settings)

    return await _configured.get(organization_id, load)


async def coupon_changed(session: AsyncSession, *, organization_id: uuid.UUID,
                         coupon_id: uuid.UUID) -> None:
    """Queue the pass update of a coupon that was redeemed, revoked, extended, reinstated or
    given back; nothing when the organisation has no Apple Wallet passes.

    One job a change, without a dedupe key: a queued job that a change found and skipped
    could be claimed and run before that change commits, and the change would never reach
    the pass. A coupon changes a handful of times in its life."""
    if not await apple_configured(session, organization_id):
        return
    await jobs.enqueue(session, PASS_CHANGED, organization_id=organization_id,
                       payload={"coupon_id": str(coupon_id)})


def apple_configured_known(organization_id: uuid.UUID) -> bool | None:
    """`apple_configured` from the cache only; None when this process has not looked
    recently (the tills' lane then leaves the redemption to the service, which looks)."""
    return _configured.peek(organization_id)
