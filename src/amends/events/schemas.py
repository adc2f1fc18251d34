"""The events upstream systems send (orders, shipments, purchases)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, StringConstraints

from amends.customers.schemas import CustomerIn
from amends.kit.schema import MAX_COUNT, Currency, Input, Instant, Money

Ref = Annotated[str, StringConstraints(min_length=1, max_length=100)]
MAX_BATCH = 1000


class Item(Input):
    sku: Ref
    name: str | None = Field(default=None, max_length=200, description=(
        "The item as the customer knows it (\"Sonos Beam\"): apologies name it, else its "
        "SKU"))
    quantity: int = Field(default=1, ge=1, le=MAX_COUNT)


class Line(Item):
    price: Money = 0


def _sku_alone(value: Any) -> Any:
    """A parcel's item may be given by its SKU alone (`"WB-1"`)."""
    return {"sku": value} if isinstance(value, str) else value


ParcelItem = Annotated[Item, BeforeValidator(_sku_alone)]
ParcelItems = Annotated[list[ParcelItem] | None, Field(default=None, max_length=1000, description=(
    "What this parcel carries (of a split order: its own share), each as an order line "
    "without its price, or a SKU alone; the parcel's apology names these rather than the "
    "order's. Absent: as before."))]


class ParcelEvent(Input):
    shipment_id: Ref
    items: ParcelItems = None


class OrderPlaced(Input):
    order_id: Ref
    customer_id: Ref
    customer: CustomerIn | None = None
    amount: Money
    currency: Currency
    promised_at: Instant | None = None
    lines: list[Line] = Field(default_factory=list, max_length=1000)


class ShipmentCreated(ParcelEvent):
    order_id: Ref
    carrier: str | None = Field(default=None, max_length=50)
    tracking_number: str | None = Field(default=None, max_length=100)
    promised_at: Instant | None = None


class ShipmentScanned(ParcelEvent):
    location: str | None = Field(default=None, max_length=200)
    scanned_at: Instant | None = None


class ShipmentDelivered(ParcelEvent):
    delivered_at: Instant | None = None


class ShipmentException(ParcelEvent):
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

