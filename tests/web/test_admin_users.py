"""The Users and API keys admin pages in real Chromium, on a real server with the demo data
and its embedded worker, e-mail going to a real SMTP server (aiosmtpd): an admin invites a
person, whose invitation arrives; they open its link, choose a password and log in. The admin
creates an API key (its secret shown once), the API accepts it and the page says when it was
last used; once revoked it gets 401.

Pages are photographed at desktop and phone width into test-artifacts/screenshots/
admin-users-*.png, admin-api-keys-*.png and set-password-*.png."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from amends.demo import DEMO_PASSWORD
from tests.receivers import Mailbox, smtp_server
from tests.web.browser_watch import watch
from tests.web.live import live_site

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=390, height=844)
ADMIN = "admin@demo.example"
WAIT = 20.0  # seconds: the invitation goes through the worker and SMTP


@dataclass
class Server:
    url: str
    admin_key: str
    mailbox: Mailbox
    browser: Browser
    slug: str


@pytest.fixture(scope="module")
def server(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("admin-users")
    with smtp_server() as mailbox, \
            live_site(sqlite_template, folder, history_cases=20, history_days=3) as live:
        channel = httpx.put(
            f"{live.url}/v1/channels/email",
            headers={"Authorization": f"Bearer {live.keys['Admin']}"},
            json={"settings": {"host": mailbox.host, "port": mailbox.port,
                               "security": "none", "from_address": "care@demo.example"}})
        assert channel.status_code == 200, channel.text
        yield Server(url=live.url, admin_key=live.keys["Admin"], mailbox=mailbox,
                     browser=live.browser, slug=live.slug)


@contextmanager
def browsing(server: Server) -> Iterator[Page]:
    """A browser of its own, logged in to nobody yet; fails on any console error."""
    context = server.browser.new_context(viewport=DESKTOP, base_url=server.url)
    context.set_default_timeout(10_000)
    problems = watch(context)
    try:
        yield context.new_page()
        assert problems == [], "\n".join(problems)
    finally:
        context.close()


def log_in(page: Page, email: str, password: str, org: str) -> None:
    page.goto("/login")
    page.get_by_label("Organisation").fill(org)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def photograph(page: Page, name: str) -> None:
    """The page whole at desktop and phone width; on a phone nothing but a table inside its
    card may need scrolling sideways."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], name
    page.set_viewport_size(DESKTOP)


def arrived(mailbox: Mailbox, address: str) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = mailbox.to(address)
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no e-mail reached {address}")


def test_an_admin_invites_a_person_who_chooses_a_password_from_the_email_and_logs_in(
    server: Server
) -> None:
    with browsing(server) as admin:
        log_in(admin, ADMIN, DEMO_PASSWORD, server.slug)
        admin.goto("/admin")
        admin.get_by_role("link", name="Users").click()
        expect(admin.get_by_role("heading", name="Users", level=1)).to_be_visible()
        invite = admin.locator("form[action='/admin/users']")
        invite.get_by_label("Name").fill("Jo Newcomer")
        invite.get_by_label("E-mail").fill("jo@demo.example")
        invite.get_by_label("Role").select_option("agent")
        invite.get_by_label("Team").fill("Care team")
        invite.get_by_role("button", name="Send the invitation").click()
        expect(admin.get_by_role("status")).to_contain_text(
            "Jo Newcomer is invited: the link to choose a password is on its way to "
            "jo@demo.example.")
        row = admin.locator("tr[data-email='jo@demo.example']")
        expect(row).to_contain_text("Invited, no password yet")
        photograph(admin, "admin-users")

        email = arrived(server.mailbox, "jo@demo.example")
        assert "invited" in str(email["Subject"])
        text = email.get_body(preferencelist=("plain",)).get_content()
        assert "Ada Admin invited you." in text
        link = re.search(r"(http://127\.0\.0\.1:\d+/set-password/\S+)", text)
        assert link is not None, text

        with browsing(server) as newcomer:
            newcomer.goto(link.group(1))
            expect(newcomer.get_by_text("Welcome, Jo Newcomer.")).to_be_visible()
            photograph(newcomer, "set-password")
            newcomer.get_by_label("New password").fill("jo's long new password")
            newcomer.get_by_label("The same password again").fill("jo's long new password")
            newcomer.get_by_role("button", name="Set my password").click()
            expect(newcomer.get_by_role("status")).to_contain_text(
                "Thank you, Jo Newcomer: your password is set.")
            log_in(newcomer, "jo@demo.example", "jo's long new password", server.slug)
            expect(newcomer.get_by_role("heading", name=re.compile("^Welcome"))).to_be_visible()
            newcomer.goto(link.group(1))
            expect(newcomer.get_by_role("alert")).to_contain_text("already used")

        admin.reload()
        expect(row).to_contain_text("Active")
        expect(row).not_to_contain_text("Never")


def test_an_admin_creates_a_key_sees_its_secret_once_and_revokes_it(server: Server) -> None:
    with browsing(server) as admin:
        log_in(admin, ADMIN, DEMO_PASSWORD, server.slug)
        admin.goto("/admin/api-keys")
        admin.get_by_label("Name").fill("Helpdesk reader")
        admin.get_by_role("checkbox", name=re.compile("cases:read")).check()
        admin.get_by_role("button", name="Create the key").click()
        secret = admin.get_by_label("Secret of the new key")
        expect(secret).to_have_value(re.compile("^amk_"))
        token = secret.input_value()
        photograph(admin, "admin-api-keys")
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{server.url}/v1/cases", headers=headers).status_code == 200

        admin.goto("/admin/api-keys")
        expect(admin.get_by_label("Secret of the new key")).to_have_count(0)
        assert token not in admin.content()
        row = admin.locator("tr[data-key='Helpdesk reader']")
        expect(row).to_contain_text("cases:read")
        expect(row).to_contain_text("by Ada Admin")
        # The use is stamped after the answer, in a transaction of its own.
        deadline = time.monotonic() + WAIT
        while "Never" in row.locator("[data-last-used]").inner_text():
            assert time.monotonic() < deadline, "the key's use was not recorded"
            admin.reload()
        row.get_by_text("Revoke", exact=True).click()
        row.get_by_role("button", name="Revoke Helpdesk reader").click()
        expect(admin.get_by_role("status")).to_contain_text("The key Helpdesk reader is revoked.")
        expect(row).to_contain_text("Revoked")
        refused = httpx.get(f"{server.url}/v1/cases", headers=headers)
        assert refused.status_code == 401
        assert refused.json()["code"] == "invalid_api_key"
