"""Customers, upserted by the organisation's own id, and found by whatever an agent has at hand:
a coupon code, an order (or one a gesture was redeemed on), a parcel or its tracking number, a
case or ticket reference, a phone number in any format, an e-mail address, their id or the
start of their name."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Select, and_, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.audit import service as audit
from amends.errors import NotFound
from amends.kit import codes, phones
from amends.kit.sql import get_or_insert
from amends.models import Case, Coupon, Customer, Order, Organization, Redemption, Shipment
from amends.redemptions.service import code_candidates

FIELDS = ("email", "phone", "name", "locale", "time_zone", "value_tier", "lifetime_value",
          "currency", "marketing_consent", "tags", "opted_out_channels")


class CustomerNotFound(NotFound):
    code, title = "customer_not_found", "No such customer"


def _snapshot(customer: Customer) -> dict[str, Any]:
    return {f: getattr(customer, f) for f in FIELDS}


async def get_customer(session: AsyncSession, actor: Actor, *, external_id: str) -> Customer:
    customer = await session.scalar(
        select(Customer).where(Customer.organization_id == actor.organization_id,
                               Customer.external_id == external_id)
    )
    if customer is None:
        raise CustomerNotFound(f"No customer {external_id!r}.")
    return customer


async def upsert_customer(
    session: AsyncSession, actor: Actor, *, external_id: str, data: dict[str, Any]
) -> tuple[Customer, bool]:
    """Create or update; returns (customer, created). Callers that create the same new
    customer at once all succeed: one creates it, the others update it."""
    values = {k: v for k, v in data.items() if k in FIELDS}
    if values.get("email"):
        values["email"] = str(values["email"]).lower()
    values["name_search"] = (values.get("name") or "").lower() or None
    customer, created = await get_or_insert(
        session, Customer, key={"organization_id": actor.organization_id,
                                "external_id": external_id}, values=values)
    if created:
        await audit.record(session, actor, action="customer.created", object_type="customer",
                           object_id=customer.id, after=_snapshot(customer))
        return customer, True
    before = _snapshot(customer)
    for key, value in values.items():
        setattr(customer, key, value)
    await session.flush()
    after = _snapshot(customer)
    if after != before:
        changed = [k for k in FIELDS if before[k] != after[k]]
        await audit.record(
            session, actor, action="customer.updated", object_type="customer",
            object_id=customer.id, before={k: before[k] for k in changed},
            after={k: after[k] for k in changed},
        )
    return customer, False


MatchedBy = Literal["code", "order", "redeemed_order", "parcel", "case", "conversation",
                   "phone", "email", "customer_id", "name"]
# The order results are shown in: what names one customer exactly, before a name's start.
MATCH_ORDER: tuple[MatchedBy, ...] = ("code", "order", "redeemed_order", "parcel", "case",
                                      "conversation", "customer_id", "email", "phone", "name")


@dataclass(frozen=True, slots=True)
class Match:
    """What in the query found the customer: `by` what, and the value as stored (a code in
    its grouped form, `ABCD1-EFGH2-...`)."""

    by: MatchedBy
    value: str


@dataclass(frozen=True, slots=True)
class Found:
    customer: Customer
    matches: tuple[Match, ...]


async def phone_candidates(session: AsyncSession, actor: Actor, text: str) -> list[str]:
    """The E.164 numbers `text` may be, read in the countries the organisation works in."""
    organization = await session.get(Organization, actor.organization_id)
    assert organization is not None
    return phones.e164_candidates(text, phones.regions(
        time_zone=organization.time_zone, default_locale=organization.default_locale,
        locales=organization.supported_locales or ()))


def _prefix_range(prefix: str) -> tuple[str, str]:
    """The bounds of the strings that start with `prefix`, so that a B-tree index answers a
    prefix search on SQLite and PostgreSQL alike (LIKE uses neither's index as collated)."""
    return prefix, prefix[:-1] + chr(min(ord(prefix[-1]) + 1, 0x10FFFF))


def _lookups(org: uuid.UUID, text: str, phone_numbers: list[str]
             ) -> list[Select[tuple[str, str, uuid.UUID | None]]]:
    """One indexed lookup per way the query may name a customer: (by, value, customer id)."""
    lowered, upper = text.lower(), text.upper()
    # An id as typed, or in the one case the sender's system writes it in ("w-77", "JL-1").
    as_typed = list(dict.fromkeys([text, upper, lowered]))
    # A tracking number is read out in groups ("1Z 999 AA1"); carriers print it without.
    tracking = list(dict.fromkeys([*as_typed, *(t.replace(" ", "") for t in as_typed)]))

    def by(kind: MatchedBy, value: Any, customer: Any) -> Any:
        return select(literal(kind).label("by"), value.label("value"),
                      customer.label("customer_id"))

    found = [
        by("code", Coupon.code, Coupon.customer_id).where(
            Coupon.organization_id == org, Coupon.code.in_(code_candidates(text))),
        by("order", Order.external_id, Order.customer_id).where(
            Order.organization_id == org, Order.external_id.in_(as_typed)),
        by("order", Shipment.order_external_id, Shipment.customer_id).where(
            Shipment.organization_id == org, Shipment.order_external_id.in_(as_typed)),
        by("redeemed_order", Redemption.order_id, Coupon.customer_id).join(
            Coupon, and_(Coupon.organization_id == Redemption.organization_id,
                         Coupon.id == Redemption.coupon_id)).where(
            Redemption.organization_id == org, Redemption.order_id.in_(as_typed)),
        by("parcel", Shipment.external_id, Shipment.customer_id).where(
            Shipment.organization_id == org, Shipment.external_id.in_(as_typed)),
        by("parcel", Shipment.tracking_number, Shipment.customer_id).where(
            Shipment.organization_id == org, Shipment.tracking_number.in_(tracking)),
        by("case", Case.reference, Case.customer_id).where(
            Case.organization_id == org, Case.reference.in_(as_typed)),
        by("conversation", Case.conversation_ref, Case.customer_id).where(
            Case.organization_id == org, Case.conversation_ref.in_(as_typed)),
        by("customer_id", Customer.external_id, Customer.id).where(
            Customer.organization_id == org, Customer.external_id.in_(as_typed)),
    ]
    if "@" in text:
        found.append(by("email", Customer.email, Customer.id).where(
            Customer.organization_id == org, Customer.email == lowered))
    if phone_numbers:
        found.append(by("phone", Customer.phone, Customer.id).where(
            Customer.organization_id == org, Customer.phone.in_(phone_numbers)))
    low, high = _prefix_range(lowered)
    found.append(by("name", Customer.name, Customer.id).where(
        Customer.organization_id == org, Customer.name_search >= low,
        Customer.name_search < high))
    return found


async def search_customers(session: AsyncSession, actor: Actor, *, query: str,
                           limit: int = 20) -> list[Found]:
    """The customers the query names, each with what matched: a coupon code typed as a till
    reads it (any case, spaces or dashes, O for 0, I or L for 1), an order id (theirs, or
    one their gesture was redeemed on), a parcel id or its tracking number (spaces
    ignored), a case reference or the conversation's ticket, a phone number in any format,
    an e-mail address (any case), their id, or the start of their name. Exact matches come
    first, then names in order. Every lookup is one indexed equality or range, within the
    organisation."""
    text = query.replace("\x00", "").strip()[:200]
    if not text:
        return []
    org = actor.organization_id
    lookups = _lookups(org, text, await phone_candidates(session, actor, text))
    # Each lookup is bounded on its own (a one-letter name may start thousands), in a
    # subquery, as SQLite allows no LIMIT on the members of a UNION.
    bounded = [lookup.limit(limit).subquery() for lookup in lookups]
    rows = (await session.execute(union_all(*(
        select(b.c.by, b.c.value, b.c.customer_id) for b in bounded)))).all()
    matched: dict[uuid.UUID, list[Match]] = {}
    for kind, value, customer_id in rows:
        if customer_id is None or value is None:
            continue
        shown = codes.display(value) if kind == "code" else str(value)
        match = Match(by=kind, value=shown)
        if match not in matched.setdefault(customer_id, []):
            matched[customer_id].append(match)
    if not matched:
        return []
    customers = (await session.scalars(select(Customer).where(
        Customer.organization_id == org, Customer.id.in_(list(matched))))).all()

    def rank(customer: Customer) -> tuple[int, str]:
        best = min(MATCH_ORDER.index(m.by) for m in matched[customer.id])
        return best, customer.name_search or customer.external_id.lower()

    return [Found(customer=c, matches=tuple(sorted(
                matched[c.id], key=lambda m: MATCH_ORDER.index(m.by))))
            for c in sorted(customers, key=rank)[:limit]]


async def identify(session: AsyncSession, actor: Actor, typed: str) -> Customer | None:
    """The one customer whose id, e-mail address or phone number (in any format) is `typed`;
    None when none is, or several are."""
    text = typed.replace("\x00", "").strip()[:320]
    if not text:
        return None
    numbers = await phone_candidates(session, actor, text)
    found = (await session.scalars(select(Customer).where(
        Customer.organization_id == actor.organization_id,
        or_(Customer.external_id == text, Customer.email == text.lower(),
            *([Customer.phone.in_(numbers)] if numbers else []))).limit(2))).all()
    return found[0] if len(found) == 1 else None
