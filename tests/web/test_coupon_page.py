"""The coupon page in real Chromium: code, QR that decodes to it, expiry, then the used state."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import zxingcpp
from PIL import Image
from playwright.async_api import async_playwright

from amends.actor import Actor
from amends.db import Database
from amends.kit import codes
from amends.redemptions import service as redemptions
from tests.factories import make_coupon, make_customer, make_org
from tests.web.browser_watch import watch_async

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AMENDS_DATABASE_URL": database_url, "AMENDS_EMBEDDED_WORKER": "false",
           "AMENDS_COOKIE_SECURE": "false", "AMENDS_LOG_LEVEL": "WARNING",
           "AMENDS_BASE_URL": f"http://127.0.0.1:{port}"}
    proc = subprocess.Popen([str(Path(sys.executable).with_name("amends")), "serve", "--port",
                             str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


async def test_the_coupon_page_shows_a_scannable_code_and_then_that_it_was_used(
    db: Database, database_url: str, backend: str
) -> None:
    tenant = await make_org(db)
    customer = await make_customer(db, tenant, external_id="C-1", name="Ann")
    coupon = await make_coupon(db, tenant, customer=customer, value=1500,
                               terms="One order. Not with other offers.")
    shown = codes.display(coupon.code)
    port = free_port()
    server = serve(database_url, port)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            phone_context = await browser.new_context(viewport={"width": 390, "height": 844},
                                                      device_scale_factor=2)
            problems = await watch_async(phone_context)
            phone = await phone_context.new_page()
            await phone.goto(f"http://127.0.0.1:{port}/c/{coupon.page_token}")
            assert await phone.locator(".code").inner_text() == shown
            assert "Ready to use" in await phone.locator(".status").inner_text()
            expiry = await phone.locator(".expiry").inner_text()
            assert f"{coupon.expires_at:%-d %B %Y}" in expiry
            assert "left)" in expiry  # the countdown ran
            qr_png = await phone.locator(".qr").screenshot()
            decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr_png)))
            assert [d.text for d in decoded] == [shown]
            # A standard QR code: many phone cameras and tills cannot read a Micro QR.
            assert [d.format for d in decoded] == [zxingcpp.BarcodeFormat.QRCode]
            bar_png = await phone.locator(".barcode").screenshot()
            bars = zxingcpp.read_barcodes(Image.open(io.BytesIO(bar_png)))
            assert [b.text for b in bars] == [coupon.code]
            await phone.screenshot(path=str(ARTIFACTS / f"coupon-phone-{backend}.png"),
                                   full_page=True)
            desktop_context = await browser.new_context(viewport={"width": 1280, "height": 900})
            desktop_problems = await watch_async(desktop_context)
            desktop = await desktop_context.new_page()
            await desktop.goto(f"http://127.0.0.1:{port}/c/{coupon.page_token}")
            await desktop.screenshot(path=str(ARTIFACTS / f"coupon-desktop-{backend}.png"),
                                     full_page=True)

            async with db.transaction() as session:
                await redemptions.redeem(session, Actor.system(tenant.id, "till"),
                                         redemptions.Order(
                                             code=coupon.code, order_amount=4000,
                                             customer_external_id="C-1", order_id="O-1",
                                             store_id="Leeds"))
            await phone.reload()
            status = await phone.locator(".status").inner_text()
            assert status.startswith("Used on")
            assert "Leeds" in status
            assert await phone.locator(".code").count() == 0
            await phone.screenshot(path=str(ARTIFACTS / f"coupon-used-phone-{backend}.png"),
                                   full_page=True)
            await browser.close()
            assert problems + desktop_problems == [], "\n".join(problems + desktop_problems)
    finally:
        server.terminate()
        server.wait(timeout=20)
