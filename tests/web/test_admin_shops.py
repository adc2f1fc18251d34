"""The shops admin page in real Chromium, on a real server: an admin connects a Shopify shop
and a WooCommerce store (whose key is wrong) through the forms; a gesture given on a case
reaches the Shopify shop and is refused by the store, and the admin page and the case page say
so. Photographed at desktop and phone width (admin-shops-*, case-not-in-shop-*)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.shops.fakes import shopify_shop, woocommerce_shop
from tests.web.live import LiveSite, live_site, signed_in_as
from tests.web.test_console_tour import DESKTOP, photograph

ADMIN = "admin@demo.example"


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    with live_site(sqlite_template, tmp_path_factory.mktemp("admin-shops")) as live:
        yield live


def test_an_admin_connects_shops_and_a_code_a_shop_refused_shows_on_the_case(
        site: LiveSite) -> None:
    api = httpx.Client(base_url=site.url, timeout=30,
                       headers={"Authorization": f"Bearer {site.keys['Admin']}"})
    with shopify_shop() as shop, woocommerce_shop() as store, \
            signed_in_as(site.browser, site.url, ADMIN, DESKTOP, org=site.slug) as page:
        shop.customer("nora@example.com")
        page.goto("/admin")
        page.get_by_role("link", name="Shops").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Shops")
        form = page.locator("form", has=page.get_by_role("button", name="Connect Shopify"))
        form.get_by_label("Shop address").fill(shop.url)
        form.get_by_label("Name").fill("Web shop")
        form.get_by_label("Access token").fill(shop.token)
        form.get_by_label("Client secret").fill(shop.client_secret)
        form.get_by_role("button", name="Connect Shopify").click()
        expect(page.locator(".flash")).to_contain_text("Web shop is connected")
        form = page.locator("form", has=page.get_by_role("button", name="Connect WooCommerce"))
        form.get_by_label("Store address").fill(store.url)
        form.get_by_label("Name").fill("Outlet store")
        form.get_by_label("Consumer key").fill(store.consumer_key)
        form.get_by_label("Consumer secret").fill("cs_not_the_right_one")
        form.get_by_label("Webhook secret").fill(store.webhook_secret)
        form.get_by_role("button", name="Connect WooCommerce").click()
        expect(page.locator(".flash")).to_contain_text("Outlet store is connected")

        case = api.post("/v1/cases", json={
            "customer_id": "C-SHOP-1", "customer": {"email": "nora@example.com",
                                                    "name": "Nora Shop"},
            "reason": "late_delivery", "severity": 2, "channel": "email"}).json()
        incentive = next(i for i in api.get("/v1/incentives").json()
                         if i["kind"] == "amount_off" and i["active"])
        given = api.post("/v1/coupons", json={"case_id": case["id"], "deliver": False,
                                              "incentive_id": incentive["id"]})
        assert given.status_code == 201, given.text
        code = given.json()["code"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
                shop.by_code(code) and "status-failed" in api.get("/admin/shops").text):
            time.sleep(0.2)
        assert shop.by_code(code) is not None

        page.goto("/admin/shops")
        web = page.locator("tr", has_text="Web shop")
        expect(web.locator("[data-codes]")).to_contain_text("In the shop: 1")
        outlet = page.locator("tr", has_text="Outlet store")
        expect(outlet.locator("[data-codes]")).to_contain_text("Not in the shop: 1")
        expect(outlet.locator("[data-last-error]")).to_contain_text(
            re.compile("consumer key and secret"))
        photograph(page, "admin-shops")
        outlet.get_by_role("button", name="Pause").click()
        expect(page.locator(".flash")).to_contain_text("Outlet store is paused.")
        expect(page.locator("tr", has_text="Outlet store").first).to_contain_text("Paused")

        page.goto(f"/cases/{case['id']}")
        row = page.locator("tr[data-coupon]")
        expect(row.locator("[data-not-in-shop]")).to_contain_text(
            re.compile("Not in the shop: Outlet store: WooCommerce refused"))
        photograph(page, "case-not-in-shop")
