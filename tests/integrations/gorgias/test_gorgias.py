"""Gorgias: the HTTP integration's calls carry the installation's token (without it, or with
another, 401 and nothing changes); a tagged ticket opens its case and a closed one fixes it;
the answer is the widget's JSON with a signed "Make amends" link. The link opens the panel
once, for the agent logged in to Amends only (forged, expired or used: 401; not logged in: the
login page first; another organisation's login: 403); one click posts the apology with its
code into the ticket on a local Gorgias: a reply on the ticket's channel, or an internal
note."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from sqlalchemy import select

from amends.config import Settings
from amends.db import Database
from amends.delivery.channels import DeliveryFailed
from amends.helpdesk.platforms import Reply
from amends.integrations.gorgias import client as gorgias_client
from amends.jobs.worker import Worker
from amends.kit import outbound
from amends.kit.clock import clock
from amends.models import Case, Coupon, User
from amends.roles import Role
from tests.factories import (
    Tenant,
    bearer,
    make_customer,
    make_incentive,
    make_org,
    make_user,
    set_limit,
    staff_headers,
)
from tests.integrations.gorgias.gorgias import (
    API_EMAIL,
    API_KEY,
    INTEGRATION_TOKEN,
    LINK_SECRET,
    Gorgias,
)

PANEL = "X-Amends-Panel"
AGENT = "sam@shop.example"


async def install(client: httpx.AsyncClient, tenant: Tenant, desk: Gorgias,
                  **settings: Any) -> dict[str, Any]:
    answer = await client.post(
        "/v1/helpdesk/installations", headers=bearer(tenant.admin_token),
        json={"platform": "gorgias", "account": "shop", "settings": settings,
              "secrets": {"integration_token": INTEGRATION_TOKEN, "api_email": API_EMAIL,
                          "api_key": API_KEY, "link_secret": LINK_SECRET,
                          "api_base_url": desk.url}})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def event(client: httpx.AsyncClient, tenant: Tenant, installation: dict[str, Any],
                body: dict[str, Any] | bytes | None = None, *,
                token: str | None = INTEGRATION_TOKEN) -> httpx.Response:
    """The integration's call, with the README's body."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["X-Amends-Token"] = token
    if body is None:
        body = {"ticket_id": "123", "customer_email": "ann@example.com",
                "customer_name": "Ann Example", "status": "open"}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(f"/helpdesk/{tenant.slug}/{installation['id']}/gorgias/events",
                             headers=headers, content=content)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def token_of(page: httpx.Response) -> str:
    found = re.search(r'"X-Amends-Panel": "([A-Za-z0-9_-]+)"', page.text)
    assert found, page.text
    return found.group(1)


def grouped(code: str) -> str:
    return "-".join(code[i:i + 5] for i in range(0, len(code), 5))


async def ready(db: Database, tenant: Tenant) -> tuple[User, uuid.UUID]:
    agent = await make_user(db, tenant, role=Role.AGENT, email=AGENT)
    await set_limit(db, tenant, subject="role:agent", max_gesture=2000)
    await make_customer(db, tenant, external_id="C-1", email="ann@example.com", name="Ann")
    incentive = await make_incentive(db, tenant, value=1000, name="Sorry: 10 EUR off")
    return agent, incentive.id


async def login_cookie(db: Database, user: User) -> dict[str, str]:
    return {"Cookie": (await staff_headers(db, user))["Cookie"]}


# --- the HTTP integration -------------------------------------------------------------------

async def test_a_tagged_ticket_opens_its_case_and_the_widget_shows_it_with_a_signed_link(
        client: httpx.AsyncClient, db: Database, gorgias: Gorgias) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, gorgias)
    gorgias.add_ticket("123", priority="high")
    answer = await event(client, tenant, installation)
    assert answer.status_code == 200, answer.text
    widget = answer.json()
    assert gorgias.reads == ["/api/tickets/123"]  # the ticket is read again from Gorgias
    async with db.transaction(write=False) as session:
        case = (await session.scalars(select(Case))).one()
    assert (case.reason, case.severity, case.conversation_ref) == (
        "late_delivery", 4, "gorgias:123")
    assert widget["outcome"] == "opened"
    assert widget["customer"] == {"name": "Ann Example", "email": "ann@example.com",
                                  "in_amends": "yes"}
    assert widget["summary"] == "1 open case · 0 gestures given"
    assert widget["open_cases"] == [{"reference": case.reference, "reason": "late delivery",
                                     "state": "open"}]
    link = urlsplit(widget["panel_url"])
    assert link.path == f"/helpdesk/{tenant.slug}/{installation['id']}/gorgias"
    query = parse_qs(link.query)
    assert query["ticket"] == ["123"]
    assert len(query["signature"][0]) == 64
    # A closed ticket fixes its case.
    gorgias.tickets["123"]["status"] = "closed"
    closed = await event(client, tenant, installation)
    assert closed.json()["outcome"] == "fixed"
    async with db.transaction(write=False) as session:
        assert (await session.scalars(select(Case))).one().state == "fixed"


async def test_calls_without_the_token_or_with_another_are_refused_and_change_nothing(
        client: httpx.AsyncClient, db: Database, gorgias: Gorgias) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, gorgias)
    gorgias.add_ticket("123")
    for token in (None, "", "gorgias-token-" + "x" * 32):
        answer = await event(client, tenant, installation, token=token)
        assert answer.status_code == 401
        assert answer.json()["code"] == "helpdesk_signature_refused"
    for body in (b"{not json", b'{"ticket_id": "{{ticket.id}}"}'):
        answer = await event(client, tenant, installation, body)
        assert answer.status_code == 422
        assert answer.json()["code"] == "invalid_gorgias_request"
    assert gorgias.reads == []
    async with db.transaction(write=False) as session:
        assert (await session.scalars(select(Case))).all() == []


async def test_a_ticket_without_a_mapped_tag_opens_nothing_but_still_gets_its_widget(
        client: httpx.AsyncClient, db: Database, gorgias: Gorgias) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, gorgias)
    gorgias.add_ticket("123", tags=("vip",))
    widget = (await event(client, tenant, installation)).json()
    assert widget["outcome"] == "ignored"
    assert widget["customer"]["in_amends"] == "not yet"
    assert widget["panel_url"].startswith("http://127.0.0.1:8000/helpdesk/")


# --- the link -------------------------------------------------------------------------------

async def test_the_link_opens_the_panel_once_for_the_logged_in_agent(
        client: httpx.AsyncClient, db: Database, gorgias: Gorgias) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, gorgias)
    agent, _ = await ready(db, tenant)
    gorgias.add_ticket("123", priority="critical")
    link = path_of((await event(client, tenant, installation)).json()["panel_url"])
    # Not logged in: the login page first, which comes back to the same link.
    first = await client.get(link)
    assert first.status_code == 303
    assert first.headers["location"] == f"/login?next={quote(link)}"
    cookie = await login_cookie(db, agent)
    page = await client.get(link, headers=cookie)
    assert page.status_code == 200, page.text
    assert 'data-customer="C-1"' in page.text
    assert re.search(r"<option selected>4</option>", page.text)  # critical: the worst, 4
    assert token_of(page) not in link
    again = await client.get(link, headers=cookie)
    assert again.status_code == 401
    assert "This link was used already" in again.text


async def test_a_forged_or_expired_link_is_refused(
        client: httpx.AsyncClient, db: Database, gorgias: Gorgias) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, gorgias)
    agent, _ = await ready(db, tenant)
    gorgias.add_ticket("123")
    gorgias.add_ticket("124")
    link = path_of((await event(client, tenant, installation)).json()["panel_url"])
    cookie = await login_cookie(db, agent)
    for forged in (link.replace("ticket=123", "ticket=124"),
                   re.sub(r"signature=\w+", "signature=" + "0" * 64, link),
                   re.sub(r"&signature=\w+", "", link)):
        answer = await client.get(forged, headers=cookie)
        assert answer.status_code == 401, forged
        assert 'data-refused="helpdesk_signature_refused"' in answer.text
    clock.advance(timedelta(hours=8, minutes=1))
    expired = await client.get(link, headers=cookie)
    assert expired.status_code == 401
    assert "not valid or has expired" in expired.text
    assert gorgias.reads == ["/api/tickets/123"]  # only the integration's read


async def test_another_organisations_login_gets_nobodys_authority(
        client: httpx.AsyncClient, db: Database, gorgias: Gorgias) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, gorgias)
    await ready(db, tenant)
    other = await make_org(db)
    stranger = await make_user(db, other, role=Role.ADMIN, email=AGENT)  # the same e-mail
    gorgias.add_ticket("123")
    link = path_of((await event(client, tenant, installation)).json()["panel_url"])
    answer = await client.get(link, headers=await login_cookie(db, stranger))
    assert answer.status_code == 403
    assert 'data-refused="helpdesk_other_organisation"' in answer.text
    assert "X-Amends-Panel" not in answer.text


# --- the one click --------------------------------------------------------------------------

@pytest.mark.parametrize(("channel", "reply_as"), [
    ("email", "public"), ("chat", "public"), ("email", "note"), ("phone", "public")])
async def test_one_click_posts_the_apology_with_its_code_into_the_ticket(
        client: httpx.AsyncClient, db: Database, gorgias: Gorgias, settings: Settings,
        channel: str, reply_as: str) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, gorgias, reply_as=reply_as)
    agent, incentive_id = await ready(db, tenant)
    gorgias.add_ticket("123", channel=channel)
    link = path_of((await event(client, tenant, installation)).json()["panel_url"])
    page = await client.get(link, headers=await login_cookie(db, agent))
    given = await client.post("/helpdesk/panel/give",
                              headers={PANEL: token_of(page), "HX-Request": "true"},
                              data={"incentive_id": str(incentive_id),
                                    "reason": "late_delivery", "severity": "3"})
    assert "Given:" in given.text, given.text
    await Worker(db, settings).run_until_idle()
    async with db.transaction(write=False) as session:
        coupon = (await session.scalars(select(Coupon))).one()
    [posted] = gorgias.posted
    message = posted.body
    assert posted.ticket_id == "123"
    assert f"Your code: {grouped(coupon.code)}" in message["body_text"]
    assert (message["via"], message["from_agent"], message["sender"]) == (
        "api", True, {"email": API_EMAIL})
    assert "sent_datetime" not in message  # Gorgias sends it
    if reply_as == "note" or channel == "phone":
        assert message["channel"] == "internal-note"
        assert "receiver" not in message
    elif channel == "email":
        assert message["channel"] == "email"
        assert message["receiver"] == {"id": 3924}
        assert message["source"] == {"type": "email",
                                     "from": {"address": "support@shop.example"},
                                     "to": [{"address": "ann@example.com"}]}
    else:
        assert message["channel"] == "chat"
        assert "receiver" not in message
        assert message["source"]["to"] == [{"address": "conv-77"}]


async def test_gorgias_rate_limit_fails_the_post_to_be_retried(gorgias: Gorgias) -> None:
    gorgias.add_ticket("123")
    gorgias.script = [429]
    settings = {"account": "shop", "api_email": API_EMAIL, "api_key": API_KEY,
                "api_base_url": gorgias.url}
    reply = Reply(ticket_id="123", text="Sorry.", html=None, public=False, message_id="m-1")
    with outbound.policy(allow_private=True):  # the local Gorgias is on 127.0.0.1
        with pytest.raises(DeliveryFailed, match="rate limit: retry after 20 s"):
            await gorgias_client.post_reply(settings, reply)
        assert await gorgias_client.post_reply(settings, reply) == "8001"
