"""The webhooks, audit log and organisation settings pages in real Chromium, on a real server
with the demo's organisation: an admin creates a webhook endpoint to a real local receiver
(its secret shown once), an event reaches it and shows in the delivery log with its payload
and the receiver's answer, a resend reaches it again with the same webhook-id; reads the
audit entry of each change and opens its before and after; changes the feedback delay and
the brand colour and sees them kept. Photographed at desktop and phone width
(admin-webhooks-*, admin-webhook-*, admin-audit-*, admin-audit-entry-*, admin-settings-*)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from standardwebhooks.webhooks import Webhook

from tests.receivers import Receiver, http_receiver
from tests.web.live import live_site, signed_in_as
from tests.web.test_console_tour import DESKTOP, photograph

ADMIN = "admin@demo.example"
WAIT = 20_000  # ms: deliveries go through the embedded worker


@dataclass
class Site:
    url: str
    admin_key: str
    receiver: Receiver
    browser: Browser
    slug: str


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("admin-settings")
    with http_receiver(reply=b'{"stored":true}') as receiver, \
            live_site(sqlite_template, folder) as live:
        yield Site(url=live.url, admin_key=live.keys["Admin"], receiver=receiver,
                   browser=live.browser, slug=live.slug)


@contextmanager
def admin_page(site: Site) -> Iterator[Page]:
    with signed_in_as(site.browser, site.url, ADMIN, DESKTOP, org=site.slug) as page:
        yield page


def _reload_until(page: Page, seen: Callable[[], bool]) -> None:
    """The delivery log is a plain page: reload it until the worker's work shows."""
    for _ in range(WAIT // 250):
        if seen():
            return
        page.wait_for_timeout(250)
        page.reload()
    assert seen()


def _open_case(site: Site) -> None:
    """Something happens elsewhere: an integration opens a case through the API."""
    opened = httpx.post(f"{site.url}/v1/cases", headers={
        "Authorization": f"Bearer {site.admin_key}"}, json={
        "customer_id": "C-1001", "reason": "late_delivery", "severity": 2, "channel": "email"})
    assert opened.status_code == 201, opened.text


def test_an_admin_creates_a_webhook_sees_the_delivery_and_resends_it(site: Site) -> None:
    with admin_page(site) as page:
        page.goto("/admin")
        page.get_by_role("link", name="Webhooks").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Webhooks")
        page.get_by_label("Receiver's address").fill("ftp://nowhere")
        page.get_by_role("button", name="Add the endpoint").click()
        expect(page.locator("#url-error")).to_contain_text("https://")
        page.get_by_label("Receiver's address").fill(site.receiver.url + "/amends")
        page.get_by_label("Description").fill("Our CRM")
        page.get_by_label("A case is opened").check()
        page.get_by_role("button", name="Add the endpoint").click()
        expect(page.get_by_role("status")).to_contain_text("shown this once")
        secret = page.locator("#secret").inner_text().strip()
        assert secret.startswith("whsec_")
        photograph(page, "admin-webhooks")
        page.reload()  # the secret is not shown again
        expect(page.locator("#secret")).to_have_count(0)
        expect(page.get_by_text(secret)).to_have_count(0)

        _open_case(site)
        page.get_by_role("link", name=site.receiver.url + "/amends").click()
        row = page.locator("tr.delivery").first
        _reload_until(page, lambda: "Delivered" in (row.text_content() or ""))
        expect(row).to_contain_text("case.opened")
        expect(row.locator(".status")).to_have_text("Delivered")
        expect(row.locator("td.num").nth(1)).to_have_text("200")
        page.get_by_text("Payload and answer").first.click()
        expect(page.locator("pre.payload").first).to_contain_text('"type": "case.opened"')
        expect(page.locator("pre.answer").first).to_contain_text('"stored": true')
        assert len(site.receiver.requests) == 1
        first = site.receiver.requests[0]
        assert Webhook(secret).verify(first.body.decode(), first.headers)["type"] == \
            "case.opened"

        row.get_by_role("button", name="Resend").click()
        expect(page.get_by_role("status")).to_contain_text("same webhook-id")
        for _ in range(80):
            if len(site.receiver.requests) == 2:
                break
            page.wait_for_timeout(250)
        assert len(site.receiver.requests) == 2
        again = site.receiver.requests[1]
        assert again.headers["webhook-id"] == first.headers["webhook-id"]
        assert Webhook(secret).verify(again.body.decode(), again.headers) == \
            Webhook(secret).verify(first.body.decode(), first.headers)
        _reload_until(page, lambda: page.locator("tr.delivery .status-delivered").count() == 2)
        expect(page.locator("tr.delivery")).to_have_count(2)
        photograph(page, "admin-webhook")

        page.get_by_role("button", name="Rotate the secret").click()
        expect(page.get_by_role("status")).to_contain_text("Shown this once")
        assert page.locator("#secret").inner_text().strip() not in ("", secret)


def test_an_admin_changes_settings_and_reads_each_change_in_the_audit_log(site: Site) -> None:
    with admin_page(site) as page:
        page.goto("/admin")
        page.get_by_role("link", name="Organisation settings").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Organisation settings")
        messages = page.locator("#messages")
        messages.get_by_label("Ask for feedback after a fix (days)").fill("400")
        messages.get_by_role("button", name="Save messages").click()
        expect(page.get_by_role("alert").first).to_contain_text("Nothing was saved")
        expect(page.locator("#feedback_delay_days-error")).to_have_text(
            "Enter a number from 0 to 365.")
        page.locator("#messages").get_by_label("Ask for feedback after a fix (days)").fill("6")
        page.locator("#messages").get_by_role("button", name="Save messages").click()
        expect(page.get_by_role("status")).to_have_text("Settings saved.")
        expect(page.get_by_label("Ask for feedback after a fix (days)")).to_have_value("6")

        page.get_by_label("Colour").fill("#7a1f3d")
        page.get_by_role("button", name="Save the brand").click()
        expect(page.get_by_role("status")).to_contain_text("Brand saved")
        expect(page.get_by_label("Colour")).to_have_value("#7a1f3d")
        page.reload()
        expect(page.get_by_label("Ask for feedback after a fix (days)")).to_have_value("6")
        expect(page.get_by_label("Colour")).to_have_value("#7a1f3d")
        photograph(page, "admin-settings")

        page.goto("/admin")
        page.get_by_role("link", name="Audit log").click()
        page.get_by_label("Action").fill("organization.updated")
        page.get_by_role("button", name="Filter").click()
        entries = page.locator("table.audit tbody tr")
        expect(entries).to_have_count(1)
        expect(entries.first).to_contain_text(ADMIN)
        photograph(page, "admin-audit")
        entries.first.get_by_role("link").click()
        changed = page.locator("tr.changed")
        expect(changed).to_have_count(1)
        expect(changed.locator("th")).to_contain_text("feedback_delay_days")
        expect(changed.locator("td").nth(0)).to_have_text("3")
        expect(changed.locator("td").nth(1)).to_have_text("6")
        photograph(page, "admin-audit-entry")

        for action, field in (("organization.brand_updated", "brand_color"),
                              ("webhook_endpoint.created", "url"),
                              ("webhook_delivery.resent", "event_id"),
                              ("webhook_endpoint.secret_rotated", None)):
            page.goto("/admin/audit")
            page.get_by_label("Action").fill(action)
            page.get_by_role("button", name="Filter").click()
            expect(page.locator("table.audit tbody tr")).to_have_count(1)
            page.locator("table.audit tbody tr").first.get_by_role("link").click()
            expect(page.get_by_role("heading", level=1)).to_have_text(action)
            if field:
                expect(page.locator("table.before-after")).to_contain_text(field)

        page.goto("/admin/audit?action=organization.updated")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download these entries as CSV").click()
        text = Path(download.value.path()).read_text()
        assert text.splitlines()[0].startswith("created_at,actor_type")
        assert len(text.strip().splitlines()) == 2
        assert "feedback_delay_days" in text
