from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from amends.db import Database
from amends.models import Event, Order, Shipment
from tests.factories import bearer, make_api_key, make_org


def order(n: int, **over: Any) -> dict[str, Any]:
    return {"id": f"evt-{n}", "type": "order.placed", "occurred_at": "2026-11-20T10:00:00Z",
            "data": {"order_id": f"O-{n}", "customer_id": f"C-{n % 50}", "amount": 4999,
                     "currency": "EUR", "promised_at": "2026-11-22T18:00:00Z",
                     "customer": {"email": f"c{n % 50}@example.com"}}, **over}


async def _count(db: Database, model: type) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_thousand_events_sent_twice_are_stored_once(client: httpx.AsyncClient,
                                                            db: Database) -> None:
    tenant = await make_org(db)
    sender = bearer(await make_api_key(db, tenant, scopes=["events:write"]))
    batch = {"events": [order(n) for n in range(1000)]}
    first = await client.post("/v1/events", headers=sender, json=batch)
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 1000, "duplicates": 0, "errors": []}
    again = await client.post("/v1/events", headers=sender, json=batch)
    assert again.json() == {"accepted": 0, "duplicates": 1000, "errors": []}
    assert await _count(db, Event) == 1000
    assert await _count(db, Order) == 1000


async def test_a_batch_keeps_its_good_events_and_names_the_bad_ones(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    sender = bearer(await make_api_key(db, tenant, scopes=["events:write"]))
    events = [order(n) for n in range(1000)]
    events[10] = {"id": "evt-10", "type": "parcel.teleported", "occurred_at":
                  "2026-11-20T10:00:00Z", "data": {}}
    events[500]["data"].pop("amount")
    events[999]["occurred_at"] = "yesterday"
    response = await client.post("/v1/events", headers=sender, json={"events": events})
    body = response.json()
    assert body["accepted"] == 997
    assert [(e["index"], e["id"]) for e in body["errors"]] == [
        (10, "evt-10"), (500, "evt-500"), (999, "evt-999")]
    assert body["errors"][0]["code"] == "unknown_event_type"
    assert "amount" in body["errors"][1]["detail"]
    assert await _count(db, Event) == 997


async def test_shipment_events_project_a_parcel_even_out_of_order(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    sender = bearer(await make_api_key(db, tenant, scopes=["events:write"]))
    events = [
        order(1),
        {"id": "s1", "type": "shipment.created", "occurred_at": "2026-11-20T12:00:00Z",
         "data": {"shipment_id": "P-1", "order_id": "O-1", "carrier": "DHL",
                  "tracking_number": "JD0001"}},
        {"id": "s3", "type": "shipment.delivered", "occurred_at": "2026-11-22T09:00:00Z",
         "data": {"shipment_id": "P-1"}},
        {"id": "s2", "type": "shipment.scanned", "occurred_at": "2026-11-21T08:00:00Z",
         "data": {"shipment_id": "P-1", "location": "Leeds depot"}},
    ]
    response = await client.post("/v1/events", headers=sender, json={"events": events})
    assert response.json()["accepted"] == 4
    async with db.transaction(write=False) as session:
        parcel = await session.scalar(select(Shipment))
    assert parcel is not None
    assert parcel.status == "delivered"
    assert parcel.last_location == "Leeds depot"
    assert parcel.promised_at is not None  # from the order
    assert parcel.carrier == "DHL"
    single_bad = await client.post("/v1/events", headers=sender, json={
        "id": "x", "type": "shipment.scanned", "occurred_at": "2026-11-20T10:00:00Z",
        "data": {}})
    assert single_bad.status_code == 422
    assert single_bad.json()["code"] == "invalid_event"
    too_many = await client.post("/v1/events", headers=sender,
                                 json={"events": [order(n) for n in range(1001)]})
    assert too_many.status_code == 422
    assert too_many.json()["code"] == "batch_too_large"
    reporting = bearer(await make_api_key(db, tenant, scopes=["reports:read"]))
    assert (await client.post("/v1/events", headers=reporting, json=order(5))).status_code == 403


async def test_a_parcel_keeps_the_items_its_events_carry_checked_like_order_lines(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    sender = bearer(await make_api_key(db, tenant, scopes=["events:write"]))

    def parcel(n: int, kind: str, **data: Any) -> dict[str, Any]:
        return {"id": f"p{n}", "type": kind, "occurred_at": f"2026-11-2{n}T12:00:00Z",
                "data": {"shipment_id": "P-1", **data}}

    async def items() -> list[dict[str, Any]] | None:
        async with db.transaction(write=False) as session:
            return (await session.scalar(select(Shipment))).items  # type: ignore[union-attr]

    sent = await client.post("/v1/events", headers=sender, json={"events": [
        order(1), parcel(1, "shipment.created", order_id="O-1", items=[
            {"sku": "WB-1", "name": "Wall Bracket", "quantity": 2}, "SONOS-BEAM"])]})
    assert sent.json() == {"accepted": 2, "duplicates": 0, "errors": []}
    carried = [{"sku": "WB-1", "name": "Wall Bracket", "quantity": 2},
               {"sku": "SONOS-BEAM", "name": None, "quantity": 1}]
    assert await items() == carried
    # An event that does not say what the parcel carries leaves its items as they were.
    await client.post("/v1/events", headers=sender,
                      json=parcel(2, "shipment.scanned", location="Leeds"))
    assert await items() == carried
    # Items are checked as order lines are: each bad one is named, and nothing changes.
    for bad, field in (([{"sku": "A", "quantity": 0}], "data.items.0.quantity"),
                       ([{"sku": ""}], "data.items.0.sku"),
                       (["A", {"name": "No SKU"}], "data.items.1.sku"),
                       ([{"sku": "A", "colour": "red"}], "data.items.0.colour"),
                       ([{"sku": "A", "name": "x" * 201}], "data.items.0.name"),
                       ([7], "data.items.0"),
                       ("WB-1", "data.items")):
        refused = await client.post("/v1/events", headers=sender,
                                    json=parcel(3, "shipment.scanned", items=bad))
        assert refused.status_code == 422, (bad, refused.text)
        assert field in {e["field"] for e in refused.json()["errors"]}, (bad, refused.json())
    assert await items() == carried
    # A later event may say it again (a carrier's correction): the latest one counts.
    await client.post("/v1/events", headers=sender, json=parcel(
        4, "shipment.exception", reason="damaged", items=[{"sku": "WB-1", "quantity": 1}]))
    assert await items() == [{"sku": "WB-1", "name": None, "quantity": 1}]
