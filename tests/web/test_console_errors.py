"""The console's own 404 and 403 pages: every console route, opened or posted to with an
unknown id, another organisation's id or a malformed id, or by a role that may not use it,
answers the console's error page (never a 500), and changes nothing."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import select
from starlette.routing import BaseRoute

from amends.db import Base, Database
from amends.errors import AmendsError, Forbidden, NotFound
from amends.models import (
    ApiKey,
    AuditEvent,
    Coupon,
    Delivery,
    HelpdeskInstallation,
    RecoveryRule,
    ShopConnection,
)
from amends.roles import Role
from tests.factories import (
    bearer,
    make_customer,
    make_incentive,
    make_org,
    make_user,
    set_limit,
    staff_headers,
)

HTML = {"Accept": "text/html"}

# What an agent gets on each console page it opens with some id: 403 where the role may not
# use the page at all, 404 where it may but the id names nothing it can see, 200 where the page
# has no id. Another organisation's admin may use every page, so it gets 404 on every page
# that takes an id. A new console page has to be added here (the walk checks the list).
AGENT_GETS = {
    "/": 200, "/login": 200, "/till": 200, "/profile": 200,
    "/approvals": 403, "/limits": 403, "/catalogue": 403, "/incidents": 403, "/rules": 403,
    "/dashboard": 403, "/dashboard/export": 403, "/outcomes": 403,
    "/incidents/{incident_id}": 403, "/incidents/{incident_id}/live": 403,
    "/cases/{case_id}": 404, "/cases/{case_id}/given": 404,
    "/customers/{external_id}": 404,
    "/c/{token}": 404,
    "/admin/channels": 403, "/admin/templates": 403,
    "/admin/templates/{channel}/{kind}/{locale}": 403,
    "/admin/webhooks": 403, "/admin/webhooks/{endpoint_id}": 403,
    "/admin/audit": 403, "/admin/audit/{event_id}": 403, "/admin/settings": 403,
    "/admin": 403, "/admin/users": 403, "/admin/api-keys": 403, "/customers/new": 200,
    "/admin/helpdesks": 403, "/admin/helpdesks/{installation_id}/package.zip": 403,
    "/admin/shops": 403,
}

# The same for every console form that posts to an address with an id, with a form that
# would be accepted if the id were the caller's own.
AGENT_POSTS = {
    "/approvals/{approval_id}": 403,
    "/catalogue/{incentive_id}/active": 403,
    "/rules/{rule_id}/active": 403,
    "/incidents/{incident_id}/customers": 403,
    "/incidents/{incident_id}/query": 403,
    "/incidents/{incident_id}/{action}": 403,
    "/customers/{external_id}/cases": 404,
    "/customers/{external_id}/language": 404,
    "/cases/{case_id}/messages/{delivery_id}/resend": 404,
    "/cases/{case_id}/gestures/{coupon_id}/reinstate": 404,
    "/cases/{case_id}/notes": 404,
    "/cases/{case_id}/gestures": 404,
    "/cases/{case_id}/steps": 404,
    "/cases/{case_id}/reopen": 404,
    "/c/{token}/feedback": 404,
    "/admin/channels/{channel}": 403,
    "/admin/channels/{channel}/test": 403,
    "/admin/channels/{channel}/remove": 403,
    "/admin/templates/{channel}/{kind}/{locale}": 403,
    "/admin/templates/{channel}/{kind}/{locale}/preview": 403,
    "/admin/templates/{channel}/{kind}/{locale}/html": 403,
    "/admin/templates/{channel}/{kind}/{locale}/reset": 403,
    "/admin/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend": 403,
    "/admin/webhooks/{endpoint_id}/rotate-secret": 403,
    "/admin/webhooks/{endpoint_id}/active": 403,
    "/admin/webhooks/{endpoint_id}/delete": 403,
    "/admin/settings/{group}": 403,
    "/admin/users/{user_id}": 403,
    "/admin/users/{user_id}/deactivate": 403,
    "/admin/users/{user_id}/reactivate": 403,
    "/admin/users/{user_id}/reset-password": 403,
    "/admin/api-keys/{api_key_id}/revoke": 403,
    "/admin/helpdesks/{installation_id}": 403,
    "/admin/helpdesks/{installation_id}/active": 403,
    "/admin/helpdesks/{installation_id}/remove": 403,
    "/admin/shops/{connection_id}/active": 403,
    "/admin/shops/{connection_id}/delete": 403,
}


@dataclass
class Foreign:
    """Another organisation's objects, one of each kind a console address names."""

    ids: dict[str, str]
    incentive_id: str


def _api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI keeps routers whole
        if included is not None:
            yield from _api_routes(included.routes)
        elif isinstance(route, APIRoute):
            yield route


# Routes left out of the OpenAPI document that are not pages for staff: the brand's assets
# and the wallet passes (served to customers' phones and Apple's servers, tested in
# tests/organizations and tests/wallet), the demo's own receivers and outbox (tests/outbox),
# and the page where an invited person sets a password (anyone with the link; tests/users).
# The helpdesk apps' panel and entry points answer a helpdesk's signed requests and the panel's
# own token, never a console session (tests/helpdesk, tests/integrations).
NOT_STAFF_PAGES = ("/brand/", "/wallet/", "/c/{token}/wallet/", "/demo/", "/outbox",
                   "/set-password/", "/helpdesk/")


def _console_routes(app: FastAPI, method: str) -> list[str]:
    """The console's addresses: the routes left out of the API's OpenAPI document."""
    return sorted(route.path for route in _api_routes(app.routes)
                  if not route.include_in_schema and method in route.methods
                  and not route.path.startswith(NOT_STAFF_PAGES))


def _titles(base: type[AmendsError]) -> set[str]:
    found, todo = set(), [base]
    while todo:
        cls = todo.pop()
        found.add(cls.title)
        todo.extend(cls.__subclasses__())
    return found


async def _foreign_objects(client: httpx.AsyncClient, db: Database) -> Foreign:
    tenant = await make_org(db)
    await set_limit(db, tenant, subject="role:agent", max_gesture=2000)
    agent_user = await make_user(db, tenant, role=Role.AGENT)
    agent = await staff_headers(db, agent_user)
    supervisor = await staff_headers(db, await make_user(db, tenant, role=Role.SUPERVISOR))
    small = await make_incentive(db, tenant, value=1000, name="Ten off")
    big = await make_incentive(db, tenant, value=5000, name="Fifty off")
    await make_customer(db, tenant, external_id="C-THEIRS", email="theirs@example.com")
    opened = await client.post("/customers/C-THEIRS/cases", headers=agent, data={
        "reason": "late_delivery", "severity": "2", "channel": "copy"})
    case_id = opened.headers["location"].split("?")[0].rsplit("/", 1)[1]
    given = await client.post(f"/cases/{case_id}/gestures", headers=agent,
                              data={"incentive_id": str(small.id)})
    assert "Gesture+given" in given.headers["location"]
    asked = await client.post("/v1/coupons", headers=agent, json={
        "customer_id": "C-THEIRS", "incentive_id": str(big.id)})
    assert asked.status_code == 202, asked.text
    incident = await client.post("/incidents", headers=supervisor, data={
        "title": "Depot fire", "reason": "late_delivery", "severity": "2"})
    rule = await client.post("/rules", headers=supervisor, data={
        "name": "Stuck two days", "condition": "not_scanned_for", "hours": "48",
        "reason": "late_delivery", "severity": "2"})
    assert rule.status_code == 303
    endpoint = await client.post("/v1/webhook-endpoints", headers=bearer(tenant.admin_token),
                                 json={"url": "http://127.0.0.1:9/hooks"})
    assert endpoint.status_code == 201, endpoint.text
    async with db.transaction() as session:
        installation = HelpdeskInstallation(
            organization_id=tenant.id, platform="zendesk", account="theirs", name="Theirs",
            settings={}, secrets={"api_email": "bot@theirs.example", "api_token": "t"})
        session.add(installation)
        shop = ShopConnection(
            organization_id=tenant.id, platform="shopify", shop_url="https://theirs.example",
            name="Theirs", settings={}, secrets={"access_token": "t", "client_secret": "s"})
        session.add(shop)
    async with db.transaction(write=False) as session:
        coupon = await session.scalar(select(Coupon).where(Coupon.organization_id == tenant.id,
                                                            Coupon.incentive_id == small.id))
        message = await session.scalar(select(Delivery.id).where(
            Delivery.organization_id == tenant.id))
        rule_id = await session.scalar(select(RecoveryRule.id).where(
            RecoveryRule.organization_id == tenant.id))
        event_id = await session.scalar(select(AuditEvent.id).where(
            AuditEvent.organization_id == tenant.id).limit(1))
        api_key_id = await session.scalar(select(ApiKey.id).where(
            ApiKey.organization_id == tenant.id).limit(1))
    assert coupon is not None
    return Foreign(ids={
        "case_id": case_id, "customer": "C-THEIRS", "approval_id": asked.json()["id"],
        "incident_id": incident.headers["location"].split("?")[0].rsplit("/", 1)[1],
        "rule_id": str(rule_id), "incentive_id": str(small.id), "coupon_id": str(coupon.id),
        "delivery_id": str(message), "endpoint_id": endpoint.json()["id"],
        "event_id": str(event_id), "user_id": str(agent_user.id),
        "api_key_id": str(api_key_id), "installation_id": str(installation.id),
        "connection_id": str(shop.id),
    }, incentive_id=str(small.id))


def _ids(kind: str, foreign: Foreign) -> dict[str, str]:
    # A coupon page's token is no organisation's id (whoever holds it may open the page): it is
    # only ever unknown.
    # A channel is named, not an id: "fax" names none, whoever asks; so is a group of
    # settings.
    fixed = {"action": "cancel", "token": "n0-such-t0ken", "channel": "fax",
             "kind": "gesture", "locale": "fr", "group": "colours"}
    if kind == "foreign":
        return {**foreign.ids, "external_id": foreign.ids["customer"], **fixed}
    if kind == "unknown":
        return {**{name: str(uuid.uuid4()) for name in foreign.ids},
                "external_id": "NO-SUCH-CUSTOMER", **fixed}
    return {**dict.fromkeys(foreign.ids, "not-an-id"), "external_id": "not an id", **fixed}


def _form(path: str, foreign: Foreign) -> dict[str, Any]:
    forms: dict[str, dict[str, Any]] = {
        "/approvals/{approval_id}": {"decision": "grant", "reason": "Loyal"},
        "/catalogue/{incentive_id}/active": {"active": "false"},
        "/rules/{rule_id}/active": {"active": "false"},
        "/incidents/{incident_id}/customers": {
            "files": {"file": ("who.csv", b"customer_id\nC-THEIRS\n", "text/csv")}},
        "/incidents/{incident_id}/query": {"kind": "orders_placed",
                                           "since": "2026-01-01T00:00",
                                           "until": "2026-01-02T00:00"},
        "/incidents/{incident_id}/{action}": {"reason": "Not ours"},
        "/customers/{external_id}/cases": {"reason": "late_delivery", "severity": "2",
                                           "channel": "copy"},
        "/customers/{external_id}/language": {"locale": "fr", "time_zone": "Europe/Paris"},
        "/cases/{case_id}/messages/{delivery_id}/resend": {"channel": "email"},
        "/cases/{case_id}/gestures/{coupon_id}/reinstate": {"days": "30"},
        "/cases/{case_id}/notes": {"text": "Looking"},
        "/cases/{case_id}/gestures": {"incentive_id": foreign.incentive_id},
        "/cases/{case_id}/steps": {"to": "apologised"},
        "/cases/{case_id}/reopen": {"reason": "Not ours"},
        "/c/{token}/feedback": {"score": "5", "csrf_token": "same-as-cookie"},
        "/admin/channels/{channel}": {"host": "smtp.example.com",
                                      "from_address": "care@example.com"},
        "/admin/channels/{channel}/test": {"to": "ann@example.com"},
        "/admin/channels/{channel}/remove": {},
        "/admin/templates/{channel}/{kind}/{locale}": {"body_text": "Hello"},
        "/admin/templates/{channel}/{kind}/{locale}/preview": {"body_text": "Hello"},
        "/admin/templates/{channel}/{kind}/{locale}/html": {"body_text": "Hello"},
        "/admin/templates/{channel}/{kind}/{locale}/reset": {},
        "/admin/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend": {},
        "/admin/webhooks/{endpoint_id}/rotate-secret": {},
        "/admin/webhooks/{endpoint_id}/active": {"active": "off"},
        "/admin/webhooks/{endpoint_id}/delete": {},
        "/admin/settings/{group}": {"reminder_days": "2"},
        "/admin/users/{user_id}": {"role": "agent", "team": "", "store": ""},
        "/admin/users/{user_id}/deactivate": {},
        "/admin/users/{user_id}/reactivate": {},
        "/admin/users/{user_id}/reset-password": {},
        "/admin/api-keys/{api_key_id}/revoke": {},
        "/admin/helpdesks/{installation_id}": {"name": "Ours", "reply_as": "note"},
        "/admin/helpdesks/{installation_id}/active": {},
        "/admin/helpdesks/{installation_id}/remove": {},
        "/admin/shops/{connection_id}/active": {"active": "false"},
        "/admin/shops/{connection_id}/delete": {},
    }
    return forms[path]


def _problems(response: httpx.Response, expected: int, *, staff_page: bool) -> list[str]:
    """What is wrong with an answer that should be the console's `expected` error page."""
    found = []
    if response.status_code != expected:
        found.append(f"status {response.status_code}, not {expected}")
    if not response.headers.get("content-type", "").startswith("text/html"):
        found.append(f"not a page: {response.headers.get('content-type')}")
    if expected in (403, 404):
        heading = re.search(r"<h1>(.*?)</h1>", response.text, re.S)
        titles = _titles(Forbidden if expected == 403 else NotFound)
        if heading is None or html.unescape(heading.group(1).strip()) not in titles:
            found.append(f"heading {heading.group(1) if heading else None!r}")
        # The console's page has the header with who is logged in, which once failed.
        if staff_page and 'class="who"' not in response.text:
            found.append("no console header")
    return found


async def _snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every organisation-owned row, to show that a refused request changed nothing."""
    tables = [t for t in Base.metadata.sorted_tables
              if "organization_id" in t.c and t.name != "user_sessions"]
    async with db.transaction(write=False) as session:
        return {t.name: [tuple(row) for row in (await session.execute(
            select(t).order_by(*t.primary_key.columns))).all()] for t in tables}


@pytest.fixture
async def foreign(client: httpx.AsyncClient, db: Database) -> Foreign:
    return await _foreign_objects(client, db)


@pytest.fixture(params=["agent", "another organisation's admin"])
async def caller(request: pytest.FixtureRequest, db: Database) -> tuple[str, dict[str, str]]:
    tenant = await make_org(db)
    role = Role.AGENT if request.param == "agent" else Role.ADMIN
    return request.param, await staff_headers(db, await make_user(db, tenant, role=role))


async def test_every_console_page_answers_its_own_404_or_403_page_for_ids_it_cannot_see(
    app: FastAPI, client: httpx.AsyncClient, foreign: Foreign,
    caller: tuple[str, dict[str, str]],
) -> None:
    who, headers = caller
    pages = _console_routes(app, "GET")
    assert sorted(AGENT_GETS) == pages, "classify the new console page in AGENT_GETS"
    wrong: list[str] = []
    for kind in ("foreign", "unknown", "malformed"):
        ids = _ids(kind, foreign)
        targets = [(path, path.format(**ids)) for path in pages if "{" in path]
        targets.append(("/rules", f"/rules?dry_run={ids['rule_id']}"))
        for path, url in targets:
            if path in ("/rules",) and kind == "malformed":
                continue  # a malformed query value is a malformed request (422), not a page
            expected = AGENT_GETS[path] if who == "agent" else 404
            if expected == 200:
                continue
            response = await client.get(url, headers={**headers, **HTML})
            wrong += [f"{kind} GET {url}: {p}" for p in _problems(
                response, expected, staff_page=not path.startswith("/c/"))]
    for path in pages:
        if who == "agent" and AGENT_GETS[path] == 403 and "{" not in path:
            response = await client.get(path, headers={**headers, **HTML})
            wrong += [f"GET {path}: {p}" for p in _problems(response, 403, staff_page=True)]
    assert wrong == [], "\n".join(wrong)


async def test_every_console_form_answers_its_own_404_or_403_page_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, db: Database, foreign: Foreign,
    caller: tuple[str, dict[str, str]],
) -> None:
    who, headers = caller
    forms = [path for path in _console_routes(app, "POST") if "{" in path]
    assert sorted(AGENT_POSTS) == forms, "classify the new console form in AGENT_POSTS"
    before = await _snapshot(db)
    wrong: list[str] = []
    for kind in ("foreign", "unknown", "malformed"):
        ids = _ids(kind, foreign)
        for path in forms:
            url = path.format(**ids)
            expected = AGENT_POSTS[path] if who == "agent" else 404
            form = dict(_form(path, foreign))
            files = form.pop("files", None)
            sent = {**headers, **HTML}
            if path.startswith("/c/"):  # the coupon page's own form token, as its page set it
                sent["Cookie"] += "; amends_feedback=same-as-cookie"
            response = await client.post(url, headers=sent, data=form, files=files)
            wrong += [f"{kind} POST {url}: {p}" for p in _problems(
                response, expected, staff_page=not path.startswith("/c/"))]
    assert wrong == [], "\n".join(wrong)
    assert await _snapshot(db) == before
