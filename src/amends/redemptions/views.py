"""The till page, for stores without an integration: type or scan a code, read validate's
answer in plain words, and redeem it with the order amount."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.auth import SessionDep, require
from amends.errors import AmendsError
from amends.kit import codes
from amends.kit.money import format_minor as money
from amends.kit.money import parse_major
from amends.models import Customer
from amends.redemptions import service as redemptions
from amends.redemptions.guard import code_guard
from amends.roles import Scope
from amends.routing import router as make_router
from amends.web.templating import render

router = make_router(include_in_schema=False)
Clerk = Annotated[Actor, Depends(require(Scope.REDEMPTIONS_WRITE))]


@router.get("/till", response_class=HTMLResponse)
async def till(request: Request, actor: Clerk) -> Response:
    user = getattr(request.state, "user", None)
    return render(request, "till.html", {"form": {"store": getattr(user, "store", "") or ""}})


async def _customer_id(session: AsyncSession, actor: Actor, typed: str) -> str | None:
    """The customer's own id from what the clerk typed: their id, email or phone."""
    text = typed.strip()
    if not text:
        return None
    found = (await session.scalars(select(Customer.external_id).where(
        Customer.organization_id == actor.organization_id,
        or_(Customer.external_id == text, Customer.email == text.lower(),
            Customer.phone == text.replace(" ", ""))).limit(2))).all()
    return found[0] if len(found) == 1 else text


def _when(value: Any) -> str:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{moment:%-d %B %Y} ({moment:%H:%M} UTC)" if moment else "an earlier date"


def plain_words(error: AmendsError) -> str:
    """What a clerk should read at the till for each reason a code does not work."""
    extra = error.extra
    if error.code == "coupon_already_redeemed" and extra.get("redeemed_at"):
        where = extra.get("store_id") or {"online": "the online shop"}.get(
            str(extra.get("channel")), extra.get("channel"))
        return f"Already used on {_when(extra['redeemed_at'])}" + (
            f" at {where}." if where else ".")
    if error.code == "coupon_expired":
        return (f"This code expired on {_when(extra.get('expires_at'))}. The customer can ask "
                "customer service to reinstate it.")
    if error.code == "coupon_revoked":
        return "This code was cancelled by customer service and cannot be used."
    if error.code == "wrong_customer":
        return ("This code belongs to a named customer: type the customer's number, email or "
                "phone, exactly as on their account.")
    if error.code == "coupon_reserved":
        return "Another checkout is holding this code right now. Try again in a few minutes."
    if error.code == "too_many_attempts":
        return "Too many codes were not found. Wait a minute before trying again."
    if error.code == "coupon_locked":
        return ("This code was tried with the wrong customer too many times and is locked for "
                "now. The customer can use it later, or ask customer service for a new one.")
    return error.detail


@router.post("/till", response_class=HTMLResponse)
async def use_code(
    request: Request, session: SessionDep, actor: Clerk,
    code: Annotated[str, Form(max_length=64)],
    amount: Annotated[str, Form(max_length=20)] = "",
    customer: Annotated[str, Form(max_length=320)] = "",
    store: Annotated[str, Form(max_length=100)] = "",
    order_id: Annotated[str, Form(max_length=100)] = "",
    action: Annotated[str, Form()] = "check",
) -> Response:
    form = {"code": code, "amount": amount, "customer": customer, "store": store,
            "order_id": order_id}
    try:
        minor = parse_major(amount) or 0
    except ValueError:
        minor = -1
    if minor < 0 or (action == "redeem" and not minor):
        return render(request, "till.html", {"form": form, "problem_here": (
            "Type the order amount, for example 42.50.")}, status_code=422)
    order = redemptions.Order(
        code=code, order_amount=minor,
        customer_external_id=await _customer_id(session, actor, customer),
        order_id=order_id.strip() or f"till-{codes.normalise(code)}", channel="in_store",
        store_id=store.strip() or None, till_id="console")
    try:
        async with code_guard(request, actor, code=code,
                              customer=order.customer_external_id):
            if action == "redeem":
                redemption = await redemptions.redeem(session, actor, order)
                return render(request, "till.html", {"form": {"store": store}, "redeemed": {
                    "discount": money(redemption.discount, redemption.currency),
                    "to_pay": money(max(minor - redemption.discount, 0), redemption.currency),
                    "code": codes.display(codes.normalise(code))}})
            quote = await redemptions.validate(session, actor, order, amount_known=minor > 0)
    except AmendsError as error:
        if error.keep_changes:
            raise
        # The error status makes the request's transaction roll back: nothing is changed.
        return render(request, "till.html", {"form": form, "refused": plain_words(error),
                                             "code": error.code}, status_code=error.status)
    coupon = quote.coupon
    return render(request, "till.html", {"form": form, "valid": {
        "name": coupon.name, "discount": money(quote.discount, coupon.currency),
        "customer": coupon.customer_external_id if coupon.bound_to_customer else None,
        "expires": f"{coupon.expires_at:%-d %B %Y}", "terms": coupon.terms}})
