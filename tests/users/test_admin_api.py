"""Admins manage staff: an invitation e-mailed with a link that sets a password once, roles
changed and audited, a deactivated person logged out at once, the last admin kept; API keys
that record when they were used and stop working once revoked; a clerk who sees only the
till and whose redemptions carry their name and store."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx

from amends.actor import Actor
from amends.apikeys import service as apikeys
from amends.config import Settings
from amends.db import Database
from amends.jobs.worker import Worker
from amends.kit.clock import clock
from amends.roles import Role
from amends.users.service import create_user
from tests.factories import (
    PASSWORD,
    Tenant,
    bearer,
    make_coupon,
    make_customer,
    make_org,
    make_user,
    staff_headers,
)
from tests.receivers import smtp_server

NEW_PASSWORD = "a long enough new password"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _email_channel(client: httpx.AsyncClient, tenant: Tenant, port: int) -> None:
    configured = await client.put("/v1/channels/email", headers=bearer(tenant.admin_token),
                                  json={"settings": {"host": "127.0.0.1", "port": port,
                                                     "security": "none",
                                                     "from_address": "care@shop.example"}})
    assert configured.status_code == 200, configured.text


async def _choose_password(client: httpx.AsyncClient, path: str, password: str,
                           repeated: str | None = None) -> httpx.Response:
    page = await client.get(path)
    found = CSRF.search(page.text)
    # A used or expired link's page has no form; a person who kept the form open posts the
    # token it had, which is the cookie's.
    token = found.group(1) if found else client.cookies.get("amends_csrf", "", path="/set-password")
    return await client.post(path, data={"csrf_token": token, "password": password,
                                         "repeated": password if repeated is None
                                         else repeated})


async def _log_in(client: httpx.AsyncClient, tenant: Tenant, email: str,
                  password: str) -> httpx.Response:
    page = await client.get("/login")
    token = CSRF.search(page.text)
    assert token is not None
    return await client.post("/login", data={
        "organization": tenant.organization.slug, "email": email, "password": password,
        "csrf_token": token.group(1)})


async def _audit(client: httpx.AsyncClient, tenant: Tenant, action: str) -> list[Any]:
    found = await client.get("/v1/audit-events", params={"action": action},
                             headers=bearer(tenant.admin_token))
    assert found.status_code == 200, found.text
    return list(found.json()["items"])


async def test_an_invited_person_gets_a_link_in_their_language_sets_a_password_and_logs_in(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant = await make_org(db)
    with smtp_server() as mail:
        await _email_channel(client, tenant, mail.port)
        invited = await client.post("/v1/users", headers=bearer(tenant.admin_token), json={
            "email": "Zoe@Shop.example", "name": "Zoé Roux", "role": "supervisor",
            "team": "Care team", "locale": "fr-FR"})
        assert invited.status_code == 201, invited.text
        await Worker(db, settings).run_until_idle()
    answer = invited.json()
    assert answer["emailed"] is True
    assert answer["set_password_url"] is None  # it went by e-mail only
    assert answer["user"]["pending"] is True
    assert answer["user"]["email"] == "zoe@shop.example"
    [email] = mail.to("zoe@shop.example")
    assert "console" in str(email["Subject"])
    assert "invité" in str(email["Subject"])
    text = email.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"https?://\S+(/set-password/\S+)", text)
    assert link is not None, text
    path = link.group(1)

    refused = await _log_in(client, tenant, "zoe@shop.example", "")
    assert refused.status_code in (401, 422)
    short = await _choose_password(client, path, "too short")
    assert short.status_code == 422
    assert "at least 12 characters" in short.text
    different = await _choose_password(client, path, NEW_PASSWORD, "another long password")
    assert different.status_code == 422
    chosen = await _choose_password(client, path, NEW_PASSWORD)
    assert chosen.status_code == 200, chosen.text
    assert "your password is set" in chosen.text
    assert tenant.organization.slug in chosen.text
    again = await _choose_password(client, path, "yet another long password")
    assert again.status_code == 404
    assert "already used" in again.text

    logged_in = await _log_in(client, tenant, "zoe@shop.example", NEW_PASSWORD)
    assert logged_in.status_code == 303
    staff = (await client.get("/v1/users", headers=bearer(tenant.admin_token))).json()
    zoe = next(person for person in staff if person["email"] == "zoe@shop.example")
    assert zoe["pending"] is False
    assert zoe["last_login_at"] is not None
    assert [event["object_id"] for event in await _audit(client, tenant, "user.invited")] == [
        zoe["id"]]
    assert len(await _audit(client, tenant, "user.password_set")) == 1


async def test_without_an_email_channel_the_link_is_given_once_and_expires_after_72_hours(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    invited = await client.post("/v1/users", headers=bearer(tenant.admin_token), json={
        "email": "sam@shop.example", "name": "Sam", "role": "agent"})
    assert invited.status_code == 201, invited.text
    assert invited.json()["emailed"] is False
    url = invited.json()["set_password_url"]
    path = url[url.index("/set-password/"):]
    twice = await client.post("/v1/users", headers=bearer(tenant.admin_token), json={
        "email": "SAM@shop.example", "name": "Sam", "role": "agent"})
    assert twice.status_code == 409
    assert twice.json()["code"] == "user_exists"
    listed = await client.get(f"/v1/users/{invited.json()['user']['id']}",
                              headers=bearer(tenant.admin_token))
    assert "set_password_url" not in listed.json()

    clock.advance(timedelta(hours=73))
    expired = await _choose_password(client, path, NEW_PASSWORD)
    assert expired.status_code == 409
    assert "expired" in expired.text
    assert (await _log_in(client, tenant, "sam@shop.example", NEW_PASSWORD)).status_code == 401

    reset = await client.post(f"/v1/users/{invited.json()['user']['id']}/reset-password",
                              headers=bearer(tenant.admin_token))
    assert reset.status_code == 200, reset.text
    fresh = reset.json()["set_password_url"]
    assert fresh != url
    old = await _choose_password(client, path, NEW_PASSWORD)
    assert old.status_code == 404
    chosen = await _choose_password(client, fresh[fresh.index("/set-password/"):], NEW_PASSWORD)
    assert chosen.status_code == 200
    assert (await _log_in(client, tenant, "sam@shop.example", NEW_PASSWORD)).status_code == 303
    assert len(await _audit(client, tenant, "user.password_reset")) == 1


async def test_a_deactivated_person_is_logged_out_at_once_and_can_come_back(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    agent = await make_user(db, tenant, role=Role.AGENT)
    session = await staff_headers(db, agent)
    assert (await client.get("/v1/users/me", headers=session)).status_code == 200
    deactivated = await client.post(f"/v1/users/{agent.id}/deactivate",
                                    headers=bearer(tenant.admin_token))
    assert deactivated.status_code == 200, deactivated.text
    assert deactivated.json()["active"] is False
    refused = await client.get("/v1/users/me", headers=session)
    assert refused.status_code == 401
    page = await client.get("/", headers={**session, "Accept": "text/html"})
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login")
    assert (await _log_in(client, tenant, agent.email, PASSWORD)).status_code == 401
    [event] = await _audit(client, tenant, "user.deactivated")
    assert event["after"] == {"active": False, "sessions_ended": 1}

    back = await client.post(f"/v1/users/{agent.id}/reactivate",
                             headers=bearer(tenant.admin_token))
    assert back.json()["active"] is True
    assert (await client.get("/v1/users/me", headers=session)).status_code == 401
    assert (await _log_in(client, tenant, agent.email, PASSWORD)).status_code == 303
    assert len(await _audit(client, tenant, "user.reactivated")) == 1


async def test_the_last_active_admin_cannot_leave_or_be_demoted_and_role_changes_are_audited(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    ada = await make_user(db, tenant, role=Role.ADMIN)
    ada_session = await staff_headers(db, ada)
    for path, body in ((f"/v1/users/{ada.id}/deactivate", None),):
        alone = await client.post(path, headers=ada_session, json=body)
        assert alone.status_code == 409
        assert alone.json()["code"] == "last_admin"
    demoted = await client.patch(f"/v1/users/{ada.id}", headers=ada_session,
                                 json={"role": "manager"})
    assert demoted.status_code == 409
    assert demoted.json()["code"] == "last_admin"
    by_key = await client.patch(f"/v1/users/{ada.id}", headers=bearer(tenant.admin_token),
                                json={"role": "agent"})
    assert by_key.json()["code"] == "last_admin"

    ben = await make_user(db, tenant, role=Role.AGENT)
    promoted = await client.patch(f"/v1/users/{ben.id}", headers=ada_session,
                                  json={"role": "admin", "store": "Store 3"})
    assert promoted.status_code == 200, promoted.text
    assert (promoted.json()["role"], promoted.json()["store"]) == ("admin", "Store 3")
    stepped_down = await client.patch(f"/v1/users/{ada.id}", headers=ada_session,
                                      json={"role": "manager"})
    assert stepped_down.status_code == 200
    [second, first] = await _audit(client, tenant, "user.updated")
    assert first["object_id"] == str(ben.id)
    assert (first["before"], first["after"]) == ({"role": "agent", "store": None},
                                                 {"role": "admin", "store": "Store 3"})
    assert (second["before"], second["after"]) == ({"role": "admin"}, {"role": "manager"})
    # Ada is a manager now: the admin routes refuse her at once.
    assert (await client.get("/v1/users", headers=ada_session)).status_code == 403
    unknown = await client.patch(f"/v1/users/{ben.id}", headers=bearer(tenant.admin_token),
                                 json={"role": "owner"})
    assert unknown.status_code == 422


async def test_an_api_key_records_its_last_use_and_is_refused_once_revoked(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    created = await client.post("/v1/api-keys", headers=admin, json={
        "name": "Till, Store 12", "scopes": ["redemptions:read", "redemptions:write"]})
    assert created.status_code == 201, created.text
    assert created.json()["last_used_at"] is None
    till = bearer(created.json()["token"])
    used = await client.post("/v1/redemptions/validate", headers=till,
                             json={"code": "NOPE-NOPE", "order_amount": 1000})
    assert used.status_code == 404
    await apikeys.uses_recorded()
    [listed] = [key for key in (await client.get("/v1/api-keys", headers=admin)).json()
                if key["id"] == created.json()["id"]]
    assert listed["last_used_at"] is not None
    assert "token" not in listed
    revoked = await client.post(f"/v1/api-keys/{listed['id']}/revoke", headers=admin)
    assert revoked.status_code == 200
    refused = await client.post("/v1/redemptions/validate", headers=till,
                                json={"code": "NOPE-NOPE", "order_amount": 1000})
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_api_key"


async def test_a_clerk_sees_only_the_till_and_their_redemption_names_them_and_their_store(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    async with db.transaction() as session:
        clerk = await create_user(session, Actor.system(tenant.id, "tests"),
                                  organization_id=tenant.id, email="chris@shop.example",
                                  name="Chris Clerk", role=Role.CLERK, password=PASSWORD,
                                  store="Store 12 Lyon")
    headers = await staff_headers(db, clerk)
    start = await client.get("/", headers=headers)
    assert (start.status_code, start.headers["location"]) == (303, "/till")
    till = await client.get("/till", headers=headers)
    assert till.status_code == 200
    menu = till.text[till.text.index("<nav"):till.text.index("</nav>")]
    assert re.findall(r'href="([^"]+)"', menu) == ["/till"]
    for page in ("/dashboard", "/approvals", "/catalogue", "/admin", "/outcomes"):
        assert (await client.get(page, headers=headers)).status_code == 403, page
    assert (await client.get("/v1/cases", headers=headers)).status_code == 403

    customer = await make_customer(db, tenant, external_id="C-9")
    case = await client.post("/v1/cases", headers=bearer(tenant.admin_token), json={
        "customer_id": "C-9", "reason": "lost_parcel", "severity": 3, "channel": "email"})
    assert case.status_code == 201, case.text
    coupon = await make_coupon(db, tenant, customer=customer,
                               case_ref=case.json()["reference"])
    redeemed = await client.post("/till", headers=headers, data={
        "code": coupon.code, "amount": "42.50", "customer": "C-9", "store": "",
        "action": "redeem"})
    assert redeemed.status_code == 200, redeemed.text
    assert 'data-result="redeemed"' in redeemed.text
    timeline = (await client.get(f"/v1/cases/{case.json()['id']}/timeline",
                                 headers=bearer(tenant.admin_token))).json()
    [used] = [event for event in timeline if event["kind"] == "coupon_redeemed"]
    assert used["actor_label"] == "Chris Clerk"
    assert "at Store 12 Lyon" in used["summary"]
    # The reports say where and by whom, on the dashboard and through the API.
    report = (await client.get("/v1/reports/redeemed-by",
                               headers=bearer(tenant.admin_token))).json()
    assert [(r["store"], r["person"], r["redemptions"]) for r in report] == [
        ("Store 12 Lyon", "Chris Clerk", 1)]
    manager = await staff_headers(db, await make_user(db, tenant, role=Role.MANAGER))
    dashboard = await client.get("/dashboard", headers=manager)
    table = dashboard.text[dashboard.text.index('id="tills-table"'):]
    assert "Store 12 Lyon" in table[:2000]
    assert "Chris Clerk" in table[:2000]
