from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from amends.db import Database
from amends.kit import codes
from amends.kit.clock import clock
from amends.models import Coupon, GiftCardEntry, Redemption
from tests.factories import bearer, make_api_key, make_coupon, make_customer, make_org

# Rounds of the races below: each round is fifty requests at once for one fresh coupon, and
# every round checks that exactly one wins; five show it as well as twenty did, in a quarter
# of the time.
RACE_ROUNDS = 5


async def _till(db: Database) -> tuple[Any, dict[str, str]]:
    tenant = await make_org(db)
    return tenant, bearer(await make_api_key(db, tenant, scopes=["redemptions:read",
                                                                  "redemptions:write"]))


def _sale(coupon: Coupon, **over: Any) -> dict[str, Any]:
    return {"code": codes.display(coupon.code), "customer_id": coupon.customer_external_id,
            "order_id": "O-1", "order_amount": 5000, "channel": "in_store",
            "store_id": "Leeds", "till_id": "T3", **over}


async def test_a_coupon_is_redeemed_once_and_then_says_when_and_where(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant, till = await _till(db)
    coupon = await make_coupon(db, tenant, kind="amount_off", value=1500)
    check = await client.post("/v1/redemptions/validate", headers=till,
                              json={"code": coupon.code.lower(), "order_amount": 5000,
                                    "customer_id": coupon.customer_external_id})
    assert check.status_code == 200
    assert check.json()["discount"] == 1500
    used = await client.post("/v1/redemptions", headers=till, json=_sale(coupon))
    assert used.status_code == 201, used.text
    assert used.json()["discount"] == 1500
    assert used.json()["amount_due"] == 3500
    again = await client.post("/v1/redemptions", headers=till,
                              json=_sale(coupon, order_id="O-2"))
    assert again.status_code == 409
    problem = again.json()
    assert problem["code"] == "coupon_already_redeemed"
    assert problem["store_id"] == "Leeds"
    assert "Leeds" in problem["detail"]
    assert problem["redeemed_at"]


async def test_every_reason_a_code_is_refused_has_its_own_answer(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant, till = await _till(db)

    async def refusal(path: str, body: dict[str, Any]) -> str:
        response = await client.post(path, headers=till, json=body)
        assert response.status_code in (404, 409), response.text
        assert response.headers["content-type"] == "application/problem+json"
        return str(response.json()["code"])

    unknown = codes.generate()
    assert await refusal("/v1/redemptions/validate",
                         {"code": unknown, "order_amount": 100}) == "coupon_not_found"
    real = await make_coupon(db, tenant)
    typo = real.code[:3] + ("A" if real.code[3] != "A" else "B") + real.code[4:]
    mistyped = await client.post("/v1/redemptions/validate", headers=till,
                                 json={"code": typo, "order_amount": 100})
    assert mistyped.json()["code"] == "coupon_not_found"
    assert "mistyped" in mistyped.json()["detail"]

    expiring = await make_coupon(db, tenant, validity_days=1)
    clock.advance(timedelta(days=2))
    assert await refusal("/v1/redemptions", _sale(expiring)) == "coupon_expired"
    clock.reset()

    redeemed = await make_coupon(db, tenant)
    await client.post("/v1/redemptions", headers=till, json=_sale(redeemed))
    assert await refusal("/v1/redemptions", _sale(redeemed)) == "coupon_already_redeemed"

    revoked = await make_coupon(db, tenant)
    admin = bearer(tenant.admin_token)
    await client.post(f"/v1/coupons/{revoked.id}/revoke", headers=admin, json={"reason": "x"})
    assert await refusal("/v1/redemptions", _sale(revoked)) == "coupon_revoked"

    future = await make_coupon(db, tenant)
    clock.advance(timedelta(minutes=-5))
    assert await refusal("/v1/redemptions/validate", {
        "code": future.code, "customer_id": future.customer_external_id,
        "order_amount": 100}) == "coupon_not_yet_valid"
    clock.reset()

    someone = await make_coupon(db, tenant)
    assert await refusal("/v1/redemptions",
                         _sale(someone, customer_id="somebody-else")) == "wrong_customer"
    assert await refusal("/v1/redemptions",
                         _sale(someone, customer_id=None)) == "customer_required"

    minimum = await make_coupon(db, tenant, min_order=10000)
    assert await refusal("/v1/redemptions", _sale(minimum)) == "minimum_order_not_met"

    held = await make_coupon(db, tenant)
    reserved = await client.post("/v1/reservations", headers=till,
                                 json={**_sale(held), "hold_minutes": 10})
    assert reserved.status_code == 201
    assert await refusal("/v1/redemptions", _sale(held, order_id="O-9")) == "coupon_reserved"

    euro = await make_coupon(db, tenant)
    assert await refusal("/v1/redemptions", _sale(euro, currency="GBP")) == "currency_mismatch"

    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Redemption)) == 1


async def test_a_wrong_customer_cannot_redeem_but_an_unbound_coupon_works_for_anyone(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant, till = await _till(db)
    bound = await make_coupon(db, tenant)
    stranger = await client.post("/v1/redemptions", headers=till,
                                 json=_sale(bound, customer_id="C-stranger"))
    assert stranger.status_code == 409
    async with db.transaction(write=False) as session:
        fresh = await session.get(Coupon, (bound.organization_id, bound.id))
    assert fresh is not None
    assert fresh.status == "active"
    unbound = await make_coupon(db, tenant, bound_to_customer=False)
    anyone = await client.post("/v1/redemptions", headers=till,
                               json=_sale(unbound, customer_id=None))
    assert anyone.status_code == 201


async def test_a_voided_redemption_makes_the_coupon_redeemable_again_exactly_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant, till = await _till(db)
    coupon = await make_coupon(db, tenant)
    first = (await client.post("/v1/redemptions", headers=till, json=_sale(coupon))).json()
    voided = await client.post(f"/v1/redemptions/{first['id']}/void", headers=till,
                               json={"reason": "Order refunded"})
    assert voided.status_code == 200
    assert voided.json()["status"] == "voided"
    twice = await client.post(f"/v1/redemptions/{first['id']}/void", headers=till,
                              json={"reason": "again"})
    assert twice.status_code == 409
    assert twice.json()["code"] == "redemption_already_voided"
    attempts = await asyncio.gather(*(
        client.post("/v1/redemptions", headers=till, json=_sale(coupon, order_id=f"O-{n}"))
        for n in range(10)))
    assert sorted(r.status_code for r in attempts) == [201] + [409] * 9


async def test_fifty_concurrent_redeems_succeed_exactly_once_round_after_round(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant, till = await _till(db)
    customer = await make_customer(db, tenant)
    for round_ in range(RACE_ROUNDS):
        coupon = await make_coupon(db, tenant, customer=customer, case_ref=f"R{round_}")
        responses = await asyncio.gather(*(
            client.post("/v1/redemptions", headers=till,
                        json=_sale(coupon, order_id=f"O-{round_}-{n}"))
            for n in range(50)))
        statuses = [r.status_code for r in responses]
        assert statuses.count(201) == 1, statuses
        assert statuses.count(409) == 49
        assert {r.json()["code"] for r in responses if r.status_code == 409} == {
            "coupon_already_redeemed"}
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Redemption)) == RACE_ROUNDS


async def test_reserve_and_redeem_racing_for_one_coupon_never_both_win(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant, till = await _till(db)
    customer = await make_customer(db, tenant)
    for round_ in range(RACE_ROUNDS):
        coupon = await make_coupon(db, tenant, customer=customer, case_ref=f"R{round_}")
        calls = []
        for n in range(50):
            path = "/v1/reservations" if n % 2 else "/v1/redemptions"
            calls.append(client.post(path, headers=till,
                                     json=_sale(coupon, order_id=f"O-{round_}-{n}")))
        responses = await asyncio.gather(*calls)
        winners = [r for r in responses if r.status_code == 201]
        assert len(winners) == 1, [r.status_code for r in responses]
        assert {r.json()["code"] for r in responses if r.status_code != 201} <= {
            "coupon_already_redeemed", "coupon_reserved"}


async def test_a_reservation_is_confirmed_released_or_times_out(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant, till = await _till(db)
    coupon = await make_coupon(db, tenant, kind="percent_off", value=20)
    hold = (await client.post("/v1/reservations", headers=till,
                              json={**_sale(coupon), "hold_minutes": 5})).json()
    released = await client.post(f"/v1/reservations/{hold['id']}/release", headers=till)
    assert released.json()["status"] == "released"
    hold = (await client.post("/v1/reservations", headers=till,
                              json={**_sale(coupon, order_id="O-2"), "hold_minutes": 5})).json()
    confirmed = await client.post(f"/v1/reservations/{hold['id']}/confirm", headers=till)
    assert confirmed.status_code == 201
    assert confirmed.json()["discount"] == 1000
    assert confirmed.json()["order_id"] == "O-2"
    replay = await client.post(f"/v1/reservations/{hold['id']}/confirm", headers=till)
    assert replay.json()["id"] == confirmed.json()["id"]

    other = await make_coupon(db, tenant)
    stale = (await client.post("/v1/reservations", headers=till,
                               json={**_sale(other), "hold_minutes": 5})).json()
    clock.advance(timedelta(minutes=6))
    late = await client.post(f"/v1/reservations/{stale['id']}/confirm", headers=till)
    assert late.status_code == 409
    assert late.json()["code"] == "reservation_expired"
    another_checkout = await client.post("/v1/redemptions", headers=till,
                                         json=_sale(other, order_id="O-3"))
    assert another_checkout.status_code == 201


async def test_fifty_concurrent_gift_card_debits_never_overdraw(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant, till = await _till(db)
    card = await make_coupon(db, tenant, kind="gift_card", value=10000)
    responses = await asyncio.gather(*(
        client.post("/v1/redemptions", headers=till,
                    json=_sale(card, order_id=f"G-{n}", order_amount=700))
        for n in range(50)))
    ok = [r.json() for r in responses if r.status_code == 201]
    refused = [r.json()["code"] for r in responses if r.status_code != 201]
    assert sum(r["discount"] for r in ok) == 10000  # 14 x 7.00 and one last 2.00
    assert len(ok) == 15
    assert set(refused) == {"coupon_already_redeemed"}
    async with db.transaction(write=False) as session:
        fresh = await session.get(Coupon, (card.organization_id, card.id))
        ledger = await session.scalar(select(func.sum(GiftCardEntry.amount)).where(
            GiftCardEntry.coupon_id == card.id))
    assert fresh is not None
    assert fresh.balance == 0 == ledger
    last = next(r for r in ok if r["discount"] == 200)
    credited = await client.post(f"/v1/redemptions/{last['id']}/void", headers=till,
                                 json={"reason": "refund"})
    assert credited.status_code == 200
    async with db.transaction(write=False) as session:
        fresh = await session.get(Coupon, (card.organization_id, card.id))
        ledger = await session.scalar(select(func.sum(GiftCardEntry.amount)).where(
            GiftCardEntry.coupon_id == card.id))
    assert fresh is not None
    assert fresh.balance == 200 == ledger
    assert fresh.status == "active"


async def test_free_shipping_lasts_for_its_period(client: httpx.AsyncClient,
                                                  db: Database) -> None:
    tenant, till = await _till(db)
    perk = await make_coupon(db, tenant, kind="free_shipping", value=495, validity_days=182)
    for n in range(3):
        clock.advance(timedelta(days=30))
        used = await client.post("/v1/redemptions", headers=till,
                                 json=_sale(perk, order_id=f"S-{n}", shipping_amount=599))
        assert used.status_code == 201
        assert used.json()["discount"] == 599
    clock.advance(timedelta(days=100))
    over = await client.post("/v1/redemptions", headers=till, json=_sale(perk, order_id="S-9"))
    assert over.status_code == 409
    assert over.json()["code"] == "coupon_expired"


async def test_a_reporting_key_cannot_redeem(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    coupon = await make_coupon(db, tenant)
    reporting = bearer(await make_api_key(db, tenant, scopes=["reports:read"]))
    assert (await client.post("/v1/redemptions", headers=reporting,
                              json=_sale(coupon))).status_code == 403
    reader = bearer(await make_api_key(db, tenant, scopes=["redemptions:read"]))
    assert (await client.post("/v1/redemptions/validate", headers=reader, json={
        "code": coupon.code, "customer_id": coupon.customer_external_id})).status_code == 200
    assert (await client.post("/v1/redemptions", headers=reader,
                              json=_sale(coupon))).status_code == 403


async def test_codes_of_another_organisation_do_not_exist_here(
    client: httpx.AsyncClient, db: Database
) -> None:
    theirs = await make_org(db)
    coupon = await make_coupon(db, theirs)
    _, till = await _till(db)
    response = await client.post("/v1/redemptions", headers=till, json=_sale(coupon))
    assert response.status_code == 404
    assert response.json()["code"] == "coupon_not_found"
