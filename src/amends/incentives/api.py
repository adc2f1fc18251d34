from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from amends.actor import Actor
from amends.auth import MissingScope, SessionDep, require
from amends.errors import errors
from amends.incentives import service as incentives
from amends.incentives.schemas import IncentiveCreate, IncentiveOut, IncentiveUpdate
from amends.roles import Scope
from amends.routing import router as make_router

router = make_router(prefix="/v1/incentives", tags=["incentives"])
CatalogueEditor = Annotated[Actor, Depends(require(Scope.CATALOGUE_WRITE))]
CatalogueReader = Annotated[
    Actor, Depends(require(Scope.CATALOGUE_WRITE, Scope.COUPONS_ISSUE, Scope.REPORTS_READ))
]


@router.post("", status_code=201,
             responses=errors(MissingScope, incentives.CodePoolNotFound))
async def create_incentive(body: IncentiveCreate, session: SessionDep,
                           actor: CatalogueEditor) -> IncentiveOut:
    """Add a pre-approved gesture to the catalogue (supervisors and admins)."""
    return IncentiveOut.model_validate(
        await incentives.create_incentive(session, actor, data=body))


@router.get("", responses=errors(MissingScope))
async def list_incentives(session: SessionDep, actor: CatalogueReader,
                          active: bool | None = None, reason: str | None = None
                          ) -> list[IncentiveOut]:
    """The catalogue, optionally only active gestures or those that fit a reason."""
    return [IncentiveOut.model_validate(i) for i in
            await incentives.list_incentives(session, actor, active=active, reason=reason)]


@router.get("/{incentive_id}", responses=errors(MissingScope, incentives.IncentiveNotFound))
async def get_incentive(incentive_id: uuid.UUID, session: SessionDep,
                        actor: CatalogueReader) -> IncentiveOut:
    """One gesture of the catalogue."""
    return IncentiveOut.model_validate(
        await incentives.get_incentive(session, actor, incentive_id=incentive_id))


@router.patch("/{incentive_id}", responses=errors(
    MissingScope, incentives.IncentiveNotFound, incentives.InvalidIncentive,
    incentives.CodePoolNotFound))
async def update_incentive(incentive_id: uuid.UUID, body: IncentiveUpdate, session: SessionDep,
                           actor: CatalogueEditor) -> IncentiveOut:
    """Edit a gesture (or set `active: false` to withdraw it); issued coupons keep their terms."""
    return IncentiveOut.model_validate(await incentives.update_incentive(
        session, actor, incentive_id=incentive_id, changes=body.model_dump(exclude_unset=True)))


@router.delete("/{incentive_id}", responses=errors(MissingScope, incentives.IncentiveNotFound))
async def withdraw_incentive(incentive_id: uuid.UUID, session: SessionDep,
                             actor: CatalogueEditor) -> IncentiveOut:
    """Withdraw a gesture from the catalogue. Issued coupons stay valid; the entry is kept
    (inactive) because coupons and reports refer to it."""
    return IncentiveOut.model_validate(await incentives.update_incentive(
        session, actor, incentive_id=incentive_id, changes={"active": False}))
