"""The incident pages: create, upload who was affected, read the preview, run, watch."""

from __future__ import annotations

import re

import httpx

from amends.db import Database
from amends.roles import Role
from tests.factories import make_customer, make_incentive, make_org, make_user, staff_headers


async def test_a_supervisor_creates_fills_previews_and_starts_an_incident_from_the_pages(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    supervisor = await staff_headers(db, await make_user(db, tenant, role=Role.SUPERVISOR))
    incentive = await make_incentive(db, tenant, value=700, name="Sorry: 7 off")
    for n in range(3):
        await make_customer(db, tenant, external_id=f"W-{n}", email=f"w{n}@example.com")
    created = await client.post("/incidents", headers=supervisor, data={
        "title": "Site down Friday", "reason": "late_delivery", "severity": "2",
        "incentive_id": str(incentive.id), "channel_policy": "preferred",
        "holdout_percent": "0", "message": "Our site was down."})
    assert created.status_code == 303
    page_url = created.headers["location"].split("?")[0]
    uploaded = await client.post(f"{page_url}/customers", headers=supervisor, files={
        "file": ("affected.csv", b"customer_id\nW-0\nW-1\nW-2\nW-9\n", "text/csv")})
    # Three customers; the unknown id is not one of them.
    assert "Added+3+customers" in uploaded.headers["location"]
    page = await client.get(page_url, headers=supervisor)
    assert re.search(r'data-figure="affected">3<', page.text)
    assert re.search(r'data-figure="face_value_total">€21.00<', page.text)
    assert "Run: make amends to 3 customers" in page.text
    listing = await client.get("/incidents", headers=supervisor)
    assert "Site down Friday" in listing.text
    started = await client.post(f"{page_url}/run", headers=supervisor)
    assert "Started" in started.headers["location"]
    live = await client.get(f"{page_url}/live", headers=supervisor)
    assert 'data-incident-status="running"' in live.text
    assert 'hx-trigger="every 1s"' in live.text
    paused = await client.post(f"{page_url}/pause", headers=supervisor)
    assert "Paused" in paused.headers["location"]
    again = await client.post(f"{page_url}/pause", headers=supervisor)
    assert "problem=" in again.headers["location"]
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    assert (await client.get("/incidents", headers=agent)).status_code == 403
