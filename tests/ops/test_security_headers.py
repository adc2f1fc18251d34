"""What every answer tells the browser: never guess a content type; on pages, only Amends' own
scripts, styles and images, no framing by other sites, and the address kept to this site (the
coupon page, whose address holds its secret, sends none). And /metrics behind a token when the
server has one."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from amends.app import create_app
from amends.config import Settings
from amends.db import Database
from amends.roles import Role
from amends.web.templating import HERE as WEB_DIR
from tests.factories import make_coupon, make_org, make_user, staff_headers

HTML = {"Accept": "text/html"}


def _policy(response: httpx.Response) -> dict[str, list[str]]:
    header = response.headers["content-security-policy"]
    return {name: values for name, *values in (d.split() for d in header.split(";"))}


def _assert_page_headers(response: httpx.Response, *, referrer: str = "same-origin") -> None:
    assert response.headers["content-type"].startswith("text/html")
    policy = _policy(response)
    for directive in ("default-src", "script-src", "style-src", "img-src"):
        assert policy[directive] == ["'self'"], directive
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == referrer


async def test_console_pages_run_only_their_own_scripts_and_styles_and_no_site_frames_them(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    agent = {**await staff_headers(db, await make_user(db, tenant, role=Role.AGENT)), **HTML}
    login = await client.get("/login", headers=HTML)
    start = await client.get("/", headers=agent)
    not_found = await client.get(f"/cases/{uuid.uuid4()}", headers=agent)
    forbidden = await client.get("/approvals", headers=agent)
    assert [r.status_code for r in (login, start, not_found, forbidden)] == [200, 200, 404, 403]
    for page in (login, start, not_found, forbidden):
        _assert_page_headers(page)


async def test_the_coupon_page_sends_no_referrer_because_its_address_holds_the_secret(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    coupon = await make_coupon(db, tenant, value=500)
    page = await client.get(f"/c/{coupon.page_token}")
    assert page.status_code == 200
    _assert_page_headers(page, referrer="no-referrer")
    # The QR code and barcode are drawn inline with attributes, which the policy allows.
    assert 'style="' not in page.text


async def test_every_answer_forbids_sniffing_and_only_pages_carry_a_page_policy(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)

    async def explode() -> None:
        raise RuntimeError("a bug nobody foresaw")

    app.add_api_route("/v1/test-explode", explode)
    answers = {
        "health": await client.get("/healthz"),
        "api": await client.get("/v1/incentives", headers={
            "Authorization": f"Bearer {tenant.admin_token}"}),
        "problem": await client.get("/v1/incentives"),
        "unknown address": await client.get("/nowhere"),
        "static file": await client.get("/static/amends.css"),
        "too large": await client.post("/v1/events", content=b"x" * 2_000_000,
                                       headers={"Content-Type": "application/json"}),
        "unforeseen error": await client.get("/v1/test-explode"),
    }
    assert {name: r.status_code for name, r in answers.items()} == {
        "health": 200, "api": 200, "problem": 401, "unknown address": 404, "static file": 200,
        "too large": 413, "unforeseen error": 500}
    for name, answer in answers.items():
        assert answer.headers.get("x-content-type-options") == "nosniff", name
        assert "content-security-policy" not in answer.headers, name


def test_no_template_or_script_needs_what_the_policy_refuses() -> None:
    """Pages the browser tests do not open would break the same way: no inline script, event
    handler, style element or style attribute in any template."""
    refused = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:",
                         re.IGNORECASE)
    found = [f"{path.relative_to(WEB_DIR)}: {match.group(0)}"
             for path in sorted(Path(WEB_DIR, "templates").rglob("*.html"))
             for match in refused.finditer(path.read_text())]
    assert found == []


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(settings.model_copy(update={"metrics_token": "s3cret-metrics"}),
                             run_worker=False)
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        yield http
    await application.state.db.dispose()


async def test_metrics_with_a_token_set_answer_only_to_that_bearer_token(
    guarded: httpx.AsyncClient,
) -> None:
    refusals: dict[str, Any] = {
        "none": await guarded.get("/metrics"),
        "wrong": await guarded.get("/metrics", headers={"Authorization": "Bearer guess"}),
        "other scheme": await guarded.get("/metrics", headers={
            "Authorization": "Basic s3cret-metrics"}),
        "browser": await guarded.get("/metrics", headers=HTML),
    }
    for name, refused in refusals.items():
        assert refused.status_code == 401, name
        assert refused.json()["code"] == "metrics_token_required", name
        assert refused.headers["www-authenticate"].startswith("Bearer"), name
        assert "amends_http_requests_total" not in refused.text, name
    allowed = await guarded.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics"})
    assert allowed.status_code == 200
    assert "amends_http_requests_total" in allowed.text


async def test_metrics_are_open_when_no_token_is_set(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert "amends_http_requests_total" in response.text
