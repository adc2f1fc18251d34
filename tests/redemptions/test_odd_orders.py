"""Orders no coupon should be used on are refused with their own code, and the coupon stays as
it was: an amount of 0 (or less), a shipping cost above the order, a percentage that rounds to
nothing. A coupon worth more than the order takes the whole order off, no more."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from amends.config import Settings
from amends.db import Database
from amends.kit import codes
from amends.models import Coupon, Redemption, Reservation
from tests.factories import bearer, make_api_key, make_coupon, make_org


@pytest.fixture
def settings(database_url: str) -> Settings:
    """API keys remembered for a few seconds, as in production: on PostgreSQL a plain redeem
    then takes the tills' lane, which must refuse these orders too."""
    return Settings(database_url=database_url, embedded_worker=False, log_json=False,
                    api_key_cache_seconds=5, outbound_allow_private=True,
                    _env_file=None)  # type: ignore[call-arg]


def _sale(coupon: Coupon, **over: Any) -> dict[str, Any]:
    return {"code": codes.display(coupon.code), "customer_id": coupon.customer_external_id,
            "order_id": f"O-{codes.generate()}", "order_amount": 5000, **over}


async def _till(client: httpx.AsyncClient, db: Database) -> tuple[Any, dict[str, str]]:
    """A till whose key the server has verified (so the lane may answer its redeems)."""
    tenant = await make_org(db)
    till = bearer(await make_api_key(db, tenant, scopes=["redemptions:write"]))
    warm = await make_coupon(db, tenant, case_ref="warm-up")
    assert (await client.post("/v1/redemptions", headers=till,
                              json=_sale(warm))).status_code == 201
    return tenant, till


async def _unchanged(db: Database, coupon: Coupon) -> None:
    async with db.transaction(write=False) as session:
        fresh = await session.get(Coupon, (coupon.organization_id, coupon.id))
        used = await session.scalar(select(func.count()).select_from(Redemption).where(
            Redemption.coupon_id == coupon.id))
        held = await session.scalar(select(func.count()).select_from(Reservation).where(
            Reservation.coupon_id == coupon.id))
    assert fresh is not None
    assert (fresh.status, fresh.balance, fresh.redemption_count, used, held) == (
        coupon.status, coupon.balance, 0, 0, 0)


async def _refused(client: httpx.AsyncClient, till: dict[str, str], coupon: Coupon,
                   **order: Any) -> set[tuple[int, str]]:
    """The answers of validate, redeem and reserve for this order."""
    answers = [
        await client.post("/v1/redemptions/validate", headers=till, json={
            "code": coupon.code, "customer_id": coupon.customer_external_id, **order}),
        await client.post("/v1/redemptions", headers=till, json=_sale(coupon, **order)),
        await client.post("/v1/reservations", headers=till, json=_sale(coupon, **order)),
    ]
    for answer in answers:
        assert answer.headers["content-type"] == "application/problem+json", answer.text
        assert "x-served-by" not in answer.headers
    return {(a.status_code, a.json()["code"]) for a in answers}


async def test_an_order_of_zero_is_refused_and_the_single_use_coupon_stays_unused(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant, till = await _till(client, db)
    coupon = await make_coupon(db, tenant, kind="amount_off", value=1500)
    assert await _refused(client, till, coupon, order_amount=0) == {
        (422, "order_amount_not_positive")}
    await _unchanged(db, coupon)
    negative = await client.post("/v1/redemptions", headers=till,
                                 json=_sale(coupon, order_amount=-1))
    assert negative.status_code == 422
    await _unchanged(db, coupon)
    later = await client.post("/v1/redemptions", headers=till, json=_sale(coupon))
    assert (later.status_code, later.json()["discount"]) == (201, 1500)


async def test_an_order_of_zero_on_an_unused_gift_card_is_refused_for_the_order_not_the_balance(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant, till = await _till(client, db)
    card = await make_coupon(db, tenant, kind="gift_card", value=5000)
    zero = await client.post("/v1/redemptions", headers=till, json=_sale(card, order_amount=0))
    assert (zero.status_code, zero.json()["code"]) == (422, "order_amount_not_positive")
    assert "used up" not in zero.json()["detail"]
    await _unchanged(db, card)


async def test_a_shipping_cost_above_the_order_is_refused_and_the_perk_is_not_used(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant, till = await _till(client, db)
    perk = await make_coupon(db, tenant, kind="free_shipping", value=495)
    assert await _refused(client, till, perk, order_amount=500, shipping_amount=699) == {
        (422, "shipping_exceeds_order")}
    await _unchanged(db, perk)
    single = await make_coupon(db, tenant, kind="amount_off", value=1000, case_ref="single")
    assert await _refused(client, till, single, order_amount=500, shipping_amount=699) == {
        (422, "shipping_exceeds_order")}
    await _unchanged(db, single)


async def test_a_percentage_that_rounds_to_nothing_keeps_the_coupon_for_a_larger_order(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant, till = await _till(client, db)
    coupon = await make_coupon(db, tenant, kind="percent_off", value=10)
    # 10% of 4 cents is 0.4 cents: rounded, nothing.
    assert await _refused(client, till, coupon, order_amount=4) == {
        (409, "nothing_to_take_off")}
    await _unchanged(db, coupon)
    used = await client.post("/v1/redemptions", headers=till, json=_sale(coupon,
                                                                          order_amount=5))
    assert (used.status_code, used.json()["discount"]) == (201, 1)


async def test_a_coupon_worth_more_than_the_order_takes_the_whole_order_and_no_more(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant, till = await _till(client, db)
    coupon = await make_coupon(db, tenant, kind="amount_off", value=1500)
    quote = await client.post("/v1/redemptions/validate", headers=till, json={
        "code": coupon.code, "customer_id": coupon.customer_external_id, "order_amount": 1000})
    assert (quote.status_code, quote.json()["discount"]) == (200, 1000)
    used = await client.post("/v1/redemptions", headers=till,
                             json=_sale(coupon, order_amount=1000))
    assert used.status_code == 201
    assert (used.json()["discount"], used.json()["amount_due"]) == (1000, 0)
    card = await make_coupon(db, tenant, kind="gift_card", value=5000, case_ref="card")
    debit = await client.post("/v1/redemptions", headers=till,
                              json=_sale(card, order_amount=1000))
    assert (debit.json()["discount"], debit.json()["amount_due"]) == (1000, 0)
    async with db.transaction(write=False) as session:
        fresh = await session.get(Coupon, (card.organization_id, card.id))
    assert fresh is not None
    assert (fresh.status, fresh.balance) == ("active", 4000)


async def test_a_code_can_still_be_checked_before_the_order_is_known(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant, till = await _till(client, db)
    coupon = await make_coupon(db, tenant)
    check = await client.post("/v1/redemptions/validate", headers=till, json={
        "code": coupon.code, "customer_id": coupon.customer_external_id})
    assert (check.status_code, check.json()["discount"]) == (200, 0)
