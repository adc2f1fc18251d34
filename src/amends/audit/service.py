"""The append-only audit trail. `record` joins the caller's transaction: no change, no event."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.kit.clock import utcnow
from amends.kit.context import request_id_var
from amends.kit.ids import new_id
from amends.kit.pagination import Page, newest_first
from amends.models import AuditEvent


async def record(
    session: AsyncSession,
    actor: Actor,
    *,
    action: str,
    object_type: str,
    object_id: uuid.UUID | str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEvent:
    event = AuditEvent(**entry_row(actor, action=action, object_type=object_type,
                                   object_id=object_id, before=before, after=after,
                                   reason=reason))
    session.add(event)
    await session.flush()
    return event


def entry_row(
    actor: Actor,
    *,
    action: str,
    object_type: str,
    object_id: uuid.UUID | str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """The audit event as a row (for callers that insert many in one statement)."""
    return {"id": new_id(), "organization_id": actor.organization_id,
            "actor_type": actor.kind, "actor_id": actor.id, "actor_label": actor.label,
            "action": action, "object_type": object_type,
            "object_id": str(object_id) if object_id is not None else None,
            "before": before, "after": after, "reason": reason,
            "request_id": request_id_var.get(), "created_at": utcnow()}


async def list_events(
    session: AsyncSession,
    actor: Actor,
    *,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    actor_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[AuditEvent]:
    """Newest first; the cursor is the id of the last event of the previous page."""
    query = select(AuditEvent).where(AuditEvent.organization_id == actor.organization_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id:
        query = query.where(AuditEvent.object_id == object_id)
    if actor_id:
        query = query.where(AuditEvent.actor_id == actor_id)
    if since:
        query = query.where(AuditEvent.created_at >= since)
    if until:
        query = query.where(AuditEvent.created_at < until)
    return await newest_first(session, query, AuditEvent.id, cursor=cursor, limit=limit)
