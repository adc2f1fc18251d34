"""The events upstream systems send (orders, shipments, purchases)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from amends.customers.schemas import CustomerIn
from amends.kit.schema import MAX_COUNT, Currency, Input, Instant, Money

Ref = Annotated[str, StringConstraints(min_length=1, max_length=100)]
MAX_BATCH = 1000


class Line(Input):
    sku: Ref
    name: str | None = Field(default=None, max_length=200, description=(
        "The item as the customer knows it (\"Sonos Beam\"): apologies name it, else its "
        "SKU"))
    quantity: int = Field(default=1, ge=1, le=MAX_COUNT)
    price: Money = 0


class OrderPlaced(Input):
    order_id: Ref
    customer_id: Ref
    customer: CustomerIn | None = None
    amount: Money
    currency: Currency
    promised_at: Instant | None = None
    lines: list[Line] = Field(default_factory=list, max_length=1000)


class ShipmentCreated(Input):
    shipment_id: Ref
    order_id: Ref
    carrier: str | None = Field(default=None, max_length=50)
    tracking_number: str | None = Field(default=None, max_length=100)
    promised_at: Instant | None = None
    items: list[Ref] = Field(default_factory=list, max_length=1000)


class ShipmentScanned(Input):
    shipment_id: Ref
    location: str | None = Field(default=None, max_length=200)
    scanned_at: Instant | None = None


class ShipmentDelivered(Input):
    shipment_id: Ref
    delivered_at: Instant | None = None


class ShipmentException(Input):
    shipment_id: Ref
    reason: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class PurchaseCompleted(Input):
    order_id: Ref
    customer_id: Ref
    amount: Money
    currency: Currency


PAYLOADS: dict[str, type[BaseModel]] = {
    "order.placed": OrderPlaced,
    "shipment.created": ShipmentCreated,
    "shipment.scanned": ShipmentScanned,
    "shipment.delivered": ShipmentDelivered,
    "shipment.exception": ShipmentException,
    "purchase.completed": PurchaseCompleted,
}
EventType = Literal["order.placed", "shipment.created", "shipment.scanned",
                    "shipment.delivered", "shipment.exception", "purchase.completed"]


class EventIn(Input):
    id: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="The sender's event id: the same id is stored once")
    type: EventType
    occurred_at: Instant
    data: dict[str, Any]


class EventError(BaseModel):
    index: int
    id: str | None
    code: str
    detail: str


class IngestResult(BaseModel):
    accepted: int = Field(description="New events stored and applied")
    duplicates: int = Field(description="Events whose id was seen before (ignored)")
    errors: list[EventError]

