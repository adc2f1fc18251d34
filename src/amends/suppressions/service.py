"""Serve, don't sell: a customer with an open case is on the marketing suppression list."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.kit.clock import utcnow
from amends.kit.ids import new_id
from amends.kit.pagination import Page, decode_cursor, encode_cursor
from amends.kit.sql import insert_for
from amends.models import Case, Customer, Suppression
from amends.webhooks import service as webhooks

OPEN_STATES = ("open", "apologised", "reviewing", "fixed", "followed_up")


def _event(customer: Customer, active: bool) -> dict[str, object]:
    return {"customer_id": customer.external_id, "email": customer.email,
            "phone": customer.phone, "suppressed": active}


async def add(session: AsyncSession, customer: Customer) -> None:
    """Put the customer on the list (idempotent); emits `suppression.added` when it changed."""
    now = utcnow()
    inserted = (await session.execute(
        insert_for(session, Suppression.__table__).values(
            id=new_id(), organization_id=customer.organization_id, customer_id=customer.id,
            customer_external_id=customer.external_id, email=customer.email,
            phone=customer.phone, active=True, reason="open_case", changed_at=now,
            created_at=now)
        .on_conflict_do_nothing(index_elements=["organization_id", "customer_id"])
        .returning(Suppression.__table__.c.id))).scalar_one_or_none()
    changed = inserted is not None
    if not changed:
        result = await session.execute(
            update(Suppression)
            .where(Suppression.organization_id == customer.organization_id,
                   Suppression.customer_id == customer.id, Suppression.active.is_(False))
            .values(active=True, changed_at=now, email=customer.email, phone=customer.phone)
            .execution_options(synchronize_session=False))
        changed = bool(getattr(result, "rowcount", 0))
    if changed:
        await webhooks.emit(session, customer.organization_id, "suppression.added",
                            _event(customer, True))


async def add_many(session: AsyncSession, customers: Sequence[Customer]) -> None:
    """`add` for many customers of one organisation, in two statements."""
    if not customers:
        return
    now = utcnow()
    organization_id = customers[0].organization_id
    table = Suppression.__table__
    # A list of parameters (not `.values([...])`) keeps the compiled statement cached.
    inserted = set((await session.execute(
        insert_for(session, table)
        .on_conflict_do_nothing(index_elements=["organization_id", "customer_id"])
        .returning(table.c.customer_id),
        [{"id": new_id(), "organization_id": organization_id, "customer_id": c.id,
          "customer_external_id": c.external_id, "email": c.email, "phone": c.phone,
          "active": True, "reason": "open_case", "changed_at": now, "created_at": now}
         for c in customers])).scalars().all())
    others = [c.id for c in customers if c.id not in inserted]
    reactivated: set[uuid.UUID] = set()
    if others:
        reactivated = set((await session.execute(
            update(Suppression)
            .where(Suppression.organization_id == organization_id,
                   Suppression.customer_id.in_(others), Suppression.active.is_(False))
            .values(active=True, changed_at=now, reason="open_case")
            .returning(Suppression.customer_id)
            .execution_options(synchronize_session=False))).scalars().all())
    for customer in customers:
        if customer.id in inserted or customer.id in reactivated:
            await webhooks.emit(session, organization_id, "suppression.added",
                                _event(customer, True))


async def remove_if_no_open_case(session: AsyncSession, customer: Customer) -> None:
    """Take the customer off the list once none of their cases is open."""
    still_open = await session.scalar(select(func.count()).select_from(Case).where(
        Case.organization_id == customer.organization_id, Case.customer_id == customer.id,
        Case.state.in_(OPEN_STATES)))
    if still_open:
        return
    result = await session.execute(
        update(Suppression)
        .where(Suppression.organization_id == customer.organization_id,
               Suppression.customer_id == customer.id, Suppression.active.is_(True))
        .values(active=False, changed_at=utcnow())
        .execution_options(synchronize_session=False))
    if getattr(result, "rowcount", 0):
        await webhooks.emit(session, customer.organization_id, "suppression.removed",
                            _event(customer, False))


async def list_suppressions(session: AsyncSession, organization_id: object, *,
                            changed_since: datetime | None, include_removed: bool,
                            cursor: str | None, limit: int) -> Page[Suppression]:
    """Oldest change first, so an email platform can sync with `changed_since` and the cursor."""
    query = select(Suppression).where(Suppression.organization_id == organization_id)
    if changed_since is not None:
        query = query.where(Suppression.changed_at >= changed_since)
    if not include_removed and changed_since is None:
        query = query.where(Suppression.active.is_(True))
    if cursor:
        last = await session.get(Suppression, (organization_id, decode_cursor(cursor)))
        if last is not None:
            query = query.where((Suppression.changed_at > last.changed_at) | (
                (Suppression.changed_at == last.changed_at) & (Suppression.id > last.id)))
    rows = list((await session.scalars(
        query.order_by(Suppression.changed_at, Suppression.id).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=rows, next_cursor=encode_cursor(rows[-1].id) if more and rows else None)
