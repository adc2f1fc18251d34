"""Every id a request carries resolves within the caller's organisation: another
organisation's incentive, pool, case, coupon, person or API key is refused with a 404 naming
the field, exactly like an id that never existed, and nothing is written."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from amends.db import Database
from amends.models import (
    ApiKey,
    AuthorityLimit,
    Coupon,
    Incentive,
    Incident,
    MessageTemplate,
    RecoveryRule,
)
from amends.roles import Role
from tests.factories import (
    Tenant,
    bearer,
    make_coupon,
    make_customer,
    make_incentive,
    make_org,
    make_user,
    staff_headers,
)


@dataclass
class Theirs:
    """Objects of another organisation, whose ids the caller sends."""

    incentive: str
    pool: str
    case: str
    coupon: str
    user: str
    api_key: str


async def _theirs(client: httpx.AsyncClient, db: Database) -> Theirs:
    other = await make_org(db)
    admin = bearer(other.admin_token)
    customer = await make_customer(db, other, external_id="T-1")
    pool = await client.post("/v1/code-pools", headers=admin, json={"name": "Theirs"})
    case = await client.post("/v1/cases", headers=admin, json={
        "customer_id": customer.external_id, "reason": "late_delivery", "severity": 2,
        "channel": "email"})
    assert case.status_code == 201, case.text
    async with db.transaction(write=False) as session:
        key_id = await session.scalar(select(ApiKey.id).where(
            ApiKey.organization_id == other.id))
    assert key_id is not None
    return Theirs(incentive=str((await make_incentive(db, other)).id), pool=pool.json()["id"],
                  case=case.json()["id"], coupon=str((await make_coupon(db, other)).id),
                  user=str((await make_user(db, other, role=Role.AGENT)).id),
                  api_key=str(key_id))


async def _count(db: Database, model: type[Any], tenant: Tenant) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(
            model.organization_id == tenant.id)) or 0)


async def _rule(client: httpx.AsyncClient, admin: dict[str, str]) -> str:
    made = await client.post("/v1/rules", headers=admin, json={
        "name": "Late", "condition": {"type": "not_scanned_for", "hours": 48}})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


Request = Callable[[httpx.AsyncClient, dict[str, str], Theirs, Tenant, Database],
                   Awaitable[httpx.Response]]


async def _limit_incentives(client: httpx.AsyncClient, admin: dict[str, str], theirs: Theirs,
                            ours: Tenant, db: Database) -> httpx.Response:
    mine = await make_incentive(db, ours)
    return await client.put("/v1/authority-limits", headers=admin, json={
        "subject": "role:agent", "currency": "EUR", "max_gesture": 1000,
        "incentive_ids": [str(mine.id), theirs.incentive]})


async def _limit_user(client: httpx.AsyncClient, admin: dict[str, str], theirs: Theirs,
                      ours: Tenant, db: Database) -> httpx.Response:
    return await client.put("/v1/authority-limits", headers=admin, json={
        "subject": f"user:{theirs.user}", "currency": "EUR", "max_gesture": 1000})


async def _limit_api_key(client: httpx.AsyncClient, admin: dict[str, str], theirs: Theirs,
                         ours: Tenant, db: Database) -> httpx.Response:
    return await client.put("/v1/authority-limits", headers=admin, json={
        "subject": f"api_key:{theirs.api_key}", "currency": "EUR", "max_gesture": 1000})


async def _template(client: httpx.AsyncClient, admin: dict[str, str], theirs: Theirs,
                    ours: Tenant, db: Database) -> httpx.Response:
    return await client.put("/v1/templates", headers=admin, json={
        "channel": "email", "incentive_id": theirs.incentive, "subject": "Sorry",
        "body_text": "Sorry, {{ customer_name }}."})


async def _new_rule(client: httpx.AsyncClient, admin: dict[str, str], theirs: Theirs,
                    ours: Tenant, db: Database) -> httpx.Response:
    return await client.post("/v1/rules", headers=admin, json={
        "name": "Late", "condition": {"type": "not_scanned_for", "hours": 48},
        "actions": {"incentive_id": theirs.incentive}})


async def _incident(client: httpx.AsyncClient, admin: dict[str, str], theirs: Theirs,
                    ours: Tenant, db: Database) -> httpx.Response:
    return await client.post("/v1/incidents", headers=admin, json={
        "title": "Flood", "reason": "late_delivery", "incentive_id": theirs.incentive})


async def _incentive_pool(client: httpx.AsyncClient, admin: dict[str, str], theirs: Theirs,
                          ours: Tenant, db: Database) -> httpx.Response:
    return await client.post("/v1/incentives", headers=admin, json={
        "name": "Pooled", "kind": "amount_off", "value": 500, "currency": "EUR",
        "validity_days": 30, "code_pool_id": theirs.pool})


async def _coupon_incentive(client: httpx.AsyncClient, admin: dict[str, str], theirs: Theirs,
                            ours: Tenant, db: Database) -> httpx.Response:
    await make_customer(db, ours, external_id="C-1")
    return await client.post("/v1/coupons", headers=admin, json={
        "customer_id": "C-1", "incentive_id": theirs.incentive})


async def _coupon_case(client: httpx.AsyncClient, admin: dict[str, str], theirs: Theirs,
                       ours: Tenant, db: Database) -> httpx.Response:
    mine = await make_incentive(db, ours)
    return await client.post("/v1/coupons", headers=admin, json={
        "case_id": theirs.case, "incentive_id": str(mine.id)})


async def _preview(client: httpx.AsyncClient, admin: dict[str, str], theirs: Theirs,
                   ours: Tenant, db: Database) -> httpx.Response:
    return await client.post("/v1/templates/preview", headers=admin, json={
        "coupon_id": theirs.coupon, "channel": "email"})


CASES: list[tuple[str, Request, str, str | None, type[Any] | None]] = [
    ("authority limits' incentive_ids", _limit_incentives, "incentive_not_found",
     "incentive_ids", AuthorityLimit),
    ("an authority limit for user:<id>", _limit_user, "limit_subject_not_found", "subject",
     AuthorityLimit),
    ("an authority limit for api_key:<id>", _limit_api_key, "limit_subject_not_found",
     "subject", AuthorityLimit),
    ("a template's incentive_id", _template, "incentive_not_found", "incentive_id",
     MessageTemplate),
    ("a rule's actions.incentive_id", _new_rule, "incentive_not_found",
     "actions.incentive_id", RecoveryRule),
    ("an incident's incentive_id", _incident, "incentive_not_found", "incentive_id", Incident),
    ("an incentive's code_pool_id", _incentive_pool, "code_pool_not_found", "code_pool_id",
     Incentive),
    ("a coupon's incentive_id", _coupon_incentive, "incentive_not_found", "incentive_id",
     Coupon),
    ("a coupon's case_id", _coupon_case, "case_not_found", None, Coupon),
    ("a preview's coupon_id", _preview, "coupon_not_found", None, None),
]


@pytest.mark.parametrize(("what", "send", "code", "field", "model"), CASES,
                         ids=[c[0] for c in CASES])
async def test_another_organisations_id_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, db: Database, what: str, send: Request, code: str,
    field: str | None, model: type[Any] | None,
) -> None:
    theirs = await _theirs(client, db)
    ours = await make_org(db)
    admin = bearer(ours.admin_token)
    before = await _count(db, model, ours) if model is not None else 0
    response = await send(client, admin, theirs, ours, db)
    assert response.status_code == 404, (what, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    if field is not None:
        assert response.json()["field"] == field
    if model is not None:
        assert await _count(db, model, ours) == before


async def test_replacing_a_rule_with_another_organisations_gesture_leaves_it_as_it_was(
    client: httpx.AsyncClient, db: Database
) -> None:
    theirs = await _theirs(client, db)
    ours = await make_org(db)
    admin = bearer(ours.admin_token)
    rule_id = await _rule(client, admin)
    replaced = await client.put(f"/v1/rules/{rule_id}", headers=admin, json={
        "name": "Changed", "condition": {"type": "not_scanned_for", "hours": 24},
        "actions": {"incentive_id": theirs.incentive}})
    assert replaced.status_code == 404
    assert replaced.json()["code"] == "incentive_not_found"
    [rule] = (await client.get("/v1/rules", headers=admin)).json()
    assert (rule["name"], rule["condition"]["hours"]) == ("Late", 48)


async def test_pointing_an_incentive_at_another_organisations_pool_leaves_it_unpooled(
    client: httpx.AsyncClient, db: Database
) -> None:
    theirs = await _theirs(client, db)
    ours = await make_org(db)
    admin = bearer(ours.admin_token)
    mine = await make_incentive(db, ours)
    changed = await client.patch(f"/v1/incentives/{mine.id}", headers=admin,
                                 json={"code_pool_id": theirs.pool})
    assert changed.status_code == 404
    assert changed.json()["code"] == "code_pool_not_found"
    after = (await client.get(f"/v1/incentives/{mine.id}", headers=admin)).json()
    assert after["code_pool_id"] is None


async def test_limits_name_people_and_keys_of_the_organisation_and_only_known_ids(
    client: httpx.AsyncClient, db: Database
) -> None:
    ours = await make_org(db)
    admin = bearer(ours.admin_token)
    agent = await make_user(db, ours, role=Role.AGENT)
    mine = await make_incentive(db, ours)
    saved = await client.put("/v1/authority-limits", headers=admin, json={
        "subject": f"user:{agent.id}", "currency": "EUR", "max_gesture": 1500,
        "incentive_ids": [str(mine.id), str(mine.id)]})
    assert saved.status_code == 200, saved.text
    assert saved.json()["incentive_ids"] == [str(mine.id)]
    unknown = await client.put("/v1/authority-limits", headers=admin, json={
        "subject": f"api_key:{uuid.uuid4()}", "currency": "EUR", "max_gesture": 1})
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "limit_subject_not_found"
    malformed = await client.put("/v1/authority-limits", headers=admin, json={
        "subject": "user:" + "-" * 36, "currency": "EUR", "max_gesture": 1})
    assert malformed.status_code == 404
    assert [row["subject"] for row in
            (await client.get("/v1/authority-limits", headers=admin)).json()] == [
        f"user:{agent.id}"]


async def test_the_limits_page_refuses_a_person_of_another_organisation(
    client: httpx.AsyncClient, db: Database
) -> None:
    theirs = await _theirs(client, db)
    ours = await make_org(db)
    supervisor = await staff_headers(db, await make_user(db, ours, role=Role.SUPERVISOR))
    posted = await client.post("/limits", headers=supervisor, data={
        "subject": f"user:{theirs.user}", "currency": "EUR", "max_gesture": "20"})
    assert posted.status_code == 303
    assert "problem=" in posted.headers["location"]
    assert await _count(db, AuthorityLimit, ours) == 0
