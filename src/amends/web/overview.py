"""What the console's start page shows: the work waiting and the latest cases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.kit.clock import utcnow
from amends.models import Approval, Case, Coupon
from amends.suppressions.service import OPEN_STATES


async def overview(session: AsyncSession, actor: Actor) -> dict[str, Any]:
    org = actor.organization_id
    since = utcnow() - timedelta(days=1)
    open_cases = await session.scalar(select(func.count()).select_from(Case).where(
        Case.organization_id == org, Case.state.in_(OPEN_STATES)))
    pending = await session.scalar(select(func.count()).select_from(Approval).where(
        Approval.organization_id == org, Approval.status == "pending"))
    issued = await session.scalar(select(func.count()).select_from(Coupon).where(
        Coupon.organization_id == org, Coupon.issued_at >= since))
    recent = (await session.scalars(select(Case).where(Case.organization_id == org)
                                    .order_by(Case.id.desc()).limit(10))).all()
    return {"open_cases": int(open_cases or 0), "pending_approvals": int(pending or 0),
            "issued_today": int(issued or 0), "recent_cases": list(recent)}
