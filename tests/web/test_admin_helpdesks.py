"""The helpdesk apps' admin page in real Chromium, on a real server with the demo's
organisation: an admin finds it from the admin home, installs Zendesk (its secrets typed into
password fields, never shown back), reads the addresses to paste, downloads the package made
for the installation, installs Intercom (no package: its Canvas Kit URLs instead), pauses and
resumes, uninstalls; axe-core finds nothing serious. Photographed at desktop and phone
width (admin-helpdesks-*)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.web.axe import assert_accessible
from tests.web.live import LiveSite, live_site, signed_in_as
from tests.web.test_console_tour import DESKTOP, photograph

ADMIN = "admin@demo.example"
API_TOKEN = "zd-api-token-not-a-credential"


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    with live_site(sqlite_template, tmp_path_factory.mktemp("admin-helpdesks")) as live:
        yield live


def install(page: Page, helpdesk: str, account: str, secrets: dict[str, str]) -> None:
    section = page.locator(f"#install-{helpdesk.lower()}")
    if section.locator("details").get_attribute("open") is None:
        section.locator("summary").click()
    section.get_by_label("Account").fill(account)
    for name, value in secrets.items():
        section.get_by_label(name).fill(value)
    section.get_by_role("button", name=f"Install in {helpdesk}").click()


def test_an_admin_installs_zendesk_and_intercom_and_gets_what_to_paste_and_upload(
        site: LiveSite) -> None:
    with signed_in_as(site.browser, site.url, ADMIN, DESKTOP, org=site.slug) as page:
        page.goto("/admin")
        page.get_by_role("link", name="Helpdesk apps").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Helpdesk apps")
        expect(page.get_by_text("No helpdesk yet")).to_be_visible()

        section = page.locator("#install-zendesk")
        section.locator("summary").click()
        section.get_by_label("Tags that open a case").fill("late-parcel = late_delivery\n"
                                                           "oops")
        install(page, "Zendesk", "demo-shop", {"api_email": "bot@demo.example",
                                               "api_token": API_TOKEN})
        # Refused in words; what was typed is kept, but the secrets.
        expect(page.get_by_role("alert")).to_contain_text(
            "Line 2: write each tag as tag = reason")
        section = page.locator("#install-zendesk")
        expect(section.get_by_label("Account")).to_have_value("demo-shop")
        expect(section.get_by_label("api_token")).to_have_value("")
        section.get_by_label("Tags that open a case").fill("late-parcel = late_delivery\n"
                                                           "amends-lost = lost_parcel")
        section.get_by_label("Post the apology as").select_option("note")
        section.get_by_label("api_email").fill("bot@demo.example")
        section.get_by_label("api_token").fill(API_TOKEN)
        section.get_by_role("button", name="Install in Zendesk").click()
        expect(page.get_by_role("status")).to_contain_text("Zendesk installed")

        card = page.locator("[data-installation='zendesk:demo-shop']")
        panel = card.locator("[data-url=panel]")
        expect(panel).to_contain_text(f"/helpdesk/{site.slug}/")
        expect(panel).to_contain_text("/zendesk")
        expect(card.locator("[data-url=events]")).to_contain_text("/zendesk/events")
        assert API_TOKEN not in page.content()
        with page.expect_download() as download:
            card.get_by_role("link", name="Download package").click()
        assert download.value.suggested_filename == "amends-zendesk-demo-shop.zip"
        with zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes())) as archive:
            manifest = json.loads(archive.read("manifest.json"))
        assert manifest["location"]["support"]["ticket_sidebar"]["url"] == panel.inner_text()

        card.get_by_text("Settings and secrets").click()
        expect(card.get_by_label("Post the apology as")).to_have_value("note")
        expect(card.get_by_label("api_token")).to_have_value("")
        expect(card.get_by_label("api_token")).to_have_attribute(
            "placeholder", "set — leave empty to keep")

        install(page, "Intercom", "ecahpwf5", {"client_secret": "intercom-client-secret"})
        expect(page.get_by_role("status")).to_contain_text("Intercom installed")
        intercom = page.locator("[data-installation='intercom:ecahpwf5']")
        expect(intercom.locator("[data-url=initialize]")).to_contain_text("/initialize")
        expect(intercom.locator("[data-url=submit]")).to_contain_text("/submit")
        expect(intercom.get_by_role("link", name="Download package")).to_have_count(0)

        intercom.get_by_role("button", name="Pause").click()
        expect(page.get_by_role("status")).to_contain_text("paused")
        intercom = page.locator("[data-installation='intercom:ecahpwf5']")
        expect(intercom.locator("[data-installation-state]")).to_have_text("Paused")
        page.locator("[data-installation='zendesk:demo-shop']").get_by_text(
            "Settings and secrets").click()
        photograph(page, "admin-helpdesks")
        page.locator("#install-freshdesk summary").click()
        assert_accessible(page, "the helpdesk apps' admin page")

        intercom.get_by_role("button", name="Resume").click()
        expect(page.locator("[data-installation='intercom:ecahpwf5'] "
                            "[data-installation-state]")).to_have_text("Active")
        intercom = page.locator("[data-installation='intercom:ecahpwf5']")
        intercom.locator("details.confirm summary").click()
        intercom.get_by_role("button", name="Uninstall Intercom").click()
        expect(page.get_by_role("status")).to_contain_text("uninstalled")
        expect(page.locator("[data-installation='intercom:ecahpwf5']")).to_have_count(0)
        expect(page.locator("[data-installation='zendesk:demo-shop']")).to_have_count(1)
