"""The catalogue of pre-approved gestures."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.audit import service as audit
from amends.errors import NotFound, ValidationFailed
from amends.incentives.schemas import IncentiveBase, IncentiveCreate, check_terms
from amends.models import CodePool, Incentive
from amends.tenancy import require_owned

FIELDS = tuple(IncentiveBase.model_fields)


class IncentiveNotFound(NotFound):
    code, title = "incentive_not_found", "No such incentive"


class InvalidIncentive(ValidationFailed):
    code, title = "invalid_incentive", "The incentive's terms are not consistent"


class CodePoolNotFound(NotFound):
    code, title = "code_pool_not_found", "No such code pool"


def _snapshot(incentive: Incentive) -> dict[str, Any]:
    return IncentiveBase.model_validate(incentive, from_attributes=True).model_dump(mode="json")


async def _check_pool(session: AsyncSession, actor: Actor, pool_id: uuid.UUID | None) -> None:
    if pool_id is not None:
        await require_owned(session, CodePool, organization_id=actor.organization_id,
                            object_id=pool_id, missing=CodePoolNotFound, field="code_pool_id")


async def create_incentive(session: AsyncSession, actor: Actor, *, data: IncentiveCreate
                           ) -> Incentive:
    await _check_pool(session, actor, data.code_pool_id)
    incentive = Incentive(organization_id=actor.organization_id, **data.model_dump())
    session.add(incentive)
    await session.flush()
    await audit.record(session, actor, action="incentive.created", object_type="incentive",
                       object_id=incentive.id, after=_snapshot(incentive))
    return incentive


async def get_incentive(session: AsyncSession, actor: Actor, *, incentive_id: uuid.UUID,
                        field: str = "incentive_id") -> Incentive:
    """The organisation's incentive; `field` names where the id came from when it is not."""
    return await require_owned(session, Incentive, organization_id=actor.organization_id,
                               object_id=incentive_id, missing=IncentiveNotFound, field=field)


async def list_incentives(session: AsyncSession, actor: Actor, *, active: bool | None = None,
                          reason: str | None = None) -> list[Incentive]:
    query = select(Incentive).where(Incentive.organization_id == actor.organization_id)
    if active is not None:
        query = query.where(Incentive.active.is_(active))
    rows = list((await session.scalars(query.order_by(Incentive.name))).all())
    return [i for i in rows if reason is None or not i.reasons or reason in i.reasons]


async def update_incentive(session: AsyncSession, actor: Actor, *, incentive_id: uuid.UUID,
                           changes: dict[str, Any]) -> Incentive:
    """Edit the catalogue entry; coupons issued before keep the terms they were issued with."""
    incentive = await get_incentive(session, actor, incentive_id=incentive_id)
    before = _snapshot(incentive)
    merged = {**before, **{k: v for k, v in changes.items() if k in FIELDS}}
    try:
        candidate = IncentiveBase.model_validate(merged)
        check_terms(candidate)
    except (ValidationError, ValueError) as exc:
        raise InvalidIncentive(str(exc)) from exc
    await _check_pool(session, actor, candidate.code_pool_id)
    for key, value in candidate.model_dump().items():
        setattr(incentive, key, value)
    await session.flush()
    after = _snapshot(incentive)
    changed = [k for k in FIELDS if before[k] != after[k]]
    if changed:
        await audit.record(
            session, actor, action="incentive.updated", object_type="incentive",
            object_id=incentive.id, before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
    return incentive
