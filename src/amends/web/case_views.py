"""The agent's case page: the case, its timeline, the recommended gestures (one click gives
one), the messages sent and their status, and the next step."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from amends.actor import Actor
from amends.approvals import policy as authority
from amends.approvals import service as approvals
from amends.auth import Authenticated, MissingScope, SessionDep
from amends.cases import policy as case_policy
from amends.cases import recommend
from amends.cases import service as cases
from amends.coupons import policy as coupon_policy
from amends.coupons import service as coupon_service
from amends.delivery import service as delivery
from amends.delivery.service import DELIVERY_CHANNELS
from amends.errors import AmendsError
from amends.incentives import service as incentives
from amends.kit import codes, locale
from amends.kit.clock import utcnow
from amends.models import Case, Coupon, Customer, Delivery, Incentive, Organization
from amends.outcomes import service as outcomes
from amends.roles import Scope
from amends.routing import router as make_router
from amends.web.labels import label
from amends.web.templating import back, console_locale, console_zone, gettext_for, render

router = make_router(include_in_schema=False)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(case_id: uuid.UUID, request: Request, session: SessionDep,
                    actor: Authenticated) -> Response:
    case = await cases.get_case(session, actor, case_id=case_id)
    customer = await session.get(Customer, (case.organization_id, case.customer_id))
    may_give = actor.can(Scope.COUPONS_ISSUE)
    ranked = await recommend.recommendations(session, actor, case_id=case.id) if may_give \
        else []
    beyond = await _beyond_authority(session, actor, case, customer) if may_give else []
    state_index = case_policy.STATES.index(case.state)
    next_steps = case_policy.STATES[state_index + 1:]
    return render(request, "cases/page.html", {
        "case": case, "customer": customer, "ranked": ranked, "beyond": beyond,
        "timeline": await cases.timeline(session, actor, case_id=case.id),
        "next_steps": next_steps, "may_give": may_give,
        "outcome": await outcomes.case_outcome(session, case),
        **await _given(session, actor, case)})


async def _beyond_authority(session: SessionDep, actor: Actor, case: Case,
                            customer: Customer | None) -> list[tuple[Incentive, int]]:
    """The gestures for this case's reason that the recommendations leave out because they
    are above the caller's authority, with their face value: giving one asks a supervisor."""
    organization = await session.get(Organization, actor.organization_id)
    assert organization is not None
    currency = (customer.currency if customer else None) or organization.default_currency
    limits = await approvals.limits_for(session, actor, currency)
    beyond = []
    for incentive in await incentives.list_incentives(session, actor, active=True,
                                                      reason=case.reason):
        value = coupon_policy.face_value(incentive.kind, incentive.value,
                                         average_order_value=organization.average_order_value)
        if incentive.currency == currency and not authority.may_give(
                limits, face_value=value, incentive_id=str(incentive.id)):
            beyond.append((incentive, value))
    return beyond


async def _given(session: SessionDep, actor: Actor, case: Case) -> dict[str, Any]:
    """The gestures of the case and the messages sent about it, for the live part of the
    page."""
    gestures = (await session.scalars(select(Coupon).where(
        Coupon.organization_id == actor.organization_id, Coupon.customer_id == case.customer_id,
        Coupon.case_ref == case.reference).order_by(Coupon.issued_at))).all()
    messages = (await session.scalars(select(Delivery).where(
        Delivery.organization_id == actor.organization_id, Delivery.case_id == case.id)
        .order_by(Delivery.created_at))).all()
    return {"case": case, "gestures": gestures, "messages": messages, "now": utcnow(),
            "display": codes.display, "channels": DELIVERY_CHANNELS,
            "may_give": actor.can(Scope.COUPONS_ISSUE),
            "live": any(m.status in ("queued", "sending") for m in messages)}


@router.get("/cases/{case_id}/given", response_class=HTMLResponse)
async def given_part(case_id: uuid.UUID, request: Request, session: SessionDep,
                     actor: Authenticated) -> Response:
    """The gestures and messages of a case, polled by the page while a message is on its
    way, so the agent watches it go from queued to sent to delivered."""
    case = await cases.get_case(session, actor, case_id=case_id)
    return render(request, "cases/_given.html", await _given(session, actor, case))


@router.post("/cases/{case_id}/messages/{delivery_id}/resend")
async def resend_from_page(case_id: uuid.UUID, delivery_id: uuid.UUID, request: Request,
                           session: SessionDep, actor: Authenticated,
                           channel: Annotated[str, Form(max_length=20)]) -> Response:
    _ = gettext_for(request)
    if not actor.can(Scope.COUPONS_ISSUE):
        raise MissingScope(_("Your role cannot send gestures."))
    await cases.get_case(session, actor, case_id=case_id)
    previous = await delivery.get_delivery(session, actor, delivery_id=delivery_id)
    if previous.case_id != case_id:
        return _back(case_id, problem=_("That message belongs to another case."))
    try:
        sent = await delivery.resend(session, actor, delivery_id=delivery_id, channel=channel,
                                     base_url=str(request.app.state.settings.base_url))
    except AmendsError as problem:
        await session.rollback()
        return _back(case_id, problem=problem.detail)
    return _back(case_id, notice=_("Sent again by %(channel)s to %(address)s.") % {
        "channel": _(label(sent.channel)).lower(), "address": sent.address})


@router.post("/cases/{case_id}/gestures/{coupon_id}/reinstate")
async def reinstate_from_page(case_id: uuid.UUID, coupon_id: uuid.UUID, request: Request,
                              session: SessionDep, actor: Authenticated,
                              days: Annotated[int, Form(ge=1, le=365)],
                              reason: Annotated[str, Form(max_length=1000)] = "") -> Response:
    _ = gettext_for(request)
    if not actor.can(Scope.COUPONS_ISSUE):
        raise MissingScope(_("Your role cannot reinstate gestures."))
    case = await cases.get_case(session, actor, case_id=case_id)
    coupon = await coupon_service.get_coupon(session, actor, coupon_id=coupon_id)
    if coupon.case_ref != case.reference:
        return _back(case_id, problem=_("That gesture belongs to another case."))
    try:
        coupon = await coupon_service.reinstate_coupon(
            session, actor, coupon_id=coupon_id, days=days,
            reason=reason.strip() or "Reinstated from the case page")
    except AmendsError as problem:
        await session.rollback()
        return _back(case_id, problem=problem.detail)
    await cases.add_event(session, case, actor, kind="gesture_extended",
                          summary=f"{coupon.name} valid until {coupon.expires_at:%-d %B %Y}")
    return _back(case_id, notice=_("%(gesture)s is valid until %(date)s.") % {
        "gesture": coupon.name,
        "date": locale.date(coupon.expires_at, console_locale(request), console_zone(request))})


@router.post("/cases/{case_id}/notes")
async def note_from_page(case_id: uuid.UUID, request: Request, session: SessionDep,
                         actor: Authenticated,
                         text: Annotated[str, Form(min_length=1, max_length=2000)]) -> Response:
    _ = gettext_for(request)
    if not actor.can(Scope.CASES_WRITE):
        raise MissingScope(_("Your role cannot change cases."))
    await cases.add_note(session, actor, case_id=case_id, text=text.strip())
    return _back(case_id, notice=_("Note added."))


@router.post("/cases/{case_id}/gestures")
async def give_from_page(case_id: uuid.UUID, request: Request, session: SessionDep,
                         actor: Authenticated,
                         incentive_id: Annotated[uuid.UUID, Form()]) -> Response:
    """The one click: give the gesture (or ask a supervisor) and send it on the case's channel."""
    _ = gettext_for(request)
    if not actor.can(Scope.COUPONS_ISSUE):
        raise MissingScope(_("Your role cannot give gestures."))
    case = await cases.get_case(session, actor, case_id=case_id)
    customer = await session.get(Customer, (case.organization_id, case.customer_id))
    assert customer is not None
    incentive = await incentives.get_incentive(session, actor, incentive_id=incentive_id)
    try:
        given = await approvals.give_gesture(session, actor, customer=customer,
                                             incentive=incentive, case=case)
        if given.coupon is not None and given.created:
            await delivery.deliver(session, actor, coupon=given.coupon, case=case)
    except AmendsError as problem:
        # Nothing is given: undo whatever this click wrote, then say why on the page.
        await session.rollback()
        return _back(case_id, problem=problem.detail)
    if given.approval is not None:
        return _back(case_id, notice=_("Above your authority: a supervisor has been asked."))
    return _back(case_id, notice=_("Gesture given and on its way to the customer.")
                 if given.created else _("This gesture was given before; nothing new was sent."))


@router.post("/cases/{case_id}/steps")
async def move_from_page(case_id: uuid.UUID, request: Request, session: SessionDep,
                         actor: Authenticated, to: Annotated[str, Form()],
                         note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    _ = gettext_for(request)
    if not actor.can(Scope.CASES_WRITE):
        raise MissingScope(_("Your role cannot change cases."))
    case = await cases.get_case(session, actor, case_id=case_id)
    field = {"apologised": "apology", "reviewing": "notes", "fixed": "remedy",
             "followed_up": "notes", "closed": "summary"}.get(to, "notes")
    try:
        skipped = case_policy.steps_between(case.state, to)
        await cases.move(session, actor, case_id=case_id, to=to,
                         details={field: note} if note else {},
                         skip_reason=(note or "skipped from the case page") if skipped else None)
    except (case_policy.InvalidTransition, AmendsError) as problem:
        await session.rollback()
        return _back(case_id, problem=str(getattr(problem, "detail", problem)))
    return _back(case_id, notice=_("The case is now %(step)s.")
                 % {"step": _(label(to)).lower()})


def _back(case_id: uuid.UUID, *, notice: str | None = None, problem: str | None = None
          ) -> Response:
    return back(f"/cases/{case_id}", notice=notice, problem=problem)
