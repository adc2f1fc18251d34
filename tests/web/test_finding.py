"""Finding things, in real Chromium on the demo: an agent finds a customer by a code read out
over the phone, by a phone number typed the French way, by an order id, by a parcel's tracking
number read out in groups and by the order a gesture was used on, and each result says what
matched; the customer's timeline shows a gesture past its expiry as expired; the
till's Check refuses what its Redeem refuses. Photographed at desktop and phone width
(`finding-*`)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from amends.kit import codes
from tests.web.live import LiveSite, live_site, signed_in_as
from tests.web.test_console_tour import DESKTOP, PHONE, photograph

AGENT, CLERK = "agent@demo.example", "clerk@demo.example"
SEARCH = "Name, email, phone, customer id or order id"


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[LiveSite]:
    with live_site(sqlite_template, tmp_path_factory.mktemp("finding")) as live:
        yield live


def _api(site: LiveSite, method: str, path: str, **body: Any) -> Any:
    answer = httpx.request(method, f"{site.url}{path}", json=body or None,
                           headers={"Authorization": f"Bearer {site.keys['Admin']}"})
    assert answer.status_code < 300, answer.text
    return answer.json()


def _give(site: LiveSite, customer: str, gesture: str) -> str:
    """A gesture of the demo's catalogue given to a demo customer: its code."""
    [incentive] = [i for i in _api(site, "GET", "/v1/incentives") if i["name"] == gesture]
    coupon = _api(site, "POST", "/v1/coupons", customer_id=customer,
                  incentive_id=incentive["id"], case_reference=f"finding-{customer}")
    return str(coupon["code"])


def _messy(code: str) -> str:
    """How an agent types a code the customer reads out: lower case, spaces for dashes, the
    letter O for a zero and L for a one."""
    return codes.display(codes.normalise(code)).lower().replace("-", " ") \
        .replace("0", "o").replace("1", "l")


def _search(page: Page, query: str) -> None:
    page.goto("/")
    page.get_by_label(SEARCH).fill(query)
    page.get_by_role("button", name="Search").click()


def test_an_agent_finds_a_customer_by_a_messy_code_a_national_phone_and_an_order_id(
    site: LiveSite
) -> None:
    code = _give(site, "C-1004", "Sorry: 10 EUR off")
    _api(site, "POST", "/v1/events", id="finding-order-1042", type="order.placed",
         occurred_at=datetime.now(UTC).isoformat(), data={
             "order_id": "1042", "customer_id": "C-1006", "amount": 6490, "currency": "EUR"})
    _api(site, "POST", "/v1/events", id="finding-parcel-1042", type="shipment.created",
         occurred_at=datetime.now(UTC).isoformat(), data={
             "shipment_id": "P-1042", "order_id": "1042", "carrier": "DHL",
             "tracking_number": "JD014600003828"})
    # The web shop's order the gesture was used on (Amends was never told of the order).
    _api(site, "POST", "/v1/redemptions", code=code, customer_id="C-1004",
         order_id="web-5531", order_amount=5000, currency="EUR", channel="online")
    grouped = codes.display(codes.normalise(code))
    searches = [(_messy(code), "Zoé Robert", "code", f"code {grouped}"),
                ("06 12 34 56 78", "Zoé Robert", "phone", "phone +33612345678"),
                ("1042", "Sanne de Vries", "order", "order 1042"),
                ("JD01 4600 0038 28", "Sanne de Vries", "parcel", "parcel JD014600003828"),
                ("WEB-5531", "Zoé Robert", "redeemed_order", "redeemed on order web-5531")]
    for viewport in (DESKTOP, PHONE):
        with signed_in_as(site.browser, site.url, AGENT, viewport, org=site.slug) as page:
            for query, name, by, said in searches:
                _search(page, query)
                rows = page.get_by_role("table").get_by_role("row").filter(has_text=name)
                expect(rows).to_have_count(1)
                expect(rows.locator(f"[data-matched={by}]")).to_have_text(said)
                expect(page.get_by_text("No customer matches")).to_have_count(0)
                if viewport is DESKTOP:
                    photograph(page, f"finding-by-{by}")
            # The code's customer is one click away.
            _search(page, _messy(code))
            page.get_by_role("link", name="Zoé Robert").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Zoé Robert")


def test_the_timeline_shows_a_gesture_past_its_expiry_as_expired(site: LiveSite) -> None:
    code = _give(site, "C-1005", "Sorry: 10 EUR off")
    now = datetime.now(UTC).replace(tzinfo=None)
    stored = "%Y-%m-%d %H:%M:%S.%f"  # SQLite's form of a UTC time (see db.UTCDateTime)
    with sqlite3.connect(site.database) as db:  # given 40 days ago, expired yesterday
        db.execute("UPDATE coupons SET issued_at = ?, valid_from = ?, expires_at = ? "
                   "WHERE code = ?", ((now - timedelta(days=40)).strftime(stored),
                                      (now - timedelta(days=40)).strftime(stored),
                                      (now - timedelta(days=1)).strftime(stored),
                                      codes.normalise(code)))
    for viewport in (DESKTOP, PHONE):
        with signed_in_as(site.browser, site.url, AGENT, viewport, org=site.slug) as page:
            page.goto("/customers/C-1005")
            gestures = page.locator("ol.timeline li[data-kind=gesture]").filter(
                has_text=codes.display(codes.normalise(code)))
            expect(gestures).to_have_count(2)
            expect(gestures.first).to_contain_text("expired")
            expect(gestures.last).to_contain_text("given by")
            expect(gestures.last).to_contain_text("now expired")
            for line in gestures.all():
                expect(line).to_have_attribute("data-status", "expired")
                expect(line).not_to_contain_text("active")
            if viewport is DESKTOP:
                photograph(page, "finding-timeline")


def test_the_tills_check_refuses_what_its_redeem_refuses(site: LiveSite) -> None:
    code = _give(site, "C-1002", "15% off your next order")  # from 20 EUR
    for viewport in (DESKTOP, PHONE):
        with signed_in_as(site.browser, site.url, CLERK, viewport, org=site.slug) as till:
            till.goto("/till")
            customer = till.get_by_label(re.compile("^Customer number, email or phone"))
            answer = till.locator("[data-result]")
            steps = [
                # Nobody named: the code belongs to Sam, so neither button takes it.
                ("", "15.00", "customer_required", "type the customer's number"),
                # Sam, on an order below the gesture's minimum.
                ("sam@example.com", "15.00", "minimum_order_not_met",
                 "needs an order of at least €20.00"),
            ]
            for who, amount, refusal, said in steps:
                for button in ("Check", "Redeem"):
                    till.get_by_label("Code", exact=True).fill(_messy(code))
                    till.get_by_label("Order amount").fill(amount)
                    customer.fill(who)
                    till.get_by_role("button", name=button).click()
                    expect(answer).to_have_attribute("data-result", refusal)
                    expect(answer).to_contain_text("This code cannot be used.")
                    expect(answer).to_contain_text(said)
                    expect(answer).not_to_contain_text("This code works")
            if viewport is DESKTOP:
                photograph(till, "finding-till-refused")
                continue
            # At phone width the clerk then takes it: Check says it works, and Redeem agrees.
            till.get_by_label("Code", exact=True).fill(_messy(code))
            till.get_by_label("Order amount").fill("64.90")
            customer.fill("sam@example.com")
            till.get_by_role("button", name="Check").click()
            expect(answer).to_have_attribute("data-result", "valid")
            expect(answer).to_contain_text("This code works")
            till.get_by_role("button", name="Redeem").click()
            expect(answer).to_have_attribute("data-result", "redeemed")
            expect(answer).to_contain_text("Customer pays €55.16")
            photograph(till, "finding-till-redeemed")
