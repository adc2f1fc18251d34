"""The channel and template admin pages in real Chromium, on a real server with the demo's
organisation: an admin points the e-mail channel at a real SMTP server and sends a test
message that arrives; saves a webhook channel whose secret is never shown back and is kept
when left empty; edits the French gesture e-mail, watches the preview follow the typing,
saves and resets it; then reads each change in the audit log through the API. The pages are
photographed at desktop and phone width (admin-channels-*, admin-templates-*,
admin-template-edit-*)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.receivers import Mailbox, smtp_server
from tests.web.live import live_site, signed_in_as
from tests.web.test_console_tour import DESKTOP, photograph

ADMIN = "admin@demo.example"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # a test key, not a credential


@dataclass
class Site:
    url: str
    admin_key: str
    mailbox: Mailbox
    browser: Browser
    slug: str


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("admin-channels")
    with smtp_server() as mailbox, live_site(sqlite_template, folder) as live:
        yield Site(url=live.url, admin_key=live.keys["Admin"], mailbox=mailbox,
                   browser=live.browser, slug=live.slug)


@contextmanager
def admin_page(site: Site) -> Iterator[Page]:
    with signed_in_as(site.browser, site.url, ADMIN, DESKTOP, org=site.slug) as page:
        yield page


def _audit(site: Site, action: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{site.url}/v1/audit-events", params={"action": action},
                       headers={"Authorization": f"Bearer {site.admin_key}"})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def test_an_admin_sets_up_email_and_a_test_message_arrives(site: Site) -> None:
    with admin_page(site) as page:
        page.goto("/admin")
        page.get_by_role("link", name="Channels").click()
        email = page.locator("#channel-email")
        email.get_by_label("SMTP server").fill(site.mailbox.host)
        email.get_by_label("Port").fill("not a port")
        email.get_by_label("Security").select_option("none")
        email.get_by_label("Sender").fill("Demo care <care@demo.example>")
        email.get_by_role("button", name="Save E-mail").click()
        # Refused as the API refuses it, the field named in words, what was typed kept.
        expect(page.get_by_role("alert")).to_contain_text("not saved")
        email = page.locator("#channel-email")
        expect(email.locator(".field-error")).to_have_text("A whole number, such as 587.")
        expect(email.get_by_label("SMTP server")).to_have_value(site.mailbox.host)
        email.get_by_label("Port").fill(str(site.mailbox.port))
        email.get_by_role("button", name="Save E-mail").click()
        expect(page.get_by_role("status")).to_have_text("E-mail saved.")

        email = page.locator("#channel-email")
        email.get_by_label("Send a test message to").fill("ada@demo.example")
        email.get_by_role("button", name="Send a test message").click()
        expect(page.get_by_role("status")).to_contain_text(
            "the test message to ada@demo.example was accepted")
        [message] = site.mailbox.to("ada@demo.example")  # sent during the request
        assert "Test message from" in str(message["Subject"])

        # A secret is written, never shown back, and kept when its field is left empty.
        hook = page.locator("#channel-webhook")
        hook.get_by_label("Address").fill("https://hooks.demo.example/amends")
        hook.get_by_label("Signing secret").fill(WEBHOOK_SECRET)
        hook.get_by_role("button", name="Save Webhook").click()
        expect(page.get_by_role("status")).to_have_text("Webhook saved.")
        hook = page.locator("#channel-webhook")
        assert WEBHOOK_SECRET not in page.content()
        expect(hook.get_by_label("Signing secret")).to_have_value("")
        expect(hook).to_contain_text("set — leave empty to keep")
        hook.get_by_label("Active: send messages on this channel").uncheck()
        hook.get_by_role("button", name="Save Webhook").click()
        expect(page.get_by_role("status")).to_have_text("Webhook saved.")
        expect(page.locator("#channel-webhook .tag")).to_have_text("Off")
        photograph(page, "admin-channels")

    listed = httpx.get(f"{site.url}/v1/channels",
                       headers={"Authorization": f"Bearer {site.admin_key}"}).json()
    webhook = next(c for c in listed if c["channel"] == "webhook")
    assert webhook["settings"]["secret"] == "set"
    assert webhook["active"] is False
    configured = [e for e in _audit(site, "channel.configured") if e["object_id"] == "email"]
    assert configured
    assert configured[0]["actor_label"] == ADMIN
    [tested] = _audit(site, "channel.tested")
    assert tested["after"]["to"] == "ada@demo.example"
    assert tested["after"]["ok"] is True


def test_an_admin_edits_the_french_gesture_email_previews_saves_and_resets_it(
        site: Site) -> None:
    with admin_page(site) as page:
        page.goto("/admin/templates")
        row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Gesture"))
        french = row.get_by_role("link", name=re.compile("Gesture, fr$"))
        expect(french).to_have_text(re.compile("^Default"))
        photograph(page, "admin-templates")
        french.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Gesture · E-mail · fr")
        subject = page.get_by_label("Subject")
        expect(subject).to_have_value(re.compile("^Avec nos excuses"))
        expect(page.locator("#preview-subject")).to_contain_text("Avec nos excuses : 10,00")
        subject.fill("Pour vous, {{ customer_name }} : {{ gesture }}")
        expect(page.locator("#preview-subject")).to_have_text(
            re.compile("^Pour vous, Ann : 10,00"))
        # A draft that does not render says why, before anything is saved.
        page.get_by_label("Text", exact=True).fill("{{ gesture }")
        expect(page.locator("#preview-problem")).to_contain_text("does not render")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("alert").first).to_contain_text("Not saved")
        page.get_by_label("Text", exact=True).fill("{{ greeting }} {{ gesture }}: {{ code }}")
        page.get_by_role("button", name="Preview").click()
        expect(page.locator("#preview-text")).to_have_text(
            re.compile("^Bonjour Ann.*7KQ4M-2XD9R-TW3K8$"))
        # The HTML part as a mail program shows it, in its sandboxed frame, with the brand.
        mail = page.frame_locator("iframe[name=html-preview]")
        expect(mail.get_by_text("7KQ4M-2XD9R-TW3K8")).to_be_visible()
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_contain_text("Saved")
        expect(page.get_by_label("Subject")).to_have_value(
            "Pour vous, {{ customer_name }} : {{ gesture }}")
        photograph(page, "admin-template-edit")
        page.goto("/admin/templates")
        expect(french).to_have_text(re.compile("^Customised"))
        french.click()
        page.get_by_role("button", name="Reset to default").click()
        expect(page.get_by_role("status")).to_contain_text("default wording again")
        expect(page.get_by_label("Subject")).to_have_value(re.compile("^Avec nos excuses"))
        # An SMS counts its segments as it is typed: a "ç" makes it UCS-2.
        page.goto("/admin/templates/sms/gesture/fr")
        expect(page.locator("#preview-sms")).to_contain_text("GSM-7")
        page.get_by_label("Text", exact=True).fill("Reçu : {{ code }}")
        expect(page.locator("#preview-sms")).to_contain_text("1 segment · UCS-2")

    [saved] = _audit(site, "template.saved")
    assert saved["after"]["language"] == "fr"
    assert saved["after"]["subject"] == "Pour vous, {{ customer_name }} : {{ gesture }}"
    [reset] = _audit(site, "template.reset")
    assert reset["before"]["body_text"] == "{{ greeting }} {{ gesture }}: {{ code }}"
