"""Event ingestion: store each event once (by the sender's id) and project orders and
shipments into tables that the recovery rules query with indexes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.customers.service import upsert_customer
from amends.events import schemas
from amends.kit.clock import utcnow
from amends.kit.ids import new_id
from amends.kit.sql import get_or_insert, insert_for
from amends.models import Customer, Event, Order, Shipment
from amends.rollups import changes


@dataclass
class Outcome:
    accepted: int
    duplicates: int
    errors: list[schemas.EventError]
    applied: list[tuple[str, BaseModel, datetime]]


def validate(raw: list[Any]) -> tuple[list[tuple[int, schemas.EventIn, BaseModel]],
                                      list[schemas.EventError]]:
    good, errors = [], []
    for index, item in enumerate(raw):
        source_id = item.get("id") if isinstance(item, dict) else None
        try:
            envelope = schemas.EventIn.model_validate(item)
            payload = schemas.PAYLOADS[envelope.type].model_validate(envelope.data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            errors.append(schemas.EventError(
                index=index, id=str(source_id) if source_id is not None else None,
                code="unknown_event_type" if "type" in where.split(".")[:1] and
                first.get("type") == "literal_error" else "invalid_event",
                detail=f"{where}: {first.get('msg')}" if where else str(first.get("msg"))))
            continue
        good.append((index, envelope, payload))
    return good, errors


def field_errors(item: Any) -> list[dict[str, str]]:
    """Every problem of one event, each naming its field (`data.amount`), as a single event's
    422 lists them."""
    def listed(exc: ValidationError, *prefix: str) -> list[dict[str, str]]:
        return [{"field": ".".join([*prefix, *(str(p) for p in e.get("loc", ()))]),
                 "message": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                for e in exc.errors()]

    try:
        envelope = schemas.EventIn.model_validate(item)
    except ValidationError as exc:
        return listed(exc)
    try:
        schemas.PAYLOADS[envelope.type].model_validate(envelope.data)
    except ValidationError as exc:
        return listed(exc, "data")
    return []


async def ingest(session: AsyncSession, actor: Actor, raw: list[Any]) -> Outcome:
    good, errors = validate(raw)
    # The same id twice in one batch: the first one counts.
    seen: set[str] = set()
    unique = []
    duplicates = 0
    for item in good:
        if item[1].id in seen:
            duplicates += 1
            continue
        seen.add(item[1].id)
        unique.append(item)
    now = utcnow()
    new_ids: set[str] = set()
    if unique:
        rows = [{"id": new_id(), "organization_id": actor.organization_id,
                 "source_id": envelope.id, "type": envelope.type,
                 "occurred_at": envelope.occurred_at, "data": envelope.data,
                 "received_at": now} for _, envelope, _ in unique]
        table = Event.__table__
        new_ids = set((await session.execute(
            insert_for(session, table).values(rows).on_conflict_do_nothing()
            .returning(table.c.source_id))).scalars().all())
    applied: list[tuple[str, BaseModel, datetime]] = []
    for _, envelope, payload in sorted(unique, key=lambda item: item[1].occurred_at):
        if envelope.id not in new_ids:
            duplicates += 1
            continue
        applied.append((envelope.type, payload, envelope.occurred_at))
    held = await hold(session, actor, [payload for _, payload, _ in applied])
    for kind, payload, at in applied:
        await project(session, actor, kind, payload, at, held=held)
    return Outcome(accepted=len(applied), duplicates=duplicates, errors=errors,
                   applied=applied)


HeldRow = TypeVar("HeldRow", Customer, Order, Shipment)


@dataclass
class Held:
    """The customers, orders and shipments a batch's events name, by external id: read in
    one statement a table before the events are applied, orders and shipments locked in the
    order of their ids (two batches naming the same parcels lock them in the same order, so
    neither waits on the other's second lock while holding the first), and each row the
    batch creates added as it is."""

    customers: dict[str, Customer] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    shipments: dict[str, Shipment] = field(default_factory=dict)


async def hold(session: AsyncSession, actor: Actor, payloads: Iterable[BaseModel]) -> Held:
    """Read the rows the events `payloads` will change (see `Held`)."""
    customers: set[str] = set()
    orders: set[str] = set()
    shipments: set[str] = set()
    for payload in payloads:
        if isinstance(payload, schemas.OrderPlaced | schemas.PurchaseCompleted):
            customers.add(payload.customer_id)
            orders.add(payload.order_id)
        elif isinstance(payload, schemas.ParcelEvent):
            shipments.add(payload.shipment_id)
            if isinstance(payload, schemas.ShipmentCreated):
                orders.add(payload.order_id)
    org = actor.organization_id
    # Locked: two events of one order or parcel at once each read its columns to change
    # them, so the second must see what the first wrote.
    return Held(customers=await _by_external_id(session, Customer, org, customers),
                orders=await _by_external_id(session, Order, org, orders, lock=True),
                shipments=await _by_external_id(session, Shipment, org, shipments, lock=True))


async def _by_external_id(session: AsyncSession, model: type[HeldRow], org: uuid.UUID,
                          external_ids: set[str], *, lock: bool = False
                          ) -> dict[str, HeldRow]:
    """The organisation's `model` rows of these external ids, by external id; with `lock`,
    locked in the order of their ids."""
    if not external_ids:
        return {}
    statement = select(model).where(model.organization_id == org,
                                    model.external_id.in_(sorted(external_ids)))
    if lock:
        statement = (statement.order_by(model.external_id).with_for_update()
                     .execution_options(populate_existing=True))
    return {row.external_id: row for row in (await session.scalars(statement)).all()}


async def _customer(session: AsyncSession, actor: Actor, external_id: str,
                    details: dict[str, Any] | None, held: Held) -> Customer:
    found = held.customers.get(external_id) or await session.scalar(select(Customer).where(
        Customer.organization_id == actor.organization_id, Customer.external_id == external_id))
    if found is None or details:
        found, _ = await upsert_customer(session, actor, external_id=external_id,
                                         data=details or {})
    held.customers[external_id] = found
    return found


async def _held_or_new(session: AsyncSession, actor: Actor, model: type[HeldRow],
                       held: dict[str, HeldRow], external_id: str, values: dict[str, Any]
                       ) -> HeldRow:
    """The batch's row of `external_id`, else the one inserted with `values` (or found, and
    locked, when another request inserted it meanwhile)."""
    known = held.get(external_id)
    if known is not None:
        return known
    row, _ = await get_or_insert(
        session, model, key={"organization_id": actor.organization_id,
                             "external_id": external_id}, values=values, lock=True)
    held[external_id] = row
    return row


async def project(session: AsyncSession, actor: Actor, kind: str, payload: BaseModel,
                  at: datetime, *, held: Held | None = None) -> None:
    """Apply one event to orders and shipments. Events may come out of order: a delivered
    shipment stays delivered, and the last scan is the latest one. The rows changed are
    written at the next query or the commit (several at once)."""
    held = held if held is not None else Held()
    if isinstance(payload, schemas.OrderPlaced | schemas.PurchaseCompleted):
        details = payload.customer.model_dump(exclude_unset=True) if isinstance(
            payload, schemas.OrderPlaced) and payload.customer else None
        customer = await _customer(session, actor, payload.customer_id, details, held)
        order = await _held_or_new(session, actor, Order, held.orders, payload.order_id, {
            "customer_id": customer.id, "customer_external_id": customer.external_id})
        order.amount, order.currency = payload.amount, payload.currency
        if isinstance(payload, schemas.OrderPlaced):
            order.placed_at = order.placed_at or at
            order.promised_at = payload.promised_at
            order.lines = [line.model_dump() for line in payload.lines]
        else:
            order.status, order.completed_at = "completed", at
        if isinstance(payload, schemas.PurchaseCompleted):
            from amends.recovery.service import thank_returning_customer

            await changes.customer_bought(session, actor.organization_id, customer.id)
            await thank_returning_customer(session, customer)
        return
    assert isinstance(payload, schemas.ShipmentCreated | schemas.ShipmentScanned |
                      schemas.ShipmentDelivered | schemas.ShipmentException)
    shipment = await _held_or_new(session, actor, Shipment, held.shipments,
                                  payload.shipment_id, {"status": "created", "last_scan_at": at})
    if payload.items is not None:  # what the parcel carries, as the latest event says
        shipment.items = [item.model_dump() for item in payload.items] or None
    if isinstance(payload, schemas.ShipmentCreated):
        placed = held.orders.get(payload.order_id) or await session.scalar(select(Order).where(
            Order.organization_id == actor.organization_id,
            Order.external_id == payload.order_id))
        shipment.order_external_id = payload.order_id
        shipment.customer_id = placed.customer_id if placed else None
        shipment.carrier, shipment.tracking_number = payload.carrier, payload.tracking_number
        shipment.promised_at = payload.promised_at or (placed.promised_at if placed else None)
    elif isinstance(payload, schemas.ShipmentScanned):
        scanned = payload.scanned_at or at
        if scanned >= shipment.last_scan_at:
            shipment.last_scan_at, shipment.last_location = scanned, payload.location
        if shipment.status in ("created", "exception"):
            shipment.status = "in_transit"
    elif isinstance(payload, schemas.ShipmentDelivered):
        shipment.status = "delivered"
        shipment.delivered_at = payload.delivered_at or at
    else:
        if shipment.status != "delivered":
            shipment.status = "exception"
        shipment.exception_reason = payload.reason
    if isinstance(payload, schemas.ShipmentDelivered):
        from amends.recovery.service import parcel_delivered

        await parcel_delivered(session, shipment)
