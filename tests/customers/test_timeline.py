"""The customer's timeline tells the truth: a gesture past its expiry is expired (not "active"),
a used one stays used whatever its expiry, and a message is one line with the status it has
now, however many times its delivery changed status."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import update

from amends.db import Database
from amends.kit import codes
from amends.kit.clock import clock, utcnow
from amends.kit.ids import new_id
from amends.models import Delivery
from amends.roles import Role
from tests.factories import bearer, make_coupon, make_customer, make_org, make_user, staff_headers


def _lines(html: str, kind: str) -> list[tuple[str | None, str]]:
    """(data-status, text) of each timeline line of `kind`."""
    return [(status, re.sub(r"<[^>]+>|\s+", " ", text).strip()) for status, text in re.findall(
        rf'<li data-kind="{kind}"(?: data-status="([a-z_]+)")?>(.*?)</li>', html, re.S)]


async def test_an_expired_gesture_is_shown_expired_and_a_used_one_stays_used(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    customer = await make_customer(db, tenant, external_id="C-5", name="Lukas Gruber")
    lapsed = await make_coupon(db, tenant, customer=customer, validity_days=10, case_ref="A",
                               name="Sorry 10")
    used = await make_coupon(db, tenant, customer=customer, validity_days=10, case_ref="B",
                             name="Sorry 15")
    fresh = await make_coupon(db, tenant, customer=customer, validity_days=60, case_ref="C",
                              name="Sorry 20")
    till = bearer(tenant.admin_token)
    taken = await client.post("/v1/redemptions", headers=till, json={
        "code": used.code, "customer_id": "C-5", "order_id": "O-1", "order_amount": 5000})
    assert taken.status_code == 201, taken.text
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    before = _lines((await client.get("/customers/C-5", headers=agent)).text, "gesture")
    assert sorted(status for status, _ in before) == ["active", "active", "redeemed"]

    clock.advance(timedelta(days=11))
    page = await client.get("/customers/C-5", headers=agent)
    assert page.status_code == 200
    lines = _lines(page.text, "gesture")
    lapsed_lines = [line for line in lines if codes.display(lapsed.code) in line[1]]
    assert [status for status, _ in lapsed_lines] == ["expired", "expired"]
    assert "expired" in lapsed_lines[0][1]
    assert "given by" not in lapsed_lines[0][1]
    assert "now expired" in lapsed_lines[1][1]
    assert all("active" not in text.lower() for _, text in lapsed_lines)
    [used_line] = [line for line in lines if codes.display(used.code) in line[1]]
    assert used_line[0] == "redeemed"
    assert "now used" in used_line[1]
    [fresh_line] = [line for line in lines if codes.display(fresh.code) in line[1]]
    assert fresh_line[0] == "active"


async def test_a_delivered_message_is_one_line_with_its_last_status(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    customer = await make_customer(db, tenant, external_id="C-6", email="sanne@example.com")
    coupon = await make_coupon(db, tenant, customer=customer)
    message_id = new_id()
    async with db.transaction() as session:
        session.add(Delivery(id=message_id, organization_id=tenant.id, coupon_id=coupon.id,
                             customer_id=customer.id, kind="gesture", channel="email",
                             address="sanne@example.com", language="en",
                             body_text="Sorry", requested_by_label="tests"))
    for status in ("sent", "delivered"):  # as the provider's receipts arrive
        async with db.transaction() as session:
            await session.execute(update(Delivery).where(Delivery.id == message_id).values(
                status=status, **{f"{status}_at": utcnow()}))
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    page = await client.get("/customers/C-6", headers=agent)
    messages = _lines(page.text, "message")
    assert len(messages) == 1, messages
    assert messages[0][0] == "delivered"
    assert "Gesture by e-mail to sanne@example.com: delivered" in messages[0][1]
