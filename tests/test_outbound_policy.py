"""Server-side request forgery: webhook endpoints and channel settings may name only public
peers (refused on save with 422), and the worker checks again on the address it connects to,
so a peer saved earlier, or a name that now resolves elsewhere, gets nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from amends.app import create_app
from amends.config import Settings
from amends.db import Database
from amends.jobs.worker import Worker
from amends.models import ChannelConfig
from tests.factories import bearer, make_customer, make_incentive, make_org
from tests.receivers import http_receiver, smtp_server

NON_PUBLIC_URLS = [
    ("http://127.0.0.1:8080/hook", "127.0.0.1", "loopback"),
    ("http://[::1]/hook", "::1", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "link_local"),
    ("http://10.0.0.5/hook", "10.0.0.5", "private"),
    ("https://192.168.1.20/hook", "192.168.1.20", "private"),
    ("http://100.64.1.1/hook", "100.64.1.1", "shared"),
    ("http://0.0.0.0:5432/", "0.0.0.0", "unspecified"),
    ("http://[::ffff:127.0.0.1]/hook", "::ffff:7f00:1", "loopback"),  # IPv4-mapped
    ("http://[fd12::1]/hook", "fd12::1", "private"),
    ("http://localhost:8000/hook", None, "loopback"),  # a name: judged by what it resolves to
    ("http://2130706433/hook", "127.0.0.1", "loopback"),  # 127.0.0.1 written as one number
]
CHANNEL_SECRETS = {
    "email": {"from_address": "care@shop.example", "security": "none"},
    "sms": {"account_sid": "AC1", "auth_token": "tok", "from_number": "+15005550006"},
    "whatsapp": {"account_sid": "AC1", "auth_token": "tok", "from_number": "+15005550006"},
    "helpdesk": {"email": "bot@shop.example", "api_token": "zd"},
    "webhook": {"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},  # a test key
}
PEER_SETTING = {"sms": "base_url", "whatsapp": "base_url", "helpdesk": "base_url",
                "webhook": "url"}


@pytest.fixture
async def strict(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The API as deployed: non-public peers refused (the other fixtures allow them)."""
    app = create_app(settings.model_copy(update={"outbound_allow_private": False}),
                     run_worker=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://testserver") as client:
        yield client
    await app.state.db.dispose()


def _assert_refused(response: httpx.Response, *, field: str, address: str | None,
                    reason: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "outbound_address_refused"
    assert problem["field"] == field
    assert problem["reason"] == reason
    if address is not None:
        assert problem["address"] == address
        assert address in problem["detail"]


async def _channels_saved(db: Database) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(ChannelConfig)) or 0)


async def test_webhook_endpoints_at_non_public_addresses_are_refused_and_not_saved(
    strict: httpx.AsyncClient, db: Database
) -> None:
    admin = bearer((await make_org(db)).admin_token)
    for url, address, reason in NON_PUBLIC_URLS:
        response = await strict.post("/v1/webhook-endpoints", headers=admin,
                                     json={"url": url, "event_types": ["case.opened"]})
        _assert_refused(response, field="url", address=address, reason=reason)
    assert (await strict.get("/v1/webhook-endpoints", headers=admin)).json() == []


async def test_channel_settings_naming_non_public_peers_are_refused_and_not_saved(
    strict: httpx.AsyncClient, db: Database
) -> None:
    admin = bearer((await make_org(db)).admin_token)
    for channel, setting in PEER_SETTING.items():
        for url, address, reason in NON_PUBLIC_URLS:
            response = await strict.put(f"/v1/channels/{channel}", headers=admin, json={
                "settings": {**CHANNEL_SECRETS[channel], setting: url}})
            _assert_refused(response, field=f"settings.{setting}", address=address,
                            reason=reason)
    for host, address, reason in [("127.0.0.1", "127.0.0.1", "loopback"),
                                  ("::1", "::1", "loopback"),
                                  ("169.254.169.254", "169.254.169.254", "link_local"),
                                  ("10.20.30.40", "10.20.30.40", "private"),
                                  ("localhost", None, "loopback")]:
        response = await strict.put("/v1/channels/email", headers=admin, json={
            "settings": {**CHANNEL_SECRETS["email"], "host": host, "port": 25}})
        _assert_refused(response, field="settings.host", address=address, reason=reason)
    assert await _channels_saved(db) == 0


async def test_peer_settings_that_are_not_http_urls_or_do_not_resolve_are_refused(
    strict: httpx.AsyncClient, db: Database
) -> None:
    admin = bearer((await make_org(db)).admin_token)
    for bad in ("file:///etc/passwd", "gopher://10.0.0.1:70/", "api.twilio.com"):
        response = await strict.put("/v1/channels/sms", headers=admin, json={
            "settings": {**CHANNEL_SECRETS["sms"], "base_url": bad}})
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid_outbound_url"
        assert response.json()["field"] == "settings.base_url"
    for not_a_url in ("", 42):  # not even text: refused by the settings' schema
        response = await strict.put("/v1/channels/sms", headers=admin, json={
            "settings": {**CHANNEL_SECRETS["sms"], "base_url": not_a_url}})
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid_channel_settings"
        assert [e["field"] for e in response.json()["errors"]] == ["settings.base_url"]
    unresolvable = await strict.put("/v1/channels/helpdesk", headers=admin, json={
        "settings": {**CHANNEL_SECRETS["helpdesk"], "base_url": "https://zendesk.invalid"}})
    _assert_refused(unresolvable, field="settings.base_url", address=None,
                    reason="unresolvable")
    assert "zendesk.invalid does not resolve" in unresolvable.json()["detail"]
    assert await _channels_saved(db) == 0


async def test_public_peers_are_accepted_while_non_public_ones_are_refused(
    strict: httpx.AsyncClient, db: Database
) -> None:
    admin = bearer((await make_org(db)).admin_token)
    created = await strict.post("/v1/webhook-endpoints", headers=admin,
                                json={"url": "https://93.184.215.14/hooks"})
    assert created.status_code == 201, created.text
    saved = await strict.put("/v1/channels/sms", headers=admin, json={
        "settings": {**CHANNEL_SECRETS["sms"], "base_url": "https://[2606:4700::1111]"}})
    assert saved.status_code == 200, saved.text
    assert await _channels_saved(db) == 1


async def _gesture(client: httpx.AsyncClient, admin: dict[str, str], incentive_id: str, *,
                   channel: str, customer: str) -> str:
    case = (await client.post("/v1/cases", headers=admin, json={
        "customer_id": customer, "reason": "late_delivery", "severity": 2, "channel": channel,
        "conversation_ref": "4411"})).json()
    issued = await client.post("/v1/coupons", headers=admin, json={
        "case_id": case["id"], "incentive_id": incentive_id})
    assert issued.status_code == 201, issued.text
    return str(issued.json()["id"])


async def _saved(client: httpx.AsyncClient, admin: dict[str, str], channel: str,
                 settings: dict[str, Any]) -> None:
    response = await client.put(f"/v1/channels/{channel}", headers=admin,
                                json={"settings": {**CHANNEL_SECRETS[channel], **settings}})
    assert response.status_code == 200, response.text


async def test_peers_saved_while_allowed_get_nothing_once_the_worker_refuses_them(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    """Saved under a permissive setting (or a name that resolved to a public address then):
    the worker judges the address it would connect to, and the delivery records why."""
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    incentive = str((await make_incentive(db, tenant, value=500)).id)
    for n in range(4):
        await make_customer(db, tenant, external_id=f"C-{n}", email=f"c{n}@example.com",
                            phone=f"+44770090000{n}")
    with smtp_server() as mail, http_receiver() as sms, http_receiver() as helpdesk, \
            http_receiver() as chat, http_receiver() as hooks:
        await _saved(client, admin, "email", {"host": mail.host, "port": mail.port})
        await _saved(client, admin, "sms", {"base_url": sms.url.replace("127.0.0.1",
                                                                          "localhost")})
        await _saved(client, admin, "helpdesk", {"base_url": helpdesk.url})
        await _saved(client, admin, "webhook", {"url": chat.url + "/inbox"})
        endpoint = (await client.post("/v1/webhook-endpoints", headers=admin, json={
            "url": hooks.url + "/events", "event_types": ["case.opened"]})).json()
        coupons = {channel: await _gesture(client, admin, incentive, channel=channel,
                                           customer=f"C-{n}")
                   for n, channel in enumerate(("email", "sms", "helpdesk", "chat"))}

        strict = settings.model_copy(update={"outbound_allow_private": False})
        assert await Worker(db, strict).run_until_idle() > 0

        assert mail.messages == []
        assert sms.requests == helpdesk.requests == chat.requests == hooks.requests == []
    for channel, coupon_id in coupons.items():
        [delivery] = (await client.get(f"/v1/coupons/{coupon_id}/deliveries",
                                       headers=admin)).json()
        assert delivery["status"] == "queued"  # failed this attempt, retried later
        assert delivery["sent_at"] is None
        expected = ("localhost resolves to" if channel == "sms"
                    else "127.0.0.1 is a loopback address")
        assert expected in delivery["error"], (channel, delivery["error"])
        assert "loopback" in delivery["error"]
    log = (await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries",
                            headers=admin)).json()
    assert [d["status"] for d in log] == ["retrying"] * 4
    assert all("127.0.0.1 is a loopback address" in d["last_error"] for d in log)
