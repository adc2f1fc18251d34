"""The SMS provider's status callback: only SMS and WhatsApp messages have one, and fifty at
once (beside fifty tills redeeming through the lane) leave no connection the pool cannot
close."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from amends.config import Settings
from amends.db import Database
from amends.delivery.service import twilio_signature
from amends.models import Delivery
from tests.factories import (
    bearer,
    make_api_key,
    make_coupon,
    make_customer,
    make_incentive,
    make_org,
)

CALLERS = 50


@pytest.fixture
def settings(database_url: str) -> Settings:
    """API keys remembered for a few seconds, as in production, so that on PostgreSQL the
    tills' redeems take the lane."""
    return Settings(database_url=database_url, embedded_worker=False, log_json=False,
                    api_key_cache_seconds=5, outbound_allow_private=True,
                    _env_file=None)  # type: ignore[call-arg]


async def _messages(client: httpx.AsyncClient, db: Database, admin: dict[str, str],
                    tenant: Any) -> dict[str, Delivery]:
    """One queued message on SMS and one on e-mail (never sent: the worker does not run)."""
    incentive = str((await make_incentive(db, tenant)).id)
    for name, settings in (("sms", {"account_sid": "AC1", "auth_token": "tok",
                                    "from_number": "+15005550006",
                                    "base_url": "http://127.0.0.1:9"}),
                           ("email", {"host": "127.0.0.1", "port": 9, "security": "none",
                                      "from_address": "care@shop.example"})):
        configured = await client.put(f"/v1/channels/{name}", headers=admin,
                                      json={"settings": settings})
        assert configured.status_code == 200, configured.text
        await make_customer(db, tenant, external_id=f"C-{name}", phone="+447700900001")
        case = await client.post("/v1/cases", headers=admin, json={
            "customer_id": f"C-{name}", "reason": "late_delivery", "severity": 2,
            "channel": name})
        issued = await client.post("/v1/coupons", headers=admin, json={
            "case_id": case.json()["id"], "incentive_id": incentive})
        assert issued.status_code == 201, issued.text
    async with db.transaction(write=False) as session:
        return {d.channel: d for d in (await session.scalars(select(Delivery))).all()}


async def _callback(client: httpx.AsyncClient, settings: Settings, delivery: Delivery,
                    status: str) -> httpx.Response:
    path = f"/v1/delivery-callbacks/twilio/{delivery.id}"
    params = {"MessageSid": "SM1", "MessageStatus": status}
    signature = twilio_signature("tok", settings.base_url.rstrip("/") + path, params)
    return await client.post(path, data=params, headers={"X-Twilio-Signature": signature})


async def test_a_status_callback_for_an_email_is_not_found_and_changes_nothing(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant = await make_org(db)
    messages = await _messages(client, db, bearer(tenant.admin_token), tenant)
    answer = await _callback(client, settings, messages["email"], "delivered")
    assert (answer.status_code, answer.json()["code"]) == (404, "delivery_not_found")
    async with db.transaction(write=False) as session:
        sent = messages["email"]
        email = await session.get(Delivery, (sent.organization_id, sent.id))
    assert email is not None
    assert (email.status, email.delivered_at) == ("queued", None)


async def test_fifty_callbacks_and_fifty_lane_redeems_at_once_leave_no_pool_errors(
    client: httpx.AsyncClient, db: Database, settings: Settings,
    caplog: pytest.LogCaptureFixture
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    messages = await _messages(client, db, admin, tenant)
    till = bearer(await make_api_key(db, tenant, scopes=["redemptions:write"]))
    customer = await make_customer(db, tenant, external_id="C-till")
    coupons = [await make_coupon(db, tenant, customer=customer, case_ref=f"K-{n}")
               for n in range(CALLERS + 1)]

    def redeem(n: int) -> Any:
        return client.post("/v1/redemptions", headers=till, json={
            "code": coupons[n].code, "customer_id": "C-till", "order_id": f"O-{n}",
            "order_amount": 5000})

    assert (await redeem(CALLERS)).status_code == 201  # the key is verified once
    caplog.set_level(logging.WARNING)
    callbacks = await asyncio.gather(*(
        _callback(client, settings, messages[name], "delivered")
        for name in ("sms", "email") for _ in range(CALLERS // 2)))
    redeemed = await asyncio.gather(*(redeem(n) for n in range(CALLERS)))
    assert sorted({a.status_code for a in callbacks}) == [200, 404]
    assert {a.status_code for a in redeemed} == {201}
    pool_errors = [record.getMessage() for record in caplog.records
                   if record.name.startswith("sqlalchemy") or "Greenlet" in record.getMessage()
                   or (record.exc_info and "Greenlet" in repr(record.exc_info[1]))]
    assert pool_errors == []
