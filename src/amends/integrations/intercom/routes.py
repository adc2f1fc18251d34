"""Canvas Kit's entry points for one installation, under
`/helpdesk/{organisation}/{installation}/intercom`: `initialize` and `submit` (an inbox app
in the conversation details: https://developers.intercom.com/docs/canvas-kit). Webhook
notifications arrive at `events` (`webhooks`).

A Canvas Kit request is checked (the installation's client secret signed its body; its
workspace is the installation's), then its teammate is mapped to an Amends user by e-mail in
the installation's organisation. Canvas Kit shows nothing but a canvas, so a refusal that
concerns the teammate (no Amends user, a role that cannot give) is a canvas that says why,
answered 200; a request Amends cannot trust (a bad signature, another workspace, a canvas
replayed, altered or expired) is a 401 problem.

Replays: see `signatures` (initialize is read-only and may repeat; each submit spends its
canvas's nonce).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.auth import SessionDep
from amends.coupons import policy as coupon_policy
from amends.errors import AmendsError, ValidationFailed
from amends.helpdesk import service as helpdesk
from amends.helpdesk.panel import asked_words as panel_asked
from amends.helpdesk.panel import panel_context
from amends.incentives import service as incentives
from amends.integrations.intercom import canvas as ui
from amends.integrations.intercom import client, signatures
from amends.integrations.intercom.canvas import _
from amends.integrations.intercom.payloads import CanvasRequest, ticket_of
from amends.kit import codes, locale
from amends.kit.clock import utcnow
from amends.kit.translations import translations
from amends.models import Approval, HelpdeskInstallation, Organization, User
from amends.roles import Scope
from amends.routing import router as make_router

router = make_router(include_in_schema=False)
PLATFORM = "intercom"
ROOT = "/helpdesk/{organization}/{installation_id}/intercom"


class MalformedRequest(ValidationFailed):
    code, title = "intercom_request_malformed", "Not a request Intercom sends"


async def _canvas_request(request: Request, session: AsyncSession, organization: str,
                          installation_id: uuid.UUID
                          ) -> tuple[HelpdeskInstallation, CanvasRequest]:
    installation = await helpdesk.installation_for(
        session, organization=organization, installation_id=installation_id,
        platform=PLATFORM)
    raw = await request.body()
    signatures.check_body_signature(installation, raw, request.headers.get("x-body-signature"))
    try:
        body = CanvasRequest.model_validate_json(raw)
    except ValidationError as error:
        raise MalformedRequest("The body is not a Canvas Kit request.") from error
    if (body.workspace_id or "").strip().lower() != installation.account:
        raise helpdesk.SignatureRefused(
            "This request comes from another Intercom workspace than the installation's.")
    return installation, body


@dataclass(frozen=True, slots=True)
class Call:
    """A checked Canvas Kit request and its teammate as an Amends user."""

    installation: HelpdeskInstallation
    body: CanvasRequest
    actor: Actor
    user: User
    organization: Organization
    base_url: str

    @property
    def words(self) -> ui.Words:
        return _words(self.user, self.organization)

    @property
    def admin_id(self) -> str:
        return _admin_id(self.body)


def _words(user: User | None, organization: Organization | None = None) -> ui.Words:
    """The teammate's language (English without a user) and zone (else the
    organisation's)."""
    chosen = user.locale if user and user.locale else "en"
    tag = chosen if locale.language_of(chosen) in locale.CONSOLE else "en"
    zone = (user.time_zone if user else None) or (
        organization.time_zone if organization else None)
    return ui.Words(gettext=translations("console", tag).gettext, tag=tag, zone=zone)


def _admin_id(body: CanvasRequest) -> str:
    return str(body.admin.id) if body.admin and body.admin.id is not None else ""


async def _call(request: Request, session: AsyncSession,
                installation: HelpdeskInstallation, body: CanvasRequest
                ) -> Call | dict[str, Any]:
    """The checked request and its teammate, or the canvas that says why there is none."""
    if body.conversation_id() is None:
        return ui.refusal(_words(None), _("Open Amends from a conversation."))
    try:
        actor, user = await helpdesk.agent(session, installation,
                                           body.admin.email if body.admin else None)
    except helpdesk.AgentNotMapped as error:
        return ui.refusal(_words(None), error.detail)
    organization = await session.get(Organization, installation.organization_id)
    assert organization is not None
    return Call(installation=installation, body=body, actor=actor, user=user,
                organization=organization,
                base_url=str(request.app.state.settings.base_url).rstrip("/"))


@router.post(ROOT + "/initialize")
async def initialize(organization: str, installation_id: uuid.UUID, request: Request,
                     session: SessionDep) -> JSONResponse:
    """Canvas Kit's initialize: the conversation's customer, their cases and gestures, and
    the gestures to give. Read-only (Intercom sends it again for each participant of a group
    conversation and each time the conversation is opened)."""
    installation, body = await _canvas_request(request, session, organization,
                                               installation_id)
    call = await _call(request, session, installation, body)
    if isinstance(call, dict):
        return JSONResponse(call)
    return JSONResponse(await _overview(session, call, first=True))


@router.post(ROOT + "/submit")
async def submit(organization: str, installation_id: uuid.UUID, request: Request,
                 session: SessionDep) -> JSONResponse:
    """Canvas Kit's submit: a button or list item of a canvas Amends gave was clicked. Its
    canvas's state is checked and spent first (a replay is a 401), then: add the customer, the
    confirm step of a gesture, the gesture given, or the overview again."""
    installation, body = await _canvas_request(request, session, organization,
                                               installation_id)
    state, until = signatures.unseal(installation, body.stored_data(),
                                     conversation_id=body.conversation_id(),
                                     admin_id=_admin_id(body))
    await helpdesk.first_use(session, installation, token_id=f"canvas:{state['nonce']}",
                             until=until)
    call = await _call(request, session, installation, body)
    if isinstance(call, dict):
        return JSONResponse(call)
    component = body.component_id or ""
    reason, severity = _choice(body, state)
    if component == ui.ADD_CUSTOMER:
        answer = await _add_customer(session, call)
    elif component.startswith(ui.GIVE):
        answer = await _confirm_step(session, call, component.removeprefix(ui.GIVE),
                                     reason=reason, severity=severity)
    elif component == ui.CONFIRM and state.get("step") == "confirm":
        answer = await _give(session, call, state)
    elif component == ui.CONFIRM:
        answer = await _overview(session, call, problem=call.words(
            _("Nothing to confirm: choose a gesture again.")))
    else:
        answer = await _overview(session, call, reason=reason, severity=severity)
    return JSONResponse(answer)


def _choice(body: CanvasRequest, state: dict[str, Any]) -> tuple[str | None, int | None]:
    """The reason and severity chosen on the canvas (its dropdowns), else those it was
    issued with."""
    reason = body.input(ui.REASON) or state.get("reason")
    given = body.input(ui.SEVERITY) or state.get("severity")
    try:
        severity = int(given) if given is not None else None
    except (TypeError, ValueError):
        severity = None
    return (str(reason) if reason else None,
            severity if severity is not None and severity in helpdesk.SEVERITIES else None)


def _panel(call: Call) -> helpdesk.Panel:
    """The conversation as the agent's panel reads a ticket."""
    conversation_id = call.body.conversation_id()
    assert conversation_id is not None
    return helpdesk.Panel(actor=call.actor, user=call.user, installation=call.installation,
                          ticket=ticket_of(conversation_id, call.body.conversation or {},
                                           call.body.the_contact()),
                          organization=call.organization)


async def _overview(session: AsyncSession, call: Call, *, reason: str | None = None,
                    severity: int | None = None, notice: str | None = None,
                    problem: str | None = None, first: bool = False) -> dict[str, Any]:
    """The main canvas (`first`: its short form, which initialize answers): what the
    agent's panel shows, read by the panel's own code (the reason chosen, the severity, the
    gestures that fit, the customer's cases and gestures)."""
    w = call.words
    panel = _panel(call)
    found = await panel_context(session, panel, reason=reason, severity=severity)
    customer, requester, case = found["customer"], panel.ticket.requester, found["case"]
    messages = found["messages"]
    view = ui.Overview(
        customer_name=(customer.name or customer.external_id) if customer else None,
        customer_line=" · ".join(filter(None, [
            customer.email, customer.phone, w.key(customer.value_tier)])) if customer else "",
        requester_line=" ".join(filter(None, [requester.name, requester.email,
                                              requester.phone])),
        known=customer is not None,
        may_add=bool(requester.external_id or requester.email or requester.phone),
        may_give=bool(found["may_give"]),
        case_closed=case.reference if case is not None and case.state == "closed" else None,
        reasons=sorted(found["reasons"].items(), key=lambda kv: w(kv[1])),
        reason=found["reason"], severity=found["severity"],
        recommended=[ui.Gesture(str(i.id), i.name, face, i.currency, why)
                     for i, why, face in found["recommended"]],
        others=[ui.Gesture(str(i.id), i.name, face, i.currency) for i, face in found["others"]],
        given=[ui.Given(name=g.name, code=codes.display(g.code), issued_at=g.issued_at,
                        status="expired" if g.status == "active" and g.expires_at <= utcnow()
                        else g.status,
                        message=messages[g.id].status if g.id in messages else None)
               for g in found["gestures"]],
        open_cases=[ui.OpenCase(c.reference, c.reason, c.state,
                                case is not None and c.id == case.id)
                    for c in found["open_cases"]],
        asked=[_asked(a) for a in found["pending"][:3]],
        reply_as=found["reply_as"],
        customer_url=(f"{call.base_url}/customers/{quote(customer.external_id, safe='')}"
                      if customer and call.base_url.startswith(("https://", "http://"))
                      else None),
        notice=notice, problem=problem)
    stored = signatures.seal(call.installation, conversation_id=panel.ticket.id,
                             admin_id=call.admin_id,
                             step={"step": "overview", "reason": view.reason,
                                   "severity": view.severity})
    return (ui.first if first else ui.overview)(w, view, stored)


def _asked(approval: Approval) -> ui.Asked:
    return ui.Asked(status=approval.status, tier=approval.tier,
                    decision_reason=approval.decision_reason)


async def _add_customer(session: AsyncSession, call: Call) -> dict[str, Any]:
    """The teammate confirmed: the conversation's contact becomes an Amends customer."""
    w = call.words
    if not call.actor.can(Scope.CUSTOMERS_WRITE):
        return await _overview(session, call, problem=w(_("Your role cannot add customers.")))
    panel = _panel(call)
    try:
        async with session.begin_nested():
            await helpdesk.customer_from_requester(session, call.actor,
                                                   panel.ticket.requester)
    except AmendsError as error:
        return await _overview(session, call, problem=error.detail)
    return await _overview(session, call,
                           notice=w(_("Customer added from the conversation.")))


async def _confirm_step(session: AsyncSession, call: Call, incentive_id: str, *,
                        reason: str | None, severity: int | None) -> dict[str, Any]:
    """The gesture, the customer and the reason, to confirm before anything is given."""
    w = call.words
    panel = _panel(call)
    found = await panel_context(session, panel, reason=reason, severity=severity)
    customer = found["customer"]
    if customer is None:
        return await _overview(session, call, problem=w(_(
            "Add the customer from the conversation first.")))
    try:
        incentive = await incentives.get_incentive(session, call.actor,
                                                   incentive_id=uuid.UUID(incentive_id))
    except (ValueError, AmendsError):
        return await _overview(session, call, reason=reason, severity=severity, problem=w(_(
            "That gesture is no longer in the catalogue.")))
    face = coupon_policy.face_value(incentive.kind, incentive.value,
                                    average_order_value=panel.organization.average_order_value)
    chosen, level = str(found["reason"]), int(found["severity"])
    stored = signatures.seal(call.installation, conversation_id=panel.ticket.id,
                             admin_id=call.admin_id,
                             step={"step": "confirm", "incentive": str(incentive.id),
                                   "reason": chosen, "severity": level})
    return ui.confirm(w, gesture=ui.Gesture(str(incentive.id), incentive.name, face,
                                            incentive.currency),
                      customer_name=customer.name or customer.external_id,
                      reason=w(found["reasons"].get(chosen, chosen)), severity=level,
                      stored=stored)


async def _give(session: AsyncSession, call: Call, state: dict[str, Any]) -> dict[str, Any]:
    """The confirmed click: `helpdesk.make_amends` with the conversation as the ticket."""
    w = call.words
    panel = _panel(call)
    back = signatures.seal(call.installation, conversation_id=panel.ticket.id,
                           admin_id=call.admin_id,
                           step={"step": "result", "reason": state.get("reason"),
                                 "severity": state.get("severity")})
    if not call.actor.can(Scope.COUPONS_ISSUE):
        return ui.result(w, ui.Outcome(name="", problem=w(_(
            "Your role cannot give gestures."))), back)
    customer = await helpdesk.match_customer(session, call.actor, panel.ticket.requester)
    if customer is None:
        return ui.result(w, ui.Outcome(name="", problem=w(_(
            "Add the customer from the conversation first."))), back)
    _remember_teammate(call)
    try:
        async with session.begin_nested():
            incentive = await incentives.get_incentive(
                session, call.actor, incentive_id=uuid.UUID(str(state.get("incentive"))))
            done = await helpdesk.make_amends(
                session, call.actor, call.installation, panel.ticket, customer=customer,
                incentive=incentive, reason=str(state.get("reason")),
                severity=int(state.get("severity") or 3))
    except AmendsError as error:
        # Nothing is given (the savepoint undid what the click wrote); the canvas's nonce
        # stays spent.
        return ui.result(w, ui.Outcome(name="", problem=error.detail), back)
    given = done.given
    if given.approval is not None:
        return ui.result(w, ui.Outcome(name=incentive.name, asked=_asked(given.approval),
                                       asked_why=panel_asked(given.approval, w)), back)
    assert given.coupon is not None
    return ui.result(w, ui.Outcome(
        name=given.coupon.name, code=codes.display(given.coupon.code), created=given.created,
        reply_as=helpdesk.effective_settings(call.installation)["reply_as"]), back)


def _remember_teammate(call: Call) -> None:
    """The teammate who gives a gesture authors the reply that carries it (unless the
    installation names one: its `admin_id`), in the workspace's region: kept with the
    installation, which the delivery's job reads. Two teammates giving gestures in the same
    second may see the other's name on their reply; the gesture and the code are theirs."""
    seen = {client.SEEN_ADMIN: call.admin_id,
            client.SEEN_REGION: (call.body.workspace_region or "").strip().lower()}
    seen = {key: value for key, value in seen.items() if value}
    settings = call.installation.settings
    if any(settings.get(key) != value for key, value in seen.items()):
        call.installation.settings = {**settings, **seen}
