"""Finance's exports from the dashboard, in real Chromium on the demo with three weeks of
history: the manager picks a period, downloads every gesture and every redemption at desktop
and at phone width, and the files hold what the database holds; a period that ends before it
starts is explained beside the form. Photographed (`dashboard-export-*`)."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from amends.exports.service import GESTURE_COLUMNS, REDEMPTION_COLUMNS
from tests.web.live import LiveSite, live_site, signed_in_as
from tests.web.test_console_tour import DESKTOP, PHONE, photograph

MANAGER = "manager@demo.example"
MONEY = re.compile(r"^\d+\.\d\d$")
MOMENT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[LiveSite]:
    with live_site(sqlite_template, tmp_path_factory.mktemp("exports"), history_cases=80,
                   history_days=21) as live:
        yield live


def _database(site: LiveSite, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(site.database) as db:
        return db.execute(sql, {"slug": site.slug}).fetchall()


def _download(page: Page, button: str, filename: str) -> list[dict[str, str]]:
    with page.expect_download() as download:
        page.get_by_role("button", name=button).click()
    assert download.value.suggested_filename == filename
    text = Path(download.value.path()).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_a_manager_downloads_every_gesture_and_redemption_of_a_period_from_the_dashboard(
    site: LiveSite
) -> None:
    # Forty days around the three weeks of history hold all of it, in any time zone.
    last = datetime.now(UTC).date() + timedelta(days=1)
    first = last - timedelta(days=40)
    org = "(SELECT id FROM organizations WHERE slug = :slug)"
    gestures_held = _database(site, "SELECT code, face_value FROM coupons "
                                    f"WHERE organization_id = {org}")
    redemptions_held = _database(site, "SELECT order_id, discount, status FROM redemptions "
                                       f"WHERE organization_id = {org}")
    assert len(gestures_held) > 50
    assert redemptions_held
    names = (f"gestures-{first}-{last}.csv", f"redemptions-{first}-{last}.csv")
    for viewport in (DESKTOP, PHONE):
        with signed_in_as(site.browser, site.url, MANAGER, viewport, org=site.slug) as page:
            page.goto("/dashboard")
            export = page.get_by_role("form", name="Export for finance")
            export.get_by_label("First day").fill(first.isoformat())
            export.get_by_label("Last day").fill(last.isoformat())
            export.scroll_into_view_if_needed()
            if viewport is DESKTOP:
                photograph(page, "dashboard-export")

            gestures = _download(page, "Download gestures", names[0])
            assert list(gestures[0]) == list(GESTURE_COLUMNS)
            assert sorted((row["code"].replace("-", ""), row["face_value"])
                          for row in gestures) == sorted(
                (str(code), f"{int(str(value)) // 100}.{int(str(value)) % 100:02d}")
                for code, value in gestures_held)
            assert all(MOMENT.match(row["issued_at"]) for row in gestures)
            assert all(MONEY.match(row["cost"]) for row in gestures)
            assert {row["agent"] for row in gestures} >= {"agent@demo.example"}

            redemptions = _download(page, "Download redemptions", names[1])
            assert list(redemptions[0]) == list(REDEMPTION_COLUMNS)
            assert sorted((row["order_id"], row["amount"], row["status"])
                          for row in redemptions) == sorted(
                (str(order), f"{int(str(value)) // 100}.{int(str(value)) % 100:02d}",
                 str(status)) for order, value, status in redemptions_held)
            assert {row["code"] for row in redemptions} <= {row["code"] for row in gestures}

            # The last day before the first: nothing is downloaded, the form says why.
            export.get_by_label("First day").fill(last.isoformat())
            export.get_by_label("Last day").fill(first.isoformat())
            export.get_by_role("button", name="Download redemptions").click()
            expect(page.get_by_role("alert")).to_have_text(
                "The last day is before the first: swap them.")
            expect(page.get_by_role("form", name="Export for finance")
                   .get_by_label("First day")).to_have_value(last.isoformat())
            if viewport is DESKTOP:
                photograph(page, "dashboard-export-refused")
