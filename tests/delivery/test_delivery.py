from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
from standardwebhooks.webhooks import Webhook

from amends.config import Settings
from amends.db import Database
from amends.delivery.service import twilio_signature
from amends.delivery.templates import sms_segments
from amends.jobs.worker import Worker
from amends.kit.clock import clock
from tests.factories import bearer, make_customer, make_incentive, make_org
from tests.receivers import http_receiver, smtp_server

CHAT_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # a test key, not a credential


async def _setup(client: httpx.AsyncClient, admin: dict[str, str], channel: str,
                 settings: dict[str, Any]) -> None:
    response = await client.put(f"/v1/channels/{channel}", headers=admin,
                                json={"settings": settings})
    assert response.status_code == 200, response.text


async def _case_and_gesture(client: httpx.AsyncClient, admin: dict[str, str], incentive_id: str,
                            *, channel: str, customer: str = "C-1",
                            conversation_ref: str | None = None) -> dict[str, Any]:
    case = (await client.post("/v1/cases", headers=admin, json={
        "customer_id": customer, "reason": "late_delivery", "severity": 2, "channel": channel,
        "conversation_ref": conversation_ref})).json()
    issued = await client.post("/v1/coupons", headers=admin, json={
        "case_id": case["id"], "incentive_id": incentive_id})
    assert issued.status_code == 201, issued.text
    return {"case": case, "coupon": issued.json()}


async def _deliveries(client: httpx.AsyncClient, admin: dict[str, str], coupon_id: str
                      ) -> list[dict[str, Any]]:
    return list((await client.get(f"/v1/coupons/{coupon_id}/deliveries", headers=admin)).json())


async def test_email_sms_helpdesk_and_webhook_reach_real_peers(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    incentive = str((await make_incentive(db, tenant, value=1000, name="Sorry 10")).id)
    for n, phone in enumerate(("+447700900001", "+447700900002", "+447700900003",
                               "+447700900004")):
        await make_customer(db, tenant, external_id=f"C-{n}", email=f"c{n}@example.com",
                            phone=phone, name=f"Customer {n}")
    worker = Worker(db, settings)
    with smtp_server() as mail, \
            http_receiver(reply=b'{"sid":"SM123","status":"queued"}') as sms, \
            http_receiver(reply=b'{"audit":{"id":991}}') as helpdesk, \
            http_receiver() as chat:
        await _setup(client, admin, "email", {"host": mail.host, "port": mail.port,
                                              "security": "none",
                                              "from_address": "care@shop.example"})
        await _setup(client, admin, "sms", {"account_sid": "AC1", "auth_token": "tok",
                                            "from_number": "+15005550006",
                                            "base_url": sms.url})
        await _setup(client, admin, "helpdesk", {"base_url": helpdesk.url,
                                                 "email": "bot@shop.example",
                                                 "api_token": "zd"})
        await _setup(client, admin, "webhook", {"url": chat.url + "/inbox",
                                                "secret": CHAT_SECRET})
        by_email = await _case_and_gesture(client, admin, incentive, channel="email",
                                           customer="C-0")
        by_sms = await _case_and_gesture(client, admin, incentive, channel="sms",
                                         customer="C-1")
        by_ticket = await _case_and_gesture(client, admin, incentive, channel="helpdesk",
                                            customer="C-2", conversation_ref="4411")
        by_chat = await _case_and_gesture(client, admin, incentive, channel="chat",
                                          customer="C-3", conversation_ref="chat-77")
        queued = await _deliveries(client, admin, by_email["coupon"]["id"])
        assert [d["status"] for d in queued] == ["queued"]  # sent by a job, not the request
        await worker.run_until_idle()

        [email] = mail.to("c0@example.com")
        text = email.get_body(("plain",)).get_content()
        assert by_email["coupon"]["code"] in text
        assert "/c/" in text
        assert "€10.00 off your next order" in text
        assert email.get_body(("html",)) is not None
        assert (await _deliveries(client, admin, by_email["coupon"]["id"]))[0]["status"] == \
            "sent"

        [sent_sms] = sms.requests
        form = parse_qs(sent_sms.body.decode())
        assert form["To"] == ["+447700900002"]
        assert by_sms["coupon"]["code"] in form["Body"][0]
        callback = form["StatusCallback"][0]
        delivery = (await _deliveries(client, admin, by_sms["coupon"]["id"]))[0]
        assert delivery["status"] == "sent"
        assert delivery["provider_id"] == "SM123"
        for status in ("sent", "delivered"):
            params = {"MessageSid": "SM123", "MessageStatus": status}
            signature = twilio_signature("tok", callback, params)
            answer = await client.post(callback.replace(settings.base_url, ""), data=params,
                                       headers={"X-Twilio-Signature": signature})
            assert answer.status_code == 200, answer.text
        assert (await _deliveries(client, admin, by_sms["coupon"]["id"]))[0]["status"] == \
            "delivered"
        forged = await client.post(callback.replace(settings.base_url, ""),
                                   data={"MessageStatus": "failed"},
                                   headers={"X-Twilio-Signature": "forged"})
        assert forged.status_code == 403

        [comment] = helpdesk.requests
        assert comment.path == "/api/v2/tickets/4411.json"
        assert by_ticket["coupon"]["code"] in comment.json()["ticket"]["comment"]["body"]
        assert (await _deliveries(client, admin, by_ticket["coupon"]["id"]))[0]["status"] == \
            "delivered"

        [event] = chat.requests
        verified = Webhook(CHAT_SECRET).verify(
            event.body.decode(), event.headers)
        assert verified["data"]["to"] == "chat-77"
        assert by_chat["coupon"]["code"] in verified["data"]["text"]

    timeline = (await client.get(f"/v1/cases/{by_email['case']['id']}/timeline",
                                 headers=admin)).json()
    # The gesture's message carries the apology: the open case is now apologised.
    assert [e["kind"] for e in timeline] == ["opened", "coupon_issued", "message",
                                             "state_changed"]
    assert timeline[-1]["data"]["to"] == "apologised"


async def test_a_customer_without_an_address_gets_a_clear_error_and_nothing_is_issued(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    await _setup(client, admin, "sms", {"account_sid": "AC1", "auth_token": "t",
                                        "from_number": "+15005550006"})
    incentive = await make_incentive(db, tenant)
    await make_customer(db, tenant, external_id="C-1", phone=None)
    case = (await client.post("/v1/cases", headers=admin, json={
        "customer_id": "C-1", "reason": "late_delivery", "severity": 2,
        "channel": "sms"})).json()
    refused = await client.post("/v1/coupons", headers=admin, json={
        "case_id": case["id"], "incentive_id": str(incentive.id)})
    assert refused.status_code == 409
    assert refused.json()["code"] == "no_address_for_channel"
    assert (await client.get("/v1/coupons", headers=admin)).json()["items"] == []
    copy = await client.post("/v1/coupons", headers=admin, json={
        "case_id": case["id"], "incentive_id": str(incentive.id), "channel": "in_store"})
    assert copy.status_code == 201
    [message] = await _deliveries(client, admin, copy.json()["id"])
    assert message["channel"] == "copy"
    assert copy.json()["code"] in message["body_text"]


async def test_a_flaky_provider_gets_the_message_once_and_a_dead_one_ends_failed(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    incentive = str((await make_incentive(db, tenant)).id)
    await make_customer(db, tenant, external_id="C-1", phone="+447700900001")
    await make_customer(db, tenant, external_id="C-2", phone="+447700900002")
    worker = Worker(db, settings)
    with http_receiver(script=[500, 500, 500], reply=b'{"sid":"SM1"}') as flaky:
        await _setup(client, admin, "sms", {"account_sid": "AC1", "auth_token": "t",
                                            "from_number": "+15005550006",
                                            "base_url": flaky.url})
        flaky_case = await _case_and_gesture(client, admin, incentive, channel="sms",
                                             customer="C-1")
        for _ in range(4):
            await worker.run_until_idle()
            clock.advance(timedelta(minutes=10))
        assert len(flaky.requests) == 4
        [delivery] = await _deliveries(client, admin, flaky_case["coupon"]["id"])
        assert delivery["status"] == "sent"
        assert delivery["attempts"] == 4
    with http_receiver(script=[500] * 20) as dead:
        await _setup(client, admin, "sms", {"account_sid": "AC1", "auth_token": "t",
                                            "from_number": "+15005550006",
                                            "base_url": dead.url})
        dead_case = await _case_and_gesture(client, admin, incentive, channel="sms",
                                            customer="C-2")
        for _ in range(8):
            await worker.run_until_idle()
            clock.advance(timedelta(hours=2))
        [failed] = await _deliveries(client, admin, dead_case["coupon"]["id"])
        assert failed["status"] == "failed"
        assert failed["attempts"] == 6
        assert "500" in failed["error"]
    resent = await client.post(f"/v1/deliveries/{failed['id']}/resend", headers=admin,
                               json={"channel": "copy"})
    assert resent.status_code == 201
    assert resent.json()["status"] == "sent"
    assert resent.json()["resent_from_id"] == failed["id"]


async def test_templates_are_the_organisations_and_sms_length_is_shown(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    incentive = await make_incentive(db, tenant)
    await make_customer(db, tenant, external_id="C-1", name="Ann")
    coupon = (await client.post("/v1/coupons", headers=admin, json={
        "customer_id": "C-1", "incentive_id": str(incentive.id)})).json()
    saved = await client.put("/v1/templates", headers=admin, json={
        "channel": "sms", "body_text": "Hi {{ customer_name }}! {{ gesture }}: {{ code }} "
                                       "until {{ expires }}."})
    assert saved.status_code == 200
    preview = (await client.post("/v1/templates/preview", headers=admin, json={
        "coupon_id": coupon["id"], "channel": "sms"})).json()
    assert preview["body_text"].startswith("Test Retail: Hi Ann! €10.00 off your next order: ")
    assert preview["sms"]["encoding"] == "GSM-7"
    broken = await client.put("/v1/templates", headers=admin, json={
        "channel": "email", "body_text": "{{ nonsense_variable }}"})
    assert broken.status_code == 422
    assert broken.json()["code"] == "invalid_template"
    sandboxed = await client.put("/v1/templates", headers=admin, json={
        "channel": "email", "body_text": "{{ code.__class__.__mro__ }}"})
    assert sandboxed.status_code == 422


def test_sms_segments_follow_gsm7_and_ucs2_rules() -> None:
    assert sms_segments("a" * 160) == {"encoding": "GSM-7", "characters": 160, "segments": 1}
    assert sms_segments("a" * 161)["segments"] == 2
    assert sms_segments("€" * 80)["characters"] == 160
    assert sms_segments("Grüße ✓")["encoding"] == "UCS-2"
    assert sms_segments("✓" * 71)["segments"] == 2
