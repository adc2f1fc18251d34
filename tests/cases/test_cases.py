from __future__ import annotations

import json
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from amends.config import Settings
from amends.db import Database
from amends.jobs.worker import Worker
from amends.roles import Role
from tests.factories import (
    bearer,
    make_api_key,
    make_customer,
    make_incentive,
    make_org,
    make_user,
    staff_headers,
)
from tests.receivers import http_receiver


async def _open(client: httpx.AsyncClient, headers: dict[str, str], **over: Any
                ) -> dict[str, Any]:
    body = {"customer_id": "C-1", "reason": "lost_parcel", "severity": 3, "channel": "email",
            "conversation_ref": "ZD-4411", **over}
    response = await client.post("/v1/cases", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_case_moves_through_the_four_steps_with_a_timeline(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    await make_customer(db, tenant, external_id="C-1")
    case = await _open(client, agent)
    assert case["state"] == "open"
    url = f"/v1/cases/{case['id']}"
    steps = [
        {"to": "apologised", "apology": "We are sorry your parcel is lost."},
        {"to": "reviewing", "root_cause": "carrier", "responsible_party": "DHL depot Leeds"},
        {"to": "fixed", "remedy": "Replacement sent and free shipping for 6 months"},
    ]
    for step in steps:
        moved = await client.post(f"{url}/transitions", headers=agent, json=step)
        assert moved.status_code == 200, moved.text
        assert moved.json()["state"] == step["to"]
    assert moved.json()["root_cause"] == "carrier"
    back = await client.post(f"{url}/transitions", headers=agent, json={"to": "reviewing"})
    assert back.status_code == 409
    assert back.json()["code"] == "invalid_case_transition"
    skipping = await client.post(f"{url}/transitions", headers=agent, json={"to": "closed"})
    assert skipping.status_code == 422
    assert skipping.json()["skipped"] == ["followed_up"]
    closed = await client.post(f"{url}/transitions", headers=agent, json={
        "to": "closed", "skip_reason": "Customer asked not to be contacted",
        "summary": "Lost at depot; replaced."})
    assert closed.json()["state"] == "closed"
    assert closed.json()["skipped"] == {"followed_up": "Customer asked not to be contacted"}
    await client.post(f"{url}/notes", headers=agent, json={"text": "Checked with the depot."})
    reopened = await client.post(f"{url}/reopen", headers=agent, json={"reason": "Replacement "
                                                                                  "lost too"})
    assert reopened.json()["state"] == "reviewing"
    timeline = (await client.get(f"{url}/timeline", headers=agent)).json()
    kinds = [e["kind"] for e in timeline]
    assert kinds == ["opened", "state_changed", "state_changed", "state_changed",
                     "state_changed", "note", "reopened"]
    assert "skipped followed_up" in timeline[4]["summary"]


async def test_an_open_case_suppresses_marketing_and_tells_the_email_platform(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    await make_customer(db, tenant, external_id="C-1", email="ann@example.com")
    with http_receiver() as platform:
        endpoint = (await client.post("/v1/webhook-endpoints", headers=admin, json={
            "url": platform.url + "/hooks",
            "event_types": ["suppression.added", "suppression.removed"]})).json()
        case = await _open(client, admin)
        listed = (await client.get("/v1/suppressions", headers=admin)).json()
        assert [s["customer_external_id"] for s in listed["items"]] == ["C-1"]
        await Worker(db, settings).run_until_idle()
        assert len(platform.requests) == 1
        received = platform.requests[0]
        verified = Webhook(endpoint["secret"]).verify(received.body.decode(), received.headers)
        assert verified["type"] == "suppression.added"
        assert verified["data"]["email"] == "ann@example.com"

        await client.post(f"/v1/cases/{case['id']}/transitions", headers=admin, json={
            "to": "closed", "skip_reason": "Resolved on the phone"})
        assert (await client.get("/v1/suppressions", headers=admin)).json()["items"] == []
        changes = (await client.get("/v1/suppressions", headers=admin, params={
            "changed_since": "2000-01-01T00:00:00Z"})).json()["items"]
        assert [c["active"] for c in changes] == [False]
        await Worker(db, settings).run_until_idle()
        assert len(platform.requests) == 2
        removed = json.loads(platform.requests[1].body)
        assert removed["type"] == "suppression.removed"
        Webhook(endpoint["secret"]).verify(platform.requests[1].body.decode(),
                                           platform.requests[1].headers)
    log = (await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries",
                            headers=admin)).json()
    assert {d["status"] for d in log} == {"delivered"}


async def test_a_failing_receiver_gets_the_event_again_with_the_same_id(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    from datetime import timedelta

    from amends.kit.clock import clock

    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    await make_customer(db, tenant, external_id="C-1")
    with http_receiver(script=[500, 503]) as flaky:
        endpoint = (await client.post("/v1/webhook-endpoints", headers=admin, json={
            "url": flaky.url, "event_types": ["case.opened"]})).json()
        await _open(client, admin)
        worker = Worker(db, settings)
        for _ in range(3):
            await worker.run_until_idle()
            clock.advance(timedelta(minutes=5))
        assert len(flaky.requests) == 3
        assert len({r.headers["webhook-id"] for r in flaky.requests}) == 1
    log = (await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries",
                            headers=admin)).json()
    assert log[0]["status"] == "delivered"
    assert log[0]["attempts"] == 3


async def test_roles_and_tenants_on_case_routes(client: httpx.AsyncClient, db: Database) -> None:
    tenant, other = await make_org(db), await make_org(db)
    await make_customer(db, tenant, external_id="C-1")
    case = await _open(client, bearer(tenant.admin_token))
    auditor = await staff_headers(db, await make_user(db, tenant, role=Role.AUDITOR))
    assert (await client.get(f"/v1/cases/{case['id']}", headers=auditor)).status_code == 200
    refused = await client.post(f"/v1/cases/{case['id']}/notes", headers=auditor,
                                json={"text": "x"})
    assert refused.status_code == 403
    incentive = await make_incentive(db, tenant)
    cannot_issue = await client.post("/v1/coupons", headers=auditor, json={
        "case_id": case["id"], "incentive_id": str(incentive.id)})
    assert cannot_issue.status_code == 403
    stranger = bearer(await make_api_key(db, other, scopes=["coupons:issue", "cases:write"]))
    base = f"/v1/cases/{case['id']}"
    for method, path, body in [
        ("GET", base, None), ("GET", f"{base}/timeline", None),
        ("GET", f"{base}/recommendations", None), ("POST", f"{base}/notes", {"text": "x"}),
        ("POST", f"{base}/transitions", {"to": "apologised"}),
        ("POST", f"{base}/reopen", {"reason": "x"}),
    ]:
        response = await client.request(method, path, headers=stranger, json=body)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["code"] == "case_not_found"
    coupon = await client.post("/v1/coupons", headers=stranger, json={
        "case_id": case["id"], "incentive_id": str(incentive.id)})
    assert coupon.status_code == 404


async def test_unknown_reasons_are_refused_and_organisations_define_their_own(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    await make_customer(db, tenant, external_id="C-1")
    refused = await client.post("/v1/cases", headers=admin, json={
        "customer_id": "C-1", "reason": "broken_promise", "severity": 2, "channel": "chat"})
    assert refused.status_code == 422
    assert refused.json()["code"] == "unknown_reason"
    await client.put("/v1/reasons/broken_promise", headers=admin,
                     json={"label": "Broken promise"})
    keys = [r["key"] for r in (await client.get("/v1/reasons", headers=admin)).json()]
    assert "broken_promise" in keys
    assert "late_delivery" in keys
    await _open(client, admin, reason="broken_promise")


async def test_recommendations_are_within_the_callers_authority(
    client: httpx.AsyncClient, db: Database
) -> None:
    from tests.factories import set_limit

    tenant = await make_org(db)
    await make_customer(db, tenant, external_id="C-1", value_tier="gold")
    small = await make_incentive(db, tenant, value=1000, name="Sorry 10")
    await make_incentive(db, tenant, value=8000, name="Sorry 80")
    await set_limit(db, tenant, subject="role:agent", max_gesture=2000)
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    case = await _open(client, agent, severity=4)
    ranked = (await client.get(f"/v1/cases/{case['id']}/recommendations", headers=agent)).json()
    assert [r["name"] for r in ranked] == ["Sorry 10"]
    assert ranked[0]["incentive_id"] == str(small.id)
    assert "gold customer" in ranked[0]["reason"]
    admin_view = (await client.get(f"/v1/cases/{case['id']}/recommendations",
                                   headers=bearer(tenant.admin_token))).json()
    assert [r["name"] for r in admin_view] == ["Sorry 80", "Sorry 10"]


async def test_brand_rules_are_data_the_organisation_edits(client: httpx.AsyncClient,
                                                           db: Database) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    await make_customer(db, tenant, external_id="C-1")
    await make_incentive(db, tenant, kind="amount_off", value=1000, name="10 off")
    await make_incentive(db, tenant, kind="free_shipping", value=900, name="Free shipping")
    case = await _open(client, admin, severity=2)
    before = (await client.get(f"/v1/cases/{case['id']}/recommendations", headers=admin)).json()
    assert before[0]["name"] == "10 off"
    saved = await client.patch("/v1/organization", headers=admin, json={
        "recommendation_rules": {"brand": {"exclude_kinds": ["amount_off", "percent_off"],
                                           "note": "No money-off for this brand"}}})
    assert saved.status_code == 200
    after = (await client.get(f"/v1/cases/{case['id']}/recommendations", headers=admin)).json()
    assert [r["name"] for r in after] == ["Free shipping"]
    bad = await client.patch("/v1/organization", headers=admin, json={"code_prefix": "OIL"})
    assert bad.status_code == 422
