from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from amends.config import Settings
from amends.db import Database
from amends.kit.clock import clock
from amends.models import Case, RuleFiring
from amends.recovery import service as recovery
from tests.factories import Tenant, bearer, make_org
from tests.recovery.live_rules import live_rule

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


def parcels(count: int, *, stuck_every: int = 2) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for n in range(count):
        events.append({"id": f"o{n}", "type": "order.placed", "occurred_at":
                       "2026-11-20T09:00:00Z", "data": {
                           "order_id": f"O-{n}", "customer_id": f"C-{n}", "amount": 5000 + n,
                           "currency": "EUR", "promised_at": "2026-11-21T18:00:00Z",
                           "customer": {"email": f"c{n}@example.com",
                                        "value_tier": "gold" if n % 4 == 0 else "standard"}}})
        events.append({"id": f"s{n}", "type": "shipment.created", "occurred_at":
                       "2026-11-20T10:00:00Z", "data": {"shipment_id": f"P-{n}",
                                                        "order_id": f"O-{n}",
                                                        "carrier": "DHL" if n % 3 else "UPS"}})
        if n % stuck_every:
            events.append({"id": f"d{n}", "type": "shipment.delivered", "occurred_at":
                           "2026-11-21T10:00:00Z", "data": {"shipment_id": f"P-{n}"}})
    return events


async def _setup(client: httpx.AsyncClient, db: Database, rule: dict[str, Any],
                 count: int = 40) -> tuple[dict[str, str], dict[str, Any], Tenant]:
    clock.freeze(T0)
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    await client.post("/v1/events", headers=admin, json={"events": parcels(count)})
    return admin, await live_rule(client, admin, rule), tenant


async def _count(db: Database, model: type) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_two_sweeps_at_once_fire_a_rule_once_per_shipment(client: httpx.AsyncClient,
                                                                 db: Database) -> None:
    await _setup(client, db, {"name": "Not scanned for 2 days", "condition": {
        "type": "not_scanned_for", "hours": 48}, "actions": {"apologise": []}})
    clock.freeze(T0 + timedelta(days=3))

    async def sweep() -> int:
        async with db.transaction() as session:
            return await recovery.sweep(session)

    fired = await asyncio.gather(sweep(), sweep(), sweep())
    assert sum(fired) == 20  # the 20 undelivered parcels, each once
    assert await _count(db, RuleFiring) == 20
    assert await _count(db, Case) == 20
    async with db.transaction() as session:
        assert await recovery.sweep(session) == 0


async def test_front_line_staff_are_told_when_a_rule_opens_a_case(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    from amends.jobs.worker import Worker
    from amends.roles import Role
    from tests.factories import make_user
    from tests.receivers import smtp_server

    admin, _, tenant = await _setup(client, db, {"name": "Stuck", "condition": {
        "type": "not_scanned_for", "hours": 48}, "actions": {"apologise": []}}, count=2)
    await make_user(db, tenant, role=Role.AGENT, email="agent@shop.example")
    with smtp_server() as mail:
        await client.put("/v1/channels/email", headers=admin, json={"settings": {
            "host": mail.host, "port": mail.port, "security": "none",
            "from_address": "amends@shop.example"}})
        clock.freeze(T0 + timedelta(days=3))
        async with db.transaction() as session:
            assert await recovery.sweep(session) == 1
        await Worker(db, settings).run_until_idle()
        [note] = mail.to("agent@shop.example")
        assert "opened by rule 'Stuck'" in str(note["Subject"])
        assert "P-0" in note.get_body(("plain",)).get_content()


async def test_filters_narrow_what_a_rule_fires_for(client: httpx.AsyncClient,
                                                    db: Database) -> None:
    admin, rule, _ = await _setup(client, db, {
        "name": "Gold customers, DHL, late", "condition": {"type": "past_promised",
                                                           "hours": 24},
        "filters": {"tiers": ["gold"], "carriers": ["DHL"], "min_order_value": 5010},
        "actions": {"apologise": []}})
    clock.freeze(T0 + timedelta(days=3))
    preview = (await client.post(f"/v1/rules/{rule['id']}/dry-run", headers=admin)).json()
    # undelivered: even n; gold: n % 4 == 0; DHL: n % 3 != 0; amount >= 5010: n >= 10
    expected = sorted(f"P-{n}" for n in range(40)
                      if n % 2 == 0 and n % 4 == 0 and n % 3 and n >= 10)
    assert sorted(c["shipment_id"] for c in preview) == expected
    assert all("past its promised date" in c["why"] for c in preview)


async def test_rules_are_validated_when_saved(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    bad_type = await client.post("/v1/rules", headers=admin, json={
        "name": "x", "condition": {"type": "teleported"}})
    assert bad_type.status_code == 422
    no_hours = await client.post("/v1/rules", headers=admin, json={
        "name": "x", "condition": {"type": "past_promised", "hours": 0}})
    assert no_hours.status_code == 422
    unknown_gesture = await client.post("/v1/rules", headers=admin, json={
        "name": "x", "condition": {"type": "past_promised", "hours": 24},
        "actions": {"incentive_id": "01a21bd0-fff4-7253-8116-e297d0bc004c"}})
    assert unknown_gesture.status_code == 404
    assert unknown_gesture.json()["code"] == "incentive_not_found"
    unknown_reason = await client.post("/v1/rules", headers=admin, json={
        "name": "x", "condition": {"type": "past_promised", "hours": 24},
        "actions": {"open_case": {"reason": "alien_abduction"}}})
    assert unknown_reason.status_code == 422
    assert (await client.get("/v1/rules", headers=admin)).json() == []


async def test_a_rule_is_switched_on_only_after_the_dry_run_of_its_current_version(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    rule = {"name": "Stuck", "condition": {"type": "not_scanned_for", "hours": 48}}
    at_once = await client.post("/v1/rules", headers=admin, json={**rule, "active": True})
    assert at_once.status_code == 409
    assert at_once.json()["code"] == "rule_not_tried"
    assert (await client.get("/v1/rules", headers=admin)).json() == []

    made = (await client.post("/v1/rules", headers=admin, json=rule)).json()
    assert (made["active"], made["dry_run_at"]) == (False, None)
    url = f"/v1/rules/{made['id']}"
    early = await client.put(url, headers=admin, json={**rule, "active": True})
    assert early.status_code == 409
    assert early.json()["code"] == "rule_not_tried"
    assert (await client.post(f"{url}/dry-run", headers=admin)).status_code == 200
    on = await client.put(url, headers=admin, json={**rule, "active": True})
    assert on.status_code == 200, on.text
    assert on.json()["active"] is True
    assert on.json()["dry_run_at"] is not None
    # Renaming it is not changing what it does; changing its condition is.
    renamed = await client.put(url, headers=admin, json={**rule, "name": "Stuck parcels",
                                                         "active": True})
    assert renamed.status_code == 200, renamed.text
    wider = {**rule, "condition": {"type": "not_scanned_for", "hours": 24}}
    refused = await client.put(url, headers=admin, json={**wider, "active": True})
    assert refused.status_code == 409
    assert refused.json()["code"] == "rule_not_tried"
    [kept] = (await client.get("/v1/rules", headers=admin)).json()
    assert (kept["name"], kept["condition"]["hours"], kept["active"]) == (
        "Stuck parcels", 48, True)
    changed = (await client.put(url, headers=admin, json=wider)).json()
    assert (changed["condition"]["hours"], changed["active"], changed["dry_run_at"]) == (
        24, False, None)
    assert (await client.put(url, headers=admin, json={**wider, "active": True})
            ).status_code == 409
    await client.post(f"{url}/dry-run", headers=admin)
    assert (await client.put(url, headers=admin, json={**wider, "active": True})
            ).json()["active"] is True
