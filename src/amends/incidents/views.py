"""The incident pages: create an incident, add who was affected (a file or a query), read the
preview and the cost, approve, run, pause, resume or cancel, and watch it go."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from amends.actor import Actor
from amends.auth import SessionDep, require
from amends.cases import service as cases
from amends.errors import AmendsError
from amends.incentives import service as incentives
from amends.incidents import service as incidents
from amends.incidents.schemas import IncidentIn
from amends.roles import Scope
from amends.routing import router as make_router
from amends.web.templating import back, render

router = make_router(include_in_schema=False)
Runner = Annotated[Actor, Depends(require(Scope.APPROVALS_DECIDE))]


@router.get("/incidents", response_class=HTMLResponse)
async def incident_list(request: Request, session: SessionDep, actor: Runner) -> Response:
    return render(request, "incidents/list.html", {
        "incidents": await incidents.list_incidents(session, actor),
        "reasons": await cases.reasons(session, actor.organization_id),
        "catalogue": await incentives.list_incentives(session, actor, active=True)})


@router.post("/incidents")
async def create(session: SessionDep, actor: Runner,
                 title: Annotated[str, Form(max_length=200)],
                 reason: Annotated[str, Form(max_length=50)],
                 severity: Annotated[int, Form(ge=1, le=4)] = 2,
                 incentive_id: Annotated[str, Form()] = "",
                 message: Annotated[str, Form(max_length=2000)] = "",
                 channel_policy: Annotated[str, Form(max_length=20)] = "preferred",
                 holdout_percent: Annotated[int, Form(ge=0, le=50)] = 0) -> Response:
    try:
        data = IncidentIn.model_validate({
            "title": title, "reason": reason, "severity": severity,
            "incentive_id": incentive_id or None, "message": message,
            "channel_policy": channel_policy, "holdout_percent": holdout_percent})
        incident = await incidents.create(session, actor, data=data)
    except ValidationError as error:
        return back("/incidents", problem=str(error.errors()[0]["msg"]))
    except AmendsError as error:
        await session.rollback()
        return back("/incidents", problem=error.detail)
    return back(f"/incidents/{incident.id}", notice="Now add who was affected.")


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
async def incident_page(incident_id: uuid.UUID, request: Request, session: SessionDep,
                        actor: Runner) -> Response:
    summary = await incidents.preview(session, actor, incident_id=incident_id)
    return render(request, "incidents/page.html", {
        "p": summary, "incident": summary["incident"],
        "report": await incidents.report(session, actor, incident_id=incident_id)})


@router.get("/incidents/{incident_id}/live", response_class=HTMLResponse)
async def live(incident_id: uuid.UUID, request: Request, session: SessionDep,
               actor: Runner) -> Response:
    """The progress part of the page, polled while the incident runs."""
    incident = await incidents.get(session, actor, incident_id=incident_id)
    return render(request, "incidents/_live.html", {
        "incident": incident,
        "report": await incidents.report(session, actor, incident_id=incident_id)})


@router.post("/incidents/{incident_id}/customers")
async def upload(incident_id: uuid.UUID, session: SessionDep, actor: Runner,
                 file: Annotated[UploadFile, File()]) -> Response:
    await incidents.get(session, actor, incident_id=incident_id)

    async def chunks() -> AsyncIterator[bytes]:
        while block := await file.read(1 << 20):
            yield block

    try:
        added = await incidents.import_customers(session, actor, incident_id=incident_id,
                                                 chunks=chunks())
    except AmendsError as error:
        await session.rollback()
        return back(f"/incidents/{incident_id}", problem=error.detail)
    return back(f"/incidents/{incident_id}", notice=(
        f"Added {added.added:,} customers ({added.duplicates:,} already there, "
        f"{added.unknown:,} unknown ids)."))


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@router.post("/incidents/{incident_id}/query")
async def query(incident_id: uuid.UUID, session: SessionDep, actor: Runner,
                kind: Annotated[str, Form(pattern="^(shipments_at_location|orders_placed)$")],
                since: Annotated[str, Form()], until: Annotated[str, Form()],
                location: Annotated[str, Form(max_length=200)] = "") -> Response:
    await incidents.get(session, actor, incident_id=incident_id)
    try:
        start, end = _moment(since), _moment(until)
    except ValueError:
        return back(f"/incidents/{incident_id}", problem="Give both times.")
    if end <= start or (kind == "shipments_at_location" and not location.strip()):
        return back(f"/incidents/{incident_id}", problem=(
            "The window must end after it starts, and a depot query needs the depot."))
    try:
        added = await incidents.add_from_query(session, actor, incident_id=incident_id,
                                               kind=kind, since=start, until=end,
                                               location=location.strip() or None)
    except AmendsError as error:
        await session.rollback()
        return back(f"/incidents/{incident_id}", problem=error.detail)
    return back(f"/incidents/{incident_id}",
                notice=f"The query found {added.read:,} customers; {added.added:,} added.")


@router.post("/incidents/{incident_id}/{action}")
async def act(incident_id: uuid.UUID, action: str, session: SessionDep, actor: Runner,
              reason: Annotated[str, Form(max_length=1000)] = "") -> Response:
    # The incident first: an unknown or another organisation's one is the 404 page, where the
    # refusals below are notices on the incident's own page.
    await incidents.get(session, actor, incident_id=incident_id)
    done = {"approve": "Approved.", "run": "Started: the workers are on it.",
            "pause": "Paused: no further message goes out.", "resume": "Resumed.",
            "cancel": "Cancelled: gestures not yet delivered are revoked."}
    if action not in done:
        return back(f"/incidents/{incident_id}", problem="Unknown action.")
    try:
        if action == "approve":
            await incidents.approve(session, actor, incident_id=incident_id, note=reason)
        elif action == "run":
            await incidents.start(session, actor, incident_id=incident_id)
        elif action == "pause":
            await incidents.pause(session, actor, incident_id=incident_id)
        elif action == "resume":
            await incidents.resume(session, actor, incident_id=incident_id)
        else:
            await incidents.cancel(session, actor, incident_id=incident_id,
                                   reason=reason or "Cancelled from the console")
    except AmendsError as error:
        await session.rollback()
        return back(f"/incidents/{incident_id}", problem=error.detail)
    return back(f"/incidents/{incident_id}", notice=done[action])
