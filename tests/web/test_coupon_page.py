"""The coupon page in real Chromium, as the customer reads it: in their language and zone, under
the organisation's brand, with a QR code and barcode that scan, a used state that reads as done,
an expired one that says what to do, and feedback controls large enough to tap.

One Chromium for the module (its event loop is the module's) and one server per backend: the run's
server on SQLite, a server of the module's own on the session's PostgreSQL database. Each test
makes its own organisation, so the tests need no database of their own."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
import zxingcpp
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from PIL import Image, ImageDraw
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy import update

import amends
from amends.actor import Actor
from amends.cases import service as cases
from amends.config import Settings
from amends.coupons import service as coupons
from amends.db import Database
from amends.kit import codes
from amends.kit.clock import utcnow
from amends.kit.translations import catalogue_path, translations
from amends.models import Coupon, Customer
from amends.redemptions import service as redemptions
from tests.conftest import BACKENDS, _truncate
from tests.factories import Tenant, make_coupon, make_customer, make_org
from tests.web.browser_watch import watch_async
from tests.web.live import CHROMIUM, CHROMIUM_ARGS, server_on, shared_server

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
T = TypeVar("T")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
FRENCH_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
                 "septembre", "octobre", "novembre", "décembre")

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The module's tests run on one backend after the other, each time against one server
    (`site`) on one database (`settings`)."""
    return str(request.param)


@pytest.fixture(scope="module")
def settings(backend: str, request: pytest.FixtureRequest) -> Settings:
    """The module's database: the run's server's SQLite file, or the session's PostgreSQL
    (Citus) database, emptied once, before the module's server starts on it."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        url = f"sqlite+aiosqlite:///{shared_server(template).database}"
    else:
        url = request.getfixturevalue(f"{backend}_database")
        asyncio.run(_truncate(url, citus=backend == "citus"))
    return Settings(database_url=url, log_json=False, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def site(backend: str, settings: Settings, request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of the server that serves the module's database."""
    if backend == "sqlite":
        yield shared_server(request.getfixturevalue("sqlite_template")).url
        return
    log = tmp_path_factory.mktemp("coupon-page") / "server.log"
    with server_on(settings.database_url, log) as url:
        yield url


@asynccontextmanager
async def opened(browser: Browser, url: str, *, viewport: dict[str, int] = PHONE
                 ) -> AsyncIterator[Page]:
    """A page in a fresh browser context; what its Content-Security-Policy refused or what
    failed in its scripts fails the test."""
    context = await browser.new_context(viewport=viewport,  # type: ignore[arg-type]
                                        device_scale_factor=2 if viewport == PHONE else 1)
    context.set_default_timeout(10_000)
    problems = await watch_async(context)
    page = await context.new_page()
    await page.goto(url)
    try:
        yield page
    finally:
        await context.close()
    assert problems == [], "\n".join(problems)


async def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def spaces(text: str) -> str:
    """CLDR writes amounts with no-break spaces ("10,00\u202f€"): compared as plain ones."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


async def run(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """`work(db)` on the test's database, in the module's event loop."""
    db = Database(settings)
    try:
        return await work(db)
    finally:
        await db.dispose()


async def _redeem(db: Database, tenant: Tenant, coupon: Coupon, customer: Customer) -> None:
    async with db.transaction() as session:
        await redemptions.redeem(session, Actor.system(tenant.id, "till"), redemptions.Order(
            code=coupon.code, order_amount=4000, customer_external_id=customer.external_id,
            order_id=f"O-{coupon.code}", store_id="Lyon Part-Dieu"))


async def _expire(db: Database, coupon: Coupon) -> datetime:
    expired_at = utcnow() - timedelta(days=2, hours=5)
    async with db.transaction() as session:
        await session.execute(update(Coupon).where(
            Coupon.organization_id == coupon.organization_id, Coupon.id == coupon.id)
            .values(expires_at=expired_at))
    return expired_at


async def _french_shop(db: Database) -> tuple[Tenant, Customer, Coupon, Coupon]:
    tenant = await make_org(db)
    customer = await make_customer(db, tenant, external_id="C-ZOE", name="Zoé Robert",
                                   locale="fr-FR", time_zone="Europe/Paris")
    fresh = await make_coupon(db, tenant, customer=customer, value=1000, currency="EUR",
                              terms="Une commande. Non cumulable.")
    stale = await make_coupon(db, tenant, customer=customer, value=1000, currency="EUR",
                              name="Geste 2")
    return tenant, customer, fresh, stale


def in_paris(moment: datetime) -> str:
    """'14 mars 2027 à 09:30', written here without Babel to check the page's."""
    local = moment.astimezone(ZoneInfo("Europe/Paris"))
    return f"{local.day} {FRENCH_MONTHS[local.month - 1]} {local.year} à {local:%H:%M}"


async def test_a_french_customer_reads_the_page_in_french_with_euros_and_paris_time(
        browser: Browser, site: str, settings: Settings) -> None:
    tenant, customer, fresh, stale = await run(settings, _french_shop)
    shown = codes.display(fresh.code)
    async with opened(browser, f"{site}/c/{fresh.page_token}") as phone:
        assert await phone.locator("html").get_attribute("lang") == "fr"
        assert await phone.locator(".eyebrow").inner_text() == (
            "Un geste pour vous, Zoé Robert")
        assert spaces(await phone.locator("h1").inner_text()) == (
            "10,00 € de réduction sur votre prochaine commande")
        assert await phone.locator(".status").inner_text() == "Prêt à être utilisé"
        expiry = spaces(await phone.locator(".expiry").inner_text())
        assert f"Valable jusqu'au {in_paris(fresh.expires_at)}" in expiry
        assert "(encore 29 jours et 23 h)" in expiry  # the countdown, in French
        assert await phone.get_by_role("img", name=f"Code QR de {shown}").is_visible()
        assert await phone.get_by_role("img", name=f"Code-barres de {shown}").is_visible()
        assert "Présentez cette page en caisse" in await phone.locator(".how").inner_text()
        assert await phone.locator("summary").inner_text() == "Conditions"
        qr = zxingcpp.read_barcodes(Image.open(io.BytesIO(
            await phone.locator(".qr").screenshot())))
        assert [(d.text, d.format) for d in qr] == [(shown, zxingcpp.BarcodeFormat.QRCode)]
        await shoot(phone, "coupon-fr-fresh-390")
    async with opened(browser, f"{site}/c/{fresh.page_token}", viewport=DESKTOP) as desktop:
        await shoot(desktop, "coupon-fr-fresh-1280")

    await run(settings, lambda db: _redeem(db, tenant, fresh, customer))
    async with opened(browser, f"{site}/c/{fresh.page_token}") as phone:
        status = spaces(await phone.locator(".status").inner_text())
        assert status.startswith("Utilisé le ")
        assert status.endswith("· en magasin (Lyon Part-Dieu)")
        note = await phone.locator(".state-note").inner_text()
        assert "Vous n'avez plus rien à faire" in note
        assert await phone.locator(".code").count() == 0
        await shoot(phone, "coupon-fr-used-390")
    async with opened(browser, f"{site}/c/{fresh.page_token}", viewport=DESKTOP) as desktop:
        await shoot(desktop, "coupon-fr-used-1280")

    expired_at = await run(settings, lambda db: _expire(db, stale))
    async with opened(browser, f"{site}/c/{stale.page_token}") as phone:
        assert spaces(await phone.locator(".status").inner_text()) == (
            f"Expiré le {in_paris(expired_at)}")
        assert "Il n'est pas trop tard" in await phone.locator(".state-note").inner_text()
        assert await phone.locator(".code").count() == 0
        await shoot(phone, "coupon-fr-expired-390")
    async with opened(browser, f"{site}/c/{stale.page_token}", viewport=DESKTOP) as desktop:
        await shoot(desktop, "coupon-fr-expired-1280")


async def _austrian(db: Database) -> Coupon:
    tenant = await make_org(db)
    customer = await make_customer(db, tenant, name="Lukas Gruber", locale="de-AT",
                                   time_zone="Europe/Vienna")
    return await make_coupon(db, tenant, customer=customer, value=1000, currency="EUR")


async def test_an_austrian_customer_reads_german_with_austrian_amounts(
        browser: Browser, site: str, settings: Settings) -> None:
    coupon = await run(settings, _austrian)
    async with opened(browser, f"{site}/c/{coupon.page_token}") as phone:
        # No Austrian catalogue: German text, in Austrian formats (CLDR's de-AT: "€ 10,00").
        assert await phone.locator("html").get_attribute("lang") == "de"
        assert await phone.locator(".eyebrow").inner_text() == (
            "Eine kleine Aufmerksamkeit für Sie, Lukas Gruber")
        assert spaces(await phone.locator("h1").inner_text()).startswith("€ 10,00 Rabatt")
        assert await phone.locator(".status").inner_text() == "Bereit zum Einlösen"
        assert "Gültig bis zum" in await phone.locator(".expiry").inner_text()


async def _unknown_locale(db: Database) -> Coupon:
    tenant = await make_org(db)
    customer = await make_customer(db, tenant, name="Ana", locale="pt-BR")
    async with db.transaction() as session:
        org = await session.get(type(tenant.organization), tenant.id)
        assert org is not None
        org.default_locale = "es"
    return await make_coupon(db, tenant, customer=customer, value=1000, currency="EUR")


async def test_a_customer_in_a_language_we_do_not_write_reads_the_organisations_default(
        browser: Browser, site: str, settings: Settings) -> None:
    coupon = await run(settings, _unknown_locale)
    async with opened(browser, f"{site}/c/{coupon.page_token}") as phone:
        assert await phone.locator("html").get_attribute("lang") == "es"
        assert await phone.locator(".status").inner_text() == "Listo para usar"


async def _english(db: Database) -> tuple[Tenant, Customer, Coupon, Coupon, Coupon]:
    tenant = await make_org(db)
    customer = await make_customer(db, tenant, external_id="C-1", name="Ann")
    coupon = await make_coupon(db, tenant, customer=customer, value=1500,
                               terms="One order. Not with other offers.")
    stale = await make_coupon(db, tenant, customer=customer, value=1500, name="Second")
    withdrawn = await make_coupon(db, tenant, customer=customer, value=1500, name="Third")
    async with db.transaction() as session:
        await coupons.revoke_coupon(session, Actor.system(tenant.id, "tests"),
                                    coupon_id=withdrawn.id, reason="Issued twice")
    return tenant, customer, coupon, stale, withdrawn


async def test_the_coupon_page_shows_a_scannable_code_and_then_that_it_was_used(
        browser: Browser, site: str, settings: Settings) -> None:
    tenant, customer, coupon, stale, withdrawn = await run(settings, _english)
    shown = codes.display(coupon.code)
    async with opened(browser, f"{site}/c/{coupon.page_token}") as phone:
        assert await phone.locator("html").get_attribute("lang") == "en"
        assert await phone.locator(".code").inner_text() == shown
        assert await phone.locator(".status").inner_text() == "Ready to use"
        expiry = await phone.locator(".expiry").inner_text()
        # No zone of their own and an organisation in UTC: the zone is named.
        assert f"Valid until {coupon.expires_at:%B %-d, %Y} at" in expiry
        assert "UTC" in expiry
        assert "left)" in expiry  # the countdown ran
        qr = zxingcpp.read_barcodes(Image.open(io.BytesIO(
            await phone.locator(".qr").screenshot())))
        assert [d.text for d in qr] == [shown]
        # A standard QR code: many phone cameras and tills cannot read a Micro QR.
        assert [d.format for d in qr] == [zxingcpp.BarcodeFormat.QRCode]
        bars = zxingcpp.read_barcodes(Image.open(io.BytesIO(
            await phone.locator(".barcode").screenshot())))
        assert [b.text for b in bars] == [coupon.code]
        assert await phone.get_by_role("img", name=f"QR code of {shown}").is_visible()
        assert await phone.get_by_role("img", name=f"Barcode of {shown}").is_visible()
        await shoot(phone, "coupon-en-fresh-390")
    async with opened(browser, f"{site}/c/{coupon.page_token}", viewport=DESKTOP) as desktop:
        await shoot(desktop, "coupon-en-fresh-1280")

    await run(settings, lambda db: _redeem(db, tenant, coupon, customer))
    async with opened(browser, f"{site}/c/{coupon.page_token}") as phone:
        status = await phone.locator(".status").inner_text()
        assert status.startswith("Used on")
        assert status.endswith("· in store Lyon Part-Dieu")
        # Done, not an error: the check is green and nothing on the page is red.
        assert await phone.locator(".state-done").is_visible()
        colours = await phone.locator(".state").evaluate(
            "el => [getComputedStyle(el).backgroundColor,"
            " getComputedStyle(el.querySelector('.status')).color]")
        assert colours == ["rgb(238, 247, 240)", "rgb(30, 107, 52)"]
        assert await phone.locator(".code").count() == 0
        await shoot(phone, "coupon-en-used-390")
    async with opened(browser, f"{site}/c/{coupon.page_token}", viewport=DESKTOP) as desktop:
        await shoot(desktop, "coupon-en-used-1280")

    await run(settings, lambda db: _expire(db, stale))
    async with opened(browser, f"{site}/c/{stale.page_token}") as phone:
        assert (await phone.locator(".status").inner_text()).startswith("Expired on")
        assert "reply to our message" in await phone.locator(".state-note").inner_text()
        ink = await phone.locator(".status").evaluate("el => getComputedStyle(el).color")
        assert ink == "rgb(27, 31, 36)"  # the ink colour, not the danger red
        await shoot(phone, "coupon-en-expired-390")
    async with opened(browser, f"{site}/c/{stale.page_token}", viewport=DESKTOP) as desktop:
        await shoot(desktop, "coupon-en-expired-1280")

    async with opened(browser, f"{site}/c/{withdrawn.page_token}") as phone:
        assert await phone.locator(".status").inner_text() == "This gesture has been withdrawn"
        assert "we will look into it" in await phone.locator(".state-note").inner_text()
        assert await phone.locator(".code").count() == 0


def _logo(size: tuple[int, int]) -> bytes:
    """A wordmark-like logo: a dark disc and bars on transparency."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    height = size[1]
    draw.ellipse((4, 4, height - 4, height - 4), fill=(122, 31, 61, 255))
    for n, width in enumerate((size[0] - height - 20, (size[0] - height) // 2)):
        top = 16 + n * (height // 2 - 4)
        draw.rectangle((height + 8, top, height + 8 + width, top + height // 4),
                       fill=(40, 40, 40, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def _branded(db: Database) -> tuple[Tenant, Coupon]:
    tenant = await make_org(db)
    customer = await make_customer(db, tenant, name="Zoé Robert", locale="fr-FR",
                                   time_zone="Europe/Paris")
    return tenant, await make_coupon(db, tenant, customer=customer, value=1000,
                                     currency="EUR")


async def test_the_page_shows_the_brand_its_logo_colour_and_support_contact(
        browser: Browser, site: str, settings: Settings) -> None:
    tenant, coupon = await run(settings, _branded)
    admin = {"Authorization": f"Bearer {tenant.admin_token}"}
    brand = httpx.put(f"{site}/v1/organization/brand", headers=admin, json={
        "display_name": "Maison Lumière", "brand_color": "#7a1f3d",
        "support_email": "aide@maison-lumiere.fr", "support_phone": "+33142680000",
        "support_url": "https://maison-lumiere.fr/aide"})
    assert brand.status_code == 200, brand.text
    logo = httpx.put(f"{site}/v1/organization/brand/logo", content=_logo((240, 80)),
                     headers={**admin, "Content-Type": "image/png"})
    assert logo.status_code == 200, logo.text
    logo_url = logo.json()["logo"]["url"]
    context = await browser.new_context(viewport=PHONE, device_scale_factor=2)
    problems = await watch_async(context)
    page = await context.new_page()
    answers: dict[str, tuple[int, str]] = {}
    page.on("response", lambda r: answers.__setitem__(
        r.url.removeprefix(site), (r.status, r.headers.get("content-type", ""))))
    await page.goto(f"{site}/c/{coupon.page_token}")
    await page.wait_for_load_state("networkidle")
    assert await page.locator(".brand-name").inner_text() == "Maison Lumière"
    assert (await page.title()).endswith("· Maison Lumière")
    assert answers[logo_url] == (200, "image/png")
    assert await page.locator(".brand-logo img").evaluate("img => img.naturalWidth") == 240
    band = await page.locator(".brand-band").evaluate(
        "el => getComputedStyle(el).backgroundColor")
    assert band == "rgb(122, 31, 61)"
    footer = page.locator("footer.support")
    assert "Une question ? Maison Lumière est là pour vous aider :" in spaces(
        await footer.inner_text())
    assert await footer.get_by_role("link", name="aide@maison-lumiere.fr").get_attribute(
        "href") == "mailto:aide@maison-lumiere.fr"
    assert await footer.get_by_role("link", name="Centre d'aide").get_attribute(
        "href") == "https://maison-lumiere.fr/aide"
    await shoot(page, "coupon-fr-branded-390")
    await context.close()
    assert problems == [], "\n".join(problems)


async def _fixed_case(db: Database) -> Coupon:
    tenant = await make_org(db)
    actor = Actor.system(tenant.id, "tests")
    customer = await make_customer(db, tenant, name="Ann")
    async with db.transaction() as session:
        reason = next(iter(await cases.reasons(session, tenant.id)))
        case = await cases.open_case(session, actor, customer=customer, reason=reason,
                                     severity=2, channel="email", conversation_ref=None)
        await cases.move(session, actor, case_id=case.id, to="fixed", details={},
                         skip_reason="Fixed on the phone")
    return await make_coupon(db, tenant, customer=customer, case_ref=case.reference)


async def test_the_feedback_scores_are_large_enough_to_tap_aligned_and_usable_by_keyboard(
        browser: Browser, site: str, settings: Settings) -> None:
    coupon = await run(settings, _fixed_case)
    async with opened(browser, f"{site}/c/{coupon.page_token}") as phone:
        scores = phone.locator("label.score")
        assert await scores.count() == 5
        for n in range(5):
            tile = await scores.nth(n).bounding_box()
            radio = await scores.nth(n).locator("input").bounding_box()
            number = await scores.nth(n).locator("span").bounding_box()
            assert tile
            assert radio
            assert number
            # The whole tile is the radio's hit area (its label), at least 44x44 px.
            assert tile["width"] >= 44
            assert tile["height"] >= 44
            # The radio and its number sit side by side on one line, centred in the tile.
            assert abs((radio["y"] + radio["height"] / 2) - (number["y"] + number["height"] / 2)
                       ) <= 2
            assert abs((tile["y"] + tile["height"] / 2) - (radio["y"] + radio["height"] / 2)
                       ) <= 2
            assert radio["x"] + radio["width"] <= number["x"]
        boxes = [await scores.nth(n).bounding_box() for n in range(5)]
        tops = {round(box["y"]) for box in boxes if box}
        assert len(tops) == 1  # one row, even on a phone
        # A tap on the edge of a tile, away from the radio itself, chooses its score.
        await scores.nth(3).scroll_into_view_if_needed()
        tile = await scores.nth(3).bounding_box()  # where it is in the viewport now
        assert tile
        await phone.mouse.click(tile["x"] + 5, tile["y"] + tile["height"] / 2)
        chosen = phone.locator("input[name=score]:checked")
        assert await chosen.get_attribute("value") == "4"
        # By keyboard: the arrows move the choice, and the focused tile is outlined.
        await phone.locator("input[name=score][value='4']").focus()
        await phone.keyboard.press("ArrowRight")
        assert await chosen.get_attribute("value") == "5"
        outline = await scores.nth(4).evaluate("el => getComputedStyle(el).outlineStyle")
        assert outline == "solid"
        await shoot(phone, "coupon-en-feedback-390")
        await phone.get_by_label("Anything else? (optional)").fill("Quick and kind.")
        await phone.get_by_role("button", name="Send").click()
        assert await phone.locator(".thanks").inner_text() == "Thank you for telling us."
        assert await phone.locator("form.feedback").count() == 0


# Words that are the same in the language as in English.
SAME_AS_ENGLISH = {("fr", "5 = excellent"), ("de", "online"), ("nl", "online"),
                   ("fr", "Code"), ("de", "Code"), ("nl", "Code"), ("de", "Status"),
                   ("nl", "Status")}


async def test_every_message_of_the_page_is_translated_in_every_shipped_language() -> None:
    """What customers read, marked for translation in the coupon page's templates and in the
    code that writes in the `customer` domain (wallet passes), extracted from the sources as
    Babel does, is in each catalogue, not fuzzy, with the same placeholders."""
    source = Path(amends.__file__).parent
    wanted = {message for path in sorted((source / "web/templates/coupon").glob("*.html"))
              for _, message, _, _ in extract_from_file(
                  "jinja2", path, options={"extensions": "jinja2.ext.i18n"})}
    writers = [path for path in sorted(source.rglob("*.py"))
               if 'translations("customer"' in path.read_text()]
    wanted |= {message for path in writers
               for _, message, _, _ in extract_from_file("python", path)
               if isinstance(message, str)}
    assert "Valid until %(date)s" in wanted
    placeholders = re.compile(r"%\([a-z_]+\)s|\{[a-z_]+\}")
    for language in ("fr", "de", "es", "nl"):
        with catalogue_path("customer", language).open("rb") as source:
            catalogue = read_po(source, locale=language)
        assert catalogue.plural_forms, language
        found = {m.id: m for m in catalogue if m.id}
        assert wanted <= set(found), (language, sorted(wanted - set(found)))
        for message_id in wanted:
            message = found[message_id]
            assert message.string, (language, message_id)
            assert not message.fuzzy, (language, message_id)
            assert sorted(placeholders.findall(message.string)) == sorted(
                placeholders.findall(message_id)), (language, message_id)
            if (language, message_id) not in SAME_AS_ENGLISH:
                assert message.string != message_id, (language, message_id)
        # The page chooses its words from this catalogue at run time too.
        assert translations("customer", language).gettext("Ready to use") == (
            found["Ready to use"].string)
