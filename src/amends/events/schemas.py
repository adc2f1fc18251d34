"""The events upstream systems send (orders, shipments, purchases)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from amends.customers.schemas import Currency, CustomerIn

Ref = Annotated[str, StringConstraints(min_length=1, max_length=100)]
MAX_BATCH = 1000


class Line(BaseModel):
    sku: Ref
    quantity: int = Field(default=1, ge=1)
    price: int = Field(default=0, ge=0, description="Minor units")


class OrderPlaced(BaseModel):
    order_id: Ref
    customer_id: Ref
    customer: CustomerIn | None = None
    amount: int = Field(ge=0)
    currency: Currency
    promised_at: AwareDatetime | None = None
    lines: list[Line] = Field(default_factory=list)


class ShipmentCreated(BaseModel):
    shipment_id: Ref
    order_id: Ref
    carrier: str | None = Field(default=None, max_length=50)
    tracking_number: str | None = Field(default=None, max_length=100)
    promised_at: AwareDatetime | None = None
    items: list[Ref] = Field(default_factory=list)


class ShipmentScanned(BaseModel):
    shipment_id: Ref
    location: str | None = Field(default=None, max_length=200)
    scanned_at: AwareDatetime | None = None


class ShipmentDelivered(BaseModel):
    shipment_id: Ref
    delivered_at: AwareDatetime | None = None


class ShipmentException(BaseModel):
    shipment_id: Ref
    reason: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class PurchaseCompleted(BaseModel):
    order_id: Ref
    customer_id: Ref
    amount: int = Field(ge=0)
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


class EventIn(BaseModel):
    id: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="The sender's event id: the same id is stored once")
    type: EventType
    occurred_at: AwareDatetime
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

