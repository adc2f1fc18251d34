"""The till page: a clerk checks and redeems a code in plain words."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import update

from amends.db import Database
from amends.kit import codes
from amends.models import Organization
from amends.roles import Role
from tests.factories import make_coupon, make_customer, make_org, make_user, staff_headers


def _answer(html: str) -> str:
    found = re.search(r'data-result="([a-z_]+)"', html)
    assert found, html
    return found.group(1)


async def test_a_clerk_checks_redeems_and_is_told_when_a_code_was_used_before(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    customer = await make_customer(db, tenant, external_id="C-77", email="kim@example.com")
    coupon = await make_coupon(db, tenant, customer=customer, value=1000, min_order=2000)
    clerk = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    typed = codes.display(coupon.code).lower().replace("-", " ")

    page = await client.get("/till", headers=clerk)
    assert page.status_code == 200
    assert 'name="code"' in page.text

    anonymous = await client.post("/till", headers=clerk, data={
        "code": typed, "amount": "45.00", "action": "check"})
    assert _answer(anonymous.text) == "customer_required"
    assert "number, email or phone, then check or redeem again" in anonymous.text
    checked = await client.post("/till", headers=clerk, data={
        "code": typed, "amount": "45.00", "customer": "KIM@example.com", "action": "check"})
    assert _answer(checked.text) == "valid"
    assert "€10.00 off this order" in checked.text

    too_small = await client.post("/till", headers=clerk, data={
        "code": typed, "amount": "15.00", "customer": "kim@example.com", "action": "redeem"})
    assert _answer(too_small.text) == "minimum_order_not_met"

    nobody = await client.post("/till", headers=clerk, data={
        "code": typed, "amount": "45.00", "action": "redeem"})
    assert _answer(nobody.text) == "customer_required"

    used = await client.post("/till", headers=clerk, data={
        "code": typed, "amount": "45.00", "customer": "kim@example.com",
        "store": "Store 12 Lyon", "action": "redeem"})
    assert _answer(used.text) == "redeemed"
    assert "Customer pays €35.00" in used.text

    again = await client.post("/till", headers=clerk, data={
        "code": coupon.code, "amount": "45.00", "customer": "C-77", "action": "redeem"})
    assert _answer(again.text) == "coupon_already_redeemed"
    assert re.search(r"Already used on \w+ \d{1,2}, \d{4}, \d{1,2}:\d\d\s[AP]M at Store 12 Lyon\.",
                     again.text), again.text

    unknown = await client.post("/till", headers=clerk, data={
        "code": "AAAA-BBBB-CCCC", "amount": "45.00", "action": "check"})
    assert _answer(unknown.text) == "coupon_not_found"
    bad_amount = await client.post("/till", headers=clerk, data={
        "code": typed, "amount": "lots", "action": "redeem"})
    assert bad_amount.status_code == 422
    assert "Type the order amount" in bad_amount.text


async def test_staff_without_redemption_rights_cannot_open_the_till(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    auditor = await staff_headers(db, await make_user(db, tenant, role=Role.AUDITOR))
    assert (await client.get("/till", headers=auditor)).status_code == 403


async def test_a_clerk_names_the_customer_by_their_phone_number_typed_the_local_way(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    async with db.transaction() as session:
        await session.execute(update(Organization).where(Organization.id == tenant.id)
                              .values(time_zone="Europe/Paris"))
    customer = await make_customer(db, tenant, external_id="C-1004", phone="+33612345678")
    coupon = await make_coupon(db, tenant, customer=customer, value=1000)
    clerk = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    for typed in ("06 12 34 56 78", "+33 6 12 34 56 78", "0033.6.12.34.56.78"):
        checked = await client.post("/till", headers=clerk, data={
            "code": coupon.code, "amount": "45.00", "customer": typed, "action": "check"})
        assert _answer(checked.text) == "valid", typed
    stranger = await client.post("/till", headers=clerk, data={
        "code": coupon.code, "amount": "45.00", "customer": "06 99 99 99 99",
        "action": "redeem"})
    assert _answer(stranger.text) == "wrong_customer"
