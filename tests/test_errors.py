from __future__ import annotations

import httpx

from amends.db import Database
from tests.factories import bearer, make_org


async def test_a_malformed_body_gets_a_problem_listing_the_fields(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    response = await client.post("/v1/api-keys", headers=bearer(tenant.admin_token),
                                 json={"scopes": "admin"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "validation_failed"
    assert body["status"] == 422
    assert {e["field"] for e in body["errors"]} == {"name", "scopes"}


async def test_invalid_json_is_a_problem_too(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    response = await client.post(
        "/v1/api-keys", content=b"{not json",
        headers={**bearer(tenant.admin_token), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "json_invalid"


async def test_an_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert response.headers["x-request-id"]


async def test_documented_errors_appear_in_openapi(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    revoke = spec["paths"]["/v1/api-keys/{api_key_id}/revoke"]["post"]["responses"]
    examples = revoke["404"]["content"]["application/problem+json"]["examples"]
    assert "api_key_not_found" in examples
    assert "missing_scope" in revoke["403"]["content"]["application/problem+json"]["examples"]
    docs = await client.get("/docs")
    assert docs.status_code == 200
