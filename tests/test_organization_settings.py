"""Every setting the product reads can be set through the API, is checked, and is audited; a
misspelt or unknown one is refused, never ignored."""

from __future__ import annotations

import uuid

import httpx

from amends.db import Database
from tests.factories import bearer, make_incentive, make_org


async def test_every_setting_the_product_reads_is_set_through_the_api(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    surprise = await make_incentive(db, tenant, value=500, name="Surprise 5")
    wanted = {"reminder_days": 5, "feedback_delay_days": 2, "thank_you_window_days": 60,
              "automation_daily_budget": 50_000, "surprise_incentive_id": str(surprise.id),
              "incident_approval_threshold": 250_000, "second_gesture_window_days": 14,
              "approval_hours": 24, "sms_max_segments": 2}
    changed = await client.patch("/v1/organization", headers=admin, json=wanted)
    assert changed.status_code == 200, changed.text
    read = (await client.get("/v1/organization", headers=admin)).json()
    assert {k: read[k] for k in wanted} == wanted
    cleared = await client.patch("/v1/organization", headers=admin, json={
        "surprise_incentive_id": None, "automation_daily_budget": None})
    assert (cleared.json()["surprise_incentive_id"], cleared.json()["automation_daily_budget"]
            ) == (None, None)
    trail = (await client.get("/v1/audit-events", headers=admin,
                              params={"action": "organization.updated"})).json()
    assert "items" in trail, trail
    items = trail["items"]
    assert any(entry["after"].get("reminder_days") == 5 for entry in items)


async def test_a_wrong_setting_is_refused_and_changes_nothing(client: httpx.AsyncClient,
                                                              db: Database) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    other = await make_org(db)
    foreign = await make_incentive(db, other, value=500)
    before = (await client.get("/v1/organization", headers=admin)).json()
    for body, field in (({"reminder_dayz": 3}, "reminder_dayz"),
                        ({"reminder_days": 31}, "reminder_days"),
                        ({"feedback_delay_days": -1}, "feedback_delay_days"),
                        ({"feedback_delay_days": None}, "feedback_delay_days"),
                        ({"surprise_incentive_id": str(foreign.id)}, "surprise_incentive_id"),
                        ({"surprise_incentive_id": str(uuid.uuid4())}, "surprise_incentive_id"),
                        ({"sms_max_segments": 0}, "sms_max_segments")):
        refused = await client.patch("/v1/organization", headers=admin, json=body)
        assert refused.status_code in (404, 422), (body, refused.text)
        problem = refused.json()
        named = problem.get("field") or [e["field"] for e in problem.get("errors", [])]
        assert field in named, (body, problem)
    assert (await client.get("/v1/organization", headers=admin)).json() == before
