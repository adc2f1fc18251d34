"""Two checkouts acting on one reservation at the same moment: each loser is told what
happened, never that a live hold expired, and a release never answers 200 on a hold that was
confirmed."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import func, select

from amends.db import Database
from amends.kit import codes
from amends.models import Coupon, Redemption
from tests.factories import bearer, make_api_key, make_coupon, make_customer, make_org

ROUNDS = 25


async def _holds(client: httpx.AsyncClient, db: Database, rounds: int
                 ) -> tuple[dict[str, str], list[tuple[Coupon, str]]]:
    tenant = await make_org(db)
    till = bearer(await make_api_key(db, tenant, scopes=["redemptions:write"]))
    customer = await make_customer(db, tenant, external_id="C-1")
    holds = []
    for n in range(rounds):
        coupon = await make_coupon(db, tenant, customer=customer, case_ref=f"K-{n}")
        held = await client.post("/v1/reservations", headers=till, json={
            "code": codes.display(coupon.code), "customer_id": "C-1", "order_id": f"O-{n}",
            "order_amount": 5000, "hold_minutes": 15})
        assert held.status_code == 201, held.text
        holds.append((coupon, held.json()["id"]))
    return till, holds


def _outcome(response: httpx.Response) -> tuple[int, Any]:
    body = response.json()
    return response.status_code, body.get("code") or body.get("status")


async def test_two_confirms_at_once_both_get_the_one_redemption(
    client: httpx.AsyncClient, db: Database
) -> None:
    till, holds = await _holds(client, db, ROUNDS)
    for coupon, hold in holds:
        first, second = await asyncio.gather(*(
            client.post(f"/v1/reservations/{hold}/confirm", headers=till) for _ in range(2)))
        assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
        assert first.json()["id"] == second.json()["id"]
        async with db.transaction(write=False) as session:
            assert await session.scalar(select(func.count()).select_from(Redemption).where(
                Redemption.coupon_id == coupon.id)) == 1


async def test_a_confirm_and_a_release_at_once_tell_the_loser_what_won(
    client: httpx.AsyncClient, db: Database
) -> None:
    till, holds = await _holds(client, db, ROUNDS)
    seen: Counter[str] = Counter()
    for coupon, hold in holds:
        confirmed, released = await asyncio.gather(
            client.post(f"/v1/reservations/{hold}/confirm", headers=till),
            client.post(f"/v1/reservations/{hold}/release", headers=till))
        outcome = (_outcome(confirmed), _outcome(released))
        async with db.transaction(write=False) as session:
            fresh = await session.get(Coupon, (coupon.organization_id, coupon.id))
        assert fresh is not None
        if confirmed.status_code == 201:
            seen["confirm won"] += 1
            assert outcome[1] == (409, "coupon_already_redeemed"), outcome
            assert fresh.status == "redeemed"
        else:
            seen["release won"] += 1
            assert outcome == ((409, "reservation_released"), (200, "released")), outcome
            assert fresh.status == "active"
    assert sum(seen.values()) == ROUNDS
