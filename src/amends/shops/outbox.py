"""What issuing or changing a coupon does for the organisation's shops: job rows in the
change's transaction (the transactional outbox), only when the organisation has an active
shop connection.

The connections are cached for a few seconds per process, so issuing in an organisation
without shops costs a dictionary lookup; a connection saved in another process is seen within
that time (a coupon issued in that window is pushed by the next reconciliation).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.jobs import service as jobs
from amends.kit.cache import TtlCache
from amends.models import Job, ShopConnection

PUSH = "shops.push"
SYNC = "shops.sync"
_connections: TtlCache[tuple[uuid.UUID, ...]] = TtlCache(5.0)


def forget() -> None:
    _connections.forget()


async def active_connections(session: AsyncSession, organization_id: uuid.UUID
                             ) -> tuple[uuid.UUID, ...]:
    async def load() -> tuple[uuid.UUID, ...]:
        return tuple((await session.scalars(select(ShopConnection.id).where(
            ShopConnection.organization_id == organization_id,
            ShopConnection.active.is_(True)).order_by(ShopConnection.id))).all())

    return await _connections.get(organization_id, load)


def connections_known(organization_id: uuid.UUID) -> tuple[uuid.UUID, ...] | None:
    """`active_connections` from the cache only; None when this process has not looked
    recently (the tills' lane then leaves the redemption to the service, which looks)."""
    return _connections.peek(organization_id)


async def coupons_issued(session: AsyncSession, *, organization_id: uuid.UUID,
                         coupon_ids: Iterable[uuid.UUID]) -> None:
    """Queue the push of new coupons into every active shop: one `shops.push` job per coupon
    and shop, written in one INSERT (an incident issues thousands at once)."""
    connections = await active_connections(session, organization_id)
    if not connections:
        return
    rows = [jobs.job_values(PUSH, organization_id=organization_id,
                            payload={"connection_id": str(c), "coupon_id": str(coupon)})
            for coupon in coupon_ids for c in connections]
    if rows:
        await session.execute(insert(Job), rows)
        session.info["jobs_enqueued"] = True


async def coupon_changed(session: AsyncSession, *, organization_id: uuid.UUID,
                         coupon_id: uuid.UUID) -> None:
    """Queue the sync of a coupon revoked, extended, reinstated, redeemed (at a till too: its
    code in the shops is deactivated) or given back by a void into every active shop.

    One job a change, without a dedupe key (see `wallet.outbox.coupon_changed`: a skipped
    change could be claimed by a job that read the coupon before the change committed)."""
    for connection in await active_connections(session, organization_id):
        await jobs.enqueue(session, SYNC, organization_id=organization_id,
                           payload={"connection_id": str(connection),
                                    "coupon_id": str(coupon_id)})
