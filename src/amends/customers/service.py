"""Customers, upserted by the organisation's own id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.audit import service as audit
from amends.errors import NotFound
from amends.kit.sql import get_or_insert
from amends.models import Customer, Order

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


async def search_customers(session: AsyncSession, actor: Actor, *, query: str,
                           limit: int = 20) -> list[Customer]:
    """By exact email, phone, external id or order id, or by a name that starts with the
    query."""
    text = query.strip()
    if not text:
        return []
    lowered = text.lower()
    compact = text.replace(" ", "")
    statement = (
        select(Customer)
        .where(
            Customer.organization_id == actor.organization_id,
            or_(
                Customer.email == lowered,
                Customer.phone == compact,
                Customer.external_id == text,
                Customer.id.in_(select(Order.customer_id).where(
                    Order.organization_id == actor.organization_id,
                    Order.external_id == text)),
                Customer.name_search.startswith(lowered, autoescape=True),
            ),
        )
        .order_by(Customer.name_search)
        .limit(limit)
    )
    return list((await session.scalars(statement)).all())
