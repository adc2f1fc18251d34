"""An incident's gestures, written in one INSERT for all its customers, reach the shop too:
one push per gesture, queued in the incident's own transaction."""

from __future__ import annotations

from datetime import timedelta

import httpx

from amends.config import Settings
from amends.db import Database
from amends.jobs.worker import Worker
from amends.kit.clock import clock
from amends.roles import Role
from amends.shops import tasks as shop_tasks  # noqa: F401  (registers the shops' jobs)
from tests.factories import (
    bearer,
    make_customer,
    make_incentive,
    make_org,
    make_user,
    staff_headers,
)
from tests.receivers import smtp_server
from tests.shops.fakes import shopify_shop


async def test_an_incidents_gestures_are_each_pushed_into_the_shop_for_their_customer(
        client: httpx.AsyncClient, db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    manager = await staff_headers(db, await make_user(db, tenant, role=Role.MANAGER))
    incentive = await make_incentive(db, tenant, value=500, name="Sorry: 5 off")
    with shopify_shop() as shop, smtp_server() as mail:
        people = {}
        for n in range(6):
            await make_customer(db, tenant, external_id=f"C-{n}", email=f"c{n}@example.com")
            people[f"C-{n}"] = shop.customer(f"c{n}@example.com")
        connected = await client.post("/v1/shops", headers=admin, json={
            "platform": "shopify", "shop_url": shop.url,
            "secrets": {"access_token": shop.token, "client_secret": shop.client_secret}})
        assert connected.status_code == 201, connected.text
        saved = await client.put("/v1/channels/email", headers=admin, json={"settings": {
            "host": mail.host, "port": mail.port, "security": "none",
            "from_address": "care@shop.example"}})
        assert saved.status_code == 200, saved.text
        incident = (await client.post("/v1/incidents", headers=manager, json={
            "title": "Warehouse flood", "reason": "late_delivery", "severity": 3,
            "incentive_id": str(incentive.id), "message": "We are sorry."})).json()
        body = "customer_id\n" + "\n".join(people) + "\n"
        await client.post(f"/v1/incidents/{incident['id']}/customers", headers=manager,
                          content=body.encode())
        started = await client.post(f"/v1/incidents/{incident['id']}/run", headers=manager)
        assert started.status_code == 200, started.text
        await Worker(db, settings).run_until_idle()
        clock.advance(timedelta(seconds=3))
        await Worker(db, settings).run_until_idle()

        coupons = (await client.get("/v1/coupons", headers=admin)).json()["items"]
        assert len(coupons) == 6
        for coupon in coupons:
            discount = shop.by_code(coupon["code"])
            assert discount is not None
            assert discount.fields["context"] == {
                "customers": {"add": [people[coupon["customer_id"]]]}}
