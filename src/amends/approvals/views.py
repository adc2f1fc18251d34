"""The supervisor's pages: the approvals queue (customer history beside each request, grant
or refuse with a reason in one click) and the limits and budgets of roles and people."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from amends.actor import Actor
from amends.approvals import policy
from amends.approvals import service as approvals
from amends.auth import SessionDep, require
from amends.errors import AmendsError
from amends.kit.money import parse_major
from amends.models import Approval, Incentive, Organization, User
from amends.roles import Scope
from amends.routing import router as make_router
from amends.web.labels import label
from amends.web.templating import back, gettext_for, render

router = make_router(include_in_schema=False)
Decider = Annotated[Actor, Depends(require(Scope.APPROVALS_DECIDE))]
LimitEditor = Annotated[Actor, Depends(require(Scope.CATALOGUE_WRITE))]


@router.get("/approvals", response_class=HTMLResponse)
async def queue(request: Request, session: SessionDep, actor: Decider) -> Response:
    org = actor.organization_id
    names = {i.id: i.name for i in (await session.scalars(select(Incentive).where(
        Incentive.organization_id == org))).all()}
    pending = (await session.scalars(select(Approval).where(
        Approval.organization_id == org, Approval.status == "pending")
        .order_by(Approval.created_at).limit(100))).all()
    decided = (await session.scalars(select(Approval).where(
        Approval.organization_id == org, Approval.status != "pending")
        .order_by(Approval.id.desc()).limit(20))).all()
    mine = approvals.decider_rank(actor)
    return render(request, "approvals/queue.html", {
        "pending": pending, "decided": decided, "names": names,
        # What this approver may decide: a request at their tier or below, not their own.
        "decidable": {a.id for a in pending if policy.rank(a.tier) <= mine
                      and not (a.requested_by_type == actor.kind
                               and a.requested_by_id == actor.id)}})


@router.post("/approvals/{approval_id}")
async def decide(approval_id: uuid.UUID, request: Request, session: SessionDep, actor: Decider,
                 decision: Annotated[str, Form(pattern="^(grant|refuse)$")],
                 reason: Annotated[str, Form(max_length=1000)] = "") -> Response:
    # The page's own id first: an unknown or another organisation's approval is the 404 page,
    # not a notice on the queue.
    await approvals.get_approval(session, actor, approval_id=approval_id)
    _ = gettext_for(request)
    grant = decision == "grant"
    if not grant and not reason.strip():
        return back("/approvals", problem=_("Say why you refuse: the agent will read it."))
    try:
        approval = await approvals.decide(session, actor, approval_id=approval_id, grant=grant,
                                          reason=reason.strip() or "Granted")
    except AmendsError as problem:
        await session.rollback()
        return back("/approvals", problem=problem.detail)
    if grant and approval.status == "pending":
        return back("/approvals", notice=_(
            "Beyond your own limit or budget: the request now waits for tier %(tier)s.")
            % {"tier": _(label(approval.tier))})
    said = (_("Granted: the gesture is on its way to customer %(customer)s.") if grant
            else _("Refused for customer %(customer)s."))
    return back("/approvals", notice=said % {"customer": approval.customer_external_id})


@router.get("/limits", response_class=HTMLResponse)
async def limits(request: Request, session: SessionDep, actor: LimitEditor) -> Response:
    org = await session.get(Organization, actor.organization_id)
    staff = (await session.scalars(select(User).where(
        User.organization_id == actor.organization_id, User.active.is_(True))
        .order_by(User.name))).all()
    people = {f"user:{u.id}": f"{u.name} ({u.email})" for u in staff}
    _ = gettext_for(request)
    subjects: dict[str, str] = {
        "role:agent": _("Every agent"), "role:supervisor": _("Every supervisor"),
        "role:manager": _("Every manager"), "role:api_key": _("Integrations (API keys)")}
    rows: list[dict[str, Any]] = [
        {"row": row, "who": subjects.get(row.subject) or people.get(row.subject, row.subject)}
        for row in await approvals.list_limits(session, actor)]
    return render(request, "approvals/limits.html", {
        "rows": rows, "subjects": {**subjects, **people},
        "currency": org.default_currency if org else "EUR"})


@router.post("/limits")
async def save_limit(request: Request, session: SessionDep, actor: LimitEditor,
                     subject: Annotated[str, Form(max_length=60)],
                     currency: Annotated[str, Form(pattern="^[A-Z]{3}$")],
                     max_gesture: Annotated[str, Form(max_length=20)] = "",
                     daily_budget: Annotated[str, Form(max_length=20)] = "",
                     monthly_budget: Annotated[str, Form(max_length=20)] = "") -> Response:
    _ = gettext_for(request)
    if not subject.startswith(("role:", "user:", "api_key:")):
        return back("/limits", problem=_("Choose a role or a person."))
    try:
        amounts = [parse_major(v) for v in (max_gesture, daily_budget, monthly_budget)]
    except ValueError:
        return back("/limits", problem=_("Amounts are numbers such as 20 or 19.50, or empty "
                                         "for no limit."))
    try:
        await approvals.set_limit(session, actor, subject=subject, currency=currency,
                                  max_gesture=amounts[0], daily_budget=amounts[1],
                                  monthly_budget=amounts[2], incentive_ids=None)
    except approvals.LimitSubjectNotFound:
        return back("/limits", problem=_("Choose a role or a person of this organisation."))
    return back("/limits", notice=_("Limits saved. They apply from the next gesture."))
