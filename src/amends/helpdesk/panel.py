"""The agent's panel in the helpdesk's ticket sidebar: one narrow page (320-400 px) for the
customer of the ticket in front of the agent, and its few actions.

A platform's entry route (`integrations/<platform>/`) checks the helpdesk's signed request and
calls `show_panel`, which opens a panel for the agent and the ticket. The panel's own requests
then carry its token in the `X-Amends-Panel` header (htmx sends it with every request from
`hx-headers`) or in the `panel` form field: never a cookie (the page lives in the helpdesk's
frame, where third-party cookies are blocked) nor an API key. A request without the header
from another site cannot act: the token is not in the page's address.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.auth import SessionDep, StaffMember
from amends.cases import service as cases
from amends.cases.recommend import recommend_for
from amends.coupons import policy as coupon_policy
from amends.errors import AmendsError
from amends.helpdesk import service as helpdesk
from amends.helpdesk.platforms import PLATFORMS, Ticket
from amends.incentives import service as incentives
from amends.kit import codes, outbound
from amends.kit.clock import utcnow
from amends.kit.secrets import token_tenant
from amends.models import Approval, Customer, Delivery, HelpdeskInstallation, Incentive, User
from amends.routing import router as make_router
from amends.routing import writes_on_read
from amends.web.headers import content_security_policy
from amends.web.templating import gettext_for, render

router = make_router(include_in_schema=False)
Token = Annotated[str | None, Form(alias="panel")]

PANEL_HEADER = "X-Amends-Panel"


def _headers(installation: HelpdeskInstallation | None,
             script_origins: tuple[str, ...] = ()) -> dict[str, str]:
    """The panel may be framed by its helpdesk (and the installation's own origins), nothing
    else; its address carries nothing secret, but no referrer leaves it either. A bootstrap
    page may load the helpdesk's own script (`script_origins`)."""
    ancestors = helpdesk.frame_ancestors(installation) if installation else ()
    policy = content_security_policy(ancestors or ("'none'",))
    if script_origins:
        policy = policy.replace("script-src 'self'",
                                f"script-src 'self' {' '.join(script_origins)}")
    return {"content-security-policy": policy,
            "referrer-policy": "no-referrer", "cache-control": "no-store"}


def _as_user(request: Request, user: User) -> None:
    """The page speaks the agent's language and shows dates in their zone."""
    request.state.user = StaffMember(name=user.name, role=user.role, store=user.store,
                                     locale=user.locale, time_zone=user.time_zone)


def refused(request: Request, error: AmendsError,
            installation: HelpdeskInstallation | None = None) -> HTMLResponse:
    """The panel's answer when it cannot open: the reason in words, with the error's status
    (a refused signature is a 401, not a redirect to a login page the frame cannot show)."""
    return render(request, "helpdesk/refused.html", {"error": error},
                  status_code=error.status, headers=_headers(installation))


async def show_panel(request: Request, session: AsyncSession,
                     installation: HelpdeskInstallation, *, agent_email: str | None,
                     ticket: Ticket | None, bootstrap: str | None = None,
                     extra: dict[str, Any] | None = None,
                     script_origins: tuple[str, ...] = ()) -> HTMLResponse:
    """After a platform checked the helpdesk's signed request: the agent as an Amends user
    (or a clear refusal), a panel opened for them and this ticket, and its page. Without the
    ticket (the signed request names only the agent), the platform's `bootstrap` page, whose
    script asks the helpdesk for the ticket's id and posts it to `/helpdesk/panel/ticket`."""
    try:
        _, user = await helpdesk.agent(session, installation, agent_email)
    except AmendsError as error:
        return refused(request, error, installation)
    token = await helpdesk.open_panel(session, installation, user,
                                      ticket or Ticket(id=""))
    panel = await helpdesk.panel_for(session, token)
    if ticket is None:
        assert bootstrap is not None
        _as_user(request, user)
        return render(request, bootstrap, {"token": token, "header": PANEL_HEADER,
                                           "installation": installation, **(extra or {})},
                      headers=_headers(installation, script_origins))
    return await _page(request, session, panel, token)


@router.post("/helpdesk/panel/ticket")
async def ticket_of_panel(request: Request, session: SessionDep,
                          ticket_id: Annotated[str, Form(min_length=1, max_length=100)],
                          panel_token: Token = None) -> Response:
    """The helpdesk's script names the ticket the panel was opened on; Amends reads the ticket
    from the helpdesk's API (its requester, priority and tags come from there, not from the
    browser) and shows the panel."""
    token = _token(request, panel_token)
    try:
        panel = await _panel(request, session, token)
        platform = helpdesk.platform_of(panel.installation.platform)
        if platform.fetch_ticket is None:
            raise helpdesk.SignatureRefused("This helpdesk names its ticket itself.")
        # The helpdesk's API is a peer like any other: the operator's outbound policy holds.
        with outbound.policy(allow_private=request.app.state.settings.outbound_allow_private):
            ticket = await platform.fetch_ticket(helpdesk.settings_of(panel.installation),
                                                 ticket_id.strip())
        await helpdesk.bind_ticket(session, token, ticket)
        panel = await _panel(request, session, token)
    except AmendsError as error:
        return refused(request, error)
    return await _page(request, session, panel, token, fragment=True)


@router.get("/helpdesk/panel/start", dependencies=[Depends(writes_on_read)])
async def start(request: Request, session: SessionDep,
                code: Annotated[str, Query(max_length=200)] = "",
                installation: uuid.UUID | None = None) -> Response:
    """The panel from its one-use link (the address a helpdesk app frames, answered to its
    checked request): the code is exchanged once for the panel's token, which the page then
    carries in its requests' header. `installation` names who may frame a refusal."""
    try:
        token = await helpdesk.start_panel(session, code)
        panel = await _panel(request, session, token)
    except AmendsError as error:
        framer = await session.get(HelpdeskInstallation, (token_tenant(code), installation)) if (
            installation and token_tenant(code)) else None
        return refused(request, error, framer)
    return await _page(request, session, panel, token)


def _token(request: Request, form_token: str | None) -> str:
    return request.headers.get(PANEL_HEADER) or form_token or ""


async def _panel(request: Request, session: AsyncSession, token: str) -> helpdesk.Panel:
    panel = await helpdesk.panel_for(session, token)
    _as_user(request, panel.user)
    request.state.actor = panel.actor
    return panel


async def _page(request: Request, session: AsyncSession, panel: helpdesk.Panel, token: str,
                *, reason: str | None = None, severity: int | None = None,
                notice: str | None = None, problem: str | None = None,
                fragment: bool = False, asked: Approval | None = None) -> HTMLResponse:
    _as_user(request, panel.user)
    request.state.actor = panel.actor
    if not panel.ticket.id:
        return refused(request, helpdesk.PanelExpired(
            "The helpdesk has not named the ticket yet: open the ticket again."),
            panel.installation)
    context = await panel_context(session, panel, reason=reason, severity=severity)
    context.update(token=token, notice=notice, problem=problem, asked=asked,
                   fragment=fragment, header=PANEL_HEADER)
    return render(request, "helpdesk/panel.html" if not fragment else "helpdesk/_body.html",
                  context, headers=_headers(panel.installation))


async def panel_context(session: AsyncSession, panel: helpdesk.Panel, *,
                        reason: str | None, severity: int | None) -> dict[str, Any]:
    """What the panel shows for its ticket (Intercom's canvases show the same)."""
    actor, installation, ticket = panel.actor, panel.installation, panel.ticket
    customer = await helpdesk.match_customer(session, actor, ticket.requester)
    known = await cases.reasons(session, actor.organization_id)
    case = await helpdesk.ticket_case(session, actor, installation, ticket)
    chosen = (reason if reason in known else None) or (case.reason if case else None) or (
        helpdesk.reason_of(installation, ticket)) or next(iter(sorted(known)), "")
    level = severity if severity in helpdesk.SEVERITIES else (
        case.severity if case else helpdesk.severity_of(installation, ticket))
    context: dict[str, Any] = {
        "ticket": ticket, "installation": installation, "customer": customer,
        "case": case, "reasons": known, "reason": chosen, "severity": level,
        "reply_as": helpdesk.effective_settings(installation)["reply_as"],
        "recommended": [], "others": [], "open_cases": [], "gestures": [],
        "pending": [], "messages": {}, "now": utcnow(),
        "may_give": actor.can("coupons:issue"), "display": codes.display,
        "ticket_link": _ticket_link(installation, ticket), "given_here": [],
    }
    if customer is None:
        return context
    recommended = await recommend_for(session, actor, customer=customer, reason=chosen,
                                      severity=level, limit=4) if chosen else []
    shown = {incentive.id for incentive, _ in recommended}
    currency = customer.currency or panel.organization.default_currency
    everything = await incentives.list_incentives(session, actor, active=True)
    context["recommended"] = [
        (incentive, recommendation.explanation, _face(incentive, panel))
        for incentive, recommendation in recommended]
    context["others"] = [(incentive, _face(incentive, panel)) for incentive in everything
                         if incentive.id not in shown and incentive.currency == currency]
    context["open_cases"] = await helpdesk.open_cases_of(session, actor, customer)
    gestures = await helpdesk.gestures_of(session, actor, customer)
    context["gestures"] = gestures
    # What this ticket's case was given comes first: the agent sees the amends made, and the
    # gestures are offered again only on asking (a second click gives nothing twice anyway).
    context["given_here"] = [g for g in gestures if case is not None
                             and g.case_ref == case.reference]
    if gestures:
        rows = (await session.scalars(select(Delivery).where(
            Delivery.organization_id == actor.organization_id,
            Delivery.coupon_id.in_([g.id for g in gestures]))
            .order_by(Delivery.created_at))).all()
        context["messages"] = {row.coupon_id: row for row in rows}
    if case is not None:
        context["pending"] = list((await session.scalars(select(Approval).where(
            Approval.organization_id == actor.organization_id, Approval.case_id == case.id)
            .order_by(Approval.created_at.desc()).limit(5))).all())
    return context


def _ticket_link(installation: HelpdeskInstallation, ticket: Ticket) -> str | None:
    platform = PLATFORMS.get(installation.platform)
    return platform.ticket_url(installation.account, ticket.id) if platform and ticket.id \
        else None


def _face(incentive: Incentive, panel: helpdesk.Panel) -> int:
    return coupon_policy.face_value(
        incentive.kind, incentive.value,
        average_order_value=panel.organization.average_order_value)


@router.get("/helpdesk/panel")
async def panel_page(request: Request, session: SessionDep, reason: str | None = None,
                     severity: int | None = None) -> Response:
    """The panel again (htmx swaps its body when the reason or severity changes)."""
    token = _token(request, None)
    try:
        panel = await _panel(request, session, token)
    except AmendsError as error:
        return refused(request, error)
    return await _page(request, session, panel, token, reason=reason, severity=severity,
                       fragment=bool(request.headers.get("hx-request")))


@router.post("/helpdesk/panel/customer")
async def add_customer(request: Request, session: SessionDep, panel_token: Token = None
                       ) -> Response:
    """The agent confirmed: the ticket's requester becomes an Amends customer."""
    token = _token(request, panel_token)
    try:
        panel = await _panel(request, session, token)
    except AmendsError as error:
        return refused(request, error)
    _ = gettext_for(request)
    if not panel.actor.can("customers:write"):
        return await _page(request, session, panel, token, fragment=True,
                           problem=_("Your role cannot add customers."))
    try:
        await helpdesk.customer_from_requester(session, panel.actor, panel.ticket.requester)
    except AmendsError as error:
        await session.rollback()
        panel = await _panel(request, session, token)
        return await _page(request, session, panel, token, fragment=True,
                           problem=error.detail)
    return await _page(request, session, panel, token, fragment=True,
                       notice=_("Customer added from the ticket."))


@router.post("/helpdesk/panel/give")
async def give(request: Request, session: SessionDep,
               incentive_id: Annotated[uuid.UUID, Form()],
               reason: Annotated[str, Form(max_length=50)],
               severity: Annotated[int, Form(ge=1, le=4)],
               panel_token: Token = None) -> Response:
    """The one click: the ticket's case, the gesture (or a supervisor asked), the apology with
    the code posted into the ticket."""
    token = _token(request, panel_token)
    try:
        panel = await _panel(request, session, token)
    except AmendsError as error:
        return refused(request, error)
    _ = gettext_for(request)
    if not panel.actor.can("coupons:issue"):
        return await _page(request, session, panel, token, fragment=True, reason=reason,
                           severity=severity, problem=_("Your role cannot give gestures."))
    customer = await helpdesk.match_customer(session, panel.actor, panel.ticket.requester)
    if customer is None:
        return await _page(request, session, panel, token, fragment=True, reason=reason,
                           severity=severity,
                           problem=_("Add the customer from the ticket first."))
    try:
        incentive = await incentives.get_incentive(session, panel.actor,
                                                   incentive_id=incentive_id)
        done = await helpdesk.make_amends(
            session, panel.actor, panel.installation, panel.ticket, customer=customer,
            incentive=incentive, reason=reason, severity=severity)
    except AmendsError as error:
        # Nothing is given: undo whatever this click wrote, then say why (the rollback
        # expired what was read, so the panel is read again).
        await session.rollback()
        panel = await _panel(request, session, token)
        return await _page(request, session, panel, token, fragment=True, reason=reason,
                           severity=severity, problem=error.detail)
    given = done.given
    if given.approval is not None:
        return await _page(request, session, panel, token, fragment=True, reason=reason,
                           severity=severity, asked=given.approval,
                           notice=asked_words(given.approval, _))
    if not given.created:
        notice = _("This gesture was given before for this ticket; nothing new was sent.")
    elif panel.installation.settings.get("reply_as", "public") == "note":
        notice = _("Given: the apology with the code is being added to the ticket as an "
                   "internal note.")
    else:
        notice = _("Given: the apology with the code is being posted to the ticket.")
    return await _page(request, session, panel, token, fragment=True, reason=reason,
                       severity=severity, notice=notice)


def asked_words(approval: Approval, _: Any) -> str:
    if approval.grounds == ["second_gesture"]:
        return str(_("A second gesture for this customer needs a supervisor: one has been "
                     "asked. Its status shows below."))
    if approval.tier == "manager":
        return str(_("Above your authority: a manager has been asked. Its status shows "
                     "below."))
    if approval.tier == "admin":
        return str(_("Above your authority: an administrator has been asked. Its status "
                     "shows below."))
    return str(_("Above your authority: a supervisor has been asked. Its status shows "
                 "below."))


@router.get("/helpdesk/panel/approvals/{approval_id}")
async def approval_status(request: Request, session: SessionDep, approval_id: uuid.UUID
                          ) -> Response:
    """A request's status, polled while it is pending (the panel shows it live)."""
    token = _token(request, None)
    try:
        panel = await _panel(request, session, token)
    except AmendsError as error:
        return refused(request, error)
    approval = await session.get(Approval, (panel.actor.organization_id, approval_id))
    customer = (await session.get(Customer, (approval.organization_id, approval.customer_id))
                if approval is not None else None)
    if approval is None or customer is None:
        return HTMLResponse("", status_code=404, headers=_headers(panel.installation))
    return render(request, "helpdesk/_approval.html", {"a": approval, "token": token},
                  headers=_headers(panel.installation))
