"""The console toured in real Chromium, on a real server run as `amends demo` runs it: the demo
data, its embedded worker, and its channels pointed at the demo's own mail catcher and
receivers, with no set-up by API. An agent's first gesture goes out and the admin reads it on
the Outbox page; a
supervisor grants one above the agent's authority, a clerk redeems a code once, and the
manager's dashboard agrees with the database and the report API.

Each main page is photographed at desktop and phone width into test-artifacts/screenshots/
(the README's tour links them). One server serves the whole module, on SQLite: what is
checked here is what people see, the database behind it is tested elsewhere on both."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect

from amends.kit import codes
from amends.outbox.store import Outbox
from tests.web.browser_watch import watch
from tests.web.live import live_site, signed_in_as

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=390, height=844)
AGENT, SUPERVISOR, MANAGER = ("agent@demo.example", "supervisor@demo.example",
                              "manager@demo.example")
CLERK = "clerk@demo.example"  # an agent at Store 12 Lyon, from the demo's history
CLERK_STORE = "Store 12 Lyon"
ADMIN = "admin@demo.example"
WAIT = 20_000  # ms: delivery goes through the worker and SMTP


@dataclass
class Demo:
    url: str
    database: Path
    keys: dict[str, str]
    outbox: Outbox
    browser: Browser
    slug: str

    def mails_to(self, address: str) -> list[Any]:
        """The e-mails the demo's mail catcher kept for `address`, as it received them."""
        return [self.outbox.mail(m.key) for m in self.outbox.latest()
                if m.channel == "email" and m.to == address]


@pytest.fixture(scope="module")
def demo(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("tour")
    # No channel is set up here: the demo's first gesture must go out as `make demo` serves it.
    with live_site(sqlite_template, folder, history_cases=150, history_days=21,
                   with_outbox=True) as live:
        assert live.outbox is not None
        yield Demo(url=live.url, database=live.database, keys=live.keys,
                   outbox=Outbox(live.outbox), browser=live.browser, slug=live.slug)


@contextmanager
def signed_in(demo: Demo, email: str) -> Iterator[Page]:
    """A browser of its own, logged in to the console as `email`."""
    with signed_in_as(demo.browser, demo.url, email, DESKTOP, org=demo.slug) as page:
        yield page


# The elements that reach past the right edge of the screen, outermost first, named by tag,
# class and the start of their text: what a failed phone-width check points at.
OVERFLOWING = """[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1
)
  .slice(0, 5)
  .map(e => `${e.tagName.toLowerCase()}.${e.className} ${(e.innerText || '').slice(0, 40)}`)"""


def photograph(page: Page, name: str) -> None:
    """The page as it is now, whole, at desktop width and at phone width."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
    # On a phone nothing should need scrolling sideways but a wide table inside its card.
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= PHONE["width"], (name, page.evaluate(OVERFLOWING))
    page.set_viewport_size(DESKTOP)


def open_customer(page: Page, search: str, name: str) -> None:
    page.goto("/")
    page.get_by_label("Name, email, phone, customer id or order id").fill(search)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def open_case(page: Page, *, reason: str, channel: str, ticket: str, summary: str) -> str:
    """Open a case from the customer's page; returns the case page's address."""
    page.get_by_label("What went wrong").select_option(reason)
    page.get_by_label("Conversation on").select_option(channel)
    page.get_by_label("Ticket or chat reference").fill(ticket)
    page.get_by_label("Summary").fill(summary)
    page.get_by_role("button", name="Open the case").click()
    expect(page.get_by_role("status")).to_contain_text("is open")
    return page.url.split("?")[0]


def gesture(page: Page, name: str) -> Locator:
    return page.locator("ul.recommendations li").filter(has_text=name)


def given_code(page: Page, name: str) -> str:
    """The code of a gesture as the case page shows it."""
    row = page.locator("#given tr[data-coupon]").filter(has_text=name)
    expect(row).to_be_visible()
    return row.locator("code").inner_text()


def _text(mail: Any) -> str:
    return str(mail.get_body(preferencelist=("plain",)).get_content())


def test_an_agent_finds_a_customer_opens_a_case_and_watches_the_gesture_reach_them(
    demo: Demo
) -> None:
    context = demo.browser.new_context(viewport=DESKTOP, base_url=demo.url)
    problems = watch(context)
    login = context.new_page()
    login.goto("/login")
    photograph(login, "login")
    assert problems == [], "\n".join(problems)
    context.close()

    with signed_in(demo, AGENT) as page:
        photograph(page, "start")
        page.get_by_label("Name, email, phone, customer id or order id").fill("jo@example.com")
        page.get_by_role("button", name="Search").click()
        results = page.get_by_role("table").filter(has_text="jo@example.com")
        expect(results).to_contain_text("C-1001")
        page.get_by_role("link", name="Jo Bloggs").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Jo Bloggs")
        photograph(page, "customer")

        open_case(page, reason="late_delivery", channel="email", ticket="ZD-4411",
                  summary="Parcel a week late, second time this year")
        gesture(page, "Sorry: 10 EUR off").get_by_role("button", name="Give this").click()
        expect(page.get_by_role("status").first).to_have_text(
            "Gesture given and on its way to the customer.")
        expect(page).to_have_title(re.compile(r"^Case C-[0-9A-HJKMNP-TV-Z]+ · Amends$"))
        code = given_code(page, "Sorry: 10 EUR off")
        # Nobody reloads: the page polls the message until it has left, then stops.
        page.evaluate("window.stillTheSamePage = true")
        message = page.locator("#given [data-delivery-status]")
        expect(message).to_have_attribute("data-delivery-status", "sent", timeout=WAIT)
        expect(message).to_have_text("Sent")
        expect(page.get_by_text("this updates by itself")).to_have_count(0)
        assert page.evaluate("window.stillTheSamePage") is True
        photograph(page, "case")

    mails = demo.mails_to("jo@example.com")
    assert len(mails) == 1
    assert code in _text(mails[0])

    # The admin reads it on the Outbox page, and opens it as Jo received it.
    with signed_in(demo, ADMIN) as admin:
        admin.goto("/outbox")
        sent = admin.locator("tr[data-channel=email]").filter(has_text="jo@example.com")
        expect(sent).to_have_count(1)
        photograph(admin, "outbox")
        sent.get_by_role("link").click()
        expect(admin.get_by_role("heading", level=1)).not_to_be_empty()
        expect(admin.locator(".mail-text")).to_contain_text(code)
        body = admin.frame_locator("iframe.mail")
        expect(body.get_by_text(code)).to_be_visible()
        photograph(admin, "outbox-mail")


def test_an_agent_whose_search_finds_nobody_creates_the_customer_and_opens_the_case(
    demo: Demo
) -> None:
    with signed_in(demo, AGENT) as page:
        page.get_by_label("Name, email, phone, customer id or order id").fill("C-9001")
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_text("No customer matches")).to_be_visible()
        form = page.locator("form[data-new-customer]")
        expect(form.get_by_label("Customer number")).to_have_value("C-9001")
        form.get_by_label("Name").fill("Noor Haddad")
        form.get_by_label("Email").fill("noor@example.com")
        form.get_by_label("Phone").fill("+33 6 11 22 33 44")
        form.get_by_label("Tier").select_option("silver")
        form.get_by_label("What went wrong").select_option("damaged_item")
        form.get_by_label("Conversation on").select_option("phone")
        photograph(page, "new-customer")
        form.get_by_role("button", name="Create the customer and open the case").click()
        expect(page.get_by_role("status").first).to_contain_text(
            "Customer C-9001 created and case")
        expect(page.get_by_role("link", name=re.compile("Noor Haddad"))).to_be_visible()


def test_a_gesture_above_the_agents_limit_waits_for_a_supervisor_who_grants_it(
    demo: Demo
) -> None:
    with signed_in(demo, AGENT) as agent:
        open_customer(agent, "C-1003", "Ana Lopez")
        case_url = open_case(agent, reason="lost_parcel", channel="email", ticket="ZD-5120",
                             summary="Parcel lost, birthday present")
        expect(gesture(agent, "25 EUR gift card").get_by_role("button", name="Give this")
               ).to_have_count(0)
        gesture(agent, "25 EUR gift card").get_by_role("button", name="Ask a supervisor").click()
        expect(agent.get_by_role("status").first).to_have_text(
            "Above your authority: a supervisor has been asked.")
        expect(agent.locator("#given")).not_to_contain_text("25 EUR gift card")

        with signed_in(demo, SUPERVISOR) as supervisor:
            supervisor.get_by_role("link", name="Approvals").click()
            request = supervisor.locator("[data-approval]").filter(has_text="Ana Lopez")
            expect(request.get_by_role("heading", level=2)).to_contain_text("25 EUR gift card")
            expect(request).to_contain_text("worth more than the 20.00 EUR you may give")
            photograph(supervisor, "approvals")
            request.get_by_label(re.compile("^Reason")).fill("Platinum customer, lost gift")
            request.get_by_role("button", name="Grant").click()
            expect(supervisor.get_by_role("status").first).to_have_text(
                "Granted: the gesture is on its way to customer C-1003.")
            expect(supervisor.locator("[data-approval]")).to_have_count(0)

        agent.goto(case_url)
        code = given_code(agent, "25 EUR gift card")
        expect(agent.locator("#given [data-delivery-status]")).to_have_attribute(
            "data-delivery-status", "sent", timeout=WAIT)
    assert any(code in _text(mail) for mail in demo.mails_to("ana@example.com"))


def test_a_clerk_redeems_a_code_once_and_a_second_try_says_when_and_where_it_was_used(
    demo: Demo
) -> None:
    with signed_in(demo, AGENT) as agent:
        open_customer(agent, "sam@example.com", "Sam Patel")
        open_case(agent, reason="billing_error", channel="email", ticket="ZD-6002",
                  summary="Charged twice")
        gesture(agent, "Sorry: 10 EUR off").get_by_role("button", name="Give this").click()
        code = given_code(agent, "Sorry: 10 EUR off")

    with signed_in(demo, CLERK) as till:
        till.get_by_role("link", name="Till").click()
        expect(till.get_by_label("Store")).to_have_value(CLERK_STORE)
        till.get_by_label("Code", exact=True).fill(code.lower())
        till.get_by_label("Order amount").fill("64.90")
        till.get_by_label(re.compile("^Customer number, email or phone")).fill("sam@example.com")
        till.get_by_role("button", name="Check").click()
        expect(till.locator("[data-result]")).to_contain_text("This code works")
        till.get_by_role("button", name="Redeem").click()
        result = till.locator("[data-result]")
        expect(result).to_contain_text("Redeemed.")
        expect(result).to_contain_text("Customer pays €54.90")
        photograph(till, "till")

        till.get_by_label("Code", exact=True).fill(code)
        till.get_by_label("Order amount").fill("20.00")
        till.get_by_label(re.compile("^Customer number, email or phone")).fill("sam@example.com")
        till.get_by_role("button", name="Redeem").click()
        # In the clerk's zone and language: "Already used on March 3, 2027, 4:05 PM at ...".
        expect(till.locator("[data-result]")).to_contain_text(re.compile(
            rf"Already used on [A-Z][a-z]+ \d{{1,2}}, \d{{4}}, \d{{1,2}}:\d\d\s[AP]M "
            rf"at {CLERK_STORE}\."))
        photograph(till, "till-refused")


def _figures_in_database(database: Path, slug: str, *, since: datetime, until: datetime
                         ) -> tuple[int, int]:
    """Gestures issued in the period (revoked ones aside) and how many of them were redeemed,
    counted straight from the tables."""
    with sqlite3.connect(database) as conn:
        issued, redeemed = conn.execute(
            """SELECT count(*), count(DISTINCT r.coupon_id)
               FROM coupons c JOIN organizations o ON o.id = c.organization_id
               LEFT JOIN redemptions r ON r.coupon_id = c.id AND r.status = 'completed'
               WHERE o.slug = ? AND c.status != 'revoked'
                 AND c.issued_at >= ? AND c.issued_at < ?""",
            (slug, f"{since:%Y-%m-%d %H:%M:%S}", f"{until:%Y-%m-%d %H:%M:%S}")).fetchone()
    return int(issued), int(redeemed)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_managers_dashboard_shows_what_the_database_holds_and_its_csv_is_the_reports(
    demo: Demo
) -> None:
    with signed_in(demo, MANAGER) as page:
        page.get_by_role("link", name="Dashboard").click()
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        issued, redeemed = _figures_in_database(
            demo.database, demo.slug, since=today - timedelta(days=89),
            until=today + timedelta(days=1))
        assert issued > 50
        assert redeemed > 0
        expect(page.locator("[data-figure=gestures_issued]")).to_have_text(str(issued))
        expect(page.locator("[data-figure=gestures_redeemed]")).to_have_text(str(redeemed))
        photograph(page, "dashboard")

        link = page.locator("#cost-csv")
        with page.expect_download() as download:
            link.click()
        downloaded = Path(download.value.path()).read_text(encoding="utf-8")
        href = link.get_attribute("href")
        assert href is not None
        assert href.startswith("/v1/reports/gestures?")
        assert "by=reason" in href
        from_api = httpx.get(demo.url + href, headers={
            "Authorization": f"Bearer {demo.keys['Reporting']}"})
        assert from_api.status_code == 200
        rows = _rows(downloaded)
        assert rows == _rows(from_api.text)
        assert sum(int(r["issued"]) for r in rows) == issued
        assert {r["key"] for r in rows} >= {"late_delivery", "lost_parcel"}

        page.get_by_role("link", name="By agent").click()
        expect(page.locator("#cost-table")).to_contain_text(AGENT)


def test_the_supervisors_pages_and_the_customers_coupon_page_show_what_they_hold(
    demo: Demo
) -> None:
    with signed_in(demo, SUPERVISOR) as page:
        page.get_by_role("link", name="Catalogue").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Catalogue of gestures")
        expect(page.locator("[data-incentive]").filter(has_text="25 EUR gift card")
               ).to_contain_text("Active")
        photograph(page, "catalogue")

        page.get_by_role("link", name="Limits").click()
        agents = page.get_by_role("row").filter(has_text="Every agent")
        expect(agents).to_contain_text("20.00")
        photograph(page, "limits")

        page.get_by_role("link", name="Rules").click()
        page.get_by_label("Name").fill("Parcel stuck for two days")
        page.get_by_label("When").select_option(index=0)
        page.get_by_role("button", name="Add the rule").click()
        expect(page.get_by_role("status")).to_contain_text("Parcel stuck for two days")
        page.locator("[data-rule]").filter(has_text="Parcel stuck for two days").get_by_role(
            "link", name="Dry run").click()
        expect(page.locator("#dry-run")).to_contain_text("Dry run: Parcel stuck for two days")
        photograph(page, "rules")

    # The latest gesture not used yet of a customer who reads English (the demo's customers
    # read several languages).
    with sqlite3.connect(demo.database) as conn:
        token, code = conn.execute(
            """SELECT c.page_token, c.code FROM coupons c
               JOIN customers p ON p.organization_id = c.organization_id
                AND p.id = c.customer_id
               JOIN organizations o ON o.id = c.organization_id
               WHERE o.slug = ? AND c.status = 'active' AND c.redemption_count = 0
                 AND c.expires_at > ?
                 AND (p.locale IS NULL OR p.locale LIKE 'en%')
               ORDER BY c.issued_at DESC""",
            (demo.slug, f"{datetime.now(UTC) + timedelta(days=1):%Y-%m-%d %H:%M:%S}")
        ).fetchone()
    context = demo.browser.new_context(viewport=DESKTOP, base_url=demo.url)
    problems = watch(context)
    coupon = context.new_page()
    coupon.goto(f"/c/{token}")
    expect(coupon.locator(".code")).to_have_text(codes.display(code))
    expect(coupon.locator(".status")).to_contain_text("Ready to use")
    photograph(coupon, "coupon")
    assert problems == [], "\n".join(problems)
    context.close()


def test_a_manager_creates_an_incident_from_a_file_and_reads_the_outcomes(
    demo: Demo, tmp_path: Path
) -> None:
    affected = tmp_path / "affected.csv"
    affected.write_text("customer_id\nC-1001\nC-1002\nC-1003\nC-9999\n", encoding="utf-8")
    with signed_in(demo, MANAGER) as page:
        page.get_by_role("link", name="Incidents").click()
        page.get_by_label("What happened").fill("Lyon warehouse flooded")
        page.get_by_label("Gesture", exact=True).select_option(label="Sorry: 10 EUR off")
        page.get_by_label("The apology, in your words").fill("Our Lyon warehouse flooded.")
        page.get_by_role("button", name="Create the incident").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Lyon warehouse flooded")
        page.get_by_label("CSV, customer ids in the first column").set_input_files(affected)
        page.get_by_role("button", name="Upload").click()
        # Three customers, and an unknown id counted apart.
        expect(page.get_by_role("status")).to_contain_text("Added 3 customers")
        expect(page.locator('[data-figure="affected"]')).to_have_text("3")
        expect(page.locator('[data-figure="face_value_total"]')).to_have_text("€30.00")
        photograph(page, "incident")

        page.get_by_role("link", name="Outcomes").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Which amends win customers back")
        photograph(page, "outcomes")


ADMIN = "admin@demo.example"
# The main menu in each language; "Catalogue" and "Incidents" are the same word in both.
NAV = {"Cases": "Dossiers", "Approvals": "Approbations", "Catalogue": "Catalogue",
       "Limits": "Plafonds", "Rules": "Règles", "Incidents": "Incidents",
       "Dashboard": "Tableau de bord", "Outcomes": "Résultats", "Till": "Caisse"}
FRENCH_DATE = re.compile(r"\d{1,2} (janvier|février|mars|avril|mai|juin|juillet|août|"
                         r"septembre|octobre|novembre|décembre) \d{4}")


def reads_french(page: Page) -> None:
    """The page is in French: `lang`, the main menu, and no English label left in it."""
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    menu = page.get_by_role("navigation", name="Navigation principale")
    for english, french in NAV.items():
        expect(menu.get_by_role("link", name=french, exact=True)).to_have_count(1)
        if english != french:
            expect(menu.get_by_role("link", name=english, exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()


def test_a_browser_that_asks_for_french_gets_the_login_page_in_french(demo: Demo) -> None:
    context = demo.browser.new_context(viewport=DESKTOP, base_url=demo.url, locale="fr-FR")
    problems = watch(context)
    page = context.new_page()
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text("Se connecter")
    expect(page.get_by_label("Mot de passe")).to_be_visible()
    photograph(page, "login-fr")
    page.get_by_label("Organisation").fill(demo.slug)
    page.get_by_label("E-mail").fill(ADMIN)
    page.get_by_label("Mot de passe").fill("not the password")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Organisation, e-mail ou mot de passe incorrect.")
    assert problems == [], "\n".join(problems)
    context.close()


def test_a_person_who_chooses_french_reads_the_whole_console_in_french(demo: Demo) -> None:
    """An English browser, and the person's profile set to French: the profile wins. Each
    page is photographed with a -fr suffix; the profile goes back to the browser's language
    at the end, as the other tests expect."""
    # A customer of their own, with no gesture yet: the earlier tests gave the demo's some.
    made = httpx.put(f"{demo.url}/v1/customers/C-4242",
                     headers={"Authorization": f"Bearer {demo.keys['Admin']}"},
                     json={"name": "Zoé Martin", "email": "zoe.martin@example.com",
                           "locale": "fr-FR", "time_zone": "Europe/Paris"})
    assert made.status_code < 300, made.text
    with signed_in(demo, ADMIN) as page:
        page.get_by_role("link", name=re.compile("^Ada Admin")).click()
        page.get_by_label("Language of the console").select_option("fr")
        page.get_by_label("Time zone").select_option("Europe/Paris")
        page.get_by_role("button", name="Save").click()
        try:
            expect(page.get_by_role("status")).to_have_text("Préférences enregistrées.")
            reads_french(page)
            expect(page.get_by_label("Langue de la console")).to_have_value("fr")
            photograph(page, "profile-fr")

            page.get_by_role("link", name="Dossiers").click()
            expect(page.get_by_role("heading", level=1)).to_have_text("Bonjour Ada Admin")
            reads_french(page)
            photograph(page, "start-fr")

            page.get_by_label("Nom, e-mail, téléphone, identifiant client ou numéro de "
                              "commande").fill("C-4242")
            page.get_by_role("button", name="Rechercher").click()
            page.get_by_role("table").get_by_role("link").first.click()
            expect(page.get_by_role("heading", name="Ouvrir un dossier")).to_be_visible()
            reads_french(page)
            photograph(page, "customer-fr")

            page.get_by_label("Ce qui s'est mal passé").select_option("damaged_item")
            page.get_by_label("Conversation sur").select_option("email")
            page.get_by_label("Résumé").fill("Vase arrivé brisé")
            page.get_by_role("button", name="Ouvrir le dossier").click()
            expect(page.get_by_role("status")).to_contain_text("est ouvert")
            page.locator("ul.recommendations li").first.get_by_role(
                "button", name="Accorder").click()
            expect(page.get_by_role("status").first).to_have_text(
                "Geste commercial accordé et en route vers le client.")
            # The gesture's message carried the apology: the case is apologised.
            expect(page.locator("[data-state]")).to_have_text("Excuses présentées")
            expect(page.locator("ol.timeline")).to_contain_text(FRENCH_DATE)
            expect(page.locator("#given [data-delivery-status]")).to_have_attribute(
                "data-delivery-status", "sent", timeout=WAIT)
            expect(page.locator("#given [data-delivery-status]")).to_have_text("Envoyé")
            reads_french(page)
            photograph(page, "case-fr")

            for french, heading, name in (
                    ("Approbations", "Approbations", "approvals"),
                    ("Catalogue", "Catalogue des gestes commerciaux", "catalogue"),
                    ("Plafonds", "Plafonds et budgets", "limits"),
                    ("Règles", "Règles de reconquête proactive", "rules"),
                    ("Incidents", "Incidents", "incidents"),
                    ("Tableau de bord", "Tableau de bord", "dashboard"),
                    ("Résultats", "Les gestes qui font revenir les clients", "outcomes"),
                    ("Caisse", "Caisse", "till")):
                page.get_by_role("navigation").get_by_role("link", name=french,
                                                           exact=True).click()
                expect(page.get_by_role("heading", level=1)).to_have_text(heading)
                reads_french(page)
                if name == "dashboard":
                    expect(page.locator("[data-figure=face_value]")).to_contain_text("€")
                    expect(page.locator("[data-figure=face_value]")).to_contain_text(",")
                photograph(page, f"{name}-fr")
        finally:
            page.goto("/profile")
            page.locator("#language").select_option("")
            page.locator("#time_zone").select_option("")
            page.locator("form[action='/profile'] button[type=submit]").click()
            expect(page.get_by_role("status")).to_have_text("Preferences saved.")
            expect(page.get_by_role("navigation").get_by_role("link", name="Cases")
                   ).to_be_visible()
