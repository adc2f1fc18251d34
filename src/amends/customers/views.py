"""The agent's view of a customer: who they are, everything that happened to them (orders,
shipments, cases, gestures, messages, redemptions, feedback) and a case opened in one form."""

from __future__ import annotations

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
from amends.kit.money import format_minor
from amends.models import Case, Coupon, Customer, Delivery, Order, Redemption, Shipment
from amends.roles import Scope
from amends.routing import router as make_router
from amends.web.templating import back, render

router = make_router(include_in_schema=False)
LIMIT = 50


@dataclass(frozen=True, slots=True)
class Moment:
    at: datetime
    kind: str
    text: str
    link: str | None = None


async def timeline(session: SessionDep, customer: Customer) -> list[Moment]:
    """The customer's history, newest first: the latest 50 of each kind, merged."""
    org, who = customer.organization_id, customer.id
    moments: list[Moment] = []
    for order in (await session.scalars(select(Order).where(
            Order.organization_id == org, Order.customer_id == who)
            .order_by(Order.id.desc()).limit(LIMIT))).all():
        moments.append(Moment(order.completed_at or order.placed_at or order.created_at,
                              "order", f"Order {order.external_id} {order.status}, "
                              f"{format_minor(order.amount, order.currency or '')}"))
    for parcel in (await session.scalars(select(Shipment).where(
            Shipment.organization_id == org, Shipment.customer_id == who)
            .order_by(Shipment.id.desc()).limit(LIMIT))).all():
        moments.append(Moment(parcel.delivered_at or parcel.last_scan_at, "shipment",
                              f"Parcel {parcel.external_id} ({parcel.carrier or 'carrier'}) "
                              f"{parcel.status.replace('_', ' ')}"
                              + (f" at {parcel.last_location}" if parcel.last_location else "")))
    case_rows = (await session.scalars(select(Case).where(
        Case.organization_id == org, Case.customer_id == who)
        .order_by(Case.id.desc()).limit(LIMIT))).all()
    for case in case_rows:
        moments.append(Moment(case.opened_at, "case", f"Case {case.reference} opened: "
                              f"{case.reason.replace('_', ' ')}, now "
                              f"{case.state.replace('_', ' ')}", f"/cases/{case.id}"))
        if case.feedback_score is not None and case.feedback_at is not None:
            moments.append(Moment(case.feedback_at, "feedback",
                                  f"Rated case {case.reference} {case.feedback_score}/5"
                                  + (f": “{case.feedback_comment}”"
                                     if case.feedback_comment else ""),
                                  f"/cases/{case.id}"))
    for coupon in (await session.scalars(select(Coupon).where(
            Coupon.organization_id == org, Coupon.customer_id == who)
            .order_by(Coupon.id.desc()).limit(LIMIT))).all():
        moments.append(Moment(coupon.issued_at, "gesture",
                              f"{coupon.name} ({codes.display(coupon.code)}) given by "
                              f"{coupon.issued_by_label}, now {coupon.status}"))
    for message in (await session.scalars(select(Delivery).where(
            Delivery.organization_id == org, Delivery.customer_id == who)
            .order_by(Delivery.id.desc()).limit(LIMIT))).all():
        moments.append(Moment(message.created_at, "message",
                              f"{message.kind.capitalize()} by {message.channel} to "
                              f"{message.address}: {message.status}"))
    for used in (await session.execute(select(Redemption, Coupon.name).join(
            Coupon, and_(Coupon.organization_id == Redemption.organization_id,
                         Coupon.id == Redemption.coupon_id)).where(
            Redemption.organization_id == org, Coupon.customer_id == who)
            .order_by(Redemption.id.desc()).limit(LIMIT))).all():
        redemption, name = used
        off = format_minor(redemption.discount, redemption.currency)
        moments.append(Moment(redemption.created_at, "redemption",
                              f"Used {name}: {off} off order {redemption.order_id}"
                              + (f" at {redemption.store_id}" if redemption.store_id else "")
                              + (" (voided)" if redemption.status == "voided" else "")))
    return sorted(moments, key=lambda m: m.at, reverse=True)


@router.get("/customers/{external_id}", response_class=HTMLResponse)
async def customer_page(external_id: str, request: Request, session: SessionDep,
                        actor: Authenticated) -> Response:
    customer = await customers.get_customer(session, actor, external_id=external_id)
    return render(request, "customers/page.html", {
        "customer": customer, "moments": await timeline(session, customer),
        "reasons": await cases.reasons(session, actor.organization_id),
        "channels": [c.value for c in Channel],
        "may_open": actor.can(Scope.CASES_WRITE)})


@router.post("/customers/{external_id}/cases")
async def open_from_page(
    external_id: str, session: SessionDep, actor: Authenticated,
    reason: Annotated[str, Form(max_length=50)],
    severity: Annotated[int, Form(ge=1, le=4)],
    channel: Annotated[Channel, Form()],
    conversation_ref: Annotated[str, Form(max_length=200)] = "",
    summary: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    if not actor.can(Scope.CASES_WRITE):
        raise MissingScope("Your role cannot open cases.")
    customer = await customers.get_customer(session, actor, external_id=external_id)
    try:
        case = await cases.open_case(session, actor, customer=customer, reason=reason,
                                     severity=severity, channel=channel.value,
                                     conversation_ref=conversation_ref.strip() or None,
                                     summary=summary.strip())
    except AmendsError as problem:
        await session.rollback()
        return back(f"/customers/{external_id}", problem=problem.detail)
    return back(f"/cases/{case.id}", notice=f"Case {case.reference} is open. Apologise, "
                "then give a gesture below.")
