"""Saves that create a row the first time (reasons, channels, templates, authority limits,
parcels and orders from events, code pools, roll-ups), sent fifty at once: every caller gets
the answer it would get alone, and there is one row."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import func, select

from amends.db import Database
from amends.models import (
    AuthorityLimit,
    ChannelConfig,
    CodePool,
    LedgerRollup,
    MessageTemplate,
    Order,
    Reason,
    Shipment,
)
from tests.factories import bearer, make_coupon, make_org

CALLERS = 50


async def _count(db: Database, model: type) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _at_once(client: httpx.AsyncClient, method: str, url: str,
                   bodies: list[dict[str, Any]], headers: dict[str, str]) -> Counter[int]:
    answers = await asyncio.gather(*(client.request(method, url, json=body, headers=headers)
                                     for body in bodies))
    return Counter(a.status_code for a in answers)


async def test_fifty_saves_of_one_new_reason_all_succeed_and_keep_the_defaults_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    statuses = await _at_once(client, "PUT", "/v1/reasons/wrong_size",
                              [{"label": f"Wrong size {n}"} for n in range(CALLERS)],
                              bearer(tenant.admin_token))
    assert statuses == {200: CALLERS}
    # The six default reasons become rows, plus the new one.
    assert await _count(db, Reason) == 7


async def test_fifty_saves_of_one_new_channel_template_and_limit_all_succeed_with_one_row(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    channel = await _at_once(client, "PUT", "/v1/channels/email", [
        {"settings": {"host": "127.0.0.1", "from_address": f"shop{n}@example.com"}}
        for n in range(CALLERS)], admin)
    template = await _at_once(client, "PUT", "/v1/templates", [
        {"channel": "email", "subject": "Sorry", "body_text": f"Sorry {n}"}
        for n in range(CALLERS)], admin)
    limit = await _at_once(client, "PUT", "/v1/authority-limits", [
        {"subject": "role:agent", "currency": "EUR", "max_gesture": 1000 + n}
        for n in range(CALLERS)], admin)
    assert (channel, template, limit) == ({200: CALLERS}, {200: CALLERS}, {200: CALLERS})
    assert [await _count(db, model) for model in (ChannelConfig, MessageTemplate,
                                                  AuthorityLimit)] == [1, 1, 1]


async def test_fifty_events_of_one_new_order_and_parcel_at_once_make_one_of_each(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    orders = [{"events": [{"id": f"o{n}", "type": "order.placed",
                           "occurred_at": "2026-11-20T10:00:00Z",
                           "data": {"order_id": "O-1", "customer_id": "C-1", "amount": 4999,
                                    "currency": "EUR"}}]} for n in range(CALLERS)]
    scans = [{"events": [{"id": f"s{n}", "type": "shipment.scanned",
                          "occurred_at": f"2026-11-21T08:{n:02d}:00Z",
                          "data": {"shipment_id": "P-1", "location": f"Depot {n}"}}]}
             for n in range(CALLERS)]
    admin = bearer(tenant.admin_token)
    assert await _at_once(client, "POST", "/v1/events", orders, admin) == {200: CALLERS}
    assert await _at_once(client, "POST", "/v1/events", scans, admin) == {200: CALLERS}
    assert (await _count(db, Order), await _count(db, Shipment)) == (1, 1)
    async with db.transaction(write=False) as session:
        parcel = await session.scalar(select(Shipment))
    assert parcel is not None
    # Scans that arrive at once still leave the latest one, not the last one written.
    assert parcel.last_location == f"Depot {CALLERS - 1}"


async def test_fifty_creations_of_one_code_pool_make_one_and_refuse_the_others_with_409(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    statuses = await _at_once(client, "POST", "/v1/code-pools",
                              [{"name": "Black Friday"}] * CALLERS, bearer(tenant.admin_token))
    assert statuses == {201: 1, 409: CALLERS - 1}
    assert await _count(db, CodePool) == 1


async def test_refreshes_of_the_reports_at_once_count_each_gesture_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    await make_coupon(db, tenant)
    admin = bearer(tenant.admin_token)
    alone = await client.post("/v1/reports/refresh", headers=admin)
    assert alone.status_code == 200
    rows = await _count(db, LedgerRollup)
    assert rows >= 1
    assert await _at_once(client, "POST", "/v1/reports/refresh", [{}] * 20, admin) == {200: 20}
    assert await _count(db, LedgerRollup) == rows
