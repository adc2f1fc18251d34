"""The case timeline names channels as people do ("SMS", "WhatsApp"), in the reader's language:
its entries keep what they are about (the reason, the channel, the message's kind and address)
and the console words them; an entry stored before they did reads as it was written."""

from __future__ import annotations

import html
import re
import uuid

import httpx

from amends.db import Database
from amends.kit.clock import utcnow
from amends.kit.ids import new_id
from amends.models import CaseEvent
from amends.roles import Role
from tests.factories import (
    bearer,
    make_customer,
    make_incentive,
    make_org,
    make_user,
    staff_headers,
)
from tests.receivers import http_receiver


def _timeline(page: str) -> list[str]:
    """The timeline's entries as a reader sees them, after their date: text only, spaces
    collapsed."""
    part = page.split('<ol class="timeline">', 1)[1].split("</ol>", 1)[0]
    entries = re.findall(r"<li data-event=[^>]*>\s*<span[^>]*>[^<]*</span>(.*?)"
                         r"(?=<li data-event=|$)", part, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", e)).split()) for e in entries]


async def test_the_timeline_reads_sms_and_whatsapp_in_english_and_in_french(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    french = {**agent, "Accept-Language": "fr-FR,fr;q=0.9"}
    incentive = await make_incentive(db, tenant, value=1000, name="Sorry: 10 off")
    await make_customer(db, tenant, external_id="C-1", phone="+33612345678")
    with http_receiver(reply=b'{"sid":"SM1"}') as provider:
        for channel in ("sms", "whatsapp"):
            saved = await client.put(f"/v1/channels/{channel}", headers=admin, json={
                "settings": {"account_sid": "AC1", "auth_token": "tok",
                             "from_number": "+15005550006", "base_url": provider.url}})
            assert saved.status_code == 200, saved.text
        opened = await client.post("/v1/cases", headers=agent, json={
            "customer_id": "C-1", "reason": "late_delivery", "severity": 2,
            "channel": "sms"})
        assert opened.status_code == 201, opened.text
        case = opened.json()
        issued = await client.post("/v1/coupons", headers=agent, json={
            "case_id": case["id"], "incentive_id": str(incentive.id)})
        assert issued.status_code == 201, issued.text
        [sent] = (await client.get(f"/v1/coupons/{issued.json()['id']}/deliveries",
                                   headers=agent)).json()
        again = await client.post(f"/v1/deliveries/{sent['id']}/resend", headers=agent,
                                  json={"channel": "whatsapp"})
        assert again.status_code == 201, again.text

    page = await client.get(f"/cases/{case['id']}", headers=agent)
    said = _timeline(page.text)
    assert said[0].startswith("Case opened: Late delivery, severity 2, via SMS")
    messages = [s for s in said if s.startswith("Gesture message")]
    assert messages[0].startswith("Gesture message via SMS to +33612345678 — ")
    assert messages[1].startswith("Gesture message via WhatsApp to +33612345678 — ")
    # The apology step says how, in the same words.
    assert re.search(r'data-field="apology">\s*Gesture message via SMS to \+33612345678\s*<',
                     page.text)
    assert not re.search(r"via (sms|whatsapp)\b", page.text)

    page = await client.get(f"/cases/{case['id']}", headers=french)
    said = _timeline(page.text)
    assert said[0].startswith("Dossier ouvert : Livraison en retard, gravité 2, par SMS")
    assert any(s.startswith("Geste commercial : message par SMS à +33612345678")
               for s in said), said
    assert any(s.startswith("Geste commercial : message par WhatsApp à +33612345678")
               for s in said), said
    assert re.search(r'data-field="apology">\s*Geste commercial : message par SMS à '
                     r"\+33612345678\s*<", page.text)
    assert "Gesture message" not in page.text
    assert "Case opened" not in page.text

    # The API keeps its English summaries, with the channels named the same way, and the
    # data they are written from.
    timeline = (await client.get(f"/v1/cases/{case['id']}/timeline", headers=agent)).json()
    assert timeline[0]["summary"] == "Case opened: Late delivery, severity 2, via SMS"
    assert timeline[0]["data"] == {"reason": "late_delivery", "reason_label": "Late delivery",
                                   "severity": 2, "channel": "sms"}
    messages = [e for e in timeline if e["kind"] == "message"]
    assert [m["summary"] for m in messages] == [
        "Gesture message via SMS to +33612345678",
        "Gesture message via WhatsApp to +33612345678"]
    assert messages[1]["data"]["message"] == {"kind": "gesture", "channel": "whatsapp",
                                              "address": "+33612345678"}


async def test_an_entry_stored_before_its_words_were_kept_reads_as_it_was_written(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    await make_customer(db, tenant, external_id="C-1", phone="+33612345678")
    opened = await client.post("/v1/cases", headers=agent, json={
        "customer_id": "C-1", "reason": "late_delivery", "severity": 2, "channel": "sms"})
    case = opened.json()
    async with db.transaction() as session:
        for kind, summary, data in (
                ("opened", "Case opened: Late delivery, severity 3, via sms", {}),
                ("message", "Gesture message via sms to +33612345678",
                 {"delivery_id": str(uuid.uuid4()), "status": "queued"}),
                ("state_changed", "open → apologised",
                 {"from": "open", "to": "apologised", "skipped": [],
                  "apology": "Gesture message via sms to +33612345678"})):
            session.add(CaseEvent(id=new_id(), organization_id=tenant.id,
                                  case_id=uuid.UUID(case["id"]), kind=kind, summary=summary,
                                  data=data, actor_label="an agent", created_at=utcnow()))
    for headers in (agent, {**agent, "Accept-Language": "fr"}):
        page = (await client.get(f"/cases/{case['id']}", headers=headers)).text
        said = _timeline(page)
        assert any(s.startswith("Case opened: Late delivery, severity 3, via sms")
                   for s in said), said
        assert any(s.startswith("Gesture message via sms to +33612345678") for s in said)
        # Its step's note too.
        assert any("open → apologised" in s and "Gesture message via sms" in s
                   for s in said), said
