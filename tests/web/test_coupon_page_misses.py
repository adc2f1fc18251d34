"""Coupon-page links that lead nowhere are limited per address, so page tokens cannot be
guessed; customers elsewhere still open theirs."""

from __future__ import annotations

from amends.config import Settings
from amends.db import Database
from tests.factories import make_coupon, make_org
from tests.peers import application, from_address


async def test_guessing_coupon_page_links_gets_a_429_page_from_that_address_only(
    settings: Settings, db: Database
) -> None:
    tenant = await make_org(db)
    coupon = await make_coupon(db, tenant)
    page = f"/c/{coupon.page_token}"
    html = {"Accept": "text/html"}
    async with application(settings, coupon_page_misses_per_minute=3) as app, \
            from_address(app, "203.0.113.9") as guesser, \
            from_address(app, "198.51.100.20") as customer:
        for n in range(3):  # forged forwarded addresses change nothing: no proxy is trusted
            miss = await guesser.get(f"/c/guess-{n}", headers={
                **html, "X-Forwarded-For": f"192.0.2.{n}"})
            assert miss.status_code == 404
        blocked = await guesser.get("/c/guess-4", headers=html)
        assert blocked.status_code == 429
        assert blocked.headers["content-type"].startswith("text/html")
        assert int(blocked.headers["retry-after"]) > 0
        # A right guess from there tells nothing either.
        assert (await guesser.get(page, headers=html)).status_code == 429
        opened = await customer.get(page, headers=html)
        assert opened.status_code == 200
        assert "Ready to use" in opened.text
