"""An agent sets, on the customer's page, the language and time zone their messages and pages
are written in; a wrong zone is explained and changes nothing."""

from __future__ import annotations

import httpx

from amends.db import Database
from amends.roles import Role
from tests.factories import bearer, make_customer, make_org, make_user, staff_headers


async def test_an_agent_sets_a_customers_language_and_zone_on_their_page(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    await make_customer(db, tenant, external_id="C-7", name="Zoé Robert")
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    page = await client.get("/customers/C-7", headers={**agent, "Accept-Language": "fr"})
    assert "français (France)" in page.text or "français" in page.text
    saved = await client.post("/customers/C-7/language", headers=agent,
                              data={"locale": "fr", "time_zone": "Europe/Paris"})
    assert saved.status_code == 303
    assert "problem" not in saved.headers["location"]
    read = (await client.get("/v1/customers/C-7", headers=bearer(tenant.admin_token))).json()
    assert (read["locale"], read["time_zone"]) == ("fr", "Europe/Paris")

    refused = await client.post("/customers/C-7/language", headers=agent,
                                data={"locale": "fr", "time_zone": "Paris"})
    assert "problem=" in refused.headers["location"]
    kept = (await client.get("/v1/customers/C-7", headers=bearer(tenant.admin_token))).json()
    assert kept["time_zone"] == "Europe/Paris"

    cleared = await client.post("/customers/C-7/language", headers=agent,
                                data={"locale": "", "time_zone": ""})
    assert cleared.status_code == 303
    back = (await client.get("/v1/customers/C-7", headers=bearer(tenant.admin_token))).json()
    assert (back["locale"], back["time_zone"]) == (None, None)


async def test_an_auditor_cannot_change_a_customers_language(client: httpx.AsyncClient,
                                                             db: Database) -> None:
    tenant = await make_org(db)
    await make_customer(db, tenant, external_id="C-8")
    auditor = await staff_headers(db, await make_user(db, tenant, role=Role.AUDITOR))
    refused = await client.post("/customers/C-8/language", headers=auditor,
                                data={"locale": "fr"})
    assert refused.status_code == 403
