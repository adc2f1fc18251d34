"""Every console page, in each role, at desktop and phone width: nothing scrolls sideways on a
phone, axe-core finds no serious or critical violation, the menu folds on a phone and opens
and closes by keyboard, and a chart scales with its figures in a table beside it.

One server (the demo with some history, its outbox, an incident, a rule and a webhook) serves
the whole module; each role walks the pages it can reach, and a page already walked by an
earlier role is not walked again (every role's own navigation is, on its first page)."""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, ViewportSize, expect

from tests.web.axe import describe, violations
from tests.web.live import LiveSite, live_site, signed_in_as

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=390, height=844)
AGENT, SUPERVISOR, MANAGER = ("agent@demo.example", "supervisor@demo.example",
                              "manager@demo.example")
ADMIN, AUDITOR, CLERK = "admin@demo.example", "auditor@demo.example", "clerk@demo.example"

OVERFLOWING = """[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(0, 5)
  .map(e => `${e.tagName.toLowerCase()}.${e.className} ${(e.innerText || '').slice(0, 40)}`)"""


@dataclass
class Site:
    live: LiveSite
    ids: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("phone")
    with live_site(sqlite_template, folder, history_cases=60, history_days=14,
                   with_outbox=True) as live:
        admin = {"Authorization": f"Bearer {live.keys['Admin']}"}
        with httpx.Client(base_url=live.url, headers=admin, timeout=30) as api:
            incident = api.post("/v1/incidents", json={
                "title": "Lyon depot flooded", "reason": "late_delivery",
                "message": "Our depot flooded."}).json()
            api.post(f"/v1/incidents/{incident['id']}/customers",
                     content=b"customer_id\nC-1001\nC-1002\nC-1003\n")
            rule = api.post("/v1/rules", json={"name": "Stuck two days", "condition": {
                "type": "not_scanned_for", "hours": 48}}).json()
            hook = api.post("/v1/webhook-endpoints", json={"url": f"{live.url}/demo/webhook"})
            assert hook.status_code == 201, hook.text
            hook = hook.json()
            # A case with a gesture sent to the customer: it can be extended and resent.
            case = api.post("/v1/cases", json={
                "customer_id": "C-1001", "reason": "late_delivery", "severity": 2,
                "channel": "email", "summary": "Parcel late"}).json()
            sorry = next(i for i in api.get("/v1/incentives").json()
                         if i["name"] == "Sorry: 10 EUR off")
            coupon = api.post("/v1/coupons", json={
                "customer_id": "C-1001", "incentive_id": sorry["id"], "case_id": case["id"]})
            assert coupon.status_code == 201, coupon.text
            sent = api.post(f"/v1/coupons/{coupon.json()['id']}/deliveries", json={})
            assert sent.status_code == 201, sent.text
        with sqlite3.connect(live.database) as conn:
            token = conn.execute("SELECT page_token FROM coupons WHERE id = ?",
                                 (uuid.UUID(coupon.json()["id"]).hex,)).fetchone()[0]
            case_id = case["id"]
        yield Site(live=live, ids={"incident": incident["id"], "rule": rule["id"],
                                   "webhook": hook["id"], "token": token,
                                   "case": str(case_id)})


# Each role's pages ("listing > link": the page of the listing's first such link); the first
# is where the role starts.
PAGES = {
    AGENT: ["/", "/customers/C-1001", "/customers/new", "/cases/{case}", "/profile", "/till",
            "/customers/NO-SUCH-CUSTOMER"],
    SUPERVISOR: ["/", "/approvals", "/catalogue", "/limits", "/rules",
                 "/rules?dry_run={rule}", "/incidents", "/incidents/{incident}",
                 "/dashboard", "/outcomes"],
    MANAGER: ["/", "/admin/audit"],
    ADMIN: ["/", "/admin", "/admin/users", "/admin/api-keys", "/admin/channels",
            "/admin/templates", "/admin/templates/email/gesture/en",
            "/admin/webhooks", "/admin/webhooks/{webhook}", "/admin/settings", "/outbox",
            "/admin/audit > a[href^='/admin/audit/']", "/outbox > a[href^='/outbox/mail/']"],
    AUDITOR: ["/"],
    CLERK: ["/till"],
}


def settle(page: Page) -> None:
    """Let the page react to a change of size (console.js) before it is looked at."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


# The pages photographed at phone width (phone-<name>.png), for the README's tour.
PHOTOGRAPHED = {"/": "start", "/customers/C-1001": "customer", "/approvals": "approvals",
                "/rules": "rules", "/dashboard": "dashboard", "/outcomes": "outcomes",
                "/admin/users": "users", "/outbox": "outbox", "/till": "till",
                "/incidents/{incident}": "incident", "/cases/{case}": "case"}


def check(page: Page, path: str, problems: list[str], *, name: str | None = None) -> None:
    """The page at desktop and at phone width: axe-core's serious and critical violations and,
    on the phone, anything that makes it scroll sideways, added to `problems`; photographed
    at phone width as `phone-<name>`."""
    if path:
        page.goto(path)
    for width in (DESKTOP, PHONE):
        page.set_viewport_size(width)
        settle(page)
        label = f"{page.url} at {width['width']} px"
        found = violations(page)
        if found:
            problems.append(f"{label}:\n{describe(found)}")
        if width is PHONE:
            wide = page.evaluate("document.documentElement.scrollWidth")
            if wide > PHONE["width"]:
                problems.append(f"{label}: scrolls sideways ({wide} px): "
                                f"{page.evaluate(OVERFLOWING)}")
            if name:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=SCREENSHOTS / f"phone-{name}.png", full_page=True)
    page.set_viewport_size(DESKTOP)


def slug(path: str) -> str:
    return path.strip("/").split("?")[0].replace("/", "-") or "start"


def test_every_page_of_every_role_fits_a_phone_and_passes_axe(site: Site) -> None:
    problems: list[str] = []
    seen: set[str] = set()
    for email, paths in PAGES.items():
        with signed_in_as(site.live.browser, site.live.url, email, org=site.live.slug) as page:
            for template in paths:
                path = template.format(**site.ids)
                if " > " in path:  # a page reached by its first link on another page
                    listing, link = path.split(" > ")
                    page.goto(listing)
                    path = str(page.locator(link).first.get_attribute("href"))
                if path in seen and path != paths[0]:
                    continue
                seen.add(path)
                check(page, path, problems, name=PHOTOGRAPHED.pop(template, None))
    # The customer's coupon page, and the login page, are walked too.
    context = site.live.browser.new_context(base_url=site.live.url)
    try:
        page = context.new_page()
        check(page, f"/c/{site.ids['token']}", problems, name="coupon")
        check(page, "/login", problems, name="login")
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def test_on_a_phone_the_menu_and_a_form_are_used_by_keyboard(site: Site) -> None:
    with signed_in_as(site.live.browser, site.live.url, SUPERVISOR, PHONE,
                      org=site.live.slug) as page:
        menu = page.get_by_role("button", name="Menu", exact=True)  # its icon is not its name
        nav = page.get_by_role("navigation", name="Main")
        expect(menu).to_have_attribute("aria-expanded", "false")
        expect(nav.get_by_role("link", name="Incidents")).to_be_hidden()
        # From the top of the page the keyboard reaches the menu: skip link, brand, menu.
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        expect(menu).to_be_focused()
        page.keyboard.press("Enter")
        expect(menu).to_have_attribute("aria-expanded", "true")
        expect(nav.get_by_role("link", name="Incidents")).to_be_visible()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "phone-menu-open.png")
        page.keyboard.press("Tab")
        expect(nav.get_by_role("link", name="Cases")).to_be_focused()
        page.keyboard.press("Escape")
        expect(menu).to_have_attribute("aria-expanded", "false")
        expect(menu).to_be_focused()
        expect(nav.get_by_role("link", name="Incidents")).to_be_hidden()
        page.keyboard.press("Space")
        expect(menu).to_have_attribute("aria-expanded", "true")
        page.keyboard.press("Enter")
        expect(menu).to_have_attribute("aria-expanded", "false")
        # A form is used by keyboard alone, its focus plain to see.
        page.goto("/")
        search = page.get_by_label("Name, email, phone, customer id or order id")
        for _ in range(10):
            page.keyboard.press("Tab")
            if search.evaluate("e => e === document.activeElement"):
                break
        expect(search).to_be_focused()
        ring = search.evaluate("e => getComputedStyle(e).outlineWidth")
        assert float(ring.removesuffix("px")) >= 2, ring
        page.keyboard.type("jo@example.com")
        page.keyboard.press("Enter")
        expect(page.get_by_role("link", name="Jo Bloggs")).to_be_visible()
        # On a wide screen there is no menu to open: the navigation is there.
        page.set_viewport_size(DESKTOP)
        expect(menu).to_be_hidden()
        expect(nav.get_by_role("link", name="Incidents")).to_be_visible()


def test_a_chart_fits_a_phone_with_readable_labels_and_its_figures_in_a_table(
    site: Site
) -> None:
    with signed_in_as(site.live.browser, site.live.url, MANAGER, PHONE, org=site.live.slug) as page:
        page.goto("/dashboard")
        section = page.locator("section[aria-labelledby=time-h]")
        chart = section.get_by_role("img", name="Gestures issued and redeemed per day")
        expect(chart).to_have_count(1)  # the phone's drawing; the wide one is not shown
        expect(chart).to_have_attribute("viewBox", re.compile(r"^0 0 \d+ \d+$"))
        assert chart.get_attribute("width") is None
        box = chart.bounding_box()
        card = section.bounding_box()
        assert box is not None
        assert card is not None
        assert 0.8 * card["width"] < box["width"] <= card["width"]
        # Its 12-unit labels are drawn at 10 px or more on the screen.
        scale = chart.evaluate("svg => svg.getScreenCTM().a")
        assert 12 * scale >= 10, scale
        # The same figures, as a table: one row per day.
        section.get_by_text("Table").click()
        rows = section.locator("details table tbody tr")
        expect(rows.first).to_be_visible()
        assert rows.count() >= 7
        page.set_viewport_size(DESKTOP)
        wide = section.get_by_role("img", name="Gestures issued and redeemed per day")
        expect(wide).to_have_count(1)
        assert wide.evaluate("svg => svg.classList.contains('chart-wide')")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)


def test_on_a_phone_a_cases_gestures_are_cards_whose_extend_and_resend_are_in_reach(
    site: Site
) -> None:
    with signed_in_as(site.live.browser, site.live.url, AGENT, PHONE, org=site.live.slug) as page:
        page.goto(f"/cases/{site.ids['case']}")
        gesture = page.locator("#given tr[data-coupon]").first
        label = gesture.locator("td").first.evaluate(
            "td => getComputedStyle(td, '::before').content")
        assert label == '"Gesture"', label
        extend = gesture.get_by_role("button", name="Extend")
        resend = page.locator("#given tr[data-delivery]").get_by_role(
            "button", name="Resend").first
        for button in (extend, resend):
            expect(button).to_be_visible()
            box = button.bounding_box()
            assert box is not None
            assert 0 <= box["x"] <= box["x"] + box["width"] <= PHONE["width"], box
        page.screenshot(path=SCREENSHOTS / "phone-case-gestures.png", full_page=True)
        extend.click()
        expect(page.get_by_role("status").first).to_contain_text("is valid until")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
