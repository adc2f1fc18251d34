from __future__ import annotations

import re

import httpx

from amends.config import Settings
from amends.db import Database
from amends.roles import Role
from tests.factories import PASSWORD, make_org, make_user
from tests.peers import application, from_address


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


async def _log_in(client: httpx.AsyncClient, org: str, email: str, password: str
                  ) -> httpx.Response:
    page = await client.get("/login")
    return await client.post("/login", data={
        "organization": org, "email": email, "password": password,
        "csrf_token": _csrf(page.text),
    })


async def test_a_member_of_staff_logs_in_and_sees_the_landing_page(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    user = await make_user(db, tenant, role=Role.SUPERVISOR, email="Sam@Example.com")
    response = await _log_in(client, tenant.slug, "sam@example.com", PASSWORD)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "amends_session=" in cookie
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=lax" in cookie
    home = await client.get("/")
    assert home.status_code == 200
    assert f"Welcome, {user.name}" in home.text
    assert "Supervisor" in home.text


async def test_a_next_page_that_is_no_address_of_ours_leads_home(
    client: httpx.AsyncClient, db: Database
) -> None:
    for target in ("//[evil.example", "https://evil.example/", "//evil.example"):
        page = await client.get("/login", params={"next": target})
        assert page.status_code == 200, (target, page.text)
        assert 'name="next" value="/"' in page.text, target


async def test_the_landing_page_sends_strangers_to_the_login_form(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/", headers={"accept": "text/html"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


async def test_a_wrong_password_is_refused_and_then_rate_limited(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    await make_user(db, tenant, email="a@example.com")
    response = await _log_in(client, tenant.slug, "a@example.com", "wrong password!")
    assert response.status_code == 401
    assert "Wrong organisation, email or password" in response.text
    assert "amends_session" not in response.headers.get("set-cookie", "")
    for _ in range(9):
        await _log_in(client, tenant.slug, "a@example.com", "wrong password!")
    blocked = await _log_in(client, tenant.slug, "a@example.com", PASSWORD)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


async def test_the_login_form_needs_its_csrf_token(client: httpx.AsyncClient,
                                                    db: Database) -> None:
    tenant = await make_org(db)
    await make_user(db, tenant, email="a@example.com")
    await client.get("/login")
    response = await client.post("/login", data={
        "organization": tenant.slug, "email": "a@example.com", "password": PASSWORD,
        "csrf_token": "forged",
    })
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"


async def test_cookie_requests_that_change_things_need_the_csrf_token(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    await make_user(db, tenant, role=Role.ADMIN, email="admin@example.com")
    await _log_in(client, tenant.slug, "admin@example.com", PASSWORD)
    home = await client.get("/")
    token = _csrf(home.text)
    body = {"name": "From the console", "scopes": ["reports:read"]}
    refused = await client.post("/v1/api-keys", json=body)
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"
    accepted = await client.post("/v1/api-keys", json=body, headers={"X-CSRF-Token": token})
    assert accepted.status_code == 201
    keys = await client.get("/v1/api-keys")
    assert [k["name"] for k in keys.json()].count("From the console") == 1


async def test_logging_out_ends_the_session(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    await make_user(db, tenant, email="a@example.com")
    await _log_in(client, tenant.slug, "a@example.com", PASSWORD)
    session_cookie = client.cookies.get("amends_session")
    token = _csrf((await client.get("/")).text)
    out = await client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303
    client.cookies.set("amends_session", session_cookie or "", domain="testserver")
    again = await client.get("/", headers={"accept": "text/html"})
    assert again.status_code == 303


async def test_the_start_page_shows_the_work_waiting_and_finds_customers(
    client: httpx.AsyncClient, db: Database
) -> None:
    from tests.factories import bearer, make_customer, make_incentive, set_limit

    tenant = await make_org(db)
    await make_user(db, tenant, role=Role.AGENT, email="agent@example.com")
    await make_customer(db, tenant, external_id="C-7", name="Jo Bloggs", email="jo@example.com")
    admin = bearer(tenant.admin_token)
    await client.post("/v1/cases", headers=admin, json={
        "customer_id": "C-7", "reason": "lost_parcel", "severity": 3, "channel": "in_store"})
    await set_limit(db, tenant, subject="role:api_key", max_gesture=100)
    big = await make_incentive(db, tenant, value=5000)
    asked = await client.post("/v1/coupons", headers=admin, json={
        "customer_id": "C-7", "incentive_id": str(big.id)})
    assert asked.status_code == 202
    await _log_in(client, tenant.slug, "agent@example.com", PASSWORD)
    home = await client.get("/")
    assert 'data-figure="open_cases">1<' in home.text
    assert 'data-figure="pending_approvals">1<' in home.text
    assert "Lost parcel" in home.text
    found = await client.get("/", params={"q": "jo b"})
    assert "Jo Bloggs" in found.text
    assert "jo@example.com" in found.text
    nobody = await client.get("/", params={"q": "nobody@nowhere.example"})
    assert "No customer matches" in nobody.text


async def test_an_agent_gives_a_recommended_gesture_from_the_case_page(
    client: httpx.AsyncClient, db: Database
) -> None:
    from sqlalchemy import func, select

    from amends.models import Coupon
    from tests.factories import bearer, make_customer, make_incentive, set_limit

    tenant = await make_org(db)
    await make_user(db, tenant, role=Role.AGENT, email="agent@example.com")
    await make_customer(db, tenant, external_id="C-7", name="Jo Bloggs", phone=None)
    await set_limit(db, tenant, subject="role:agent", max_gesture=2000)
    small = await make_incentive(db, tenant, value=1000, name="Sorry 10")
    await make_incentive(db, tenant, value=1500, name="Sorry 15")
    case = (await client.post("/v1/cases", headers=bearer(tenant.admin_token), json={
        "customer_id": "C-7", "reason": "lost_parcel", "severity": 2,
        "channel": "in_store"})).json()
    await _log_in(client, tenant.slug, "agent@example.com", PASSWORD)
    page = await client.get(f"/cases/{case['id']}")
    assert "Sorry 10" in page.text
    assert "Give this" in page.text
    token = _csrf(page.text)
    given = await client.post(f"/cases/{case['id']}/gestures", data={
        "incentive_id": str(small.id), "csrf_token": token})
    assert given.status_code == 303
    after = await client.get(given.headers["location"])
    assert "Gesture given" in after.text
    assert "Message to paste" in after.text  # an in-store case: the message to hand over
    again = await client.get(
        (await client.post(f"/cases/{case['id']}/gestures", data={
            "incentive_id": str(small.id), "csrf_token": token})).headers["location"])
    assert "given before" in again.text
    unsaid = await client.post(f"/cases/{case['id']}/steps", data={
        "to": "fixed", "remedy": "Gesture given at the till", "csrf_token": token})
    assert "Say why you skip review" in (await client.get(unsaid.headers["location"])).text
    moved = await client.post(f"/cases/{case['id']}/steps", data={
        "to": "fixed", "remedy": "Gesture given at the till",
        "skip_reason": "Nothing to review: the parcel is lost", "csrf_token": token})
    assert "now fixed" in (await client.get(moved.headers["location"])).text
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Coupon)) == 1
    # Over SMS without a phone number: a clear refusal, and nothing is given.
    await make_customer(db, tenant, external_id="C-8", name="Sam", phone=None)
    sms_case = (await client.post("/v1/cases", headers=bearer(tenant.admin_token), json={
        "customer_id": "C-8", "reason": "late_delivery", "severity": 1,
        "channel": "sms"})).json()
    await client.put("/v1/channels/sms", headers=bearer(tenant.admin_token), json={
        "settings": {"account_sid": "A", "auth_token": "t", "from_number": "+15005550006"}})
    await set_limit(db, tenant, subject="role:agent", max_gesture=2000)
    refused = await client.post(f"/cases/{sms_case['id']}/gestures", data={
        "incentive_id": str(small.id), "csrf_token": token})
    shown = await client.get(refused.headers["location"])
    assert "No sms address" in shown.text
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Coupon)) == 1


async def test_every_spelling_of_one_account_shares_its_lockout(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    await make_user(db, tenant, email="a@example.com")
    spellings = [(tenant.slug, "a@example.com"), (f" {tenant.slug.upper()} ", "A@Example.com"),
                 (tenant.slug, " a@example.com"), (tenant.slug, "a@example.com\t"),
                 (f"{tenant.slug} ", " A@EXAMPLE.COM ")]
    for n in range(10):
        org, email = spellings[n % len(spellings)]
        assert (await _log_in(client, org, email, "wrong password!")).status_code == 401
    blocked = await _log_in(client, f"\t{tenant.slug}", "  a@example.COM", PASSWORD)
    assert blocked.status_code == 429
    assert "amends_session" not in blocked.headers.get("set-cookie", "")
    assert (await client.get("/", headers={"accept": "text/html"})).status_code == 303


async def test_an_accounts_lockout_holds_whatever_address_the_attempts_come_from(
    settings: Settings, db: Database
) -> None:
    tenant = await make_org(db)
    await make_user(db, tenant, email="a@example.com")
    await make_user(db, tenant, email="b@example.com")
    async with application(settings, login_failures_per_account_per_hour=6) as app:
        for n in range(6):
            async with from_address(app, f"198.51.100.{n}") as rotating:
                wrong = await _log_in(rotating, tenant.slug, "a@example.com", "wrong password!")
                assert wrong.status_code == 401
        async with from_address(app, "203.0.113.9") as fresh:
            blocked = await _log_in(fresh, tenant.slug, "a@example.com", PASSWORD)
            assert blocked.status_code == 429
            assert "amends_session" not in blocked.headers.get("set-cookie", "")
            # The lock is the account's: another member of staff at that address logs in.
            other = await _log_in(fresh, tenant.slug, "b@example.com", PASSWORD)
            assert other.status_code == 303


async def test_one_address_trying_many_accounts_is_stopped(
    settings: Settings, db: Database
) -> None:
    tenant = await make_org(db)
    users = [await make_user(db, tenant, email=f"u{n}@example.com") for n in range(6)]
    async with application(settings, login_failures_per_address_per_minute=5) as app:
        async with from_address(app, "203.0.113.9") as sprayer:
            for user in users[:5]:
                wrong = await _log_in(sprayer, tenant.slug, user.email, "Summer2024!")
                assert wrong.status_code == 401
            blocked = await _log_in(sprayer, tenant.slug, users[5].email, PASSWORD)
            assert blocked.status_code == 429
        async with from_address(app, "198.51.100.1") as colleague:
            assert (await _log_in(colleague, tenant.slug, users[5].email, PASSWORD)
                    ).status_code == 303
