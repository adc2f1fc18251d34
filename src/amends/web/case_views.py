"""The agent's case page: the case and its steps (what each recorded, a form for the next one,
a reasoned skip to a later one), the gestures it may still offer (one click gives one; what
was given shows as given, with its message's status), the messages sent, gift cards' ledgers,
its outcome and its timeline."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
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
from amends.coupons import ledger
from amends.coupons import policy as coupon_policy
from amends.coupons import service as coupon_service
from amends.delivery import service as delivery
from amends.delivery.service import DELIVERY_CHANNELS
from amends.errors import AmendsError
from amends.helpdesk import service as helpdesk
from amends.incentives import service as incentives
from amends.kit import codes, locale
from amends.kit.clock import utcnow
from amends.models import (
    Approval,
    Case,
    CaseEvent,
    Coupon,
    Customer,
    Delivery,
    Incentive,
    Organization,
)
from amends.outcomes import service as outcomes
from amends.roles import Scope
from amends.routing import router as make_router
from amends.shops import service as shops
from amends.web.labels import in_sentence, label
from amends.web.templating import back, console_locale, console_zone, gettext_for, render

router = make_router(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class Offer:
    """A gesture of the catalogue as the page offers it: `give` (one click), `ask` (a
    supervisor decides), or already `given` or `asked` in this case (no button)."""

    incentive: Incentive
    face_value: int
    state: str
    explanation: str = ""


@dataclass(frozen=True, slots=True)
class Step:
    """One of the case's steps as the page shows it: done, skipped (with why), the current
    one, the next one (its form) or a later one (reached by a skip, with why)."""

    key: str
    status: str
    recorded: list[tuple[str, str]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # the move's, which the page words
    at: datetime | None = None
    by: str | None = None
    skip_reason: str | None = None
    skips: list[str] = field(default_factory=list)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(case_id: uuid.UUID, request: Request, session: SessionDep,
                    actor: Authenticated) -> Response:
    case = await cases.get_case(session, actor, case_id=case_id)
    customer = await session.get(Customer, (case.organization_id, case.customer_id))
    assert customer is not None
    given = await _given(session, actor, case)
    may_give = actor.can(Scope.COUPONS_ISSUE)
    recommended, above, second = await _offers(session, actor, case, customer,
                                               given["gestures"]) \
        if may_give and case.state != "closed" else ([], [], None)
    timeline = await cases.timeline(session, actor, case_id=case.id)
    return render(request, "cases/page.html", {
        **given, "customer": customer, "recommended": recommended, "above": above,
        "second_window": second, "timeline": timeline, "steps": case_steps(case, timeline),
        "step_fields": cases.STEP_FIELDS, "may_write": actor.can(Scope.CASES_WRITE),
        "outcome": await outcomes.case_outcome(session, case),
        "ticket": await helpdesk.ticket_link(session, case)})


def case_steps(case: Case, events: Sequence[CaseEvent]) -> list[Step]:
    """The four steps (and closing), each with what its latest move recorded: a reopened
    case shows what it did before, and moves on again from review."""
    moved: dict[str, CaseEvent] = {}
    skipped: dict[str, CaseEvent] = {}
    for event in events:
        if event.kind != "state_changed":
            continue
        for step in event.data.get("skipped") or []:
            skipped[step] = event
            moved.pop(step, None)
        to = str(event.data.get("to"))
        moved[to] = event
        skipped.pop(to, None)
    here = case_policy.STATES.index(case.state)
    steps = []
    for index, key in enumerate(case_policy.STATES[1:], start=1):
        if index > here:
            steps.append(Step(key=key, status="next" if index == here + 1 else "later",
                              skips=list(case_policy.STATES[here + 1:index])))
            continue
        if key in skipped:
            event = skipped[key]
            steps.append(Step(key=key, status="skipped", at=event.created_at,
                              by=event.actor_label,
                              skip_reason=str(case.skipped.get(key) or "")))
            continue
        event_of = moved.get(key)
        data = event_of.data if event_of is not None else _recorded_on_case(case, key)
        steps.append(Step(
            key=key, status="current" if index == here else "done",
            recorded=[(name, str(data[name])) for name in cases.STEP_FIELDS[key]
                      if data.get(name)], data=data,
            at=event_of.created_at if event_of is not None else None,
            by=event_of.actor_label if event_of is not None else None))
    return steps


def _recorded_on_case(case: Case, key: str) -> dict[str, Any]:
    """What the case itself keeps of a step whose move left no entry in its timeline."""
    kept: dict[str, dict[str, Any]] = {
        "reviewing": {"root_cause": case.root_cause,
                      "responsible_party": case.responsible_party},
        "fixed": {"remedy": case.remedy}, "closed": {"summary": case.summary}}
    return kept.get(key, {})


async def _offers(session: SessionDep, actor: Actor, case: Case, customer: Customer,
                  gestures: Sequence[Coupon]) -> tuple[list[Offer], list[Offer], int | None]:
    """The recommended gestures within the caller's authority and those above it, each
    as it stands in this case; and, when the customer had a gesture within the
    organisation's window, the window's days (a new one then needs a supervisor)."""
    organization = await session.get(Organization, actor.organization_id)
    assert organization is not None
    given = {g.incentive_id for g in gestures if g.status != "revoked"}
    asked = set((await session.scalars(select(Approval.incentive_id).where(
        Approval.organization_id == actor.organization_id, Approval.case_id == case.id,
        Approval.status == "pending"))).all())
    window = organization.second_gesture_window_days
    # The same count the one click weighs (approvals.give_gesture), so the page offers what
    # the click will do.
    second = await approvals.recent_gestures(session, customer, window) > 0

    def offer(incentive: Incentive, value: int, state: str, explanation: str = "") -> Offer:
        if incentive.id in given:
            state = "given"
        elif incentive.id in asked:
            state = "asked"
        return Offer(incentive=incentive, face_value=value, state=state,
                     explanation=explanation)

    recommended = [offer(incentive, r.option.face_value, "ask" if second else "give",
                         r.explanation)
                   for incentive, r in await recommend.recommendations(
                       session, actor, case_id=case.id)]
    above = [offer(incentive, value, "ask")
             for incentive, value in await _beyond_authority(session, actor, case, customer,
                                                             organization)]
    return recommended, above, window if second else None


async def _beyond_authority(session: SessionDep, actor: Actor, case: Case, customer: Customer,
                            organization: Organization) -> list[tuple[Incentive, int]]:
    """The gestures for this case's reason that the recommendations leave out because they
    are above the caller's authority, with their face value: giving one asks a supervisor."""
    currency = customer.currency or organization.default_currency
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
    """The gestures of the case (each with its latest message), the messages sent about it
    and its gift cards' ledgers, for the live part of the page."""
    gestures = (await session.scalars(select(Coupon).where(
        Coupon.organization_id == actor.organization_id, Coupon.customer_id == case.customer_id,
        Coupon.case_ref == case.reference).order_by(Coupon.issued_at))).all()
    messages = (await session.scalars(select(Delivery).where(
        Delivery.organization_id == actor.organization_id, Delivery.case_id == case.id)
        .order_by(Delivery.created_at))).all()
    latest = {m.coupon_id: m for m in messages if m.coupon_id is not None}
    return {"case": case, "gestures": gestures, "messages": messages, "latest": latest,
            "ledgers": await ledger.of_cards(session, actor, gestures), "now": utcnow(),
            "display": codes.display, "channels": DELIVERY_CHANNELS,
            "may_give": actor.can(Scope.COUPONS_ISSUE),
            "not_in_shop": await shops.not_in_shop(session, actor.organization_id,
                                                   [g.id for g in gestures]),
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
        "channel": _(in_sentence(sent.channel)), "address": sent.address})


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
    if case.state == "closed":
        return _back(case_id, problem=_("This case is closed: reopen it first to give a "
                                        "gesture."))
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
        return _back(case_id, notice=_asked(given.approval, _))
    return _back(case_id, notice=_("Gesture given and on its way to the customer.")
                 if given.created else _("This gesture was given before; nothing new was sent."))


def _asked(approval: Approval, _: Callable[[str], str]) -> str:
    """Who was asked, and why in the agent's terms: a second gesture is not a matter of the
    agent's authority."""
    if approval.grounds == [authority.SECOND_GESTURE]:
        return _("A second gesture for this customer needs a supervisor: one has been asked.")
    if approval.tier == "manager":
        return _("Above your authority: a manager has been asked.")
    if approval.tier == "admin":
        return _("Above your authority: an administrator has been asked.")
    return _("Above your authority: a supervisor has been asked.")


@router.post("/cases/{case_id}/steps")
async def move_from_page(
    case_id: uuid.UUID, request: Request, session: SessionDep, actor: Authenticated,
    to: Annotated[str, Form(max_length=20)],
    skip_reason: Annotated[str, Form(max_length=1000)] = "",
    apology: Annotated[str, Form(max_length=5000)] = "",
    root_cause: Annotated[str, Form(max_length=100)] = "",
    responsible_party: Annotated[str, Form(max_length=200)] = "",
    notes: Annotated[str, Form(max_length=5000)] = "",
    remedy: Annotated[str, Form(max_length=5000)] = "",
    summary: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Take the case to a later step with what that step records (the review its root cause
    and responsible party, the fix its remedy); skipping steps needs a reason, as through
    the API (`cases.move` decides both)."""
    _ = gettext_for(request)
    if not actor.can(Scope.CASES_WRITE):
        raise MissingScope(_("Your role cannot change cases."))
    await cases.get_case(session, actor, case_id=case_id)
    details = {name: value.strip() for name, value in {
        "apology": apology, "root_cause": root_cause, "responsible_party": responsible_party,
        "notes": notes, "remedy": remedy, "summary": summary}.items() if value.strip()}
    try:
        await cases.move(session, actor, case_id=case_id, to=to, details=details,
                         skip_reason=skip_reason.strip() or None)
    except cases.SkipReasonRequired as problem:
        await session.rollback()
        return _back(case_id, problem=_("Say why you skip %(steps)s.") % {
            "steps": ", ".join(_(label(s)).lower() for s in problem.extra["skipped"])})
    except AmendsError as problem:
        await session.rollback()
        return _back(case_id, problem=problem.detail)
    return _back(case_id, notice=_("The case is now %(step)s.")
                 % {"step": _(label(to)).lower()})


@router.post("/cases/{case_id}/reopen")
async def reopen_from_page(case_id: uuid.UUID, request: Request, session: SessionDep,
                           actor: Authenticated,
                           reason: Annotated[str, Form(min_length=1, max_length=1000)]
                           ) -> Response:
    """Reopen a closed case (it goes back to review), saying why."""
    _ = gettext_for(request)
    if not actor.can(Scope.CASES_WRITE):
        raise MissingScope(_("Your role cannot change cases."))
    await cases.get_case(session, actor, case_id=case_id)
    if not reason.strip():
        return _back(case_id, problem=_("Say why the case is reopened."))
    try:
        await cases.reopen(session, actor, case_id=case_id, reason=reason.strip())
    except AmendsError as problem:
        await session.rollback()
        return _back(case_id, problem=problem.detail)
    return _back(case_id, notice=_("The case is open again, back in review."))


def _back(case_id: uuid.UUID, *, notice: str | None = None, problem: str | None = None
          ) -> Response:
    return back(f"/cases/{case_id}", notice=notice, problem=problem)
