"""The helpdesk apps' admin page, through the console as an admin uses it: install from a
platform's form (its secrets as password fields that are never filled back), tags typed as
"tag = reason" lines, the addresses to paste, the package to download, pause and resume,
uninstall; a refusal keeps what was typed (but the secrets) and says why; agents and other
organisations' admins are kept out."""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from typing import Any

import httpx

from amends.db import Database
from amends.models import HelpdeskInstallation
from amends.roles import Role
from tests.factories import Tenant, bearer, make_org, make_user, staff_headers
from tests.helpdesk.desk import NAME, SHARED_SECRET, Desk

PAGE = "/admin/helpdesks"


async def admin_of(db: Database, tenant: Tenant) -> dict[str, str]:
    return await staff_headers(db, await make_user(db, tenant, role=Role.ADMIN))


def form(headers: dict[str, str], **fields: str) -> dict[str, Any]:
    return {"platform": NAME, "account": "shop", "name": "Shop desk",
            "reply_as": "note", "default_reason": "",
            "tag_reasons": "parcel-late = late_delivery\n\n Broken = damaged_item ",
            "frame_origins": "https://help.shop.example\n",
            "secret-shared_secret": SHARED_SECRET, "secret-api_url": "",
            "csrf_token": headers["X-CSRF-Token"], **fields}


async def installations(client: httpx.AsyncClient, tenant: Tenant) -> list[dict[str, Any]]:
    answer = await client.get("/v1/helpdesk/installations", headers=bearer(tenant.admin_token))
    return list(answer.json()["items"])


async def test_an_admin_installs_a_helpdesk_from_the_page_and_sees_what_to_paste(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    admin = await admin_of(db, tenant)
    home = await client.get("/admin", headers=admin)
    assert 'href="/admin/helpdesks"' in home.text
    empty = await client.get(PAGE, headers=admin)
    assert empty.status_code == 200
    assert "No helpdesk yet" in empty.text
    assert 'name="secret-shared_secret" type="password"' in empty.text

    saved = await client.post(PAGE, headers=admin, data=form(admin))
    assert saved.status_code == 303, saved.text
    [installed] = await installations(client, tenant)
    assert installed["settings"]["tag_reasons"] == {"parcel-late": "late_delivery",
                                                    "broken": "damaged_item"}
    assert installed["settings"]["reply_as"] == "note"
    assert installed["settings"]["frame_origins"] == ["https://help.shop.example"]
    assert installed["secrets_set"] == ["shared_secret"]

    page = await client.get(saved.headers["location"], headers=admin)
    assert "Test desk installed: paste its addresses into Test desk as shown below." in page.text
    assert f'data-installation="{NAME}:shop"' in page.text
    assert installed["urls"]["panel"] in page.text
    assert installed["urls"]["events"] in page.text
    assert "Sidebar (panel) address" in page.text
    assert "parcel-late = late_delivery" in page.text
    assert SHARED_SECRET not in page.text  # never filled back
    assert "set — leave empty to keep" in page.text
    assert f'href="/admin/helpdesks/{installed["id"]}/package.zip"' in page.text

    download = await client.get(f"{PAGE}/{installed['id']}/package.zip", headers=admin)
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert 'filename="amends-gorgias-shop.zip"' in download.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert sorted(archive.namelist()) == ["README.txt", "manifest.json"]
        assert installed["urls"]["panel"] in archive.read("manifest.json").decode()


async def test_saving_changes_settings_keeps_secrets_left_empty_and_rewraps_a_pem(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    admin = await admin_of(db, tenant)
    await client.post(PAGE, headers=admin, data=form(admin))
    [installed] = await installations(client, tenant)
    # A PEM pasted into a password field arrives without its line breaks.
    pem = "-----BEGIN PUBLIC KEY-----" + "A" * 100 + "-----END PUBLIC KEY-----"
    saved = await client.post(f"{PAGE}/{installed['id']}", headers=admin, data=form(
        admin, name="Renamed", reply_as="public", tag_reasons="", frame_origins="",
        default_reason="poor_service", **{"secret-shared_secret": "", "secret-api_url": pem}))
    assert saved.status_code == 303, saved.text
    [changed] = await installations(client, tenant)
    assert changed["name"] == "Renamed"
    assert changed["settings"]["reply_as"] == "public"
    assert changed["settings"]["default_reason"] == "poor_service"
    assert changed["settings"]["frame_origins"] == []
    assert changed["secrets_set"] == ["api_url", "shared_secret"]
    async with db.transaction(write=False) as session:
        row = await session.get(HelpdeskInstallation, (tenant.id, uuid.UUID(installed["id"])))
        assert row is not None
        assert row.secrets["shared_secret"] == SHARED_SECRET
        assert row.secrets["api_url"].splitlines() == [
            "-----BEGIN PUBLIC KEY-----", "A" * 64, "A" * 36, "-----END PUBLIC KEY-----"]
    # "None" takes the default reason away again.
    await client.post(f"{PAGE}/{installed['id']}", headers=admin, data=form(admin))
    [cleared] = await installations(client, tenant)
    assert cleared["settings"]["default_reason"] is None


async def test_a_refused_form_says_why_keeps_what_was_typed_but_the_secrets(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    admin = await admin_of(db, tenant)
    bad_line = await client.post(PAGE, headers=admin, data=form(
        admin, account="typed-shop", tag_reasons="amends-late late_delivery"))
    assert bad_line.status_code == 422
    assert "Line 1: write each tag as tag = reason" in bad_line.text
    assert 'value="typed-shop"' in bad_line.text
    assert SHARED_SECRET not in bad_line.text
    unknown = await client.post(PAGE, headers=admin, data=form(
        admin, tag_reasons="amends-late = bad_weather"))
    assert unknown.status_code == 422
    assert "Unknown reasons bad_weather" in unknown.text
    slash = await client.post(PAGE, headers=admin, data=form(admin, account="shop/../x"))
    assert slash.status_code == 422
    assert "letters, digits, dots, hyphens and underscores" in slash.text
    missing = await client.post(PAGE, headers=admin, data=form(
        admin, **{"secret-shared_secret": ""}))
    assert missing.status_code == 422
    assert "needs shared_secret" in missing.text
    assert await installations(client, tenant) == []
    await client.post(PAGE, headers=admin, data=form(admin))
    twice = await client.post(PAGE, headers=admin, data=form(admin))
    assert twice.status_code == 409
    assert "is installed already" in twice.text
    assert len(await installations(client, tenant)) == 1


async def test_pause_resume_and_uninstall(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    admin = await admin_of(db, tenant)
    await client.post(PAGE, headers=admin, data=form(admin))
    [installed] = await installations(client, tenant)
    address = f"{PAGE}/{installed['id']}"
    csrf = {"csrf_token": admin["X-CSRF-Token"]}
    paused = await client.post(f"{address}/active", headers=admin, data=csrf)
    assert paused.status_code == 303
    assert "paused" in paused.headers["location"]
    assert (await installations(client, tenant))[0]["active"] is False
    page = await client.get(PAGE, headers=admin)
    assert re.search(r"data-installation-state>Paused<", page.text)
    await client.post(f"{address}/active", headers=admin, data={**csrf, "active": "on"})
    assert (await installations(client, tenant))[0]["active"] is True
    gone = await client.post(f"{address}/remove", headers=admin, data=csrf)
    assert gone.status_code == 303
    assert await installations(client, tenant) == []


async def test_agents_and_other_organisations_admins_are_kept_out(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    admin = await admin_of(db, tenant)
    await client.post(PAGE, headers=admin, data=form(admin))
    [installed] = await installations(client, tenant)
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    assert (await client.get(PAGE, headers=agent)).status_code == 403
    other = await admin_of(db, await make_org(db))
    for answer in (
            await client.get(f"{PAGE}/{installed['id']}/package.zip", headers=other),
            await client.post(f"{PAGE}/{installed['id']}/active", headers=other,
                              data={"csrf_token": other["X-CSRF-Token"]}),
            await client.post(f"{PAGE}/{installed['id']}/remove", headers=other,
                              data={"csrf_token": other["X-CSRF-Token"]})):
        assert answer.status_code == 404
    assert (await installations(client, tenant))[0]["active"] is True
