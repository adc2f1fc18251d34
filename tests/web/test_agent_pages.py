"""The agent's pages: find a customer (also by order id), read their timeline, open a case,
give a gesture, watch the message, resend it elsewhere, extend it, add a note."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from amends.db import Database
from amends.kit.clock import clock
from amends.roles import Role
from tests.factories import (
    bearer,
    make_api_key,
    make_customer,
    make_incentive,
    make_org,
    make_user,
    staff_headers,
)


async def test_an_agent_finds_a_customer_opens_a_case_and_works_it_from_the_pages(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT,
                                                    email="al@shop.example"))
    incentive = await make_incentive(db, tenant, value=1000, name="Sorry: 10 off")
    await make_customer(db, tenant, external_id="C-5", email="rae@example.com")
    events = bearer(await make_api_key(db, tenant, scopes=["events:write"]))
    sent = await client.post("/v1/events", headers=events, json={
        "id": "o1", "type": "order.placed", "occurred_at": "2026-11-01T10:00:00Z",
        "data": {"order_id": "W-4411", "customer_id": "C-5", "amount": 5400,
                 "currency": "EUR"}})
    assert sent.status_code < 300, sent.text

    await client.put("/v1/channels/email", headers=bearer(tenant.admin_token), json={
        "settings": {"host": "127.0.0.1", "port": 2525, "security": "none",
                     "from_address": "care@shop.example"}})

    found = await client.get("/", headers=agent, params={"q": "W-4411"})
    assert '/customers/C-5"' in found.text
    page = await client.get("/customers/C-5", headers=agent)
    assert page.status_code == 200
    assert "Order W-4411 placed, €54.00" in page.text

    opened = await client.post("/customers/C-5/cases", headers=agent, data={
        "reason": "late_delivery", "severity": "3", "channel": "copy",
        "conversation_ref": "ZD-1", "summary": "Parcel a week late"})
    assert opened.status_code == 303
    case_url = opened.headers["location"].split("?")[0]
    case_id = case_url.rsplit("/", 1)[1]
    case_page = await client.get(case_url, headers=agent)
    assert "Sorry: 10 off" in case_page.text  # recommended

    given = await client.post(f"{case_url}/gestures", headers=agent,
                              data={"incentive_id": str(incentive.id)})
    assert "Gesture+given" in given.headers["location"]
    part = await client.get(f"{case_url}/given", headers=agent)
    code = re.search(r"<code>([0-9A-Z-]+)</code>", part.text)
    assert code
    assert "Message to paste" in part.text
    assert code.group(1).replace("-", "") in part.text.replace("-", "")
    assert 'data-delivery-status="sent"' in part.text
    assert "hx-trigger" not in part.text  # nothing on its way: the page stops polling
    delivery_id = re.search(r'data-delivery="([0-9a-f-]+)"', part.text)
    assert delivery_id

    no_email = await client.post(f"{case_url}/messages/{delivery_id.group(1)}/resend",
                                 headers=agent, data={"channel": "sms"})
    assert "problem=" in no_email.headers["location"]
    again = await client.post(f"{case_url}/messages/{delivery_id.group(1)}/resend",
                              headers=agent, data={"channel": "email"})
    assert "Sent+again+by+e-mail+to+rae%40example.com" in again.headers["location"]
    part = await client.get(f"{case_url}/given", headers=agent)
    assert part.text.count("data-delivery=") == 2
    assert 'hx-trigger="every 1s"' in part.text  # the e-mail is queued: the page polls

    coupon_id = re.search(r'data-coupon="([0-9a-f-]+)"', part.text)
    assert coupon_id
    clock.freeze(clock.now() + timedelta(days=61))
    part = await client.get(f"{case_url}/given", headers=agent)
    assert 'data-coupon-status="expired"' in part.text
    reinstated = await client.post(f"{case_url}/gestures/{coupon_id.group(1)}/reinstate",
                                   headers=agent, data={"days": "30"})
    assert "is+valid+until" in reinstated.headers["location"]
    part = await client.get(f"{case_url}/given", headers=agent)
    assert 'data-coupon-status="active"' in part.text

    noted = await client.post(f"{case_url}/notes", headers=agent,
                              data={"text": "Customer called back, happy"})
    assert noted.status_code == 303
    # The gesture's message carried the apology: the case is apologised; the review is next.
    moved = await client.post(f"{case_url}/steps", headers=agent,
                              data={"to": "reviewing", "root_cause": "carrier",
                                    "responsible_party": "DHL depot Leeds"})
    assert "now+reviewing" in moved.headers["location"]
    final = await client.get(case_url, headers=agent)
    assert "Customer called back, happy" in final.text
    assert 'data-state="reviewing"' in final.text
    assert "DHL depot Leeds" in final.text
    timeline = await client.get("/customers/C-5", headers=agent)
    assert f'/cases/{case_id}"' in timeline.text
    assert "Sorry: 10 off" in timeline.text

    other = await make_org(db)
    stranger = await staff_headers(db, await make_user(db, other, role=Role.AGENT))
    assert (await client.get("/customers/C-5", headers=stranger)).status_code == 404
    assert (await client.get(f"{case_url}/given", headers=stranger)).status_code == 404
