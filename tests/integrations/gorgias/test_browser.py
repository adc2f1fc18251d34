"""In real Chromium: Gorgias' HTTP integration calls Amends on a ticket's event; a page shaped
like Gorgias' ticket view shows the widget's "Make amends" link from what Amends answered; the
agent, logged in to Amends, opens it in a new tab, gives a gesture in one click, and the local
Gorgias receives the apology with the code as a message on the ticket. Nothing scrolls
sideways at desktop or phone width. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import html
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import ViewportSize, expect

from tests.integrations.gorgias.gorgias import (
    API_EMAIL,
    API_KEY,
    INTEGRATION_TOKEN,
    LINK_SECRET,
    Gorgias,
    gorgias_account,
)
from tests.web.live import LiveSite, live_site, signed_in_as

SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
AGENT = "agent@demo.example"
TICKET = "5150"
TICKET_VIEW = f"https://lumiere.gorgias.com/app/ticket/{TICKET}"
WAIT = 20_000  # ms: the message goes through the worker
DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=390, height=844)

HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Where is my parcel? · Gorgias</title>
<style>
  body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: #161616; display: flex; }
  main { flex: 1; padding: 20px 28px; }
  aside { width: 340px; border-left: 1px solid #e2e2e2; padding: 16px; }
  .card { border: 1px solid #e2e2e2; border-radius: 6px; padding: 12px; }
  .card h2 { font-size: 14px; margin: 0 0 8px; }
  dl { margin: 0 0 8px; } dt { color: #6a6a6a; } dd { margin: 0 0 6px; }
</style></head>
<body>
<main><h1>Where is my parcel?</h1><p>Jo Bloggs &lt;jo@example.com&gt;: my order was due on
  Monday and has still not arrived.</p></main>
<aside><div class="card"><h2>Amends</h2>
  <dl><dt>Customer</dt><dd>%(name)s</dd><dt>Summary</dt><dd>%(summary)s</dd></dl>
  <a href="%(url)s" target="_blank" rel="noopener">Make amends</a></div></aside>
</body></html>
"""


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[LiveSite]:
    with live_site(sqlite_template, tmp_path_factory.mktemp("gorgias")) as live:
        yield live


@pytest.fixture(scope="module")
def gorgias() -> Iterator[Gorgias]:
    with gorgias_account() as account:
        yield account


@pytest.fixture(scope="module")
def installation(site: LiveSite, gorgias: Gorgias) -> dict[str, Any]:
    answer = httpx.post(f"{site.url}/v1/helpdesk/installations",
                        headers={"Authorization": f"Bearer {site.keys['Admin']}"},
                        json={"platform": "gorgias", "account": "lumiere",
                              "name": "Lumière support", "settings": {"reply_as": "note"},
                              "secrets": {"integration_token": INTEGRATION_TOKEN,
                                          "api_email": API_EMAIL, "api_key": API_KEY,
                                          "link_secret": LINK_SECRET,
                                          "api_base_url": gorgias.url}}, timeout=10)
    assert answer.status_code == 201, answer.text
    gorgias.add_ticket(TICKET, email="jo@example.com", name="Jo Bloggs", priority="high",
                       subject="Where is my parcel?")
    return dict(answer.json())


def widget_data(installation: dict[str, Any]) -> dict[str, Any]:
    """What Gorgias' integration gets back on the ticket's event (and its widget shows)."""
    answer = httpx.post(installation["urls"]["events"],
                        headers={"X-Amends-Token": INTEGRATION_TOKEN},
                        json={"ticket_id": TICKET, "customer_email": "jo@example.com",
                              "customer_name": "Jo Bloggs", "status": "open"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_the_agent_opens_the_widgets_link_and_gives_a_gesture_the_ticket_gets_the_note(
        site: LiveSite, gorgias: Gorgias, installation: dict[str, Any]) -> None:
    data = widget_data(installation)
    with signed_in_as(site.browser, site.url, AGENT, DESKTOP, org=site.slug) as page:
        # Gorgias' ticket view (no internet here: the browser is answered this page).
        host = HOST_PAGE % {"name": html.escape(data["customer"]["name"]),
                            "summary": html.escape(data["summary"]),
                            "url": html.escape(data["panel_url"])}
        page.route(TICKET_VIEW, lambda route: route.fulfill(
            status=200, content_type="text/html", body=host))
        page.goto(TICKET_VIEW)
        with page.expect_popup() as opened:
            page.get_by_role("link", name="Make amends").click()
        panel = opened.value
        expect(panel.locator("#who-h")).to_have_text("Jo Bloggs")
        expect(panel.get_by_label("Reason")).to_have_value("late_delivery")
        expect(panel.get_by_label("Severity")).to_have_value("4")  # Gorgias' "high"
        expect(panel.locator("[data-case]")).to_have_count(1)  # the ticket's, opened by the event

        panel.locator("[data-give]").first.click()
        expect(panel.get_by_role("status").first).to_contain_text(
            "Given: the apology with the code is being added to the ticket as an internal "
            "note.")
        code = panel.locator("[data-coupon] code").first.inner_text().strip()
        deadline = time.monotonic() + WAIT / 1000
        while not gorgias.posted and time.monotonic() < deadline:
            time.sleep(0.2)
        [posted] = gorgias.posted
        assert posted.ticket_id == TICKET
        assert posted.body["channel"] == "internal-note"
        assert code.replace("-", "") in posted.body["body_text"].replace("-", "")

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        panel.screenshot(path=SCREENSHOTS / "helpdesk-gorgias-desktop.png", full_page=True)
        for size in (DESKTOP, PHONE):
            panel.set_viewport_size(size)
            width = panel.evaluate("document.documentElement.clientWidth")
            assert panel.evaluate("document.documentElement.scrollWidth") <= width, size
        panel.screenshot(path=SCREENSHOTS / "helpdesk-gorgias-phone.png", full_page=True)
        # The link was used: opened again, it says so in words.
        again = panel.context.new_page()
        again.goto(data["panel_url"])
        expect(again.get_by_role("alert")).to_contain_text("This link was used already")
        again.close()
        panel.close()
