from __future__ import annotations

import httpx

from amends.db import Database
from tests.factories import bearer, make_api_key, make_org


async def test_a_request_without_a_key_is_401_with_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/api-keys")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_authenticated"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_an_invalid_or_revoked_key_is_401(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    forged = tenant.admin_token[:-4] + "abcd"
    for token in (forged, "amk_nope", "not-a-key"):
        response = await client.get("/v1/api-keys", headers=bearer(token))
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_api_key"
    other = await make_api_key(db, tenant, scopes=["reports:read"])
    keys = (await client.get("/v1/api-keys", headers=bearer(tenant.admin_token))).json()
    other_id = next(k["id"] for k in keys if k["scopes"] == ["reports:read"])
    revoked = await client.post(f"/v1/api-keys/{other_id}/revoke",
                                headers=bearer(tenant.admin_token))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    response = await client.get("/v1/audit-events", headers=bearer(other))
    assert response.status_code == 401


async def test_a_key_without_the_scope_is_403(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    till = await make_api_key(db, tenant, scopes=["redemptions:read", "redemptions:write"])
    response = await client.post("/v1/api-keys", headers=bearer(till),
                                 json={"name": "x", "scopes": ["admin"]})
    assert response.status_code == 403
    assert response.json()["code"] == "missing_scope"
    assert response.json()["required"] == ["admin"]


async def test_another_organisations_object_is_404(client: httpx.AsyncClient,
                                                   db: Database) -> None:
    ours = await make_org(db)
    theirs = await make_org(db)
    their_keys = (await client.get("/v1/api-keys", headers=bearer(theirs.admin_token))).json()
    response = await client.post(f"/v1/api-keys/{their_keys[0]['id']}/revoke",
                                 headers=bearer(ours.admin_token))
    assert response.status_code == 404
    assert response.json()["code"] == "api_key_not_found"
    listed = (await client.get("/v1/api-keys", headers=bearer(ours.admin_token))).json()
    assert {k["id"] for k in listed}.isdisjoint({k["id"] for k in their_keys})
    still = await client.get("/v1/api-keys", headers=bearer(theirs.admin_token))
    assert still.status_code == 200


async def test_the_secret_is_shown_once_and_only_its_hash_is_stored(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    created = await client.post("/v1/api-keys", headers=bearer(tenant.admin_token),
                                json={"name": "Till 4", "scopes": ["redemptions:write"]})
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("amk_")
    listed = await client.get("/v1/api-keys", headers=bearer(tenant.admin_token))
    assert token not in listed.text
    assert "token" not in listed.json()[0]
    async with db.transaction(write=False) as session:
        from sqlalchemy import select

        from amends.models import ApiKey

        hashes = (await session.scalars(select(ApiKey.secret_hash))).all()
    # amk_<key id>_<secret>: the secret may itself hold "_" (URL-safe base64)
    secret = token.removeprefix("amk_").split("_", 1)[1]
    assert all(secret not in h for h in hashes)
    # the new key works
    works = await client.get("/v1/api-keys", headers=bearer(token))
    assert works.status_code == 403  # authenticated, but not an admin


async def test_an_unknown_scope_is_refused(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    response = await client.post("/v1/api-keys", headers=bearer(tenant.admin_token),
                                 json={"name": "x", "scopes": ["coupons:issue", "root"]})
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_scope"
    listed = await client.get("/v1/api-keys", headers=bearer(tenant.admin_token))
    assert len(listed.json()) == 1
