"""Finding a customer by whatever the agent has at hand: a coupon code read out over the phone,
an order or parcel id, a case or ticket reference, a phone number in any format, an e-mail
address in any case, their id or the start of their name; each result says what matched."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from amends.db import Database
from amends.kit import codes
from amends.kit.clock import utcnow
from amends.kit.ids import new_id
from amends.models import Order, Organization, Shipment
from tests.factories import Tenant, bearer, make_coupon, make_customer, make_org


async def _search(client: httpx.AsyncClient, tenant: Tenant, query: str
                  ) -> list[dict[str, Any]]:
    found = await client.get("/v1/customers", headers=bearer(tenant.admin_token),
                             params={"q": query})
    assert found.status_code == 200, found.text
    return list(found.json())


def _messy(code: str) -> str:
    """A code as a customer reads it out and an agent types it: lower case, spaces instead of
    dashes, O for 0 and L for 1."""
    return codes.display(code).lower().replace("-", " ").replace("0", "o").replace("1", "l")


async def _french(db: Database, tenant: Tenant) -> None:
    """An organisation in France: numbers typed without their country code are French."""
    async with db.transaction() as session:
        await session.execute(update(Organization).where(Organization.id == tenant.id)
                              .values(time_zone="Europe/Paris"))


async def test_a_customer_is_found_by_code_order_parcel_case_and_ticket_and_told_why(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    zoe = await make_customer(db, tenant, external_id="C-1004", name="Zoé Robert",
                              email="zoe.robert@example.com", phone="+33612345678")
    other = await make_customer(db, tenant, external_id="C-2000", name="Sam Patel")
    coupon = await make_coupon(db, tenant, customer=zoe, case_ref="K-1")
    async with db.transaction() as session:
        now = utcnow()
        session.add(Order(id=new_id(), organization_id=tenant.id, external_id="1042",
                          customer_id=zoe.id, customer_external_id=zoe.external_id,
                          amount=6490, currency="EUR", placed_at=now))
        session.add(Shipment(id=new_id(), organization_id=tenant.id, external_id="1Z999AA1",
                             order_external_id="W-77", customer_id=zoe.id,
                             last_scan_at=now - timedelta(days=3)))
    opened = await client.post("/v1/cases", headers=bearer(tenant.admin_token), json={
        "customer_id": zoe.external_id, "reason": "late_delivery", "severity": 2,
        "channel": "email", "conversation_ref": "ZD-48123"})
    assert opened.status_code == 201, opened.text
    reference = opened.json()["reference"]

    expected = {
        _messy(coupon.code): ("code", codes.display(coupon.code)),
        "  " + codes.display(coupon.code) + " ": ("code", codes.display(coupon.code)),
        "1042": ("order", "1042"),
        "w-77": ("order", "W-77"),
        "1Z999AA1": ("parcel", "1Z999AA1"),
        reference.lower(): ("case", reference),
        "ZD-48123": ("conversation", "ZD-48123"),
        "zd-48123": ("conversation", "ZD-48123"),
        "c-1004": ("customer_id", "C-1004"),
        "ZOE.Robert@Example.com": ("email", "zoe.robert@example.com"),
        "zoé r": ("name", "Zoé Robert"),
    }
    for query, (by, value) in expected.items():
        found = await _search(client, tenant, query)
        assert [c["external_id"] for c in found] == ["C-1004"], query
        assert {"by": by, "value": value} in found[0]["matched"], (query, found[0]["matched"])
        assert found[0]["email"] == "zoe.robert@example.com"
    # A code that is one character off is nobody's.
    typo = coupon.code[:-1] + ("2" if coupon.code[-1] != "2" else "3")
    assert await _search(client, tenant, typo) == []
    assert [c["external_id"] for c in await _search(client, tenant, "sam")] == [
        other.external_id]
    # Another organisation finds none of it.
    stranger = await make_org(db)
    for query in (coupon.code, "1042", reference, "ZD-48123", "C-1004", "zoé"):
        assert await _search(client, stranger, query) == [], query


async def test_a_phone_number_is_found_in_any_format(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    await _french(db, tenant)
    await make_customer(db, tenant, external_id="C-1004", name="Zoé Robert",
                        phone="+33612345678")
    await make_customer(db, tenant, external_id="C-1001", name="Jo Bloggs",
                        phone="+447700900123")
    for typed in ("06 12 34 56 78", "06.12.34.56.78", "0612345678", "+33 6 12 34 56 78",
                  "+33 (0)6 12 34 56 78", "0033 6 12 34 56 78", "0033612345678",
                  "+33612345678", "06-12-34-56-78"):
        found = await _search(client, tenant, typed)
        assert [c["external_id"] for c in found] == ["C-1004"], typed
        assert found[0]["matched"] == [{"by": "phone", "value": "+33612345678"}], typed
    # A British number is found in international form; its national form reads as French.
    for typed in ("+44 7700 900123", "0044 7700 900123"):
        assert [c["external_id"] for c in await _search(client, tenant, typed)] == [
            "C-1001"], typed
    assert await _search(client, tenant, "07700 900123") == []


async def test_exact_matches_come_before_names_and_odd_input_finds_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    await make_customer(db, tenant, external_id="ana", name="Anabel Zed")
    await make_customer(db, tenant, external_id="C-3", name="Ana Lopez")
    await make_customer(db, tenant, external_id="C-4", name="Anatole Bay")
    found = await _search(client, tenant, "ana")
    # The customer whose id is "ana" first, then the names that start with it, in order.
    assert [c["external_id"] for c in found] == ["ana", "C-3", "C-4"]
    assert [m["by"] for m in found[0]["matched"]] == ["customer_id", "name"]
    for odd in ("%", "_", "a%", "\\", "'; --", "\u00e9\u0301", "\U0010ffff", "+", "00",
                "a" * 200):
        assert await _search(client, tenant, odd) == [], odd
    refused = await client.get("/v1/customers", headers=bearer(tenant.admin_token),
                               params={"q": "x\x00y"})
    assert refused.status_code == 422, refused.text
    limited = await client.get("/v1/customers", headers=bearer(tenant.admin_token),
                               params={"q": "a", "limit": 2})
    # Names in order ("ana lopez" before "anabel zed"), no more than asked for.
    assert [c["external_id"] for c in limited.json()] == ["C-3", "ana"]


async def test_a_customer_is_found_by_a_parcels_tracking_number_and_the_order_a_gesture_was_used_on(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    zoe = await make_customer(db, tenant, external_id="C-1004", name="Zoé Robert")
    sam = await make_customer(db, tenant, external_id="C-2000", name="Sam Patel")
    coupon = await make_coupon(db, tenant, customer=zoe, value=1000)
    async with db.transaction() as session:
        session.add(Shipment(id=new_id(), organization_id=tenant.id, external_id="P-88",
                             order_external_id="W-88", customer_id=sam.id, carrier="DHL",
                             tracking_number="JD014600003828", last_scan_at=utcnow()))
    redeemed = await client.post("/v1/redemptions", headers=admin, json={
        "code": coupon.code, "customer_id": "C-1004", "order_id": "web-5531",
        "order_amount": 5000, "currency": "EUR"})
    assert redeemed.status_code == 201, redeemed.text

    # The tracking number as the customer reads it out: in groups, in any case.
    for typed in ("JD014600003828", "jd014600003828", "JD01 4600 0038 28"):
        found = await _search(client, tenant, typed)
        assert [c["external_id"] for c in found] == ["C-2000"], typed
        assert found[0]["matched"] == [{"by": "parcel", "value": "JD014600003828"}], typed
    # The order the gesture was used on (the shop's order, not one Amends was told of).
    for typed in ("web-5531", "WEB-5531"):
        found = await _search(client, tenant, typed)
        assert [c["external_id"] for c in found] == ["C-1004"], typed
        assert found[0]["matched"] == [{"by": "redeemed_order", "value": "web-5531"}], typed
    # A voided redemption was still made on that order: its customer is still found.
    voided = await client.post(f"/v1/redemptions/{redeemed.json()['id']}/void",
                               headers=admin, json={"reason": "Refunded"})
    assert voided.status_code == 200, voided.text
    assert [c["external_id"] for c in await _search(client, tenant, "web-5531")] == ["C-1004"]
    # Part of a number is nobody's, and another organisation finds none of it.
    assert await _search(client, tenant, "JD0146") == []
    stranger = await make_org(db)
    for query in ("JD014600003828", "web-5531"):
        assert await _search(client, stranger, query) == [], query
