"""An admin installs Amends in a helpdesk account through the API: the secrets go in and never
come out (only their names, in `secrets_set`), settings are checked as the platform and the
organisation's reasons allow, an account is installed once, and no one but the organisation's
admins sees or changes its installations."""

from __future__ import annotations

from typing import Any

import httpx

from amends.config import Settings
from amends.db import Database
from amends.roles import Role
from tests.factories import bearer, make_api_key, make_org, make_user, staff_headers
from tests.helpdesk.desk import NAME, SHARED_SECRET, Desk

ROUTE = "/v1/helpdesk/installations"


def _new(**changes: Any) -> dict[str, Any]:
    return {"platform": NAME, "account": "shop", "name": "Shop desk",
            "secrets": {"shared_secret": SHARED_SECRET, "api_url": "http://127.0.0.1:9"},
            **changes}


async def test_an_admin_installs_lists_changes_and_uninstalls_without_ever_seeing_a_secret(
        client: httpx.AsyncClient, db: Database, desk: Desk, settings: Settings) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    created = await client.post(ROUTE, headers=admin, json=_new(
        account="Shop", settings={"reply_as": "note",
                                  "tag_reasons": {"Late-Parcel": "late_delivery"},
                                  "frame_origins": ["https://help.shop.example"]}))
    assert created.status_code == 201, created.text
    installation = created.json()
    assert installation["account"] == "shop"
    assert installation["secrets_set"] == ["api_url", "shared_secret"]
    assert installation["settings"] == {
        "reply_as": "note", "tag_reasons": {"late-parcel": "late_delivery"},
        "frame_origins": ["https://help.shop.example"], "default_reason": None}
    root = (f"{str(settings.base_url).rstrip('/')}/helpdesk/{tenant.slug}/"
            f"{installation['id']}/{NAME}")
    assert installation["urls"] == {"panel": root, "events": f"{root}/events"}
    assert SHARED_SECRET not in created.text

    listed = await client.get(ROUTE, headers=admin)
    assert [i["id"] for i in listed.json()["items"]] == [installation["id"]]
    assert SHARED_SECRET not in listed.text

    paused = await client.patch(f"{ROUTE}/{installation['id']}", headers=admin, json={
        "active": False, "name": "Paused desk", "secrets": {"shared_secret": "rotated-1234"},
        "settings": {"default_reason": "poor_service"}})
    assert paused.status_code == 200, paused.text
    assert paused.json()["active"] is False
    assert paused.json()["name"] == "Paused desk"
    # A setting left out keeps its value; the rotated secret is not shown either.
    assert paused.json()["settings"]["reply_as"] == "note"
    assert paused.json()["settings"]["default_reason"] == "poor_service"
    assert "rotated-1234" not in paused.text
    shown = await client.get(f"{ROUTE}/{installation['id']}", headers=admin)
    assert shown.json()["secrets_set"] == ["api_url", "shared_secret"]

    audit = await client.get("/v1/audit-events", headers=admin,
                             params={"object_type": "helpdesk"})
    assert {e["action"] for e in audit.json()["items"]} >= {"helpdesk.installed",
                                                            "helpdesk.updated"}
    assert SHARED_SECRET not in audit.text
    assert "rotated-1234" not in audit.text

    gone = await client.delete(f"{ROUTE}/{installation['id']}", headers=admin)
    assert gone.status_code == 204
    assert (await client.get(ROUTE, headers=admin)).json()["items"] == []
    again = await client.get(f"{ROUTE}/{installation['id']}", headers=admin)
    assert again.status_code == 404
    assert again.json()["code"] == "helpdesk_installation_not_found"


async def test_unknown_fields_secrets_and_reasons_are_refused_and_nothing_is_installed(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    admin = bearer((await make_org(db)).admin_token)
    refusals = {
        "unknown field": _new(colour="blue"),
        "unknown setting": _new(settings={"reply_as": "public", "tone": "warm"}),
        "unknown secret": _new(secrets={"shared_secret": SHARED_SECRET, "password": "x"}),
        "missing secret": _new(secrets={"api_url": "http://127.0.0.1:9"}),
        "unknown reason": _new(settings={"tag_reasons": {"amends-late": "bad_weather"}}),
        "unknown default": _new(settings={"default_reason": "bad_weather"}),
        "reply as": _new(settings={"reply_as": "shout"}),
        "origin": _new(settings={"frame_origins": ["javascript:alert(1)"]}),
        "platform": _new(platform="helpscout"),
        "account": _new(account="shop/../admin"),
    }
    for what, body in refusals.items():
        answer = await client.post(ROUTE, headers=admin, json=body)
        assert answer.status_code == 422, (what, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json"), what
    said = (await client.post(ROUTE, headers=admin, json=refusals["unknown reason"])).json()
    assert said["code"] == "invalid_helpdesk_settings"
    assert "bad_weather" in said["detail"]
    assert "late_delivery" in said["detail"]
    said = (await client.post(ROUTE, headers=admin, json=refusals["unknown secret"])).json()
    assert said["code"] == "invalid_helpdesk_settings"
    assert "password" in said["detail"]
    assert (await client.get(ROUTE, headers=admin)).json()["items"] == []

    created = (await client.post(ROUTE, headers=admin, json=_new())).json()
    for body in ({"secrets": {"token": "x"}}, {"settings": {"tone": "warm"}},
                 {"settings": {"default_reason": "bad_weather"}}, {"colour": "blue"}):
        answer = await client.patch(f"{ROUTE}/{created['id']}", headers=admin, json=body)
        assert answer.status_code == 422, (body, answer.text)
    unchanged = (await client.get(f"{ROUTE}/{created['id']}", headers=admin)).json()
    assert unchanged["settings"] == created["settings"]
    assert unchanged["secrets_set"] == created["secrets_set"]


async def test_an_account_installed_twice_is_a_conflict(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    admin = bearer((await make_org(db)).admin_token)
    assert (await client.post(ROUTE, headers=admin, json=_new())).status_code == 201
    twice = await client.post(ROUTE, headers=admin, json=_new(account="SHOP", name="Again"))
    assert twice.status_code == 409
    assert twice.json()["code"] == "helpdesk_installation_exists"
    assert len((await client.get(ROUTE, headers=admin)).json()["items"]) == 1
    # Another organisation installs the same account for itself.
    other = bearer((await make_org(db)).admin_token)
    assert (await client.post(ROUTE, headers=other, json=_new())).status_code == 201


async def test_another_organisations_installation_is_not_found(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    mine = bearer((await make_org(db)).admin_token)
    theirs = bearer((await make_org(db)).admin_token)
    installation = (await client.post(ROUTE, headers=theirs, json=_new())).json()
    address = f"{ROUTE}/{installation['id']}"
    for answer in (await client.get(address, headers=mine),
                   await client.patch(address, headers=mine, json={"active": False}),
                   await client.delete(address, headers=mine)):
        assert answer.status_code == 404, answer.text
        assert answer.json()["code"] == "helpdesk_installation_not_found"
    assert (await client.get(ROUTE, headers=mine)).json()["items"] == []
    still = (await client.get(address, headers=theirs)).json()
    assert still["active"] is True


async def test_only_admins_see_and_change_installations(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    installation = (await client.post(ROUTE, headers=bearer(tenant.admin_token),
                                      json=_new())).json()
    address = f"{ROUTE}/{installation['id']}"
    callers = {
        "supervisor": await staff_headers(db, await make_user(db, tenant,
                                                              role=Role.SUPERVISOR)),
        "helpdesk key": bearer(await make_api_key(db, tenant,
                                                  scopes=["coupons:issue", "cases:write"])),
    }
    for who, headers in callers.items():
        for answer in (await client.get(ROUTE, headers=headers),
                       await client.post(ROUTE, headers=headers, json=_new(account="x")),
                       await client.get(address, headers=headers),
                       await client.patch(address, headers=headers, json={"active": False}),
                       await client.delete(address, headers=headers)):
            assert answer.status_code == 403, (who, answer.text)
            assert answer.json()["code"] == "missing_scope", who
    assert (await client.get(address, headers=bearer(tenant.admin_token))).json()["active"]
    anonymous = await client.get(ROUTE)
    assert anonymous.status_code == 401
