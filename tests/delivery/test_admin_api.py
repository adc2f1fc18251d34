"""Setting channels and wording up through the API: listing hides secrets, a test message
goes to a real SMTP server and a real SMS receiver at once (and a refusal comes back in the
provider's words), a channel is removed, a template is reset to the shipped wording; each
change is in the audit log."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import httpx

from amends.db import Database
from tests.factories import bearer, make_customer, make_incentive, make_org
from tests.receivers import http_receiver, smtp_server


async def _audit(client: httpx.AsyncClient, admin: dict[str, str], action: str
                 ) -> list[dict[str, Any]]:
    answer = await client.get("/v1/audit-events", headers=admin, params={"action": action})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


async def test_the_channel_list_says_a_secret_is_set_without_showing_it(
        client: httpx.AsyncClient, db: Database) -> None:
    admin = bearer((await make_org(db)).admin_token)
    saved = await client.put("/v1/channels/sms", headers=admin, json={"settings": {
        "account_sid": "AC1", "auth_token": "very-secret-token", "from_number": "+15005550006",
        "base_url": "http://127.0.0.1:9"}, "active": False})
    assert saved.status_code == 200, saved.text
    listed = await client.get("/v1/channels", headers=admin)
    assert listed.status_code == 200
    [sms] = listed.json()
    assert sms["channel"] == "sms"
    assert sms["active"] is False
    assert sms["settings"]["auth_token"] == "set"
    assert sms["settings"]["account_sid"] == "AC1"
    assert "very-secret-token" not in listed.text


async def test_a_test_email_arrives_at_once_and_is_audited(
        client: httpx.AsyncClient, db: Database) -> None:
    admin = bearer((await make_org(db)).admin_token)
    with smtp_server() as mail:
        await client.put("/v1/channels/email", headers=admin, json={"settings": {
            "host": mail.host, "port": mail.port, "security": "none",
            "from_address": "Care <care@shop.example>"}})
        answer = await client.post("/v1/channels/email/test", headers=admin,
                                   json={"to": "ann@example.com"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["ok"] is True, answer.json()
        [message] = mail.to("ann@example.com")  # sent during the request, no worker ran
    assert "Test message from" in str(message["Subject"])
    assert "email channel" in message.get_content()
    [tested] = await _audit(client, admin, "channel.tested")
    assert tested["object_id"] == "email"
    assert tested["after"]["ok"] is True
    assert tested["after"]["to"] == "ann@example.com"


async def test_a_test_sms_reaches_the_provider_and_a_refusal_comes_back_in_its_words(
        client: httpx.AsyncClient, db: Database) -> None:
    admin = bearer((await make_org(db)).admin_token)
    with http_receiver(script=[200, 401],
                       reply=b'{"sid":"SM9","message":"Authenticate"}') as provider:
        await client.put("/v1/channels/sms", headers=admin, json={"settings": {
            "account_sid": "AC7", "auth_token": "tok", "from_number": "+15005550006",
            "base_url": provider.url}})
        sent = await client.post("/v1/channels/sms/test", headers=admin,
                                 json={"to": "+447700900123"})
        refused = await client.post("/v1/channels/sms/test", headers=admin,
                                    json={"to": "+447700900123"})
    assert sent.status_code == 200
    assert sent.json()["ok"] is True
    form = parse_qs(provider.requests[0].body.decode())
    assert form["To"] == ["+447700900123"]
    assert form["From"] == ["+15005550006"]
    assert "sms channel" in form["Body"][0]
    assert refused.status_code == 200
    assert refused.json() == {"ok": False, "detail": 'SMS provider answered 401: '
                                                     '{"sid":"SM9","message":"Authenticate"}'}
    outcomes = [e["after"]["ok"] for e in await _audit(client, admin, "channel.tested")]
    assert sorted(outcomes) == [False, True]


async def test_a_test_needs_a_configured_channel_and_a_real_address(
        client: httpx.AsyncClient, db: Database) -> None:
    admin = bearer((await make_org(db)).admin_token)
    missing = await client.post("/v1/channels/email/test", headers=admin,
                                json={"to": "ann@example.com"})
    assert missing.status_code == 409
    assert missing.json()["code"] == "channel_not_configured"
    unknown = await client.post("/v1/channels/fax/test", headers=admin, json={"to": "1"})
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_channel"
    await client.put("/v1/channels/email", headers=admin, json={"settings": {
        "host": "127.0.0.1", "port": 9, "security": "none", "from_address": "c@shop.example"}})
    bad = await client.post("/v1/channels/email/test", headers=admin, json={"to": "ann"})
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_test_address"
    extra = await client.post("/v1/channels/email/test", headers=admin,
                              json={"to": "ann@example.com", "cc": "bob@example.com"})
    assert extra.status_code == 422
    assert "cc" in [e["field"] for e in extra.json()["errors"]]


async def test_a_removed_channel_refuses_messages_until_set_up_again(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    incentive = await make_incentive(db, tenant)
    await make_customer(db, tenant, external_id="C-1", email="c1@example.com")
    await client.put("/v1/channels/email", headers=admin, json={"settings": {
        "host": "127.0.0.1", "port": 9, "security": "none", "from_address": "c@shop.example"}})
    removed = await client.delete("/v1/channels/email", headers=admin)
    assert removed.status_code == 204
    assert (await client.get("/v1/channels", headers=admin)).json() == []
    again = await client.delete("/v1/channels/email", headers=admin)
    assert again.status_code == 404
    assert again.json()["code"] == "channel_not_found"
    case = (await client.post("/v1/cases", headers=admin, json={
        "customer_id": "C-1", "reason": "late_delivery", "severity": 2,
        "channel": "email"})).json()
    refused = await client.post("/v1/coupons", headers=admin, json={
        "case_id": case["id"], "incentive_id": str(incentive.id)})
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "channel_not_configured"
    [event] = await _audit(client, admin, "channel.removed")
    assert event["object_id"] == "email"
    assert "host" in event["before"]["settings"]


async def test_resetting_a_template_brings_back_the_shipped_wording(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    incentive = await make_incentive(db, tenant)
    await make_customer(db, tenant, external_id="C-1", email="c1@example.com", locale="fr")
    await client.put("/v1/channels/email", headers=admin, json={"settings": {
        "host": "127.0.0.1", "port": 9, "security": "none", "from_address": "c@shop.example"}})
    case = (await client.post("/v1/cases", headers=admin, json={
        "customer_id": "C-1", "reason": "late_delivery", "severity": 2,
        "channel": "email"})).json()
    coupon = (await client.post("/v1/coupons", headers=admin, json={
        "case_id": case["id"], "incentive_id": str(incentive.id)})).json()

    async def subject() -> str:
        preview = await client.post("/v1/templates/preview", headers=admin, json={
            "coupon_id": coupon["id"], "channel": "email"})
        assert preview.status_code == 200, preview.text
        return str(preview.json()["subject"])

    saved = await client.put("/v1/templates", headers=admin, json={
        "kind": "gesture", "channel": "email", "language": "fr",
        "subject": "Pour vous : {{ gesture }}", "body_text": "{{ greeting }} {{ code }}"})
    assert saved.status_code == 200, saved.text
    assert (await subject()).startswith("Pour vous")
    reset = await client.delete("/v1/templates", headers=admin, params={
        "kind": "gesture", "channel": "email", "language": "fr"})
    assert reset.status_code == 204, reset.text
    assert (await subject()).startswith("Avec nos excuses")
    [event] = await _audit(client, admin, "template.reset")
    assert event["before"]["subject"] == "Pour vous : {{ gesture }}"
    gone = await client.delete("/v1/templates", headers=admin, params={
        "kind": "gesture", "channel": "email", "language": "fr"})
    assert gone.status_code == 404
    assert gone.json()["code"] == "template_not_found"
    unknown = await client.delete("/v1/templates", headers=admin, params={
        "kind": "gesture", "channel": "email", "language": "fr", "lang": "fr"})
    assert unknown.status_code == 422
    assert "lang" in [e["field"] for e in unknown.json()["errors"]]
