"""Tiers of authority as the supervisor and the manager live them, at desktop and phone width:
a supervisor whose own limit is below the request cannot grant it; their Grant sends it up
to the managers, the queue shows where it waits and how it got there, and the manager's
Grant gives the gesture once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.web.live import LiveSite, live_site, signed_in_as
from tests.web.test_console_tour import DESKTOP, PHONE, photograph

AGENT = "agent@demo.example"
SUPERVISOR = "supervisor@demo.example"
MANAGER = "manager@demo.example"


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    with live_site(sqlite_template, tmp_path_factory.mktemp("tiers")) as live:
        yield live


def test_a_supervisor_above_their_own_limit_sends_the_request_up_and_a_manager_grants_it(
        site: LiveSite) -> None:
    admin = {"Authorization": f"Bearer {site.keys['Admin']}"}
    api = httpx.Client(base_url=site.url, headers=admin, timeout=30)
    users = api.get("/v1/users").json()
    sam = next(u for u in users if u["email"] == SUPERVISOR)
    # Sam's own limit is 10 EUR, below the 25 EUR gift card the agent asks for.
    limit = api.put("/v1/authority-limits", json={
        "subject": f"user:{sam['id']}", "currency": "EUR", "max_gesture": 1000})
    assert limit.status_code == 200, limit.text
    case = api.post("/v1/cases", json={"customer_id": "C-1002", "reason": "damaged_item",
                                       "severity": 3, "channel": "email"}).json()
    gift = next(i for i in api.get("/v1/incentives").json()
                if i["name"] == "25 EUR gift card")

    with signed_in_as(site.browser, site.url, AGENT, DESKTOP, org=site.slug) as page:
        page.goto(f"/cases/{case['id']}")
        offer = page.locator("form", has=page.locator(f"input[value='{gift['id']}']"))
        offer.get_by_role("button").click()
        expect(page.get_by_role("status").or_(page.locator(".flash"))).to_contain_text(
            re.compile("supervisor", re.I))

    with signed_in_as(site.browser, site.url, SUPERVISOR, DESKTOP, org=site.slug) as page:
        page.goto("/approvals")
        request = page.locator("section.approval").filter(has_text="25 EUR gift card")
        expect(request).to_contain_text("Tier: Supervisor")
        request.get_by_label(re.compile("^Reason")).fill("Third damaged parcel")
        request.get_by_role("button", name="Grant").click()
        expect(page.locator(".flash")).to_contain_text(
            "Beyond your own limit or budget: the request now waits for tier Manager.")
        request = page.locator("section.approval").filter(has_text="25 EUR gift card")
        expect(request).to_contain_text("Tier: Manager")
        expect(request.locator("ol.chain")).to_contain_text(
            f"Sent up to Manager by {SUPERVISOR}: worth more than the 10.00 EUR")
        expect(request.get_by_role("button", name="Grant")).to_have_count(0)
        expect(request).to_contain_text("Decided by tier Manager or above.")
        photograph(page, "approvals-escalated")

    with signed_in_as(site.browser, site.url, MANAGER, PHONE, org=site.slug) as page:
        page.goto("/approvals")
        request = page.locator("section.approval").filter(has_text="25 EUR gift card")
        expect(request).to_contain_text("Tier: Manager")
        request.get_by_role("button", name="Grant").click()
        expect(page.locator(".flash")).to_contain_text("Granted")
        expect(page.locator("section.approval").filter(has_text="25 EUR gift card")
               ).to_have_count(0)

    coupons = api.get("/v1/coupons", params={"customer_id": "C-1002"}).json()["items"]
    assert [c["name"] for c in coupons] == ["25 EUR gift card"]
    approvals = api.get("/v1/approvals", params={"status": "granted"}).json()["items"]
    assert [(a["tier"], [s["kind"] for s in a["chain"]]) for a in approvals] == [
        ("manager", ["routed", "escalated"])]
