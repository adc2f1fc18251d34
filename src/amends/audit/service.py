"""The append-only audit trail. `record` joins the caller's transaction: no change, no event."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.errors import NotFound
from amends.kit.clock import utcnow
from amends.kit.context import request_id_var
from amends.kit.ids import new_id
from amends.kit.pagination import Page, newest_first
from amends.models import AuditEvent

if TYPE_CHECKING:
    from amends.db import Database

# The columns of the CSV export, in order.
CSV_COLUMNS = ("created_at", "actor_type", "actor_id", "actor_label", "action", "object_type",
               "object_id", "reason", "request_id", "before", "after", "id")


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


class AuditEventNotFound(NotFound):
    code, title = "audit_event_not_found", "No such audit event"


async def get_event(session: AsyncSession, actor: Actor, *, event_id: uuid.UUID) -> AuditEvent:
    event = await session.scalar(select(AuditEvent).where(
        AuditEvent.organization_id == actor.organization_id, AuditEvent.id == event_id))
    if event is None:
        raise AuditEventNotFound()
    return event


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


@dataclass(frozen=True, slots=True)
class Filters:
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    actor_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


async def every_event(db: Database, actor: Actor, *, filters: Filters, page_size: int = 500
                      ) -> AsyncIterator[AuditEvent]:
    """Every event that matches, newest first, read a page at a time, each page in a short
    read transaction of its own: an export of a year of events holds no transaction open while
    the client downloads it, and never more than a page in memory."""
    cursor: str | None = None
    while True:
        async with db.transaction(write=False) as session:
            page: Page[AuditEvent] = await list_events(
                session, actor, action=filters.action, object_type=filters.object_type,
                object_id=filters.object_id, actor_id=filters.actor_id, since=filters.since,
                until=filters.until, cursor=cursor, limit=page_size)
        for event in page.items:
            yield event
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def csv_cells(event: AuditEvent) -> list[object]:
    """An event as a row of the export (before and after as compact JSON)."""
    values: dict[str, object] = {
        "created_at": event.created_at.isoformat(), "actor_type": event.actor_type,
        "actor_id": event.actor_id, "actor_label": event.actor_label, "action": event.action,
        "object_type": event.object_type, "object_id": event.object_id,
        "reason": event.reason, "request_id": event.request_id,
        "before": _json(event.before), "after": _json(event.after), "id": event.id}
    return [values[column] for column in CSV_COLUMNS]


def _json(value: dict[str, Any] | None) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True,
                                               default=str)
