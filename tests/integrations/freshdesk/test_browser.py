"""In real Chromium: a page shaped like Freshdesk's ticket view frames the Amends app made for
the installation (its own app/index.html and app.js, with a stand-in for the Freshworks client
whose request method fills the package's request template, secret header included, on the
server side as Freshworks' proxy does); the app frames the panel's one-use link; the agent
gives a gesture in one click and the local Freshdesk receives the apology with the code as a
reply on the ticket. At 320 px nothing is cut off. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import ViewportSize, expect

from amends.helpdesk.platforms import Installed
from amends.integrations.freshdesk import PLATFORM
from tests.integrations.freshdesk.freshdesk import (
    API_KEY,
    APP_SECRET,
    WEBHOOK_SECRET,
    Freshdesk,
    freshdesk_account,
)
from tests.web.browser_watch import watch
from tests.web.live import LiveSite, live_site

SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
AGENT = "agent@demo.example"
TICKET = "4711"
WAIT = 20_000  # ms: the reply goes through the worker

HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>#4711 Where is my parcel? · Freshdesk</title>
<style>
  body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: #12344d; background: #f5f7f9;
         display: flex; min-height: 100vh; }
  nav { width: 56px; background: #1f2d3d; }
  main { flex: 1; padding: 20px 28px; min-width: 0; }
  main h1 { font-size: 20px; margin: 0 0 4px; }
  .meta { color: #475867; margin: 0 0 18px; }
  .tag { background: #ebeff3; border-radius: 3px; padding: 1px 6px; margin-right: 4px; }
  article { background: #fff; border: 1px solid #cfd7df; border-radius: 4px; padding: 14px;
            margin-bottom: 12px; max-width: 640px; }
  article b { display: block; margin-bottom: 4px; }
  aside { width: 320px; flex: none; border-left: 1px solid #cfd7df; background: #fff; }
  aside h2 { font-size: 13px; color: #475867; margin: 0; padding: 10px 12px;
             border-bottom: 1px solid #cfd7df; }
  iframe { display: block; width: 320px; height: 700px; border: 0; }
</style></head>
<body>
<nav></nav>
<main>
  <h1>Where is my parcel?</h1>
  <p class="meta">#4711 · Jo Bloggs &lt;jo@example.com&gt; · Priority: High · Status: Open ·
    <span class="tag">amends-late</span></p>
  <article><b>Jo Bloggs</b>My order was due on Monday and has still not arrived. The tracking
    page has said "in transit" for a week.</article>
</main>
<aside><h2>Amends</h2>
  <iframe id="app" title="Amends" src="/app/index.html?ticket=4711"></iframe></aside>
</body></html>
"""


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[LiveSite]:
    with live_site(sqlite_template, tmp_path_factory.mktemp("freshdesk")) as live:
        yield live


@pytest.fixture(scope="module")
def freshdesk() -> Iterator[Freshdesk]:
    with freshdesk_account() as account:
        yield account


@pytest.fixture(scope="module")
def installation(site: LiveSite, freshdesk: Freshdesk) -> dict[str, Any]:
    """The demo organisation's Freshdesk installation, pointed at the local account (whose
    pages may frame the panel), and the app made for it, installed there."""
    answer = httpx.post(f"{site.url}/v1/helpdesk/installations",
                        headers={"Authorization": f"Bearer {site.keys['Admin']}"},
                        json={"platform": "freshdesk", "account": "lumiere.freshdesk.com",
                              "name": "Lumière support",
                              "settings": {"frame_origins": [freshdesk.origin]},
                              "secrets": {"app_secret": APP_SECRET, "api_key": API_KEY,
                                          "webhook_secret": WEBHOOK_SECRET,
                                          "api_base_url": freshdesk.url}}, timeout=10)
    assert answer.status_code == 201, answer.text
    installed = answer.json()
    assert PLATFORM.package is not None
    freshdesk.app_files = PLATFORM.package(Installed(
        installation_id=installed["id"], organization=site.slug,
        account="lumiere.freshdesk.com", name="Lumière support", base_url=site.url,
        urls=installed["urls"]))
    freshdesk.iparams = {"amends_host": urlsplit(site.url).netloc,
                         "amends_secret": APP_SECRET}
    freshdesk.agent_email = AGENT
    freshdesk.host_page = HOST_PAGE
    freshdesk.add_ticket(TICKET, email="jo@example.com", name="Jo Bloggs", priority=3,
                         subject="Where is my parcel?")
    return dict(installed)


def test_the_agent_gives_a_gesture_from_the_freshdesk_sidebar_and_the_ticket_gets_the_code(
        site: LiveSite, freshdesk: Freshdesk, installation: dict[str, Any]) -> None:
    context = site.browser.new_context(viewport=ViewportSize(width=1280, height=900))
    context.set_default_timeout(15_000)
    problems = watch(context)
    page = context.new_page()
    try:
        page.goto(f"{freshdesk.url}/a/tickets/{TICKET}")
        panel = page.frame_locator("#app").frame_locator("#amends-panel")
        expect(panel.locator("#who-h")).to_have_text("Jo Bloggs")
        # The app asked through its template; the proxy added the secret, the page never had it.
        [asked] = freshdesk.proxied
        assert asked["headers"]["Authorization"] == f"Bearer {APP_SECRET}"
        assert asked["url"] == f"{installation['urls']['panel']}/session"
        assert APP_SECRET not in page.content()
        # Freshdesk's priority (High) and the ticket's tag chose the severity and the reason.
        expect(panel.get_by_label("Reason")).to_have_value("late_delivery")
        expect(panel.get_by_label("Severity")).to_have_value("4")

        button = panel.locator("[data-give]").first
        button.click()
        expect(panel.get_by_role("status").first).to_contain_text(
            "Given: the apology with the code is being posted to the ticket.")
        code = panel.locator("[data-coupon] code").first.inner_text().strip()

        deadline = time.monotonic() + WAIT / 1000
        while not freshdesk.posted and time.monotonic() < deadline:
            time.sleep(0.2)
        [posted] = freshdesk.posted
        assert (posted.ticket_id, posted.kind) == (TICKET, "reply")
        assert code.replace("-", "") in posted.body["body"].replace("-", "")
        assert "Jo" in posted.body["body"]

        # At 320 px (the sidebar's width) nothing is cut off or scrolls sideways.
        frame = next(f for f in page.frames if "/helpdesk/panel/start" in f.url)
        width = frame.evaluate("document.documentElement.clientWidth")
        assert width == 320
        wide = frame.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, frame.evaluate(
            "[...document.querySelectorAll('body *')].filter(e => "
            "e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)"
            ".slice(0, 5).map(e => e.tagName + '.' + e.className)")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "helpdesk-freshdesk-desktop.png", full_page=True)
        page.locator("#app").screenshot(path=SCREENSHOTS / "helpdesk-freshdesk-320.png")
        assert problems == [], "\n".join(problems)
    finally:
        context.close()
