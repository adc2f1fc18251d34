"""The till page, for stores without an integration: type or scan a code, read validate's
answer in plain words, and redeem it with the order amount.

Check and Redeem read the form into one order the same way and answer through the service's
one account of the rules (`validate` and `redeem` both refuse with `explain`), so Check never
says a code works that Redeem then refuses for the same form."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.auth import SessionDep, require
from amends.customers import service as customers
from amends.errors import AmendsError
from amends.kit import codes, locale
from amends.kit.money import parse_major
from amends.redemptions import service as redemptions
from amends.redemptions.guard import code_guard
from amends.roles import Scope
from amends.routing import router as make_router
from amends.web.templating import (
    console_locale,
    console_zone,
    gettext_for,
    money_for,
    render,
)

router = make_router(include_in_schema=False)
Clerk = Annotated[Actor, Depends(require(Scope.REDEMPTIONS_WRITE))]


@router.get("/till", response_class=HTMLResponse)
async def till(request: Request, actor: Clerk) -> Response:
    return render(request, "till.html", {"form": {"store": _own_store(request) or ""}})


async def _customer_id(session: AsyncSession, actor: Actor, typed: str) -> str | None:
    """The customer's own id from what the clerk typed: their id, e-mail address or phone
    number in any format; what was typed when it names nobody (or several)."""
    text = typed.strip()
    if not text:
        return None
    found = await customers.identify(session, actor, text)
    return found.external_id if found is not None else text


def _own_store(request: Request) -> str | None:
    """The store of the member of staff at the till, when the form names none."""
    return getattr(getattr(request.state, "user", None), "store", None) or None


def plain_words(error: AmendsError, request: Request) -> str:
    """What a clerk should read at the till for each reason a code does not work, in their
    language, with times in their zone."""
    _ = gettext_for(request)
    tag, time_zone = console_locale(request), console_zone(request)

    def when(value: Any) -> str:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        if not isinstance(moment, datetime):
            return _("an earlier date")
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return locale.date_time(moment, tag, time_zone)

    extra = error.extra
    if error.code == "coupon_already_redeemed" and extra.get("redeemed_at"):
        where = extra.get("store_id") or (
            _("the online shop") if extra.get("channel") == "online" else extra.get("channel"))
        if where:
            return _("Already used on %(when)s at %(where)s.") % {
                "when": when(extra["redeemed_at"]), "where": where}
        return _("Already used on %(when)s.") % {"when": when(extra["redeemed_at"])}
    if error.code == "minimum_order_not_met" and extra.get("currency"):
        return _("This code needs an order of at least %(amount)s.") % {
            "amount": money_for(request)(int(extra.get("min_order") or 0), extra["currency"])}
    if error.code == "coupon_not_yet_valid":
        return _("This code can be used from %(when)s.") % {"when": when(extra.get("valid_from"))}
    if error.code == "coupon_expired":
        return _("This code expired on %(when)s. The customer can ask customer service to "
                 "reinstate it.") % {"when": when(extra.get("expires_at"))}
    words: dict[str, Callable[[], str]] = {
        "coupon_revoked": lambda: _(
            "This code was cancelled by customer service and cannot be used."),
        "customer_required": lambda: _(
            "This code belongs to a named customer: type the customer's number, email or "
            "phone, then check or redeem again."),
        "wrong_customer": lambda: _(
            "This code belongs to another customer: check the customer's number, email or "
            "phone with them."),
        "coupon_reserved": lambda: _(
            "Another checkout is holding this code right now. Try again in a few minutes."),
        "too_many_attempts": lambda: _(
            "Too many codes were not found. Wait a minute before trying again."),
        "coupon_locked": lambda: _(
            "This code was tried with the wrong customer too many times and is locked for "
            "now. The customer can use it later, or ask customer service for a new one."),
        "coupon_not_found": lambda: _(
            "No coupon has this code. Check it with the customer, letter by letter."),
    }
    found = words.get(error.code)
    return found() if found is not None else error.detail


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
    money = money_for(request)
    try:
        minor = parse_major(amount) or 0
    except ValueError:
        minor = -1
    if minor < 0 or (action == "redeem" and not minor):
        _ = gettext_for(request)
        return render(request, "till.html", {"form": form, "problem_here": _(
            "Type the order amount, for example 42.50.")}, status_code=422)
    order = redemptions.Order(
        code=code, order_amount=minor,
        customer_external_id=await _customer_id(session, actor, customer),
        order_id=order_id.strip() or f"till-{codes.normalise(code)}", channel="in_store",
        store_id=store.strip() or _own_store(request), till_id="console")
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
        return render(request, "till.html", {"form": form,
                                             "refused": plain_words(error, request),
                                             "code": error.code}, status_code=error.status)
    coupon = quote.coupon
    return render(request, "till.html", {"form": form, "valid": {
        "name": coupon.name,
        # Without the amount there is no discount to quote: the page asks for the amount.
        "discount": money(quote.discount, coupon.currency) if minor > 0 else None,
        "customer": coupon.customer_external_id if coupon.bound_to_customer else None,
        "expires": locale.date(coupon.expires_at, console_locale(request),
                               console_zone(request)),
        "terms": coupon.terms}})
