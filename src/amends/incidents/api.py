from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request
from fastapi.responses import Response

from amends.actor import Actor
from amends.auth import MissingScope, SessionDep, require
from amends.cases.service import UnknownReason
from amends.errors import errors
from amends.incentives.service import IncentiveNotFound
from amends.incidents import service as incidents
from amends.incidents.schemas import (
    AddedOut,
    AffectedQuery,
    CancelIn,
    IncidentIn,
    IncidentOut,
    Note,
)
from amends.roles import Scope
from amends.routing import router as make_router

router = make_router(prefix="/v1/incidents", tags=["incidents"])
# Making amends to many customers at once is a supervisor's or a manager's call.
Runner = Annotated[Actor, Depends(require(Scope.APPROVALS_DECIDE))]
Reader = Annotated[Actor, Depends(require(Scope.REPORTS_READ))]
_STATE = errors(MissingScope, incidents.IncidentNotFound, incidents.IncidentStateConflict)


@router.post("", status_code=201, responses=errors(MissingScope, UnknownReason,
                                                   IncentiveNotFound))
async def create_incident(body: IncidentIn, session: SessionDep, actor: Runner) -> IncidentOut:
    """An incident: what went wrong, when, the gesture and the apology, and the channel."""
    return IncidentOut.model_validate(await incidents.create(session, actor, data=body))


@router.get("", responses=errors(MissingScope))
async def list_incidents(session: SessionDep, actor: Runner) -> list[IncidentOut]:
    return [IncidentOut.model_validate(i) for i in await incidents.list_incidents(session,
                                                                                  actor)]


@router.get("/{incident_id}", responses=errors(MissingScope, incidents.IncidentNotFound))
async def get_incident(incident_id: uuid.UUID, session: SessionDep,
                       actor: Runner) -> IncidentOut:
    return IncidentOut.model_validate(await incidents.get(session, actor,
                                                          incident_id=incident_id))


@router.post(
    "/{incident_id}/customers", responses=errors(
        MissingScope, incidents.IncidentNotFound, incidents.IncidentNotDraft,
        incidents.CustomerImportRejected, incidents.CustomerImportEmpty),
    openapi_extra={"requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string", "format": "binary"}}}}})
async def add_customers(incident_id: uuid.UUID, request: Request, session: SessionDep,
                        actor: Runner) -> AddedOut:
    """Stream a CSV of affected customer ids (UTF-8, first column, optional `customer_id`
    header). Sending the same file again adds nothing; unknown ids are counted, not dropped.
    All or nothing: a file with rows that are not ids (or cannot be read) adds nothing and
    answers 422 `customer_import_rejected` with the bad rows (line and reason, the first 100,
    and how many in all)."""
    async def chunks() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            if chunk:
                yield chunk

    added = await incidents.import_customers(session, actor, incident_id=incident_id,
                                             chunks=chunks())
    return AddedOut.model_validate(added, from_attributes=True)


@router.post("/{incident_id}/customers/query", responses=errors(
    MissingScope, incidents.IncidentNotFound, incidents.IncidentNotDraft))
async def add_from_query(incident_id: uuid.UUID, body: AffectedQuery, session: SessionDep,
                         actor: Runner) -> AddedOut:
    """Add the customers a query over stored events and orders finds: parcels scanned at a
    depot between two times and not delivered, or orders placed in a time window."""
    added = await incidents.add_from_query(session, actor, incident_id=incident_id,
                                           kind=body.kind, since=body.since, until=body.until,
                                           location=body.location)
    return AddedOut.model_validate(added, from_attributes=True)


@router.get("/{incident_id}/preview", responses=errors(MissingScope,
                                                        incidents.IncidentNotFound))
async def preview(incident_id: uuid.UUID, session: SessionDep, actor: Runner
                  ) -> dict[str, Any]:
    """Before anything is sent: count, a sample, customers already in an open case or with no
    reachable channel, and the cost (face value, and expected from the organisation's own
    redemption rate for this kind of gesture)."""
    summary = await incidents.preview(session, actor, incident_id=incident_id)
    summary.pop("incident")
    return summary


@router.post("/{incident_id}/approve", responses=errors(
    MissingScope, incidents.IncidentNotFound, incidents.IncidentStateConflict,
    incidents.NotAManager, incidents.CannotApproveOwnIncident))
async def approve(incident_id: uuid.UUID, body: Note, session: SessionDep,
                  actor: Runner) -> IncidentOut:
    """A manager's yes, needed when the gestures are worth more than the threshold."""
    return IncidentOut.model_validate(await incidents.approve(
        session, actor, incident_id=incident_id, note=body.note))


@router.post("/{incident_id}/run", responses=errors(
    MissingScope, incidents.IncidentNotFound, incidents.IncidentStateConflict,
    incidents.IncidentNeedsApproval))
async def run(incident_id: uuid.UUID, session: SessionDep, actor: Runner) -> IncidentOut:
    """Start: one case, one gesture and one message per customer, paced per channel."""
    return IncidentOut.model_validate(await incidents.start(session, actor,
                                                            incident_id=incident_id))


@router.post("/{incident_id}/pause", responses=_STATE)
async def pause(incident_id: uuid.UUID, session: SessionDep, actor: Runner) -> IncidentOut:
    """Stop sending now; messages not yet sent are held."""
    return IncidentOut.model_validate(await incidents.pause(session, actor,
                                                            incident_id=incident_id))


@router.post("/{incident_id}/resume", responses=_STATE)
async def resume(incident_id: uuid.UUID, session: SessionDep, actor: Runner) -> IncidentOut:
    """Carry on where it stopped."""
    return IncidentOut.model_validate(await incidents.resume(session, actor,
                                                             incident_id=incident_id))


@router.post("/{incident_id}/cancel", responses=_STATE)
async def cancel(incident_id: uuid.UUID, body: CancelIn, session: SessionDep,
                 actor: Runner) -> IncidentOut:
    """Stop for good; gestures not yet delivered are revoked."""
    return IncidentOut.model_validate(await incidents.cancel(
        session, actor, incident_id=incident_id, reason=body.reason))


@router.get("/{incident_id}/progress", responses=errors(MissingScope,
                                                         incidents.IncidentNotFound))
async def progress(incident_id: uuid.UUID, session: SessionDep, actor: Runner
                   ) -> dict[str, Any]:
    return await incidents.progress(session, actor, incident_id=incident_id)


@router.get("/{incident_id}/report", responses=errors(MissingScope,
                                                       incidents.IncidentNotFound))
async def report(incident_id: uuid.UUID, session: SessionDep, actor: Reader,
                 format: Annotated[Literal["json", "csv"], Query()] = "json") -> Any:
    """Reached, sent (left for the provider), delivered (confirmed by it), opened, redeemed,
    cost so far, customers who bought again;
    `format=csv`: one row per affected customer (with each gesture's code only for a caller
    who may read coupons)."""
    if format == "json":
        return await incidents.report(session, actor, incident_id=incident_id)
    shows_codes = actor.can(Scope.COUPONS_READ) or actor.can(Scope.COUPONS_ISSUE)
    # Built within the request's transaction (about 100 bytes per customer).
    out = io.StringIO()
    writer: csv.DictWriter[str] | None = None
    async for row in incidents.report_rows(session, actor, incident_id=incident_id):
        if not shows_codes:
            row["code"] = ""
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(row))
            writer.writeheader()
        writer.writerow(row)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="incident-{incident_id}.csv"'})
