"""The agent's view of a customer: who they are, everything that happened to them (orders,
shipments, cases, gestures, messages, redemptions, feedback) and a case opened in one form;
and a customer nobody found, created in the form that opens their case."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from babel import Locale
from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import and_, select

from amends.actor import Actor
from amends.auth import Authenticated, MissingScope, SessionDep
from amends.cases import service as cases
from amends.coupons import ledger
from amends.coupons.schemas import CONVERSATIONS, Channel
from amends.customers import service as customers
from amends.customers.schemas import CustomerIn
from amends.errors import AmendsError
from amends.kit import codes, locale
from amends.kit.clock import utcnow
from amends.models import (
    Case,
    Coupon,
    Customer,
    Delivery,
    Order,
    Organization,
    Redemption,
    Shipment,
)
from amends.roles import Scope
from amends.routing import router as make_router
from amends.web.labels import label
from amends.web.templating import back, console_locale, gettext_for, money_for, render

router = make_router(include_in_schema=False)
LIMIT = 50


@dataclass(frozen=True, slots=True)
class Moment:
    at: datetime
    kind: str
    text: str
    link: str | None = None
    status: str | None = None  # a gesture's or a message's, as stored or `expired`


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
    now = utcnow()
    for coupon in (await session.scalars(select(Coupon).where(
            Coupon.organization_id == org, Coupon.customer_id == who)
            .order_by(Coupon.id.desc()).limit(LIMIT))).all():
        # Expiry is not a stored status (see models.Coupon): a gesture still active or held
        # when its time has passed is expired, and its expiry is a moment of its own.
        expired = coupon.status in ("active", "reserved") and coupon.expires_at <= now
        status = "expired" if expired else coupon.status
        said = {"gesture": coupon.name, "code": codes.display(coupon.code),
                "who": coupon.issued_by_label, "status": word(status)}
        moments.append(Moment(coupon.issued_at, "gesture", _(
            "%(gesture)s (%(code)s) given by %(who)s, now %(status)s") % said, status=status))
        if expired:
            moments.append(Moment(coupon.expires_at, "gesture", _(
                "%(gesture)s (%(code)s) expired") % said, status=status))
    # One line per message, however many times its delivery changed status: the status it
    # has now (delivered, failed ...), at the time it was sent.
    for message in (await session.scalars(select(Delivery).where(
            Delivery.organization_id == org, Delivery.customer_id == who)
            .order_by(Delivery.id.desc()).limit(LIMIT))).all():
        moments.append(Moment(message.created_at, "message", _(
            "%(message)s by %(channel)s to %(address)s: %(status)s") % {
                "message": _(label(message.kind)), "channel": word(message.channel),
                "address": message.address, "status": word(message.status)},
            status=message.status))
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


# The tiers the recommendation rules know (`cases.policy.DEFAULT_RULES["tier_multiplier"]`).
TIERS = ("standard", "silver", "gold", "platinum")
NEW_FIELDS = ("external_id", "name", "email", "phone", "locale", "tier", "reason", "severity",
              "channel", "conversation_ref", "summary")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_PHONE = re.compile(r"^\+?[\d ().-]{7,20}$")
# What a customer number looks like: letters then digits ("C-1007", "CUS_88", "100234").
_ID = re.compile(r"^[A-Za-z]{0,8}[-_]?\d[\w-]{0,40}$")


def _prefill(query: str) -> dict[str, str]:
    """What the agent typed, put in the field it looks like."""
    text = query.strip()
    if _EMAIL.match(text):
        return {"email": text}
    if _ID.match(text):
        return {"external_id": text}
    if _PHONE.match(text):
        return {"phone": re.sub(r"[^\d+]", "", text)}
    return {"name": text}


def may_create(actor: Actor) -> bool:
    return actor.can(Scope.CUSTOMERS_WRITE) and actor.can(Scope.CASES_WRITE)


async def new_customer_form(request: Request, session: SessionDep, actor: Actor, *,
                            query: str = "", values: dict[str, Any] | None = None,
                            errors: dict[str, str] | None = None) -> dict[str, Any] | None:
    """What the form creating a customer and their case shows (None when the actor may not
    create both): the reasons, channels, tiers and the organisation's languages."""
    if not may_create(actor):
        return None
    organization = await session.get(Organization, actor.organization_id)
    assert organization is not None
    tag = console_locale(request)
    shown = locale.babel_locale(tag)
    supported = list(dict.fromkeys([organization.default_locale,
                                    *(organization.supported_locales or [])]))
    return {
        "values": {"locale": organization.default_locale, "tier": "standard", "severity": "2",
                   **(_prefill(query) if values is None else values)},
        "errors": errors or {},
        "reasons": await cases.reasons(session, actor.organization_id),
        "channels": list(CONVERSATIONS), "tiers": TIERS,
        "locales": [(t, Locale.parse(t, sep="-").get_display_name(shown) or t)
                    for t in supported]}


@router.get("/customers/new", response_class=HTMLResponse)
async def new_customer_page(request: Request, session: SessionDep, actor: Authenticated,
                            q: str = "") -> Response:
    """The form that creates a customer and opens their case, prefilled from a search."""
    _ = gettext_for(request)
    form = await new_customer_form(request, session, actor, query=q)
    if form is None:
        raise MissingScope(_("Your role cannot create customers or open cases."))
    return render(request, "customers/new.html", {"new_customer": form})


def _in_words(error: dict[str, Any], _: Callable[[str], str]) -> str:
    name = str(error["loc"][0]) if error.get("loc") else ""
    if name == "email":
        return _("Enter an e-mail address, e.g. jo@example.com.")
    if name == "phone":
        return _("Enter the number with its country code, e.g. +33612345678.")
    if name == "name":
        return _("Use at most 200 characters.")
    return _("Choose one from the list.")


@router.post("/customers/new")
async def create_from_page(
    request: Request, session: SessionDep, actor: Authenticated,
    external_id: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=1000)] = "",
    email: Annotated[str, Form(max_length=1000)] = "",
    phone: Annotated[str, Form(max_length=100)] = "",
    locale_tag: Annotated[str, Form(alias="locale", max_length=35)] = "",
    tier: Annotated[str, Form(max_length=20)] = "standard",
    reason: Annotated[str, Form(max_length=50)] = "",
    severity: Annotated[str, Form(max_length=2)] = "2",
    channel: Annotated[str, Form(max_length=20)] = "",
    conversation_ref: Annotated[str, Form(max_length=1000)] = "",
    summary: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    """Create the customer and open their case in one transaction: both, or neither (with
    what to fix, field by field)."""
    _ = gettext_for(request)
    if not may_create(actor):
        raise MissingScope(_("Your role cannot create customers or open cases."))
    submitted = {"external_id": external_id.strip(), "name": name.strip(),
                 "email": email.strip(), "phone": re.sub(r"[\s().-]", "", phone),
                 "locale": locale_tag, "tier": tier, "reason": reason, "severity": severity,
                 "channel": channel, "conversation_ref": conversation_ref.strip(),
                 "summary": summary.strip()}
    errors: dict[str, str] = {}
    organization = await session.get(Organization, actor.organization_id)
    assert organization is not None
    known = await cases.reasons(session, actor.organization_id)
    identifier = submitted["external_id"]
    if not identifier:
        errors["external_id"] = _("Enter the customer's number in your shop or CRM.")
    elif len(identifier) > 100:
        errors["external_id"] = _("Use at most 100 characters.")
    elif await session.scalar(select(Customer.id).where(
            Customer.organization_id == actor.organization_id,
            Customer.external_id == identifier)) is not None:
        errors["external_id"] = _("A customer with this number exists already: search for "
                                  "it and open the case from their page.")
    data: dict[str, Any] = {}
    try:
        data = CustomerIn.model_validate({
            "name": submitted["name"] or None, "email": submitted["email"] or None,
            "phone": submitted["phone"] or None, "locale": submitted["locale"] or None,
            "value_tier": submitted["tier"],
            "currency": organization.default_currency}).model_dump(exclude_unset=True)
    except ValidationError as problem:
        for error in problem.errors():
            field = {"value_tier": "tier"}.get(str(error["loc"][0]), str(error["loc"][0]))
            errors.setdefault(field, _in_words(dict(error), _))
    if not submitted["name"] and not submitted["email"] and not submitted["phone"]:
        errors.setdefault("name", _("Enter a name, an e-mail address or a phone number."))
    supported = {organization.default_locale, *(organization.supported_locales or [])}
    if submitted["locale"] not in supported:
        errors.setdefault("locale", _("Choose one from the list."))
    if submitted["tier"] not in TIERS:
        errors.setdefault("tier", _("Choose one from the list."))
    if submitted["reason"] not in known:
        errors["reason"] = _("Choose one from the list.")
    if submitted["severity"] not in ("1", "2", "3", "4"):
        errors["severity"] = _("Choose one from the list.")
    if submitted["channel"] not in CONVERSATIONS:
        errors["channel"] = _("Choose one from the list.")
    if len(submitted["conversation_ref"]) > 200:
        errors["conversation_ref"] = _("Use at most 200 characters.")
    if len(submitted["summary"]) > 5000:
        errors["summary"] = _("Use at most 5,000 characters.")
    if not errors:
        try:
            customer, _created = await customers.upsert_customer(
                session, actor, external_id=identifier, data=data)
            case = await cases.open_case(
                session, actor, customer=customer, reason=submitted["reason"],
                severity=int(submitted["severity"]), channel=submitted["channel"],
                conversation_ref=submitted["conversation_ref"] or None,
                summary=submitted["summary"])
        except AmendsError as problem:
            await session.rollback()  # neither the customer nor the case
            errors[""] = problem.detail
        else:
            return back(f"/cases/{case.id}", notice=_(
                "Customer %(customer)s created and case %(case)s opened. Apologise, then give "
                "a gesture below.") % {"customer": identifier, "case": case.reference})
    form = await new_customer_form(request, session, actor, values=submitted, errors=errors)
    return render(request, "customers/new.html", {"new_customer": form}, status_code=422)


async def _language_choices(request: Request, session: SessionDep, actor: Actor
                            ) -> list[tuple[str, str]]:
    """The organisation's locales, named in the reader's language ("français (France)")."""
    organization = await session.get(Organization, actor.organization_id)
    assert organization is not None
    shown = locale.babel_locale(console_locale(request))
    supported = dict.fromkeys([organization.default_locale,
                               *(organization.supported_locales or [])])
    return [(t, Locale.parse(t, sep="-").get_display_name(shown) or t) for t in supported]


@router.get("/customers/{external_id}", response_class=HTMLResponse)
async def customer_page(external_id: str, request: Request, session: SessionDep,
                        actor: Authenticated) -> Response:
    customer = await customers.get_customer(session, actor, external_id=external_id)
    return render(request, "customers/page.html", {
        "customer": customer,
        "languages": await _language_choices(request, session, actor)
        if actor.can(Scope.CUSTOMERS_WRITE) else None,
        "moments": await timeline(session, customer, gettext=gettext_for(request),
                                  money=money_for(request)),
        "reasons": await cases.reasons(session, actor.organization_id),
        "channels": list(CONVERSATIONS),
        "may_open": actor.can(Scope.CASES_WRITE),
        # The customer's gift cards, each with the latest movements of its balance.
        "ledgers": await ledger.of_cards(session, actor, await ledger.customer_cards(
            session, actor, customer_id=customer.id)), "display": codes.display})


@router.post("/customers/{external_id}/language")
async def language_from_page(
    external_id: str, request: Request, session: SessionDep, actor: Authenticated,
    locale_tag: Annotated[str, Form(alias="locale", max_length=35)] = "",
    time_zone: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """The language and time zone the customer is written to in (empty: the organisation's)."""
    _ = gettext_for(request)
    if not actor.can(Scope.CUSTOMERS_WRITE):
        raise MissingScope(_("Your role cannot change customers."))
    customer = await customers.get_customer(session, actor, external_id=external_id)
    try:
        wanted = CustomerIn.model_validate({"locale": locale_tag.strip() or None,
                                            "time_zone": time_zone.strip() or None})
    except ValidationError as problem:
        fields = ", ".join(str(e["loc"][0]) for e in problem.errors())
        return back(f"/customers/{external_id}", problem=_(
            "Check the language and the time zone (%(fields)s): use one of the list, and a "
            "zone such as Europe/Paris.") % {"fields": fields})
    await customers.upsert_customer(session, actor, external_id=customer.external_id,
                                    data={"locale": wanted.locale,
                                          "time_zone": wanted.time_zone})
    return back(f"/customers/{external_id}", notice=_(
        "Messages and pages for this customer are now written in that language and zone."))


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
