"""Ids that arrive in a request resolve within the caller's organisation, or not at all.

Every id a client sends in a body or a query (an incentive for a rule, a pool for an
incentive, a person in an authority limit) is looked up with the caller's organisation in the
same WHERE clause. Another organisation's id then answers exactly like an id that never
existed: a 404 with the referenced object's own code and the field that carried it, and the
request changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.errors import AmendsError

# A table whose rows belong to one organisation: it has `id` and `organization_id`.
Owned = TypeVar("Owned")


async def require_owned(session: AsyncSession, model: type[Owned], *,
                        organization_id: uuid.UUID, object_id: uuid.UUID,
                        missing: type[AmendsError], field: str) -> Owned:
    """The row, if it belongs to the organisation; otherwise `missing` naming the field."""
    table: Any = model
    found: Owned | None = await session.scalar(select(table).where(
        table.id == object_id, table.organization_id == organization_id))
    if found is None:
        raise missing(field=field, id=str(object_id))
    return found


async def require_all_owned(session: AsyncSession, model: type[Any], *,
                            organization_id: uuid.UUID, object_ids: Iterable[uuid.UUID],
                            missing: type[AmendsError], field: str) -> None:
    """Every id belongs to the organisation; otherwise `missing` listing those that do not."""
    wanted = list(dict.fromkeys(object_ids))
    if not wanted:
        return
    found = set((await session.scalars(select(model.id).where(
        model.id.in_(wanted), model.organization_id == organization_id))).all())
    absent = [str(i) for i in wanted if i not in found]
    if absent:
        raise missing(f"Not in this organisation: {', '.join(absent)}.", field=field,
                      ids=absent)
