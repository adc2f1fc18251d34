"""The shipped HTML e-mail reads well on a desktop and on a phone: the code on one line, the
button to the coupon page, the brand's colour behind the header (screenshots kept in
test-artifacts/screenshots/)."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import async_playwright

from amends.delivery import templates

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


async def test_the_french_gesture_email_keeps_its_code_on_one_line_on_a_phone() -> None:
    context = {**templates.sample_context("fr-FR"), "greeting": "Bonjour Zoé Robert,",
               "brand_color": "#8a1538", "terms": "Une fois, hors soldes."}
    rendered = templates.render(*templates.default_template("gesture", "email", "fr"), context)
    assert rendered.html is not None
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            for width in (1280, 390):
                page = await browser.new_page(viewport={"width": width, "height": 900})
                await page.set_content(rendered.html)
                code = page.get_by_text(context["code"], exact=True)
                box = await code.bounding_box()
                assert box is not None
                line = await code.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)")
                assert box["height"] < 1.5 * line  # one line: never broken at a hyphen
                assert box["x"] + box["width"] <= width
                button = page.get_by_role("link", name="Afficher mon code")
                assert await button.get_attribute("href") == context["page_url"]
                assert await button.is_visible()
                header = await page.locator("td[bgcolor]").first.evaluate(
                    "e => getComputedStyle(e).backgroundColor")
                assert header == "rgb(138, 21, 56)"
                await page.screenshot(path=SHOTS / f"email-gesture-fr-{width}.png",
                                      full_page=True)
                await page.close()
        finally:
            await browser.close()
