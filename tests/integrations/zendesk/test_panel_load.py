"""Zendesk opens the panel with a signed load (ZAF signed URLs): a token signed RS256 with the
app's key, for this installation and account, opens it once for the Zendesk agent's Amends
user; a forged, expired, misaddressed, HS256 or replayed token is refused with 401 in words,
and an agent without an Amends user is told so. The ticket's id then comes from Zendesk's page
and the ticket itself from Zendesk's API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any

import httpx
import jwt
import pytest

from amends.db import Database
from amends.roles import Role
from tests.factories import Tenant, bearer, make_customer, make_org, make_user
from tests.integrations.zendesk.zendesk import (
    ACCOUNT,
    AGENT_EMAIL,
    AGENT_ID,
    APP_KEYS,
    ZENDESK_ORIGIN,
    Zendesk,
    key_pair,
    panel_address,
    secrets_for,
    zaf_token,
)

PANEL = "X-Amends-Panel"


async def install(client: httpx.AsyncClient, tenant: Tenant, zendesk: Zendesk,
                  settings: dict[str, Any] | None = None, **secrets: str) -> dict[str, Any]:
    answer = await client.post(
        "/v1/helpdesk/installations", headers=bearer(tenant.admin_token),
        json={"platform": "zendesk", "account": ACCOUNT, "settings": settings or {},
              "secrets": {k: v for k, v in secrets_for(zendesk, **secrets).items() if v}})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def load(client: httpx.AsyncClient, tenant: Tenant, installation: dict[str, Any],
               token: str | None, *, origin: str = ZENDESK_ORIGIN) -> httpx.Response:
    return await client.post(panel_address(tenant.slug, installation["id"], origin=origin),
                             data={"token": token} if token is not None else {})


def panel_token(page: httpx.Response) -> str:
    found = re.search(r'"X-Amends-Panel": "([A-Za-z0-9_-]+)"', page.text)
    assert found, page.text
    return found.group(1)


def refused_code(page: httpx.Response) -> str | None:
    found = re.search(r'data-refused="([a-z_]+)"', page.text)
    return found.group(1) if found else None


def hs256_with_public_key(public_pem: str) -> str:
    """The algorithm-confusion forgery: HS256 'signed' with the app's public key, which anyone
    can fetch."""
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    now = int(time.time())
    head = part({"alg": "HS256", "typ": "JWT"}) + "." + part({
        "iss": f"{ACCOUNT}.zendesk.com", "sub": AGENT_ID, "iat": now, "exp": now + 300,
        "aud": f"https://{ACCOUNT}.zendesk.com/api/v2/apps/installations/360001234567.json"})
    mac = hmac.new(public_pem.encode(), head.encode(), hashlib.sha256).digest()
    return head + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def jwt_without(claim: str) -> str:
    claims = jwt.decode(zaf_token(), options={"verify_signature": False})
    claims.pop(claim)
    return jwt.encode(claims, APP_KEYS.private_pem, algorithm="RS256")


@pytest.fixture
async def tenant(db: Database) -> Tenant:
    tenant = await make_org(db)
    await make_user(db, tenant, role=Role.AGENT, email=AGENT_EMAIL)
    return tenant


async def test_a_token_signed_by_the_app_opens_the_panel_for_its_zendesk_agent(
        client: httpx.AsyncClient, tenant: Tenant, zendesk: Zendesk) -> None:
    zendesk.agent(AGENT_ID, "Sam@Shop.example")
    installation = await install(client, tenant, zendesk)
    page = await load(client, tenant, installation, zaf_token())
    assert page.status_code == 200, page.text
    assert panel_token(page)
    assert "Reading the ticket from Zendesk" in page.text
    assert 'data-origin="https://lumiere.zendesk.com"' in page.text
    # The agent was read from Zendesk's API with the installation's token.
    assert zendesk.asked == [f"/api/v2/users/{AGENT_ID}.json"]
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors https://*.zendesk.com" in policy
    assert "script-src 'self' https://static.zdassets.com" in policy
    assert page.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(("forgery", "words"), [
    ("signed_by_another_key", "not valid"),
    ("expired", "has expired"),
    ("for_another_installation", "another installation"),
    ("issued_by_another_account", "not issued by lumiere.zendesk.com"),
    ("hs256_with_the_public_key", "not valid"),
    ("unsigned", "not valid"),
    ("missing", "sent no signed token"),
    ("without_a_subject", "not valid"),
])
async def test_a_forged_expired_or_misaddressed_token_is_refused_with_401(
        client: httpx.AsyncClient, tenant: Tenant, zendesk: Zendesk, forgery: str,
        words: str) -> None:
    zendesk.agent(AGENT_ID, AGENT_EMAIL)
    installation = await install(client, tenant, zendesk)
    token: str | None = {
        "signed_by_another_key": lambda: zaf_token(key=key_pair().private_pem),
        "expired": lambda: zaf_token(issued=time.time() - 400),
        "for_another_installation": lambda: zaf_token(installation="999"),
        "issued_by_another_account": lambda: zaf_token(account="someone-else"),
        "hs256_with_the_public_key": lambda: hs256_with_public_key(
            secrets_for(zendesk)["app_public_key"]),
        "unsigned": lambda: (
            base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
            + "." + zaf_token().split(".")[1] + "."),
        "missing": lambda: None,
        "without_a_subject": lambda: jwt_without("sub"),
    }[forgery]()
    page = await load(client, tenant, installation, token)
    assert page.status_code == 401, page.text
    assert refused_code(page) == "helpdesk_signature_refused"
    assert words in page.text
    assert PANEL not in page.text  # no panel was opened
    assert zendesk.asked == []  # nothing was asked of Zendesk either


async def test_a_token_within_thirty_seconds_of_its_expiry_still_opens_the_panel(
        client: httpx.AsyncClient, tenant: Tenant, zendesk: Zendesk) -> None:
    zendesk.agent(AGENT_ID, AGENT_EMAIL)
    installation = await install(client, tenant, zendesk)
    page = await load(client, tenant, installation, zaf_token(issued=time.time() - 315))
    assert page.status_code == 200, page.text


async def test_the_same_token_twice_is_refused_the_second_time(
        client: httpx.AsyncClient, tenant: Tenant, zendesk: Zendesk) -> None:
    zendesk.agent(AGENT_ID, AGENT_EMAIL)
    installation = await install(client, tenant, zendesk)
    token = zaf_token()
    assert (await load(client, tenant, installation, token)).status_code == 200
    again = await load(client, tenant, installation, token)
    assert again.status_code == 401
    assert refused_code(again) == "helpdesk_signature_refused"
    assert "used before" in again.text
    # A token without an id is remembered by its digest.
    bare = jwt_without("jti")
    assert (await load(client, tenant, installation, bare)).status_code == 200
    assert (await load(client, tenant, installation, bare)).status_code == 401


async def test_a_page_framed_by_another_site_than_the_accounts_zendesk_is_refused(
        client: httpx.AsyncClient, tenant: Tenant, zendesk: Zendesk) -> None:
    zendesk.agent(AGENT_ID, AGENT_EMAIL)
    installation = await install(client, tenant, zendesk)
    page = await load(client, tenant, installation, zaf_token(),
                      origin="https://evil.example")
    assert page.status_code == 401
    assert "was not opened by https://lumiere.zendesk.com" in page.text


async def test_until_the_app_key_and_installation_id_are_set_the_panel_says_so(
        client: httpx.AsyncClient, tenant: Tenant, zendesk: Zendesk) -> None:
    zendesk.agent(AGENT_ID, AGENT_EMAIL)
    installation = await install(client, tenant, zendesk, app_public_key="",
                                 zendesk_installation_id="")
    page = await load(client, tenant, installation, zaf_token())
    assert page.status_code == 401
    assert "no zendesk_installation_id" in page.text
    await client.patch(f"/v1/helpdesk/installations/{installation['id']}",
                       headers=bearer(tenant.admin_token),
                       json={"secrets": {"zendesk_installation_id": "360001234567"}})
    page = await load(client, tenant, installation, zaf_token())
    assert "no app_public_key" in page.text
    await client.patch(f"/v1/helpdesk/installations/{installation['id']}",
                       headers=bearer(tenant.admin_token),
                       json={"secrets": {"app_public_key": secrets_for(zendesk)[
                           "app_public_key"]}})
    assert (await load(client, tenant, installation, zaf_token())).status_code == 200


# --- who the agent is -----------------------------------------------------------------------

@pytest.mark.parametrize("zendesk_user", ["unknown_email", "end_user", "not_in_zendesk"])
async def test_a_zendesk_user_without_an_amends_agent_is_refused_in_words(
        client: httpx.AsyncClient, tenant: Tenant, zendesk: Zendesk, zendesk_user: str
        ) -> None:
    if zendesk_user == "unknown_email":
        zendesk.agent(AGENT_ID, "kim@shop.example")
    elif zendesk_user == "end_user":
        zendesk.agent(AGENT_ID, AGENT_EMAIL, role="end-user")
    installation = await install(client, tenant, zendesk)
    page = await load(client, tenant, installation, zaf_token())
    assert page.status_code == 403
    assert refused_code(page) == "helpdesk_agent_unknown"
    assert "has no Amends user in this organisation" in page.text
    assert PANEL not in page.text


async def test_the_same_email_in_another_organisation_gives_no_authority(
        client: httpx.AsyncClient, db: Database, zendesk: Zendesk) -> None:
    other = await make_org(db)
    await make_user(db, other, role=Role.ADMIN, email=AGENT_EMAIL)
    tenant = await make_org(db)
    zendesk.agent(AGENT_ID, AGENT_EMAIL)
    installation = await install(client, tenant, zendesk)
    page = await load(client, tenant, installation, zaf_token())
    assert page.status_code == 403
    assert refused_code(page) == "helpdesk_agent_unknown"


# --- the ticket -----------------------------------------------------------------------------

async def test_the_ticket_named_by_zendesks_page_is_read_from_zendesks_api(
        client: httpx.AsyncClient, db: Database, tenant: Tenant, zendesk: Zendesk) -> None:
    zendesk.agent(AGENT_ID, AGENT_EMAIL)
    zendesk.ticket(35436, requester={"external_id": "C-77", "email": "ann@example.com",
                                     "name": "Ann Example", "phone": "+447700900999"},
                   priority="urgent", tags=["vip", "amends-damaged"])
    await make_customer(db, tenant, external_id="C-77")
    installation = await install(client, tenant, zendesk)
    token = panel_token(await load(client, tenant, installation, zaf_token()))
    page = await client.post("/helpdesk/panel/ticket", headers={PANEL: token},
                             data={"ticket_id": "35436"})
    assert page.status_code == 200, page.text
    assert 'data-ticket="35436"' in page.text
    assert 'data-customer="C-77"' in page.text  # matched by the requester's external id
    assert re.search(r'<option value="damaged_item" selected', page.text)  # from the tag
    assert re.search(r"<option selected>4</option>", page.text)  # urgent: the worst, 4
    assert "/api/v2/tickets/35436.json?include=users" in zendesk.asked
    # The panel belongs to that ticket now: another id is refused.
    other = await client.post("/helpdesk/panel/ticket", headers={PANEL: token},
                              data={"ticket_id": "35437"})
    assert other.status_code >= 400


@pytest.mark.parametrize(("priority", "severity"), [
    ("urgent", 4), ("high", 4), ("normal", 3), ("low", 2), (None, 3)])  # 4 at most
async def test_the_tickets_priority_is_the_severity_offered(
        client: httpx.AsyncClient, tenant: Tenant, zendesk: Zendesk, priority: str | None,
        severity: int) -> None:
    zendesk.agent(AGENT_ID, AGENT_EMAIL)
    zendesk.ticket(7, requester={"email": "new@example.com", "name": "New Person"},
                   priority=priority)
    installation = await install(client, tenant, zendesk)
    token = panel_token(await load(client, tenant, installation, zaf_token()))
    page = await client.post("/helpdesk/panel/ticket", headers={PANEL: token},
                             data={"ticket_id": "7"})
    assert "Not yet a customer in Amends" in page.text
    added = await client.post("/helpdesk/panel/customer", headers={PANEL: token})
    assert 'data-customer="new@example.com"' in added.text
    assert re.search(rf"<option selected>{severity}</option>", added.text)


@pytest.mark.parametrize(("ticket_id", "status"), [("404", 404), ("12; DROP", 422)])
async def test_a_ticket_zendesk_does_not_have_is_refused_in_words(
        client: httpx.AsyncClient, tenant: Tenant, zendesk: Zendesk, ticket_id: str,
        status: int) -> None:
    zendesk.agent(AGENT_ID, AGENT_EMAIL)
    installation = await install(client, tenant, zendesk)
    token = panel_token(await load(client, tenant, installation, zaf_token()))
    page = await client.post("/helpdesk/panel/ticket", headers={PANEL: token},
                             data={"ticket_id": ticket_id})
    assert page.status_code == status
    assert refused_code(page) in ("zendesk_ticket_not_found", "invalid_zendesk_ticket_id")


async def test_zendesk_refusing_the_api_token_is_said_in_words(
        client: httpx.AsyncClient, tenant: Tenant, zendesk: Zendesk) -> None:
    zendesk.agent(AGENT_ID, AGENT_EMAIL)
    installation = await install(client, tenant, zendesk, api_token="revoked")
    page = await load(client, tenant, installation, zaf_token())
    assert page.status_code == 502
    assert refused_code(page) == "zendesk_unreachable"
    assert "Zendesk answered 401 about the agent" in page.text
