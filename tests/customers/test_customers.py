from __future__ import annotations

import httpx

from amends.db import Database
from tests.factories import bearer, make_org


async def test_customers_are_upserted_by_external_id_and_found_by_search(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    headers = bearer(tenant.admin_token)
    created = await client.put("/v1/customers/C-42", headers=headers, json={
        "email": "Jo@Example.com", "phone": "+447700900123", "name": "Jo Bloggs",
        "value_tier": "gold", "lifetime_value": 250000, "currency": "GBP",
        "marketing_consent": True, "tags": ["vip"]})
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "jo@example.com"
    updated = await client.put("/v1/customers/C-42", headers=headers, json={
        "email": "jo@example.com", "phone": "+447700900123", "name": "Jo Bloggs",
        "value_tier": "platinum"})
    assert updated.status_code == 200
    assert updated.json()["id"] == created.json()["id"]
    assert updated.json()["value_tier"] == "platinum"
    for query in ("jo@example.com", "+447700900123", "jo b", "C-42"):
        found = await client.get("/v1/customers", headers=headers, params={"q": query})
        assert [c["external_id"] for c in found.json()] == ["C-42"], query
    other = await make_org(db)
    hidden = await client.get("/v1/customers", headers=bearer(other.admin_token),
                              params={"q": "jo"})
    assert hidden.json() == []


async def test_bad_phone_and_email_are_refused(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    response = await client.put("/v1/customers/C-1", headers=bearer(tenant.admin_token),
                                json={"email": "not-an-email", "phone": "0770 0900"})
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"email", "phone"}
    missing = await client.get("/v1/customers/C-1", headers=bearer(tenant.admin_token))
    assert missing.status_code == 404
