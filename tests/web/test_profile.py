"""A member of staff chooses the console's language and time zone, on the profile page or
with PATCH /v1/users/me: the next page is in that language, with dates in that zone; a
language the console is not written in, or a zone that is not one, is refused with a code."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import httpx

from amends.db import Database
from amends.kit import locale
from amends.roles import Role
from tests.factories import bearer, make_customer, make_org, make_user, staff_headers


async def test_the_api_sets_and_clears_the_console_language_and_zone(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))

    set_ = await client.patch("/v1/users/me", headers=agent,
                              json={"locale": "fr_fr", "time_zone": "Europe/Paris"})
    assert set_.status_code == 200, set_.text
    assert (set_.json()["locale"], set_.json()["time_zone"]) == ("fr-FR", "Europe/Paris")
    page = await client.get("/", headers=agent)
    assert '<html lang="fr-FR">' in page.text
    assert ">Dossiers</a>" in page.text

    german = await client.patch("/v1/users/me", headers=agent, json={"locale": "de-DE"})
    assert german.status_code == 422
    assert german.headers["content-type"].startswith("application/problem+json")
    assert german.json()["code"] == "console_language_not_offered"
    assert german.json()["offered"] == ["en", "fr"]
    nowhere = await client.patch("/v1/users/me", headers=agent, json={"time_zone": "Mars/Base"})
    assert nowhere.status_code == 422
    unknown = await client.patch("/v1/users/me", headers=agent, json={"colour": "blue"})
    assert unknown.status_code == 422
    assert (await client.get("/v1/users/me", headers=agent)).json()["locale"] == "fr-FR"

    cleared = await client.patch("/v1/users/me", headers=agent,
                                 json={"locale": None, "time_zone": None})
    assert (cleared.json()["locale"], cleared.json()["time_zone"]) == (None, None)
    english = await client.get("/", headers=agent)
    assert ">Cases</a>" in english.text
    french_browser = await client.get("/", headers={**agent, "Accept-Language": "fr-CH, en"})
    assert '<html lang="fr">' in french_browser.text

    api_key = await client.get("/v1/users/me", headers=bearer(tenant.admin_token))
    assert api_key.status_code == 403
    assert api_key.json()["code"] == "not_a_person"


async def test_the_profile_page_changes_the_language_and_the_zone_dates_are_shown_in(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    await make_customer(db, tenant, external_id="C-9", email="zoe@example.com")
    opened = await client.post("/customers/C-9/cases", headers=agent, data={
        "reason": "late_delivery", "severity": "2", "channel": "email"})
    case_url = opened.headers["location"].split("?")[0]

    page = await client.get("/profile", headers=agent)
    assert page.status_code == 200
    assert '<option value="fr" lang="fr" >Français</option>' in page.text
    saved = await client.post("/profile", headers=agent,
                              data={"language": "fr", "time_zone": "Asia/Tokyo"})
    assert saved.status_code == 303
    assert "Pr%C3%A9f%C3%A9rences+enregistr%C3%A9es." in saved.headers["location"]

    case = await client.get(case_url, headers=agent)
    assert "Livraison en retard" in case.text
    # The timeline's dates in French and in Tokyo time (nine hours ahead of UTC).
    shown = re.search(r'<span class="muted">(\d{1,2} \w+ \d{4}, \d\d:\d\d)</span>', case.text)
    assert shown, case.text
    opened_at = datetime.fromisoformat((await client.get(
        f"/v1/cases/{case_url.rsplit('/', 1)[1]}", headers=bearer(tenant.admin_token))
    ).json()["opened_at"])
    # The event is recorded a moment after the case opens: the same minute, or the next.
    assert shown.group(1) in {locale.date_time(opened_at + timedelta(minutes=n), "fr",
                                               "Asia/Tokyo") for n in (0, 1)}

    refused = await client.post("/profile", headers=agent, data={"language": "nl"})
    assert "problem=" in refused.headers["location"]
    assert (await client.get("/v1/users/me", headers=agent)).json()["locale"] == "fr"
    back = await client.post("/profile", headers=agent, data={"language": "", "time_zone": ""})
    assert "Preferences+saved." in back.headers["location"]
