from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict

from amends.actor import Actor
from amends.auth import MissingScope, SessionDep, require
from amends.errors import errors
from amends.kit.pagination import InvalidCursor
from amends.roles import Scope
from amends.routing import router as make_router
from amends.suppressions import service as suppressions

router = make_router(tags=["suppressions"])
Reader = Annotated[Actor, Depends(require(Scope.SUPPRESSIONS_READ))]


class SuppressionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_external_id: str
    email: str | None
    phone: str | None
    active: bool
    reason: str
    changed_at: datetime


class SuppressionPage(BaseModel):
    items: list[SuppressionOut]
    next_cursor: str | None


@router.get("/v1/suppressions", responses=errors(MissingScope, InvalidCursor))
async def list_suppressions(
    session: SessionDep, actor: Reader, changed_since: datetime | None = None,
    include_removed: bool = False, cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> SuppressionPage:
    """Customers not to market to while their case is open. With `changed_since`, every
    change since then (additions and removals), oldest first, for an email platform to sync."""
    page = await suppressions.list_suppressions(
        session, actor.organization_id, changed_since=changed_since,
        include_removed=include_removed, cursor=cursor, limit=limit)
    return SuppressionPage(items=[SuppressionOut.model_validate(s) for s in page.items],
                           next_cursor=page.next_cursor)
