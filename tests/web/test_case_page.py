"""The case page tells the truth, in real Chromium at desktop and phone width: a gesture given
shows as given with its message's status and is not offered again (a second one needs a
supervisor, and says so); the review records its root cause and responsible party, the fix
its remedy, a skip its reason, all shown beside the step and in the timeline; a closed case
offers no gesture until it is reopened; a gift card's ledger shows each debit with its order
and store, on the case page and on the customer's page; the timeline names channels as people
do ("SMS", "WhatsApp"), in the reader's language.

One server (the demo, with its outbox so that messages really leave) serves the module."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.web.axe import assert_accessible
from tests.web.live import LiveSite, live_site, signed_in_as
from tests.web.test_console_tour import DESKTOP, OVERFLOWING, PHONE, photograph

AGENT, SUPERVISOR = "agent@demo.example", "supervisor@demo.example"
WAIT = 20_000  # ms: a message goes through the worker and SMTP
WIDTHS = {"desktop": DESKTOP, "phone": PHONE}


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    with live_site(sqlite_template, tmp_path_factory.mktemp("case-page"),
                   with_outbox=True) as live:
        yield live


def open_case(page: Page, customer: str, *, reason: str, ticket: str,
              channel: str = "email") -> str:
    """Open a case from the customer's page; returns the case page's address."""
    page.goto(f"/customers/{customer}")
    page.get_by_label("What went wrong").select_option(reason)
    page.get_by_label("Conversation on").select_option(channel)
    page.get_by_label("Ticket or chat reference").fill(ticket)
    page.get_by_role("button", name="Open the case").click()
    expect(page.get_by_role("status").first).to_contain_text("is open")
    return page.url.split("?")[0]


def offer(page: Page, name: str) -> Locator:
    return page.locator("#offers li[data-offer]").filter(has_text=name)


def step(page: Page, key: str) -> Locator:
    return page.locator(f"#steps li[data-step={key}]")


def look(page: Page, width: str, name: str) -> None:
    """A run at desktop width photographs the page at both widths; a run at phone width
    checks that nothing makes it scroll sideways."""
    if width == "desktop":
        photograph(page, name)
        return
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= PHONE["width"], (name, page.evaluate(OVERFLOWING))


@pytest.mark.parametrize(("width", "customer"), [("desktop", "C-1001"), ("phone", "C-1002")])
def test_a_given_gesture_shows_as_given_with_its_message_and_is_not_offered_again(
    site: LiveSite, width: str, customer: str
) -> None:
    with signed_in_as(site.browser, site.url, AGENT, WIDTHS[width], org=site.slug) as page:
        open_case(page, customer, reason="late_delivery", ticket=f"ZD-{customer}")
        expect(page.locator("[data-state]")).to_have_text("Open")
        expect(step(page, "apologised")).to_have_attribute("data-step-status", "next")
        offer(page, "Sorry: 10 EUR off").get_by_role("button", name="Give this").click()
        expect(page.get_by_role("status").first).to_have_text(
            "Gesture given and on its way to the customer.")

        # Given with its apology: the case is apologised, which the step says.
        expect(page.locator("[data-state]")).to_have_text("Apologised")
        expect(step(page, "apologised")).to_have_attribute("data-step-status", "current")
        expect(step(page, "apologised").locator("[data-field=apology]")).to_contain_text(
            "Gesture message via e-mail to ")
        # Shown as given, with its message going from queued to sent (never "delivered").
        given = page.locator("#given tr[data-coupon]").filter(has_text="Sorry: 10 EUR off")
        expect(given.locator("[data-given]")).to_contain_text(AGENT)
        expect(given.locator("[data-gesture-message]")).to_have_attribute(
            "data-gesture-message", "sent", timeout=WAIT)
        expect(given.locator("[data-gesture-message]")).to_have_text("Sent")
        # Not offered again; the others need a supervisor now, and the page says why.
        sorry = offer(page, "Sorry: 10 EUR off")
        expect(sorry).to_have_attribute("data-offer-state", "given")
        expect(sorry.get_by_role("button")).to_have_count(0)
        expect(sorry).to_contain_text("Given in this case")
        expect(page.locator("[data-second-gesture]")).to_contain_text(
            "a second gesture for this customer needs a supervisor")
        expect(page.locator("#offers").get_by_role("button", name="Give this")).to_have_count(0)
        shipping = offer(page, "Free shipping for 6 months")
        shipping.get_by_role("button", name="Ask a supervisor").click()
        expect(page.get_by_role("status").first).to_have_text(
            "A second gesture for this customer needs a supervisor: one has been asked.")
        expect(offer(page, "Free shipping for 6 months")).to_have_attribute(
            "data-offer-state", "asked")
        assert_accessible(page, f"case page with a gesture given ({width})")
        look(page, width, "case-page-given")


@pytest.mark.parametrize(("width", "customer"), [("desktop", "C-1004"), ("phone", "C-1005")])
def test_each_step_records_what_it_is_for_a_skip_says_why_and_a_closed_case_offers_nothing(
    site: LiveSite, width: str, customer: str
) -> None:
    with signed_in_as(site.browser, site.url, AGENT, WIDTHS[width], org=site.slug) as page:
        open_case(page, customer, reason="late_delivery", ticket=f"ZD-{customer}")
        apology = step(page, "apologised")
        apology.get_by_label("How you apologised").fill("Said sorry on the phone")
        apology.get_by_role("button", name="Save: Apologised").click()
        expect(page.get_by_role("status").first).to_have_text("The case is now apologised.")

        review = step(page, "reviewing")
        review.get_by_label("Root cause").fill("carrier")
        review.get_by_label("Responsible party").fill("DHL depot Leeds")
        review.get_by_label("Notes").fill("Parcel sat at the depot for four days")
        review.get_by_role("button", name="Save: Reviewing").click()
        expect(page.get_by_role("status").first).to_have_text("The case is now reviewing.")
        recorded = step(page, "reviewing").locator("[data-recorded]")
        expect(recorded.locator("[data-field=root_cause]")).to_have_text("carrier")
        expect(recorded.locator("[data-field=responsible_party]")).to_have_text(
            "DHL depot Leeds")
        expect(recorded.locator("[data-field=notes]")).to_have_text(
            "Parcel sat at the depot for four days")

        fix = step(page, "fixed")
        fix.get_by_label("Remedy").fill("Replacement sent by express")
        fix.get_by_role("button", name="Save: Fixed").click()
        expect(step(page, "fixed").locator("[data-field=remedy]")).to_have_text(
            "Replacement sent by express")

        # Skipping the follow-up to close needs a reason, here as through the API.
        closing = step(page, "closed")
        closing.locator("summary").click()
        reason = closing.get_by_label("Why skip followed up")
        expect(reason).to_have_attribute("required", "")
        closing.get_by_label("Summary").fill("Replaced; customer happy")
        reason.fill("The customer asked us not to follow up")
        closing.get_by_role("button", name="Skip to closed", exact=True).click()
        expect(page.get_by_role("status").first).to_have_text("The case is now closed.")
        expect(step(page, "followed_up")).to_have_attribute("data-step-status", "skipped")
        expect(step(page, "followed_up").locator("[data-skip-reason]")).to_contain_text(
            "The customer asked us not to follow up")
        timeline = page.locator("ol.timeline li[data-event=state_changed]")
        expect(timeline.filter(has_text="→ reviewing").last).to_contain_text("DHL depot Leeds")
        expect(timeline.last).to_contain_text("skipped followed_up")

        # Closed: no gesture on offer, only the way to reopen.
        expect(page.locator("[data-closed]")).to_have_text(
            "This case is closed: reopen it first to give a gesture.")
        expect(page.locator("#offers li[data-offer]")).to_have_count(0)
        expect(page.locator("#offers").get_by_role("button", name=re.compile(
            "Give this|Ask a supervisor"))).to_have_count(0)
        assert_accessible(page, f"closed case page ({width})")
        look(page, width, "case-page-closed")
        page.get_by_label("Why reopen it").fill("The replacement is broken too")
        page.get_by_role("button", name="Reopen the case").click()
        expect(page.get_by_role("status").first).to_have_text(
            "The case is open again, back in review.")
        expect(page.locator("[data-state]")).to_have_text("Reviewing")
        expect(offer(page, "Sorry: 10 EUR off").get_by_role("button", name="Give this")
               ).to_be_visible()
        look(page, width, "case-page-steps")


def test_a_gift_cards_ledger_shows_each_debit_on_the_case_and_the_customer_pages(
    site: LiveSite
) -> None:
    with signed_in_as(site.browser, site.url, SUPERVISOR, DESKTOP, org=site.slug) as page:
        case_url = open_case(page, "C-1003", reason="lost_parcel", ticket="ZD-LEDGER")
        offer(page, "25 EUR gift card").get_by_role("button", name="Give this").click()
        expect(page.get_by_role("status").first).to_have_text(
            "Gesture given and on its way to the customer.")
        code = page.locator("#given tr[data-coupon]").filter(
            has_text="25 EUR gift card").locator("code").inner_text()
        till = {"Authorization": f"Bearer {site.keys['Till (POS)']}"}
        sold = httpx.post(f"{site.url}/v1/redemptions", headers=till, timeout=30, json={
            "code": code, "customer_id": "C-1003", "order_id": "W-7731", "order_amount": 1890,
            "store_id": "Store 12 Lyon"})
        assert sold.status_code == 201, sold.text

        page.goto(case_url)
        card = page.locator("#given [data-ledger]")
        expect(card.locator("[data-balance]")).to_have_text("€6.10")
        debit = card.locator("tr[data-entry=debit]")
        expect(debit).to_contain_text("W-7731")
        expect(debit).to_contain_text("Store 12 Lyon")
        expect(debit).to_contain_text("-€18.90")
        expect(card.locator("tr[data-entry=issue]")).to_contain_text("€25.00")
        with page.expect_download() as download:
            card.get_by_role("link", name="Whole ledger (CSV)").click()
        rows = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
        assert rows[0].startswith("created_at,kind,amount,currency,balance_after,order_id")
        assert ",debit,-1890,EUR,610,W-7731,Store 12 Lyon," in rows[1]
        photograph(page, "case-page-ledger")

        page.get_by_role("link", name=re.compile("Ana Lopez")).click()
        ledger = page.locator("#ledgers [data-ledger]")
        expect(ledger.locator("tr[data-entry=debit]")).to_contain_text("W-7731")
        expect(ledger.locator("tr[data-entry=debit]")).to_contain_text("Store 12 Lyon")
        assert_accessible(page, "customer page with a gift card's ledger")
        photograph(page, "case-page-customer-ledger")


def test_the_timeline_names_channels_as_people_do_in_english_and_in_french(
    site: LiveSite
) -> None:
    with signed_in_as(site.browser, site.url, AGENT, DESKTOP, org=site.slug) as page:
        case_url = open_case(page, "C-1006", reason="late_delivery", ticket="WA-1006",
                             channel="sms")
        offer(page, "Sorry: 10 EUR off").get_by_role("button", name="Give this").click()
        expect(page.get_by_role("status").first).to_have_text(
            "Gesture given and on its way to the customer.")
        sent = page.locator("#given tr[data-delivery]").first
        sent.get_by_label("Channel").select_option("whatsapp")
        sent.get_by_role("button", name="Resend").click()
        expect(page.get_by_role("status").first).to_have_text(
            "Sent again by WhatsApp to +31612345678.")
        timeline = page.locator("ol.timeline")
        messages = timeline.locator("li[data-event=message]")
        expect(messages).to_have_count(2)
        # Both have left: the page stops watching them.
        expect(page.get_by_text("this updates by itself")).to_have_count(0, timeout=WAIT)
        expect(timeline.locator("li[data-event=opened]")).to_contain_text(re.compile(
            r"Case opened: Late delivery, severity \d, via SMS"))
        expect(messages.first).to_contain_text("Gesture message via SMS to +31612345678")
        expect(messages.last).to_contain_text("Gesture message via WhatsApp to +31612345678")
        expect(step(page, "apologised").locator("[data-field=apology]")).to_have_text(
            "Gesture message via SMS to +31612345678")
        expect(page.locator("main")).not_to_contain_text(re.compile(r"via (sms|whatsapp)\b"))
        photograph(page, "case-page-channels")

        # A reader whose browser asks for French reads it in French.
        page.context.set_extra_http_headers({"Accept-Language": "fr-FR,fr;q=0.9"})
        page.goto(case_url)
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        expect(timeline.locator("li[data-event=opened]")).to_contain_text(re.compile(
            r"Dossier ouvert : Livraison en retard, gravité \d, par SMS"))
        expect(messages.first).to_contain_text(
            "Geste commercial : message par SMS à +31612345678")
        expect(messages.last).to_contain_text(
            "Geste commercial : message par WhatsApp à +31612345678")
        expect(step(page, "apologised").locator("[data-field=apology]")).to_have_text(
            "Geste commercial : message par SMS à +31612345678")
        expect(timeline).not_to_contain_text("Gesture message")
        assert_accessible(page, "case page in French")
        photograph(page, "case-page-channels-fr")
