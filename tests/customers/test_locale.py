"""A customer's locale and time zone, and the organisation's defaults, through the API and
events: stored canonical, refused with the field named when CLDR or IANA does not know them."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from amends.db import Database
from amends.kit import locale
from tests.factories import bearer, make_api_key, make_org


async def test_a_customer_locale_is_stored_canonical_and_kept_with_its_zone(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    saved = await client.put("/v1/customers/C-1", headers=bearer(tenant.admin_token), json={
        "name": "Zoé Robert", "locale": "fr_ca", "time_zone": "America/Montreal"})
    assert saved.status_code == 201, saved.text
    assert (saved.json()["locale"], saved.json()["time_zone"]) == ("fr-CA", "America/Montreal")
    plain = await client.put("/v1/customers/C-2", headers=bearer(tenant.admin_token),
                             json={"name": "Jo"})
    # No locale of their own: they read the organisation's default.
    assert (plain.json()["locale"], plain.json()["time_zone"]) == (None, None)


@pytest.mark.parametrize(("field", "value"), [
    ("locale", "english"), ("locale", "xx-ZZ"), ("locale", ""), ("locale", "f" * 40),
    ("time_zone", "Paris"), ("time_zone", "Europe/Atlantis"), ("time_zone", "")])
async def test_an_unknown_locale_or_zone_is_refused_naming_the_field(
        client: httpx.AsyncClient, db: Database, field: str, value: str) -> None:
    tenant = await make_org(db)
    refused = await client.put("/v1/customers/C-1", headers=bearer(tenant.admin_token),
                               json={"name": "Jo", field: value})
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == [field]
    missing = await client.get("/v1/customers/C-1", headers=bearer(tenant.admin_token))
    assert missing.status_code == 404


async def test_an_order_event_sets_the_customers_locale(client: httpx.AsyncClient,
                                                        db: Database) -> None:
    tenant = await make_org(db)
    sender = bearer(await make_api_key(db, tenant, scopes=["events:write"]))
    event = {"id": "evt-1", "type": "order.placed", "occurred_at": "2026-11-20T10:00:00Z",
             "data": {"order_id": "O-1", "customer_id": "C-7", "amount": 4999,
                      "currency": "EUR", "customer": {"email": "lukas@example.com",
                                                      "locale": "de-AT",
                                                      "time_zone": "Europe/Vienna"}}}
    accepted = await client.post("/v1/events", headers=sender, json={"events": [event]})
    assert accepted.json()["accepted"] == 1, accepted.text
    customer = await client.get("/v1/customers/C-7", headers=bearer(tenant.admin_token))
    assert (customer.json()["locale"], customer.json()["time_zone"]) == (
        "de-AT", "Europe/Vienna")


async def test_the_default_locale_must_be_one_the_organisation_supports(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    changed = await client.patch("/v1/organization", headers=admin, json={
        "supported_locales": ["fr", "de", "fr"], "default_locale": "fr",
        "time_zone": "Europe/Paris"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["supported_locales"] == ["fr", "de"]
    assert (changed.json()["default_locale"], changed.json()["time_zone"]) == (
        "fr", "Europe/Paris")
    refused = await client.patch("/v1/organization", headers=admin,
                                 json={"default_locale": "nl"})
    assert refused.status_code == 422
    assert refused.json()["code"] == "default_locale_not_supported"
    dropped = await client.patch("/v1/organization", headers=admin,
                                 json={"supported_locales": ["de"]})
    assert dropped.json()["code"] == "default_locale_not_supported"
    kept = await client.get("/v1/organization", headers=admin)
    assert (kept.json()["default_locale"], kept.json()["supported_locales"]) == ("fr",
                                                                                 ["fr", "de"])


def test_people_read_dates_and_amounts_in_their_locale_and_zone() -> None:
    moment = datetime(2027, 1, 30, 2, 48, tzinfo=UTC)
    assert locale.money(1000, "EUR", "fr-FR").replace("\u202f", " ").replace(
        "\xa0", " ") == "10,00 €"
    assert locale.money(1000, "EUR", "en-GB") == "€10.00"
    assert locale.money(1000, "JPY", "ja") == "￥1,000"
    assert locale.date_time(moment, "fr-FR", "Europe/Paris") == "30 janvier 2027, 03:48"
    assert locale.date_time(moment, "de-AT", "Europe/Vienna") == "30. Jänner 2027, 03:48"
    assert locale.date(moment, "en-US", "America/Los_Angeles") == "January 29, 2027"


def test_a_locale_falls_back_to_its_language_then_the_organisations_default() -> None:
    assert locale.fallback_chain("fr-CA", "de") == ["fr-CA", "fr", "de", "en"]
    assert locale.choose("de-AT", ["en", "fr", "de"], "en") == "de"
    assert locale.choose("pt-BR", ["en", "fr", "de"], "fr") == "fr"
    assert locale.choose(None, ["en", "nl"], "nl") == "nl"
    assert locale.choose("not a locale", ["en", "fr"], "fr") == "fr"
    assert locale.from_accept_language("fr-CH, fr;q=0.9, en;q=0.8", ["en", "fr"]) == "fr"
    assert locale.from_accept_language("de, en;q=0.5", ["en", "fr"]) == "en"
    assert locale.from_accept_language("es;q=0, fr;q=0.1", ["es", "fr"]) == "fr"
    assert locale.from_accept_language(None, ["en", "fr"], "fr") == "fr"
