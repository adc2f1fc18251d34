from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Query

from amends.audit import service as audit
from amends.audit.schemas import AuditEventOut, AuditEventPage
from amends.auth import AuditReader, MissingScope, SessionDep
from amends.errors import errors
from amends.kit.pagination import InvalidCursor
from amends.routing import router as make_router

router = make_router(prefix="/v1/audit-events", tags=["audit"])


@router.get("", responses=errors(MissingScope, InvalidCursor))
async def list_audit_events(
    session: SessionDep,
    actor: AuditReader,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    actor_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AuditEventPage:
    """The organisation's audit trail, newest first, with cursor pagination."""
    page = await audit.list_events(
        session, actor, action=action, object_type=object_type, object_id=object_id,
        actor_id=actor_id, since=since, until=until, cursor=cursor, limit=limit,
    )
    return AuditEventPage(
        items=[AuditEventOut.model_validate(e) for e in page.items], next_cursor=page.next_cursor
    )
