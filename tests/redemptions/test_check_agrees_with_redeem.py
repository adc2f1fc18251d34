"""Check and Redeem agree: for every reason a code is refused, `POST /v1/redemptions/validate`
answers what `POST /v1/redemptions` answers for the same order, and the till's Check button
what its Redeem button answers for the same form. Check never says "works" for a code that
Redeem then refuses."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from amends.db import Database
from amends.kit import codes
from amends.kit.clock import utcnow
from amends.models import Coupon
from amends.roles import Role
from tests.factories import (
    Tenant,
    bearer,
    make_api_key,
    make_coupon,
    make_customer,
    make_org,
    make_user,
    staff_headers,
)

OK = "ok"


@dataclass
class Sale:
    """One way of presenting a code, and the answer both Check and Redeem must give."""

    reason: str
    code: str
    customer: str | None
    amount: int = 5000  # minor units
    api: dict[str, Any] = field(default_factory=dict)  # what only the API can send
    till: bool = True  # the till's form has no currency or shipping fields


async def _change(db: Database, coupon: Coupon, **values: Any) -> None:
    """Put the coupon in the state a case needs (revoked, expired, held ...)."""
    async with db.transaction() as session:
        await session.execute(update(Coupon).where(
            Coupon.organization_id == coupon.organization_id, Coupon.id == coupon.id)
            .values(**values))


async def _sales(db: Database, tenant: Tenant, client: httpx.AsyncClient,
                 till: dict[str, str]) -> list[Sale]:
    """A fresh coupon per case, so that each is refused for its reason alone."""
    customer = await make_customer(db, tenant, external_id=f"C-{uuid.uuid4().hex[:6]}")
    n = iter(range(1000))

    async def coupon(**fields: Any) -> Coupon:
        return await make_coupon(db, tenant, customer=customer, case_ref=f"K-{next(n)}",
                                 **fields)

    now = utcnow()
    revoked, expired, future, held, used = [await coupon() for _ in range(5)]
    await _change(db, revoked, status="revoked", revoked_at=now, revoked_reason="Sent twice")
    await _change(db, expired, expires_at=now - timedelta(minutes=1))
    await _change(db, future, valid_from=now + timedelta(days=1))
    await _change(db, held, status="reserved", reserved_until=now + timedelta(minutes=10),
                  reservation_id=uuid.uuid4())
    emptied = await coupon(kind="gift_card", value=1000)
    for spent in (used, emptied):
        taken = await client.post("/v1/redemptions", headers=till, json={
            "code": spent.code, "customer_id": customer.external_id,
            "order_id": f"O-{spent.code}", "order_amount": 5000})
        assert taken.status_code == 201, taken.text
    minimum = await coupon(min_order=10_000)
    percent = await coupon(kind="percent_off", value=1)
    anyone = await coupon(bound_to_customer=False)
    mine = customer.external_id
    unknown = codes.generate()
    return [
        Sale("coupon_not_found", unknown, mine),
        Sale("customer_required", (await coupon()).code, None),
        Sale("wrong_customer", (await coupon()).code, "somebody-else"),
        Sale("coupon_revoked", revoked.code, mine),
        Sale("coupon_expired", expired.code, mine),
        Sale("coupon_not_yet_valid", future.code, mine),
        Sale("coupon_reserved", held.code, mine),
        Sale("coupon_already_redeemed", used.code, mine),
        Sale("coupon_already_redeemed", emptied.code, mine),
        Sale("minimum_order_not_met", minimum.code, mine, amount=9_999),
        Sale("nothing_to_take_off", percent.code, mine, amount=10),
        Sale("currency_mismatch", (await coupon()).code, mine, api={"currency": "GBP"},
             till=False),
        Sale("shipping_exceeds_order", (await coupon()).code, mine,
             api={"shipping_amount": 6000}, till=False),
        # Typed as people type it: lower case, spaces, O for 0 and L for 1.
        Sale(OK, codes.display((await coupon()).code).lower().replace("-", " ")
             .replace("0", "o").replace("1", "l"), mine),
        Sale(OK, (await coupon()).code, mine, amount=10_000),
        Sale(OK, anyone.code, None),
    ]


def _answer(response: httpx.Response) -> str:
    if response.status_code in (200, 201):
        return OK
    assert response.headers["content-type"] == "application/problem+json", response.text
    return str(response.json()["code"])


def _till_answer(response: httpx.Response) -> str:
    found = re.search(r'data-result="([a-z_]+)"', response.text)
    assert found, response.text
    return OK if found.group(1) in ("valid", "redeemed") else found.group(1)


async def test_validate_refuses_exactly_what_redeem_refuses_for_the_same_order(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    till = bearer(await make_api_key(db, tenant, scopes=["redemptions:write"]))
    for sale in await _sales(db, tenant, client, till):
        order = {"code": sale.code, "order_amount": sale.amount, **sale.api}
        if sale.customer is not None:
            order["customer_id"] = sale.customer
        checked = await client.post("/v1/redemptions/validate", headers=till, json=order)
        redeemed = await client.post("/v1/redemptions", headers=till,
                                     json={**order, "order_id": f"O-{uuid.uuid4().hex[:8]}"})
        assert (_answer(checked), _answer(redeemed)) == (sale.reason, sale.reason), (
            sale, checked.text, redeemed.text)
        assert checked.status_code == (200 if sale.reason == OK else redeemed.status_code)
        if sale.reason == "customer_required":
            assert checked.status_code == 409
            assert "customer_id" in checked.json()["detail"]


async def test_the_tills_check_button_refuses_exactly_what_its_redeem_button_refuses(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    setup = bearer(await make_api_key(db, tenant, scopes=["redemptions:write"]))
    clerk = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    for sale in await _sales(db, tenant, client, setup):
        if not sale.till:
            continue
        form = {"code": sale.code, "amount": f"{sale.amount / 100:.2f}",
                "customer": sale.customer or "", "store": "Store 12 Lyon"}
        checked = await client.post("/till", headers=clerk, data={**form, "action": "check"})
        redeemed = await client.post("/till", headers=clerk, data={**form, "action": "redeem"})
        assert (_till_answer(checked), _till_answer(redeemed)) == (sale.reason, sale.reason), (
            sale, checked.text, redeemed.text)
        if sale.reason == OK:
            assert "This code works" in checked.text
        else:
            assert "This code works" not in checked.text
            assert "This code cannot be used." in checked.text
