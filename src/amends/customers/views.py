"""The agent's view of a customer: who they are, everything that happened to them (orders,
shipments, cases, gestures, messages, redemptions, feedback) and a case opened in one form."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import and_, select

from amends.auth import Authenticated, MissingScope, SessionDep
from amends.cases import service as cases
from amends.coupons.schemas import Channel
from amends.customers import service as customers
from amends.errors import AmendsError
from amends.kit import codes
from amends.models import Case, Coupon, Customer, Delivery, Order, Redemption, Shipment
from amends.roles import Scope
from amends.routing import router as make_router
from amends.web.labels import label
from amends.web.templating import back, gettext_for, money_for, render

router = make_router(include_in_schema=False)
LIMIT = 50


@dataclass(frozen=True, slots=True)
class Moment:
    at: datetime
    kind: str
    text: str
    link: str | None = None


async def timeline(session: SessionDep, customer: Customer, *,
                   gettext: Callable[[str], str],
                   money: Callable[[int, str], str]) -> list[Moment]:
    """The customer's history, newest first: the latest 50 of each kind, merged, told in the
    reader's language (`gettext`) with amounts in their locale (`money`)."""
    _ = gettext

    def word(key: str) -> str:
        return _(label(key)).lower()

    def amount(minor: int, currency: str | None) -> str:
        return money(minor, currency) if currency else str(minor)

    org, who = customer.organization_id, customer.id
    moments: list[Moment] = []
    for order in (await session.scalars(select(Order).where(
            Order.organization_id == org, Order.customer_id == who)
            .order_by(Order.id.desc()).limit(LIMIT))).all():
        moments.append(Moment(order.completed_at or order.placed_at or order.created_at,
                              "order", _("Order %(order)s %(status)s, %(amount)s") % {
                                  "order": order.external_id, "status": word(order.status),
                                  "amount": amount(order.amount, order.currency)}))
    for parcel in (await session.scalars(select(Shipment).where(
            Shipment.organization_id == org, Shipment.customer_id == who)
            .order_by(Shipment.id.desc()).limit(LIMIT))).all():
        said = {"parcel": parcel.external_id, "carrier": parcel.carrier or _("carrier"),
                "status": word(parcel.status), "place": parcel.last_location}
        moments.append(Moment(parcel.delivered_at or parcel.last_scan_at, "shipment", (
            _("Parcel %(parcel)s (%(carrier)s) %(status)s at %(place)s") if parcel.last_location
            else _("Parcel %(parcel)s (%(carrier)s) %(status)s")) % said))
    case_rows = (await session.scalars(select(Case).where(
        Case.organization_id == org, Case.customer_id == who)
        .order_by(Case.id.desc()).limit(LIMIT))).all()
    for case in case_rows:
        moments.append(Moment(case.opened_at, "case", _(
            "Case %(case)s opened: %(reason)s, now %(step)s") % {
                "case": case.reference, "reason": word(case.reason), "step": word(case.state)},
            f"/cases/{case.id}"))
        if case.feedback_score is not None and case.feedback_at is not None:
            rated = {"case": case.reference, "score": case.feedback_score,
                     "comment": case.feedback_comment}
            moments.append(Moment(case.feedback_at, "feedback", (
                _("Rated case %(case)s %(score)s/5: “%(comment)s”") if case.feedback_comment
                else _("Rated case %(case)s %(score)s/5")) % rated, f"/cases/{case.id}"))
    for coupon in (await session.scalars(select(Coupon).where(
            Coupon.organization_id == org, Coupon.customer_id == who)
            .order_by(Coupon.id.desc()).limit(LIMIT))).all():
        moments.append(Moment(coupon.issued_at, "gesture", _(
            "%(gesture)s (%(code)s) given by %(who)s, now %(status)s") % {
                "gesture": coupon.name, "code": codes.display(coupon.code),
                "who": coupon.issued_by_label, "status": word(coupon.status)}))
    for message in (await session.scalars(select(Delivery).where(
            Delivery.organization_id == org, Delivery.customer_id == who)
            .order_by(Delivery.id.desc()).limit(LIMIT))).all():
        moments.append(Moment(message.created_at, "message", _(
            "%(message)s by %(channel)s to %(address)s: %(status)s") % {
                "message": _(label(message.kind)), "channel": word(message.channel),
                "address": message.address, "status": word(message.status)}))
    for used in (await session.execute(select(Redemption, Coupon.name).join(
            Coupon, and_(Coupon.organization_id == Redemption.organization_id,
                         Coupon.id == Redemption.coupon_id)).where(
            Redemption.organization_id == org, Coupon.customer_id == who)
            .order_by(Redemption.id.desc()).limit(LIMIT))).all():
        redemption, name = used
        said = {"gesture": name, "amount": amount(redemption.discount, redemption.currency),
                "order": redemption.order_id, "store": redemption.store_id}
        text = (_("Used %(gesture)s: %(amount)s off order %(order)s at %(store)s")
                if redemption.store_id
                else _("Used %(gesture)s: %(amount)s off order %(order)s")) % said
        if redemption.status == "voided":
            text += " " + _("(voided)")
        moments.append(Moment(redemption.created_at, "redemption", text))
    return sorted(moments, key=lambda m: m.at, reverse=True)


@router.get("/customers/{external_id}", response_class=HTMLResponse)
async def customer_page(external_id: str, request: Request, session: SessionDep,
                        actor: Authenticated) -> Response:
    customer = await customers.get_customer(session, actor, external_id=external_id)
    return render(request, "customers/page.html", {
        "customer": customer,
        "moments": await timeline(session, customer, gettext=gettext_for(request),
                                  money=money_for(request)),
        "reasons": await cases.reasons(session, actor.organization_id),
        "channels": [c.value for c in Channel],
        "may_open": actor.can(Scope.CASES_WRITE)})


@router.post("/customers/{external_id}/cases")
async def open_from_page(
    external_id: str, request: Request, session: SessionDep, actor: Authenticated,
    reason: Annotated[str, Form(max_length=50)],
    severity: Annotated[int, Form(ge=1, le=4)],
    channel: Annotated[Channel, Form()],
    conversation_ref: Annotated[str, Form(max_length=200)] = "",
    summary: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    _ = gettext_for(request)
    if not actor.can(Scope.CASES_WRITE):
        raise MissingScope(_("Your role cannot open cases."))
    customer = await customers.get_customer(session, actor, external_id=external_id)
    try:
        case = await cases.open_case(session, actor, customer=customer, reason=reason,
                                     severity=severity, channel=channel.value,
                                     conversation_ref=conversation_ref.strip() or None,
                                     summary=summary.strip())
    except AmendsError as problem:
        await session.rollback()
        return back(f"/customers/{external_id}", problem=problem.detail)
    return back(f"/cases/{case.id}", notice=_(
        "Case %(case)s is open. Apologise, then give a gesture below.")
        % {"case": case.reference})
