"""In real Chromium: a page shaped like Zendesk's agent interface frames the Amends app as
Zendesk does (a form POST of the signed `token` into the sidebar's iframe, at the package's URL
with `origin` and `app_guid`, then the ZAF messages that name the ticket); the agent gives a
gesture in one click and the local Zendesk receives the apology with the code as a comment on
the ticket. At 320 px nothing is cut off. Screenshots go to
test-artifacts/screenshots/ for the README.

There is no internet here: the ZAF SDK (static.zdassets.com) answers with an empty script, so
the panel speaks ZAF's messages itself (static/helpdesk/zendesk.js), as it does when the SDK
cannot load."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Frame, Page, Route, ViewportSize, expect

from tests.integrations.zendesk.zendesk import (
    ACCOUNT,
    APP_GUID,
    Zendesk,
    secrets_for,
    zaf_token,
    zendesk_account,
)
from tests.web.browser_watch import watch
from tests.web.live import LiveSite, live_site

SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
AGENT_ID, AGENT = 9101, "agent@demo.example"
TICKET = 35436
WAIT = 20_000  # ms: the comment goes through the worker

HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ticket #%(ticket)s · Lumière · Zendesk</title>
<style>
  body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: #2f3941; background: #f8f9f9;
         display: flex; min-height: 100vh; }
  nav { width: 60px; background: #03363d; }
  main { flex: 1; padding: 20px 28px; min-width: 0; }
  main h1 { font-size: 20px; margin: 0 0 4px; }
  .meta { color: #68737d; margin: 0 0 18px; }
  .tag { background: #e9ebed; border-radius: 3px; padding: 1px 6px; margin-right: 4px; }
  article { background: #fff; border: 1px solid #d8dcde; border-radius: 4px; padding: 14px;
            margin-bottom: 12px; max-width: 640px; }
  article b { display: block; margin-bottom: 4px; }
  aside { width: 320px; flex: none; border-left: 1px solid #d8dcde; background: #fff; }
  aside h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .05em; color: #68737d;
             margin: 0; padding: 10px 12px; border-bottom: 1px solid #d8dcde; }
  iframe { display: block; width: 320px; height: 480px; border: 0; }
</style></head>
<body>
<nav></nav>
<main>
  <h1>Where is my parcel?</h1>
  <p class="meta">#%(ticket)s · Lukas Gruber &lt;lukas@example.com&gt; · Priority: High ·
    <span class="tag">amends-late</span></p>
  <article><b>Lukas Gruber</b>My parcel was due on Monday and it still has not arrived. The
    tracking page has said "in transit" for six days. I needed it for my daughter's
    birthday.</article>
</main>
<aside><h2>Apps</h2><iframe id="app" name="amends_app" title="Amends"></iframe></aside>
<form id="load" method="post" target="amends_app" action="%(action)s">
  <input type="hidden" name="token" value="%(token)s"></form>
<script>
  // Zendesk's side of the ZAF messages (zendesk_app_framework_sdk, lib/client.js).
  const AMENDS = %(amends)s, TICKET = %(ticket)s;
  const frame = document.getElementById("app");
  window.zafMessages = [];
  window.addEventListener("message", (event) => {
    if (event.origin !== AMENDS || event.source !== frame.contentWindow) return;
    const data = JSON.parse(event.data);
    window.zafMessages.push(data);
    const reply = (message) => frame.contentWindow.postMessage(JSON.stringify(message), AMENDS);
    if (data.key === "iframe.handshake") {
      reply({key: "zaf.app.registered", message: {
        context: {product: "support", location: "ticket_sidebar", ticketId: TICKET},
        metadata: {appId: 1, installationId: 360001234567}}});
    } else if (data.request === "get") {
      const result = {};
      data.params.forEach((path) => { if (path === "ticket.id") result[path] = TICKET; });
      reply({id: data.id, result: result});
    } else if (data.request === "invoke" && data.params.resize) {
      frame.style.height = data.params.resize[0].height;
      reply({id: data.id, result: {}});
    }
  });
  document.getElementById("load").submit();
</script>
</body></html>
"""


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[LiveSite]:
    with live_site(sqlite_template, tmp_path_factory.mktemp("zendesk")) as live:
        yield live


@pytest.fixture(scope="module")
def zendesk() -> Iterator[Zendesk]:
    with zendesk_account() as account:
        yield account


@pytest.fixture(scope="module")
def installation(site: LiveSite, zendesk: Zendesk) -> dict[str, Any]:
    """The demo organisation's Zendesk installation, pointed at the local account, which may
    also frame the panel (its host page stands in for Zendesk's agent interface)."""
    answer = httpx.post(f"{site.url}/v1/helpdesk/installations",
                        headers={"Authorization": f"Bearer {site.keys['Admin']}"},
                        json={"platform": "zendesk", "account": ACCOUNT,
                              "name": "Lumière support",
                              "settings": {"frame_origins": [zendesk.origin]},
                              "secrets": secrets_for(zendesk)}, timeout=10)
    assert answer.status_code == 201, answer.text
    zendesk.agent(AGENT_ID, AGENT)
    zendesk.ticket(TICKET, requester={"external_id": "C-1005", "email": "lukas@example.com",
                                      "name": "Lukas Gruber"},
                   priority="high", tags=["amends-late"])
    return dict(answer.json())


def open_ticket(page: Page, zendesk: Zendesk, installation: dict[str, Any]) -> Frame:
    """The host page with a fresh signed token, as Zendesk loads the sidebar; returns the app's
    frame once the panel shows the ticket's customer."""
    zendesk.host_page = HOST_PAGE % {
        "ticket": TICKET, "token": zaf_token(sub=AGENT_ID),
        "action": f"{installation['urls']['panel']}?origin={zendesk.origin}"
                  f"&app_guid={APP_GUID}",
        "amends": json.dumps(installation["urls"]["panel"].split("/helpdesk/")[0])}
    page.goto(f"{zendesk.url}/agent/tickets/{TICKET}")
    app = page.frame_locator("#app")
    expect(app.locator("#who-h")).to_have_text("Lukas Gruber")
    frame = page.frame(name="amends_app")
    assert frame is not None
    return frame


def offline_sdk(route: Route) -> None:
    route.fulfill(status=200, content_type="text/javascript", body="/* offline */")


def test_the_agent_gives_a_gesture_from_the_zendesk_sidebar_and_the_ticket_gets_the_code(
        site: LiveSite, zendesk: Zendesk, installation: dict[str, Any]) -> None:
    context = site.browser.new_context(viewport=ViewportSize(width=1280, height=900))
    context.set_default_timeout(15_000)
    context.route("https://static.zdassets.com/**", offline_sdk)
    problems = watch(context)
    page = context.new_page()
    try:
        frame = open_ticket(page, zendesk, installation)
        # The panel asked Zendesk's page for the ticket's id, and nothing else named it.
        asked = page.evaluate("window.zafMessages.map(m => m.key || m.request)")
        assert asked[:2] == ["iframe.handshake", "get"]
        app = page.frame_locator("#app")
        # The ticket's tag and priority chose the reason and the severity.
        expect(app.get_by_label("Reason")).to_have_value("late_delivery")
        expect(app.get_by_label("Severity")).to_have_value("4")
        assert zendesk.puts == []

        button = app.locator("[data-give]").first
        gesture = button.get_attribute("data-give")
        button.click()
        expect(app.get_by_role("status").first).to_contain_text(
            "Given: the apology with the code is being posted to the ticket.")
        code = app.locator("[data-coupon] code").first.inner_text().strip().replace("-", "")

        deadline = time.monotonic() + WAIT / 1000
        while not zendesk.comments(str(TICKET)) and time.monotonic() < deadline:
            time.sleep(0.2)
        [comment] = zendesk.comments(str(TICKET))
        assert comment["public"] is True
        assert code in comment["body"].replace("-", "")
        assert "Lukas" in comment["body"]
        assert gesture

        # At 320 px (the sidebar's width) nothing is cut off or scrolls sideways.
        width = frame.evaluate("document.documentElement.clientWidth")
        assert width == 320
        wide = frame.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, frame.evaluate(
            "[...document.querySelectorAll('body *')].filter(e => "
            "e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)"
            ".slice(0, 5).map(e => e.tagName + '.' + e.className)")
        page.wait_for_timeout(300)  # the frame took its content's height
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "helpdesk-zendesk-desktop.png", full_page=True)
        page.locator("#app").screenshot(path=SCREENSHOTS / "helpdesk-zendesk-320.png")
        assert problems == [], "\n".join(problems)
    finally:
        context.close()


# A stand-in for the ZAF SDK with its documented client API (ZAFClient.init(), client.get(),
# client.invoke(); https://developer.zendesk.com/api-reference/apps/apps-core-api/client_api/),
# answering from the host page's ticket.
SDK_STAND_IN = """
window.ZAFClient = {init: function () {
  window.sdkUsed = true;
  return {
    get: function (path) { return Promise.resolve({[path]: window.parent.TICKET_ID}); },
    invoke: function () { return Promise.resolve({}); }
  };
}};
"""


def test_with_zendesks_sdk_loaded_the_panel_asks_it_for_the_ticket(
        site: LiveSite, zendesk: Zendesk, installation: dict[str, Any]) -> None:
    context = site.browser.new_context(viewport=ViewportSize(width=1280, height=900))
    context.set_default_timeout(15_000)
    context.route("https://static.zdassets.com/**", lambda route: route.fulfill(
        status=200, content_type="text/javascript",
        body=SDK_STAND_IN.replace("window.parent.TICKET_ID", str(TICKET))))
    problems = watch(context)
    page = context.new_page()
    try:
        frame = open_ticket(page, zendesk, installation)
        assert frame.evaluate("window.sdkUsed") is True
        # The SDK spoke to Zendesk's page, not the panel's own messages.
        assert page.evaluate("window.zafMessages.length") == 0
        assert problems == [], "\n".join(problems)
    finally:
        context.close()


def test_a_replayed_load_shows_the_refusal_in_the_sidebar(
        site: LiveSite, zendesk: Zendesk, installation: dict[str, Any]) -> None:
    context = site.browser.new_context(viewport=ViewportSize(width=1280, height=900))
    context.set_default_timeout(15_000)
    context.route("https://static.zdassets.com/**", offline_sdk)
    page = context.new_page()
    try:
        open_ticket(page, zendesk, installation)
        # The same page again carries the same token: Amends refuses it, in words.
        page.reload()
        expect(page.frame_locator("#app").locator("[data-refused]")).to_contain_text(
            "This signed request was used before.")
    finally:
        context.close()
