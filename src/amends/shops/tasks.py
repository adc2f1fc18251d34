"""The shops' jobs: `shops.push` and `shops.sync` (queued with the coupon's change, see
`outbox`), retried with the job system's backoff while the shop is busy or unreachable, and
`shops.reconcile`, which compares every connection's codes with its shop."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.audit import service as audit
from amends.integrations.shop_codes import ShopError
from amends.jobs.periodic import each_organization
from amends.jobs.registry import job
from amends.models import ShopConnection
from amends.shops import sync
from amends.shops.outbox import PUSH, SYNC

RECONCILE = "shops.reconcile"
# A push that keeps failing is given up after about an hour of backoff (and shows as failed).
ATTEMPTS = 8


async def _failed(session: AsyncSession, *, error: str, attempts: int, dead: bool,
                  organization_id: str, connection_id: str, coupon_id: str) -> None:
    await sync.record_failure(session, organization_id=organization_id,
                              connection_id=connection_id, coupon_id=coupon_id, error=error,
                              attempts=attempts, dead=dead)


@job(PUSH, max_attempts=ATTEMPTS, on_failure=_failed)
async def push(session: AsyncSession, *, organization_id: str, connection_id: str,
               coupon_id: str) -> None:
    """Create a new coupon's code in one shop."""
    await sync.push(session, organization_id=uuid.UUID(organization_id),
                    connection_id=uuid.UUID(connection_id), coupon_id=uuid.UUID(coupon_id))


@job(SYNC, max_attempts=ATTEMPTS, on_failure=_failed)
async def sync_change(session: AsyncSession, *, organization_id: str, connection_id: str,
                      coupon_id: str) -> None:
    """Carry a coupon's withdrawal, extension or reinstatement to one shop."""
    await sync.sync(session, organization_id=uuid.UUID(organization_id),
                    connection_id=uuid.UUID(connection_id), coupon_id=uuid.UUID(coupon_id))


@job(RECONCILE, every=timedelta(minutes=15))
async def reconcile(session: AsyncSession, *, organization_id: str | None = None) -> None:
    """Compare every active connection's codes with its shop and repair drift (each
    organisation on its own: one shop that fails is recorded and the others go on)."""
    query = select(ShopConnection).where(ShopConnection.active.is_(True))
    if organization_id is not None:
        query = query.where(ShopConnection.organization_id == uuid.UUID(organization_id))
    connections = (await session.scalars(query.order_by(ShopConnection.organization_id))).all()
    async with each_organization(session, RECONCILE, only=organization_id) as parts:
        for connection in connections:
            await parts.run(connection.organization_id,
                            lambda c=connection: _reconcile(session, c),  # type: ignore[misc]
                            label=connection.name)


async def _reconcile(session: AsyncSession, connection: ShopConnection) -> None:
    try:
        done = await sync.reconcile(session, connection)
    except ShopError as error:
        # Shown on the admin page; the next run tries again.
        await sync.note_error(session, connection, f"Reconciliation: {error}")
        return
    if done.repaired:
        await audit.record(session, Actor.system(connection.organization_id, RECONCILE),
                           action="shop.reconciled", object_type="shop",
                           object_id=connection.id,
                           after={"checked": done.checked, "repaired": done.repaired})
