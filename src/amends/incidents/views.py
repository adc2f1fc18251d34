"""The incident pages: create an incident, add who was affected (a file or a query), read the
preview and the cost, approve, run, pause, resume or cancel, and watch it go."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from amends.actor import Actor
from amends.auth import SessionDep, require
from amends.cases import service as cases
from amends.errors import AmendsError
from amends.incentives import service as incentives
from amends.incidents import policy
from amends.incidents import service as incidents
from amends.incidents.schemas import IncidentIn
from amends.kit.locale import zone
from amends.models import Incentive, Incident, Organization
from amends.roles import Scope
from amends.routing import router as make_router
from amends.web.templating import N_, back, console_zone, gettext_for, number_for, render

router = make_router(include_in_schema=False)
_ADD_WHO = N_("Now add who was affected.")
Runner = Annotated[Actor, Depends(require(Scope.APPROVALS_DECIDE))]


@router.get("/incidents", response_class=HTMLResponse)
async def incident_list(request: Request, session: SessionDep, actor: Runner) -> Response:
    return render(request, "incidents/list.html", {
        "incidents": await incidents.list_incidents(session, actor),
        "reasons": await cases.reasons(session, actor.organization_id),
        "catalogue": await incentives.list_incentives(session, actor, active=True),
        "holdout_default": organization.holdout_percent_default
        if (organization := await session.get(Organization, actor.organization_id)) else 0})


async def _currency(session: SessionDep, incident: Incident) -> str:
    """What the incident's amounts are counted in: its gesture's currency, else the
    organisation's."""
    if incident.incentive_id is not None:
        incentive = await session.get(Incentive, (incident.organization_id,
                                                  incident.incentive_id))
        if incentive is not None:
            return incentive.currency
    organization = await session.get(Organization, incident.organization_id)
    return organization.default_currency if organization else "EUR"


@router.post("/incidents")
async def create(request: Request, session: SessionDep, actor: Runner,
                 title: Annotated[str, Form(max_length=200)],
                 reason: Annotated[str, Form(max_length=50)],
                 severity: Annotated[int, Form(ge=1, le=4)] = 2,
                 incentive_id: Annotated[str, Form()] = "",
                 message: Annotated[str, Form(max_length=2000)] = "",
                 channel_policy: Annotated[str, Form(max_length=20)] = "preferred",
                 holdout_percent: Annotated[int | None, Form(ge=0, le=50)] = None
                 ) -> Response:
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
    return back(f"/incidents/{incident.id}",
                notice=gettext_for(request)(_ADD_WHO))


def _actions(actor: Actor, incident: Incident, *, needs_approval: bool) -> dict[str, Any]:
    """What the page offers this person now (exactly what the service would allow), and why
    approval is out of their hands when it is."""
    now = incidents.situation(actor, incident, needs_approval=needs_approval)
    return {"offered": policy.offered(now), "needs_approval": needs_approval,
            "cannot_approve": policy.refusal("approve", now) if needs_approval else None}


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
async def incident_page(incident_id: uuid.UUID, request: Request, session: SessionDep,
                        actor: Runner) -> Response:
    summary = await incidents.preview(session, actor, incident_id=incident_id)
    incident = summary["incident"]
    return render(request, "incidents/page.html", {
        "p": summary, "incident": incident, "currency": summary["currency"],
        "zone_name": console_zone(request) or "UTC",
        "actions": _actions(actor, incident, needs_approval=summary["needs_approval"]),
        "report": await incidents.report(session, actor, incident_id=incident_id)})


@router.get("/incidents/{incident_id}/live", response_class=HTMLResponse)
async def live(incident_id: uuid.UUID, request: Request, session: SessionDep, actor: Runner,
               shown: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """The progress part of the page, polled while the incident runs; once its state is no
    longer the one the page `shown`s (it finished), the actions it now allows too, so that a
    finished incident no longer offers to pause it. (The actions are not replaced at every
    poll: a button someone is about to press keeps its focus.)"""
    incident = await incidents.get(session, actor, incident_id=incident_id)
    changed = shown is not None and shown != incident.status
    needs_approval = changed and incident.status == "draft" and (await incidents.preview(
        session, actor, incident_id=incident_id, sample=0))["needs_approval"]
    return render(request, "incidents/_live.html", {
        "incident": incident, "currency": await _currency(session, incident),
        "live_actions": _actions(actor, incident, needs_approval=needs_approval) if changed
        else None, "report": await incidents.report(session, actor, incident_id=incident_id)})


@router.post("/incidents/{incident_id}/customers")
async def upload(incident_id: uuid.UUID, request: Request, session: SessionDep, actor: Runner,
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
    _, number = gettext_for(request), number_for(request)
    return back(f"/incidents/{incident_id}", notice=_(
        "Added %(added)s customers (%(duplicates)s already there, %(unknown)s unknown ids)."
    ) % {"added": number(added.added), "duplicates": number(added.duplicates),
         "unknown": number(added.unknown)})


def _moment(text: str, time_zone: str | None) -> datetime:
    """A time typed in the form, in the zone the form names (the person's)."""
    return datetime.fromisoformat(text).replace(tzinfo=zone(time_zone))


@router.post("/incidents/{incident_id}/query")
async def query(incident_id: uuid.UUID, request: Request, session: SessionDep, actor: Runner,
                kind: Annotated[str, Form(pattern="^(shipments_at_location|orders_placed)$")],
                since: Annotated[str, Form()], until: Annotated[str, Form()],
                location: Annotated[str, Form(max_length=200)] = "") -> Response:
    await incidents.get(session, actor, incident_id=incident_id)
    _, number = gettext_for(request), number_for(request)
    try:
        start = _moment(since, console_zone(request))
        end = _moment(until, console_zone(request))
    except ValueError:
        return back(f"/incidents/{incident_id}", problem=_("Give both times."))
    if end <= start or (kind == "shipments_at_location" and not location.strip()):
        return back(f"/incidents/{incident_id}", problem=_(
            "The window must end after it starts, and a depot query needs the depot."))
    try:
        added = await incidents.add_from_query(session, actor, incident_id=incident_id,
                                               kind=kind, since=start, until=end,
                                               location=location.strip() or None)
    except AmendsError as error:
        await session.rollback()
        return back(f"/incidents/{incident_id}", problem=error.detail)
    return back(f"/incidents/{incident_id}", notice=_(
        "The query found %(read)s customers; %(added)s added.")
        % {"read": number(added.read), "added": number(added.added)})


@router.post("/incidents/{incident_id}/{action}")
async def act(incident_id: uuid.UUID, action: str, request: Request, session: SessionDep,
              actor: Runner,
              reason: Annotated[str, Form(max_length=1000)] = "") -> Response:
    # The incident first: an unknown or another organisation's one is the 404 page, where the
    # refusals below are notices on the incident's own page.
    await incidents.get(session, actor, incident_id=incident_id)
    _ = gettext_for(request)
    done = {"approve": _("Approved."), "run": _("Started: the workers are on it."),
            "pause": _("Paused: no further message goes out."), "resume": _("Resumed."),
            "cancel": _("Cancelled: gestures not yet delivered are revoked.")}
    if action not in done:
        return back(f"/incidents/{incident_id}", problem=_("Unknown action."))
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
