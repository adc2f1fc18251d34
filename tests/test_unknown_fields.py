"""No setting is silently ignored: every write route of the API, walked from the OpenAPI
document, answers 422 naming a field it does not know, and changes nothing. A route that must
take bodies it does not own (a platform's callback) says why in `x-amends-open-body`."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from amends.db import Database
from amends.models import AuditEvent
from tests.factories import bearer, make_org

UNKNOWN = "surely_not_a_field"
WRITES = ("post", "put", "patch")


def _json_writes(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, item in openapi["paths"].items():
        for method in WRITES:
            operation = item.get(method)
            if operation is None:
                continue
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                found.append((method, path, operation))
    return found


async def test_every_json_write_route_refuses_an_unknown_field_naming_it(
        client: httpx.AsyncClient, app: Any, db: Database) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    before = await _audit_events(db, tenant.id)
    writes = _json_writes(app.openapi())
    assert len(writes) > 30  # the walk found the API
    open_bodies = []
    for method, path, operation in writes:
        if operation.get("x-amends-open-body"):
            open_bodies.append((path, operation["x-amends-open-body"]))
            continue
        url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        answer = await client.request(method.upper(), url, headers=admin,
                                      json={UNKNOWN: 1})
        assert answer.status_code == 422, (method, path, answer.status_code, answer.text)
        named = [e.get("field") for e in answer.json().get("errors", [])]
        assert UNKNOWN in named, (method, path, answer.json())
    # Every exception is explained, and there are few.
    assert all(reason.strip() for _, reason in open_bodies)
    assert len(open_bodies) <= 5, open_bodies
    assert await _audit_events(db, tenant.id) == before  # none of them changed anything


async def _audit_events(db: Database, organization_id: uuid.UUID) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.organization_id == organization_id)) or 0)
