from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import StreamingResponse

from amends.actor import Actor
from amends.audit import service as audit
from amends.audit.schemas import AuditEventOut, AuditEventPage
from amends.auth import AuditReader, MissingScope, SessionDep
from amends.db import Database
from amends.errors import errors
from amends.kit.csvstream import csv_line
from amends.kit.pagination import InvalidCursor
from amends.kit.streaming import ClosingStreamingResponse
from amends.routing import router as make_router

router = make_router(prefix="/v1/audit-events", tags=["audit"])


def _utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is UTC."""
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


def _filters(action: str | None = None, object_type: str | None = None,
             object_id: str | None = None, actor_id: uuid.UUID | None = None,
             since: datetime | None = None, until: datetime | None = None) -> audit.Filters:
    return audit.Filters(action=action or None, object_type=object_type or None,
                         object_id=object_id or None, actor_id=actor_id, since=_utc(since),
                         until=_utc(until))


FiltersDep = Annotated[audit.Filters, Depends(_filters)]


@router.get("", responses=errors(MissingScope, InvalidCursor))
async def list_audit_events(
    session: SessionDep,
    actor: AuditReader,
    filters: FiltersDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AuditEventPage:
    """The organisation's audit trail, newest first, with cursor pagination. Filters: `action`,
    `object_type`, `object_id`, `actor_id`, and `since` (included) / `until` (excluded)."""
    page = await audit.list_events(
        session, actor, action=filters.action, object_type=filters.object_type,
        object_id=filters.object_id, actor_id=filters.actor_id, since=filters.since,
        until=filters.until, cursor=cursor, limit=limit,
    )
    return AuditEventPage(
        items=[AuditEventOut.model_validate(e) for e in page.items], next_cursor=page.next_cursor
    )


def audit_csv(db: Database, actor: Actor, filters: audit.Filters) -> StreamingResponse:
    """Every matching event as CSV, streamed (the console's export link answers the same)."""

    async def lines() -> AsyncIterator[str]:
        yield csv_line(list(audit.CSV_COLUMNS))
        async for event in audit.every_event(db, actor, filters=filters):
            yield csv_line(audit.csv_cells(event))

    return ClosingStreamingResponse(lines(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="audit-events.csv"'})


# A path of its own rather than `?format=csv`: a CSV download is a different representation
# with no cursor (it holds every match), and a link to it reads plainly.
@router.get(".csv", response_class=StreamingResponse, responses={
    **errors(MissingScope), 200: {"content": {"text/csv": {}}, "description": "The CSV"}})
async def export_audit_events(request: Request, actor: AuditReader, filters: FiltersDep
                              ) -> StreamingResponse:
    """Every event matching the filters (the same as the list's), newest first, as CSV
    (UTF-8, a header row; times in UTC, ISO 8601; `before` and `after` as JSON), streamed a
    page at a time however many there are. A cell that starts like a spreadsheet formula
    (`=`, `+`, `-`, `@`) is written with a leading apostrophe so that opening the file runs
    nothing."""
    return audit_csv(request.app.state.db, actor, filters)
