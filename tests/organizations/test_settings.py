"""Organisation settings through the API and the settings page: one validation, the same
errors (in words on the page), the same audit events; the default hold-out of incidents."""

from __future__ import annotations

import io
from typing import Any

import httpx
from PIL import Image

from amends.db import Database
from amends.roles import Role
from tests.factories import bearer, make_incentive, make_org, make_user, staff_headers


async def _organization(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    return dict((await client.get("/v1/organization", headers=headers)).json())


async def test_a_new_incident_takes_the_organisations_default_hold_out(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    assert (await _organization(client, admin))["holdout_percent_default"] == 0
    too_many = await client.patch("/v1/organization", headers=admin,
                                  json={"holdout_percent_default": 51})
    assert too_many.status_code == 422
    assert (await client.patch("/v1/organization", headers=admin,
                               json={"holdout_percent_default": 20})).status_code == 200
    assert (await _organization(client, admin))["holdout_percent_default"] == 20
    defaulted = await client.post("/v1/incidents", headers=admin, json={
        "title": "Depot fire", "reason": "late_delivery"})
    assert defaulted.status_code == 201, defaulted.text
    assert defaulted.json()["holdout_percent"] == 20
    chosen = await client.post("/v1/incidents", headers=admin, json={
        "title": "Site down", "reason": "late_delivery", "holdout_percent": 0})
    assert chosen.json()["holdout_percent"] == 0


async def test_the_settings_page_saves_each_group_and_says_what_is_wrong_by_field(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    page = await staff_headers(db, await make_user(db, tenant, role=Role.ADMIN))
    surprise = await make_incentive(db, tenant)
    shown = await client.get("/admin/settings", headers=page)
    assert shown.status_code == 200
    assert 'name="feedback_delay_days"' in shown.text
    assert str(surprise.id) in shown.text

    wrong = await client.post("/admin/settings/messages", headers=page, data={
        "reminder_days": "31", "feedback_delay_days": "soon", "thank_you_window_days": "90",
        "sms_max_segments": "3"})
    assert wrong.status_code == 422
    assert "Enter a number from 0 to 30." in wrong.text
    assert "Enter a whole number." in wrong.text
    assert 'value="soon"' in wrong.text  # what was typed stays to be corrected
    assert (await _organization(client, admin))["feedback_delay_days"] == 3

    saved = await client.post("/admin/settings/messages", headers=page, data={
        "reminder_days": "2", "feedback_delay_days": "10", "thank_you_window_days": "60",
        "sms_max_segments": "2"})
    assert saved.status_code == 303
    assert saved.headers["location"].startswith("/admin/settings?notice=")
    settings = await _organization(client, admin)
    assert (settings["reminder_days"], settings["feedback_delay_days"],
            settings["thank_you_window_days"], settings["sms_max_segments"]) == (2, 10, 60, 2)

    gestures = await client.post("/admin/settings/gestures", headers=page, data={
        "second_gesture_window_days": "45", "approval_hours": "48",
        "average_order_value": "49,90", "automation_daily_budget": "",
        "surprise_incentive_id": str(surprise.id), "incident_approval_threshold": "1500",
        "holdout_percent_default": "10", "learn_min_outcomes": "50",
        "approval_tiers": ["supervisor", "admin"], "approval_sla_minutes": "90"})
    assert gestures.status_code == 303, gestures.text
    settings = await _organization(client, admin)
    assert settings["approval_tiers"] == ["supervisor", "admin"]
    assert settings["approval_sla_minutes"] == 90
    assert settings["average_order_value"] == 4990
    assert settings["automation_daily_budget"] is None
    assert settings["surprise_incentive_id"] == str(surprise.id)
    assert settings["incident_approval_threshold"] == 150_000
    assert settings["holdout_percent_default"] == 10
    assert settings["recommendation_rules"]["learn_min_outcomes"] == 50
    no_tier = await client.post("/admin/settings/gestures", headers=page, data={
        "second_gesture_window_days": "45", "approval_hours": "48",
        "average_order_value": "49,90", "incident_approval_threshold": "1500",
        "holdout_percent_default": "10", "approval_sla_minutes": "2"})
    assert no_tier.status_code == 422
    assert "Tick at least one." in no_tier.text
    assert "Enter a number from 5 to 10,080." in no_tier.text
    assert (await _organization(client, admin))["approval_sla_minutes"] == 90

    not_offered = await client.post("/admin/settings/language", headers=page, data={
        "default_locale": "de", "supported_locales": ["en", "fr"],
        "time_zone": "Europe/Paris"})
    assert not_offered.status_code == 422
    assert "must be one of the supported locales" in not_offered.text
    unknown_zone = await client.post("/admin/settings/language", headers=page, data={
        "default_locale": "fr", "supported_locales": ["en", "fr"], "time_zone": "Mars/Base"})
    assert unknown_zone.status_code == 422
    assert "Choose one from the list." in unknown_zone.text
    language = await client.post("/admin/settings/language", headers=page, data={
        "default_locale": "fr", "supported_locales": ["en", "fr"],
        "time_zone": "Europe/Paris"})
    assert language.status_code == 303
    settings = await _organization(client, admin)
    assert (settings["default_locale"], settings["supported_locales"],
            settings["time_zone"]) == ("fr", ["en", "fr"], "Europe/Paris")

    audited = (await client.get("/v1/audit-events", headers=admin, params={
        "action": "organization.updated"})).json()["items"]
    assert len(audited) == 3  # one per saved group, none for the refusals
    assert audited[-1]["after"]["feedback_delay_days"] == 10
    assert audited[-1]["before"]["feedback_delay_days"] == 3
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    assert (await client.get("/admin/settings", headers=agent)).status_code == 403


async def test_the_brand_and_logo_from_the_settings_page(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    page = await staff_headers(db, await make_user(db, tenant, role=Role.ADMIN))
    brand = {"display_name": "Maison Lune", "sender_name": "", "sender_email": "",
             "reply_to": "", "brand_color": "#ffffff", "support_email": "",
             "support_phone": "0142", "support_url": "http://lune.example"}
    refused = await client.post("/admin/settings-brand", headers=page, data=brand)
    assert refused.status_code == 422
    assert "Write an international number, e.g. +33142680000." in refused.text
    assert "Use an https:// address." in refused.text
    brand.update(support_phone="+33 1 42 68 00 00", support_url="https://lune.example/help")
    refused = await client.post("/admin/settings-brand", headers=page, data=brand)
    assert refused.status_code == 422
    assert "White text on #ffffff" in refused.text
    brand["brand_color"] = "#7a1f3d"
    saved = await client.post("/admin/settings-brand", headers=page, data=brand)
    assert saved.status_code == 303
    stored = (await client.get("/v1/organization/brand", headers=admin)).json()
    assert stored["brand_color"] == "#7a1f3d"
    assert stored["display_name"] == "Maison Lune"
    assert stored["support_phone"] == "+33142680000"

    picture = io.BytesIO()
    Image.new("RGB", (40, 20), "#7a1f3d").save(picture, "PNG")
    uploaded = await client.post("/admin/settings-logo", headers=page, files={
        "logo": ("logo.png", picture.getvalue(), "image/png")})
    assert uploaded.status_code == 303
    assert "notice=" in uploaded.headers["location"]
    logo = (await client.get("/v1/organization/brand", headers=admin)).json()["logo"]
    assert logo["width"] == 40
    assert logo["url"] in (await client.get("/admin/settings", headers=page)).text
    svg = await client.post("/admin/settings-logo", headers=page, files={
        "logo": ("logo.svg", b"<svg/>", "image/svg+xml")})
    assert "problem=" in svg.headers["location"]
    removed = await client.post("/admin/settings-logo/remove", headers=page)
    assert removed.status_code == 303
    assert (await client.get("/v1/organization/brand", headers=admin)).json()["logo"] is None
    actions = [e["action"] for e in (await client.get("/v1/audit-events", headers=admin, params={
        "object_type": "organization"})).json()["items"]]
    assert actions == ["organization.logo_removed", "organization.logo_set",
                       "organization.brand_updated"]
