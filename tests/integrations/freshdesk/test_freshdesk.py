"""Freshdesk: the sidebar app's request (its secret header, added by Freshworks' proxy) opens
the agent's panel through a link that works once; a request without the secret, with another,
older than five minutes or sent again is refused with 401, an agent without an Amends user
with 403 in words; the ticket is read again from Freshdesk; one click posts the apology with
its code as a public reply or a private note to a local Freshdesk; automation webhooks open
and fix cases, once per body."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from amends.config import Settings
from amends.db import Database
from amends.delivery.channels import DeliveryFailed
from amends.helpdesk.platforms import Reply
from amends.integrations.freshdesk import client as freshdesk_client
from amends.jobs.worker import Worker
from amends.kit import outbound
from amends.kit.clock import clock
from amends.models import Case, Coupon, Delivery
from amends.roles import Role
from tests.factories import (
    Tenant,
    bearer,
    make_customer,
    make_incentive,
    make_org,
    make_user,
    set_limit,
)
from tests.integrations.freshdesk.freshdesk import (
    API_KEY,
    APP_SECRET,
    WEBHOOK_SECRET,
    Freshdesk,
)

PANEL = "X-Amends-Panel"
AGENT = "sam@acme.example"


async def install(client: httpx.AsyncClient, tenant: Tenant, desk: Freshdesk,
                  **settings: Any) -> dict[str, Any]:
    answer = await client.post(
        "/v1/helpdesk/installations", headers=bearer(tenant.admin_token),
        json={"platform": "freshdesk", "account": "acme.freshdesk.com", "settings": settings,
              "secrets": {"app_secret": APP_SECRET, "api_key": API_KEY,
                          "webhook_secret": WEBHOOK_SECRET, "api_base_url": desk.url}})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def asking(ticket_id: str = "123", *, agent: str = AGENT, age: float = 0,
           nonce: str | None = None, **ticket: Any) -> dict[str, Any]:
    """The body the app's script sends (app/scripts/app.js)."""
    return {"agent_email": agent,
            "ticket": {"id": ticket_id, "subject": "Where is it?", "priority": "3",
                       "tags": ["amends-late"],
                       "requester": {"email": "ann@example.com", "name": "Ann"}, **ticket},
            "timestamp": int(clock.now().timestamp() - age),
            "nonce": nonce or uuid.uuid4().hex}


async def ask(client: httpx.AsyncClient, tenant: Tenant, installation: dict[str, Any],
              body: dict[str, Any] | bytes, *, secret: str | None = APP_SECRET
              ) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(f"/helpdesk/{tenant.slug}/{installation['id']}/freshdesk/session",
                             headers=headers, content=content)


async def open_panel(client: httpx.AsyncClient, tenant: Tenant, installation: dict[str, Any],
                     **given: Any) -> tuple[httpx.Response, str]:
    answer = await ask(client, tenant, installation, asking(**given))
    assert answer.status_code == 200, answer.text
    url = answer.json()["panel_url"]
    assert url.startswith("http://127.0.0.1:8000/helpdesk/panel/start?code=")
    page = await client.get(url.removeprefix("http://127.0.0.1:8000"))
    return page, url


def grouped(code: str) -> str:
    """A code as messages write it: in groups of five."""
    return "-".join(code[i:i + 5] for i in range(0, len(code), 5))


def token_of(page: httpx.Response) -> str:
    found = re.search(r'"X-Amends-Panel": "([A-Za-z0-9_-]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def ready(db: Database, tenant: Tenant) -> uuid.UUID:
    """An agent with authority up to 20 EUR, a known customer and a 10 EUR gesture."""
    await make_user(db, tenant, role=Role.AGENT, email=AGENT)
    await set_limit(db, tenant, subject="role:agent", max_gesture=2000)
    await make_customer(db, tenant, external_id="C-1", email="ann@example.com", name="Ann")
    incentive = await make_incentive(db, tenant, value=1000, name="Sorry: 10 EUR off")
    return incentive.id


async def give(client: httpx.AsyncClient, token: str, incentive_id: uuid.UUID
               ) -> httpx.Response:
    return await client.post("/helpdesk/panel/give",
                             headers={PANEL: token, "HX-Request": "true"},
                             data={"incentive_id": str(incentive_id),
                                   "reason": "late_delivery", "severity": "4"})


# --- the app's request ----------------------------------------------------------------------

async def test_the_apps_request_opens_the_panel_through_a_link_that_works_once(
        client: httpx.AsyncClient, db: Database, freshdesk: Freshdesk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, freshdesk, frame_origins=[freshdesk.url])
    await ready(db, tenant)
    freshdesk.add_ticket("123")
    page, url = await open_panel(client, tenant, installation)
    assert page.status_code == 200, page.text
    assert 'data-customer="C-1"' in page.text
    assert token_of(page) not in url  # the panel's token never is in an address
    # Freshdesk's pages and the app's frame may frame it, and the installation's origins.
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors https://*.freshdesk.com" in policy
    assert "https://d3h0owdjgzys62.cloudfront.net" in policy
    assert freshdesk.url in policy
    again = await client.get(url.removeprefix("http://127.0.0.1:8000"))
    assert again.status_code == 401
    assert "used already or has expired" in again.text
    assert freshdesk.url in again.headers["content-security-policy"]  # shown in the frame


async def test_a_link_not_opened_within_two_minutes_has_expired(
        client: httpx.AsyncClient, db: Database, freshdesk: Freshdesk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, freshdesk)
    await ready(db, tenant)
    freshdesk.add_ticket("123")
    answer = await ask(client, tenant, installation, asking())
    clock.advance(timedelta(seconds=121))
    page = await client.get(answer.json()["panel_url"].removeprefix("http://127.0.0.1:8000"))
    assert page.status_code == 401
    assert 'data-refused="helpdesk_panel_expired"' in page.text


@pytest.mark.parametrize(("case", "secret", "age"), [
    ("missing", None, 0), ("forged", "fd-app-secret-" + "c" * 32, 0),
    ("stale", APP_SECRET, 310), ("from the future", APP_SECRET, -310),
])
async def test_a_request_without_the_secret_or_out_of_time_is_refused(
        client: httpx.AsyncClient, db: Database, freshdesk: Freshdesk, case: str,
        secret: str | None, age: int) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, freshdesk)
    await ready(db, tenant)
    freshdesk.add_ticket("123")
    answer = await ask(client, tenant, installation, asking(age=age), secret=secret)
    assert answer.status_code == 401, case
    assert answer.json()["code"] == "helpdesk_signature_refused"
    assert freshdesk.reads == []  # nothing was asked of Freshdesk


async def test_a_request_sent_again_is_refused(
        client: httpx.AsyncClient, db: Database, freshdesk: Freshdesk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, freshdesk)
    await ready(db, tenant)
    freshdesk.add_ticket("123")
    body = asking()
    assert (await ask(client, tenant, installation, body)).status_code == 200
    replayed = await ask(client, tenant, installation, body)
    assert replayed.status_code == 401
    assert replayed.json()["detail"] == "This signed request was used before."
    # A fresh request (new nonce) of the same agent works.
    assert (await ask(client, tenant, installation, asking())).status_code == 200


async def test_an_agent_without_an_amends_user_is_refused_in_words(
        client: httpx.AsyncClient, db: Database, freshdesk: Freshdesk) -> None:
    tenant = await make_org(db)
    other = await make_org(db)
    await make_user(db, other, email="nobody@acme.example")  # another organisation's
    installation = await install(client, tenant, freshdesk)
    freshdesk.add_ticket("123")
    answer = await ask(client, tenant, installation, asking(agent="nobody@acme.example"))
    assert answer.status_code == 403
    assert answer.json()["code"] == "helpdesk_agent_unknown"
    assert "nobody@acme.example has no Amends user in this organisation" in (
        answer.json()["detail"])


async def test_malformed_requests_are_refused_and_change_nothing(
        client: httpx.AsyncClient, db: Database, freshdesk: Freshdesk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, freshdesk)
    await ready(db, tenant)
    for body in (b"not json", b"{}", json.dumps(asking(ticket_id="12; DROP")).encode()):
        answer = await ask(client, tenant, installation, body)
        assert answer.status_code == 422, body
        assert answer.json()["code"] == "invalid_freshdesk_request"
    wrong = await client.post(f"/helpdesk/{tenant.slug}/{uuid.uuid4()}/freshdesk/session",
                              headers={"Authorization": f"Bearer {APP_SECRET}"}, json=asking())
    assert wrong.status_code == 404


async def test_the_panel_shows_the_ticket_as_freshdesk_tells_it_not_as_the_page_does(
        client: httpx.AsyncClient, db: Database, freshdesk: Freshdesk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, freshdesk)
    await ready(db, tenant)
    # Freshdesk says: Urgent, and the requester is Ann; the page claimed Low and Mallory.
    freshdesk.add_ticket("123", priority=4)
    page, _ = await open_panel(client, tenant, installation, priority="1",
                               requester={"email": "mallory@example.com"})
    assert freshdesk.reads == ["/api/v2/tickets/123?include=requester"]
    assert 'data-customer="C-1"' in page.text
    assert re.search(r"<option selected>4</option>", page.text)  # Urgent: the worst, 4
    unknown = await ask(client, tenant, installation, asking(ticket_id="999"))
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "freshdesk_ticket_not_found"


# --- the one click --------------------------------------------------------------------------

@pytest.mark.parametrize("reply_as", ["public", "note"])
async def test_one_click_posts_the_apology_with_its_code_into_the_ticket(
        client: httpx.AsyncClient, db: Database, freshdesk: Freshdesk, settings: Settings,
        reply_as: str) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, freshdesk, reply_as=reply_as)
    incentive_id = await ready(db, tenant)
    freshdesk.add_ticket("123")
    page, _ = await open_panel(client, tenant, installation)
    given = await give(client, token_of(page), incentive_id)
    assert given.status_code == 200, given.text
    await Worker(db, settings).run_until_idle()
    async with db.transaction(write=False) as session:
        coupon = (await session.scalars(select(Coupon))).one()
        case = (await session.scalars(select(Case))).one()
        message = (await session.scalars(select(Delivery))).one()
    [posted] = freshdesk.posted
    assert posted.ticket_id == "123"
    assert f"Your code: {grouped(coupon.code)}</p>" in posted.body["body"]
    if reply_as == "public":
        assert posted.kind == "reply"
        assert "private" not in posted.body
    else:
        assert posted.kind == "note"
        assert posted.body["private"] is True
    assert (message.status, message.provider_id) == ("delivered", "7001")
    assert case.conversation_ref == "freshdesk:123"
    # The case page links back to the ticket in Freshdesk.
    from amends.helpdesk import service as helpdesk
    async with db.transaction(write=False) as session:
        assert await helpdesk.ticket_url(session, case) == (
            "https://acme.freshdesk.com/a/tickets/123")


async def test_freshdesks_rate_limit_fails_the_post_to_be_retried(freshdesk: Freshdesk) -> None:
    freshdesk.script = [429]
    settings = {"account": "acme.freshdesk.com", "api_key": API_KEY,
                "api_base_url": freshdesk.url}
    reply = Reply(ticket_id="123", text="Sorry.\nYour code: ABC", html=None, public=True,
                  message_id="m-1")
    with outbound.policy(allow_private=True):  # the local Freshdesk is on 127.0.0.1
        with pytest.raises(DeliveryFailed, match="rate limit: retry after 30 s"):
            await freshdesk_client.post_reply(settings, reply)
        assert await freshdesk_client.post_reply(settings, reply) == "7001"
    assert freshdesk.posted[0].body == {"body": "<p>Sorry.</p><p>Your code: ABC</p>"}


# --- automation webhooks --------------------------------------------------------------------

async def hook(client: httpx.AsyncClient, tenant: Tenant, installation: dict[str, Any],
               body: dict[str, Any] | bytes, *, secret: str | None = WEBHOOK_SECRET
               ) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Amends-Secret"] = secret
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(f"/helpdesk/{tenant.slug}/{installation['id']}/freshdesk/events",
                             headers=headers, content=content)


def rule_body(status: str = "Open", tags: str = "amends-late, vip") -> dict[str, Any]:
    """What the README's rule body renders to: every value a string."""
    return {"ticket": {"id": "123", "subject": "Where is it?", "status": status,
                       "priority": "High", "tags": tags,
                       "contact": {"email": "new@example.com", "name": "New Person",
                                   "mobile": "", "unique_external_id": ""}}}


async def test_a_tagged_ticket_opens_its_case_and_resolving_it_fixes_the_case(
        client: httpx.AsyncClient, db: Database, freshdesk: Freshdesk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, freshdesk)
    opened = await hook(client, tenant, installation, rule_body())
    assert opened.status_code == 200, opened.text
    assert opened.json()["outcome"] == "opened"
    async with db.transaction(write=False) as session:
        case = (await session.scalars(select(Case))).one()
    assert (case.reason, case.severity, case.conversation_ref) == (
        "late_delivery", 4, "freshdesk:123")
    # The same body again (a retry, or two rules) is done once.
    assert (await hook(client, tenant, installation, rule_body())).json()["outcome"] == (
        "duplicate")
    untagged = rule_body(tags="vip")
    untagged["ticket"]["id"] = "124"
    assert (await hook(client, tenant, installation, untagged)).json()["outcome"] == "ignored"
    solved = await hook(client, tenant, installation, rule_body(status="Resolved"))
    assert solved.json() == {"outcome": "fixed", "ticket": "123", "case": case.reference}
    async with db.transaction(write=False) as session:
        assert (await session.scalars(select(Case))).one().state == "fixed"


async def test_webhooks_without_the_secret_or_not_json_are_refused_and_change_nothing(
        client: httpx.AsyncClient, db: Database, freshdesk: Freshdesk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, freshdesk)
    for secret in (None, "wrong-" + "b" * 40):
        answer = await hook(client, tenant, installation, rule_body(), secret=secret)
        assert answer.status_code == 401
        assert answer.json()["code"] == "helpdesk_signature_refused"
    for body in (b'{"ticket": {"id": "{{ticket.id}}"}}', b"{not json", b"[]"):
        answer = await hook(client, tenant, installation, body)
        assert answer.status_code == 422, body
    async with db.transaction(write=False) as session:
        assert (await session.scalars(select(Case))).all() == []

