"""One organisation's broken rule must not stop proactive recovery for every organisation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from amends.config import Settings
from amends.db import Database
from amends.jobs import service as jobs
from amends.jobs.worker import Worker
from amends.kit.clock import clock
from amends.models import Case, Job, RecoveryRule, RuleFiring
from tests.factories import Tenant, bearer, make_org
from tests.recovery.live_rules import live_rule
from tests.recovery.test_rules import T0, parcels

LATE = {"name": "Late parcels", "condition": {"type": "not_scanned_for", "hours": 48},
        "actions": {"apologise": [], "notify": False}}


async def _shop(client: httpx.AsyncClient, db: Database) -> tuple[Tenant, dict[str, str]]:
    """An organisation with four parcels (two never delivered) and the LATE rule."""
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    sent = await client.post("/v1/events", headers=admin, json={"events": parcels(4)})
    assert sent.status_code < 300, sent.text
    await live_rule(client, admin, LATE)
    return tenant, admin


async def _run_sweep(db: Database, settings: Settings) -> None:
    async with db.transaction() as session:
        await jobs.enqueue(session, "recovery.sweep")
    await Worker(db, settings).run_until_idle()


async def _count(db: Database, model: Any, tenant: Tenant) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(
            model.organization_id == tenant.id)) or 0)


async def _dead(client: httpx.AsyncClient, admin: dict[str, str]) -> list[dict[str, Any]]:
    listed = await client.get("/v1/jobs", headers=admin, params={"status": "dead"})
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


async def test_a_rule_saved_out_of_bounds_stops_only_its_own_organisation(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    clock.freeze(T0)
    healthy, healthy_admin = await _shop(client, db)
    poisoned, poisoned_admin = await _shop(client, db)
    # Written straight into the table, as an older version (before bounds) accepted it.
    async with db.transaction() as session:
        bad = RecoveryRule(organization_id=poisoned.id, name="Big spenders",
                           condition={"type": "past_promised", "hours": 24, "reasons": []},
                           filters={"tiers": [], "carriers": [], "min_order_value": 2**63},
                           actions={"apologise": [], "notify": False})
        session.add(bad)
    clock.freeze(T0 + timedelta(days=3))

    await _run_sweep(db, settings)

    # The healthy organisation's late parcels got their cases, and so did the poisoned
    # organisation's own good rule.
    assert await _count(db, Case, healthy) == 2
    assert await _count(db, Case, poisoned) == 2
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(Job.status).where(
            Job.kind == "recovery.sweep", Job.organization_id.is_(None),
            Job.finished_at.is_not(None))) == "succeeded"
    # The poisoned organisation's admin sees what failed; nobody else sees anything.
    [failure] = await _dead(client, poisoned_admin)
    assert failure["kind"] == "recovery.sweep"
    assert "Rule 'Big spenders'" in failure["last_error"]
    assert "min_order_value" in failure["last_error"]
    events = (await client.get("/v1/audit-events", headers=poisoned_admin,
                               params={"action": "job.failed"})).json()["items"]
    assert [e["after"]["kind"] for e in events] == ["recovery.sweep"]
    assert await _dead(client, healthy_admin) == []
    # Its dry run says the same instead of failing.
    dry = await client.post(f"/v1/rules/{bad.id}/dry-run", headers=poisoned_admin)
    assert dry.status_code == 409, dry.text
    assert dry.headers["content-type"].startswith("application/problem+json")
    assert dry.json()["code"] == "rule_invalid"
    assert "min_order_value" in dry.json()["detail"]


async def test_a_rule_that_fails_while_firing_is_rolled_back_recorded_once_and_retried(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    clock.freeze(T0)
    healthy, _ = await _shop(client, db)
    poisoned, poisoned_admin = await _shop(client, db)
    # The rule opens cases with a reason the organisation then retired: firing now fails
    # after the firing row was written.
    retired = await client.put("/v1/reasons/late_delivery", headers=poisoned_admin,
                               json={"label": "Late delivery", "active": False})
    assert retired.status_code == 200, retired.text
    clock.freeze(T0 + timedelta(days=3))

    await _run_sweep(db, settings)
    await _run_sweep(db, settings)

    assert await _count(db, Case, healthy) == 2
    # Nothing of the failed part was kept: the parcels can still fire once it is fixed.
    assert await _count(db, RuleFiring, poisoned) == 0
    assert await _count(db, Case, poisoned) == 0
    [failure] = await _dead(client, poisoned_admin)  # one row, however many runs failed
    assert failure["last_error"].startswith("Rule 'Late parcels': Use one of:")
    events = (await client.get("/v1/audit-events", headers=poisoned_admin,
                               params={"action": "job.failed"})).json()["items"]
    assert len(events) == 1

    # The admin fixes it and retries: the sweep runs for their organisation at once.
    restored = await client.put("/v1/reasons/late_delivery", headers=poisoned_admin,
                                json={"label": "Late delivery", "active": True})
    assert restored.status_code == 200, restored.text
    retried = await client.post(f"/v1/jobs/{failure['id']}/retry", headers=poisoned_admin)
    assert retried.status_code == 200, retried.text
    await Worker(db, settings).run_until_idle()

    assert await _count(db, Case, poisoned) == 2
    assert await _dead(client, poisoned_admin) == []
    done = (await client.get("/v1/jobs", headers=poisoned_admin,
                             params={"status": "succeeded"})).json()["items"]
    assert [j["id"] for j in done] == [failure["id"]]


async def test_a_failure_that_is_fixed_is_marked_over_by_the_next_run(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    clock.freeze(T0)
    _, admin = await _shop(client, db)
    await client.put("/v1/reasons/late_delivery", headers=admin,
                     json={"label": "Late delivery", "active": False})
    clock.freeze(T0 + timedelta(days=3))
    await _run_sweep(db, settings)
    [failure] = await _dead(client, admin)

    await client.put("/v1/reasons/late_delivery", headers=admin,
                     json={"label": "Late delivery", "active": True})
    await _run_sweep(db, settings)

    assert await _dead(client, admin) == []
    done = (await client.get("/v1/jobs", headers=admin,
                             params={"status": "succeeded"})).json()["items"]
    assert failure["id"] in [j["id"] for j in done]
