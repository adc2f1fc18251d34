"""The same new customer, created by many callers at once: every caller gets a 2xx and the
organisation has one customer."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select

from amends.db import Database
from amends.models import Case, Coupon, Customer
from tests.factories import bearer, make_incentive, make_org

CALLERS = 50


async def _customers(db: Database, external_id: str) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(Customer).where(
            Customer.external_id == external_id)) or 0)


async def _all_at_once(client: httpx.AsyncClient, method: str, url: str,
                       bodies: list[dict[str, Any]], headers: dict[str, str]
                       ) -> list[httpx.Response]:
    return await asyncio.gather(*(client.request(method, url, json=body, headers=headers)
                                  for body in bodies))


async def test_fifty_puts_of_one_new_customer_all_succeed_and_create_one_customer(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    answers = await _all_at_once(
        client, "PUT", "/v1/customers/C-race",
        [{"email": f"c{n}@example.com", "name": "Jo"} for n in range(CALLERS)],
        bearer(tenant.admin_token))
    assert [a.status_code for a in answers if a.status_code not in (200, 201)] == []
    assert sorted(a.status_code for a in answers).count(201) == 1
    assert len({a.json()["id"] for a in answers}) == 1
    assert await _customers(db, "C-race") == 1


async def test_fifty_coupons_for_one_new_inline_customer_all_succeed_with_one_customer(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    incentive = await make_incentive(db, tenant)
    answers = await _all_at_once(
        client, "POST", "/v1/coupons",
        [{"customer_id": "C-race", "incentive_id": str(incentive.id),
          "case_reference": f"ref-{n}", "customer": {"email": "jo@example.com"}}
         for n in range(CALLERS)],
        bearer(tenant.admin_token))
    # The first gets its coupon; the others are a second gesture within the organisation's
    # window, so they wait for a supervisor (202): all answered, none failed.
    assert [a.text for a in answers if a.status_code not in (201, 202)] == []
    assert await _customers(db, "C-race") == 1
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Coupon)) >= 1


async def test_fifty_cases_for_one_new_inline_customer_all_open_with_one_customer(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    answers = await _all_at_once(
        client, "POST", "/v1/cases",
        [{"customer_id": "C-race", "reason": "late_delivery", "severity": 2, "channel": "email",
          "customer": {"email": "jo@example.com", "name": "Jo"}} for _ in range(CALLERS)],
        bearer(tenant.admin_token))
    assert [a.text for a in answers if a.status_code != 201] == []
    assert await _customers(db, "C-race") == 1
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Case)) == CALLERS
