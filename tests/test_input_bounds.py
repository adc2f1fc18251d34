"""Bad input is a 422 that names the field and changes nothing: numbers beyond what the
database holds, null for settings that cannot be empty, dates in year 9999, NUL characters,
made-up currencies and unknown fields (finding 2 of the hardening issue)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from amends.db import Database
from amends.models import ChannelConfig
from tests.factories import bearer, make_coupon, make_customer, make_org

BIGINT_PLUS_ONE = 9223372036854775808
HUGE = 10**30
INCENTIVE = {"name": "Sorry", "kind": "amount_off", "value": 1000, "currency": "EUR",
             "validity_days": 30}


def assert_refused(response: httpx.Response, field: str, code: str = "validation_failed") -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    named = [e["field"] for e in body.get("errors", [])] + [body["detail"]]
    assert any(field in (n or "") for n in named), body


@pytest.mark.parametrize(("body", "field"), [
    ({**INCENTIVE, "value": BIGINT_PLUS_ONE}, "value"),
    ({**INCENTIVE, "value": HUGE}, "value"),
    ({**INCENTIVE, "min_order": BIGINT_PLUS_ONE}, "min_order"),
    ({**INCENTIVE, "currency": "ZZZ"}, "currency"),
    ({**INCENTIVE, "valid_until": "9999-12-31T00:00:00Z", "validity_days": None}, "valid_until"),
    ({**INCENTIVE, "name": "Sorry\x00"}, "name"),
    ({**INCENTIVE, "colour": "red"}, "colour"),
])
async def test_an_incentive_out_of_bounds_is_refused_by_field_and_not_created(
        client: httpx.AsyncClient, db: Database, body: dict[str, Any], field: str) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    assert_refused(await client.post("/v1/incentives", headers=admin, json=body), field)
    assert (await client.get("/v1/incentives", headers=admin)).json() == []


@pytest.mark.parametrize(("body", "field"), [
    ({"lifetime_value": BIGINT_PLUS_ONE}, "lifetime_value"),
    ({"lifetime_value": HUGE}, "lifetime_value"),
    ({"currency": "ZZZ"}, "currency"),
    ({"name": "Zo\x00é"}, "name"),
    ({"tags": ["vip", "x\x00"]}, "tags"),
    ({"nickname": "Zoé"}, "nickname"),
])
async def test_a_customer_out_of_bounds_is_refused_and_not_stored(
        client: httpx.AsyncClient, db: Database, body: dict[str, Any], field: str) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    assert_refused(await client.put("/v1/customers/C-1", headers=admin, json=body), field)
    assert (await client.get("/v1/customers/C-1", headers=admin)).status_code == 404


async def test_nul_characters_in_ids_and_search_terms_are_refused(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    assert_refused(await client.put("/v1/customers/C%001", headers=admin, json={}), "path")
    assert_refused(await client.get("/v1/customers", headers=admin,
                                    params={"q": "ann\x00"}), "q")
    assert_refused(await client.put("/v1/reasons/late_delivery", headers=admin,
                                    json={"label": "Late\x00"}), "label")
    assert_refused(await client.post("/v1/redemptions/validate", headers=admin,
                                     json={"code": "ABCD\x00", "order_amount": 100}), "code")
    reasons = (await client.get("/v1/reasons", headers=admin)).json()
    assert all("\x00" not in r["label"] for r in reasons)


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/redemptions/validate", {"order_amount": BIGINT_PLUS_ONE}, "order_amount"),
    ("/v1/redemptions", {"order_id": "O-1", "order_amount": HUGE}, "order_amount"),
    ("/v1/redemptions", {"order_id": "O-1", "order_amount": 5000, "currency": "ZZZ"},
     "currency"),
    ("/v1/reservations", {"order_id": "O-1", "order_amount": 5000,
                          "shipping_amount": BIGINT_PLUS_ONE}, "shipping_amount"),
])
async def test_a_redemption_out_of_bounds_is_refused_and_the_coupon_stays_active(
        client: httpx.AsyncClient, db: Database, path: str, body: dict[str, Any],
        field: str) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    customer = await make_customer(db, tenant, external_id="C-1")
    coupon = await make_coupon(db, tenant, customer=customer)
    response = await client.post(path, headers=admin,
                                 json={"code": coupon.code, "customer_id": "C-1", **body})
    assert_refused(response, field)
    after = (await client.get(f"/v1/coupons/{coupon.id}", headers=admin)).json()
    assert after["status"] == "active"


@pytest.mark.parametrize(("event", "field"), [
    ({"type": "order.placed", "occurred_at": "2026-11-01T10:00:00Z",
      "data": {"order_id": "O-1", "customer_id": "C-1", "amount": HUGE, "currency": "EUR"}},
     "amount"),
    ({"type": "order.placed", "occurred_at": "9999-01-01T00:00:00Z",
      "data": {"order_id": "O-1", "customer_id": "C-1", "amount": 100, "currency": "EUR"}},
     "occurred_at"),
    ({"type": "order.placed", "occurred_at": "2026-11-01T10:00:00Z",
      "data": {"order_id": "O-1", "customer_id": "C-1", "amount": 100, "currency": "EUR",
               "promised_at": "9999-01-01T00:00:00Z"}}, "promised_at"),
    ({"type": "order.placed", "occurred_at": "2026-11-01T10:00:00Z",
      "data": {"order_id": "O-1", "customer_id": "C-1", "amount": 100, "currency": "ZZZ"}},
     "currency"),
    ({"type": "order.placed", "occurred_at": "2026-11-01T10:00:00Z",
      "data": {"order_id": "O\x00", "customer_id": "C-1", "amount": 100, "currency": "EUR"}},
     "order_id"),
    ({"type": "order.placed", "occurred_at": "2026-11-01T10:00:00Z",
      "data": {"order_id": "O-1", "customer_id": "C-1", "amount": 100, "currency": "EUR",
               "lines": [{"sku": "S", "quantity": 1, "price": BIGINT_PLUS_ONE}]}}, "price"),
])
async def test_an_event_out_of_bounds_is_refused_by_field_and_not_stored(
        client: httpx.AsyncClient, db: Database, event: dict[str, Any], field: str) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    response = await client.post("/v1/events", headers=admin, json={"id": "E-1", **event})
    assert_refused(response, field, code="invalid_event")
    # The same id is not "seen": a corrected event is accepted as new.
    fixed = {"id": "E-1", "type": "order.placed", "occurred_at": "2026-11-01T10:00:00Z",
             "data": {"order_id": "O-1", "customer_id": "C-1", "amount": 100,
                      "currency": "EUR"}}
    assert (await client.post("/v1/events", headers=admin, json=fixed)).json()["accepted"] == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"subject": "role:agent", "currency": "EUR", "max_gesture": BIGINT_PLUS_ONE},
     "max_gesture"),
    ({"subject": "role:agent", "currency": "EUR", "daily_budget": HUGE}, "daily_budget"),
    ({"subject": "role:agent", "currency": "EUR", "monthly_budget": HUGE}, "monthly_budget"),
    ({"subject": "role:agent", "currency": "ZZZ", "max_gesture": 100}, "currency"),
])
async def test_an_authority_limit_out_of_bounds_is_refused_and_not_saved(
        client: httpx.AsyncClient, db: Database, body: dict[str, Any], field: str) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    before = (await client.get("/v1/authority-limits", headers=admin)).json()
    assert_refused(await client.put("/v1/authority-limits", headers=admin, json=body), field)
    assert (await client.get("/v1/authority-limits", headers=admin)).json() == before


@pytest.mark.parametrize(("body", "field"), [
    ({"average_order_value": BIGINT_PLUS_ONE}, "average_order_value"),
    ({"name": None}, "name"),
    ({"second_gesture_window_days": None}, "second_gesture_window_days"),
    ({"recommendation_rules": None}, "recommendation_rules"),
    ({"recommendation_rules": {"severity_value": {"2": HUGE}}}, "severity_value"),
    ({"recommendation_rules": {"tier_multiplier": {"gold": "lots"}}}, "tier_multiplier"),
    ({"recommendation_rules": {"brand": {"exclude_kinds": ["cash"]}}}, "exclude_kinds"),
    ({"recommendation_rules": {"brand": {"no_money_off": True}}}, "no_money_off"),
    ({"surprise": "yes"}, "surprise"),
])
async def test_an_organisation_setting_out_of_bounds_or_null_is_refused_and_unchanged(
        client: httpx.AsyncClient, db: Database, body: dict[str, Any], field: str) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    before = (await client.get("/v1/organization", headers=admin)).json()
    assert_refused(await client.patch("/v1/organization", headers=admin, json=body), field)
    assert (await client.get("/v1/organization", headers=admin)).json() == before


async def test_recommendation_rules_in_their_documented_shape_are_saved_and_used(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    rules = {"brand": {"exclude_kinds": ["amount_off"], "note": "We never give money off"},
             "severity_value": {"4": 8000}}
    saved = await client.patch("/v1/organization", headers=admin,
                               json={"recommendation_rules": rules, "code_prefix": None})
    assert saved.status_code == 200, saved.text
    assert saved.json()["recommendation_rules"]["brand"]["exclude_kinds"] == ["amount_off"]
    assert saved.json()["recommendation_rules"]["severity_value"] == {"4": 8000}


@pytest.mark.parametrize(("given", "field"), [
    ({"host": "smtp.example.com", "from_address": "care@shop.example", "prot": 25},
     "settings.prot"),
    ({"host": "smtp.example.com", "from_address": "care@shop.example", "port": 70000},
     "settings.port"),
    ({"host": "smtp.example.com", "from_address": "care@shop.example",
      "max_connections": "many"}, "settings.max_connections"),
    ({"host": "smtp.example.com"}, "settings.from_address"),
    ({"host": "smtp.example.com", "from_address": "care@shop.example", "security": "ssl3"},
     "settings.security"),
])
async def test_a_channel_setting_that_is_unknown_or_ill_typed_is_refused_and_not_saved(
        client: httpx.AsyncClient, db: Database, given: dict[str, Any], field: str) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    response = await client.put("/v1/channels/email", headers=admin, json={"settings": given})
    assert_refused(response, field, code="invalid_channel_settings")
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(ChannelConfig)) == 0
