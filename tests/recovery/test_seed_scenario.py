"""The reference scenario (seed 002): a split order, one parcel delivered, the other stuck at
the depot, and nobody tells the customer — unless a rule does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
from sqlalchemy import func, select

from amends.config import Settings
from amends.db import Database
from amends.jobs.worker import Worker
from amends.kit.clock import clock
from amends.models import Case, RuleFiring
from tests.factories import bearer, make_org
from tests.receivers import http_receiver, smtp_server
from tests.recovery.live_rules import live_rule

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


def event(source_id: str, kind: str, at: str, **data: Any) -> dict[str, Any]:
    return {"id": source_id, "type": kind, "occurred_at": at, "data": data}


async def test_the_lost_speaker_story_end_to_end(client: httpx.AsyncClient, db: Database,
                                                  settings: Settings) -> None:
    clock.freeze(T0)
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    worker = Worker(db, settings)
    with smtp_server() as mail, http_receiver(reply=b'{"sid":"SM1"}') as sms:
        await client.put("/v1/channels/email", headers=admin, json={"settings": {
            "host": mail.host, "port": mail.port, "security": "none",
            "from_address": "care@jl.example"}})
        await client.put("/v1/channels/sms", headers=admin, json={"settings": {
            "account_sid": "AC1", "auth_token": "t", "from_number": "+15005550006",
            "base_url": sms.url}})
        shipping = (await client.post("/v1/incentives", headers=admin, json={
            "name": "Free next-day shipping for 6 months", "kind": "free_shipping",
            "value": 695, "currency": "GBP", "validity_days": 182})).json()
        split_late = {
            "name": "Part of a split order stuck", "condition": {"type": "split_late",
                                                                 "hours": 48},
            "actions": {"open_case": {"reason": "late_delivery", "severity": 3},
                        "apologise": ["email", "sms"], "progress_every_days": 2,
                        "incentive_id": shipping["id"]}}
        # Switched on at once (`live_rule`: its dry run seen first, as the API asks).
        rule = await live_rule(client, admin, split_late)
        story = [
            event("e1", "order.placed", "2026-11-20T09:00:00Z", order_id="JL-1",
                  customer_id="C-1", amount=89900, currency="GBP",
                  promised_at="2026-11-22T18:00:00Z",
                  customer={"name": "Ann", "email": "ann@example.com",
                            "phone": "+447700900123", "currency": "GBP"}),
            event("e2", "shipment.created", "2026-11-20T15:00:00Z", shipment_id="P-1",
                  order_id="JL-1", carrier="DHL", tracking_number="JD01"),
            event("e3", "shipment.created", "2026-11-20T15:00:00Z", shipment_id="P-2",
                  order_id="JL-1", carrier="DHL", tracking_number="JD02"),
            event("e4", "shipment.delivered", "2026-11-22T11:00:00Z", shipment_id="P-1"),
            event("e5", "shipment.scanned", "2026-11-21T06:00:00Z", shipment_id="P-2",
                  location="Leeds depot"),
        ]
        sent = await client.post("/v1/events", headers=admin, json={"events": story})
        assert sent.json()["accepted"] == 5

        clock.freeze(datetime(2026, 11, 23, 12, tzinfo=UTC))  # 18 h late: not yet
        await worker.ensure_periodic()
        await worker.run_until_idle()
        assert await _count(db, Case) == 0
        clock.freeze(datetime(2026, 11, 25, 0, tzinfo=UTC))  # 54 h late
        preview = (await client.post(f"/v1/rules/{rule['id']}/dry-run", headers=admin)).json()
        assert [c["shipment_id"] for c in preview] == ["P-2"]
        assert "delivered" in preview[0]["why"]
        assert await _count(db, Case) == 0  # a dry run changes nothing
        clock.advance(timedelta(minutes=6))
        await worker.run_until_idle()
        assert await _count(db, Case) == 1
        for _ in range(2):  # later sweeps find nothing new
            clock.advance(timedelta(minutes=6))
            await worker.run_until_idle()
        assert await _count(db, Case) == 1
        assert await _count(db, RuleFiring) == 1
        to_ann = mail.to("ann@example.com")
        subjects = sorted(str(m["Subject"]) for m in to_ann)
        assert len(to_ann) == 2, subjects  # the apology and the gesture
        assert any("sorry" in s.lower() and "problem" in s for s in subjects)
        gesture_mail = next(m for m in to_ann if "shipping" in str(m["Subject"]))
        assert "free shipping for 6 months" in gesture_mail.get_body(("plain",)).get_content()
        assert len(sms.requests) == 1
        assert "late" in parse_qs(sms.requests[0].body.decode())["Body"][0]
        case = (await client.get("/v1/cases", headers=admin)).json()["items"][0]
        assert case["state"] == "apologised"
        assert case["conversation_ref"] == "P-2"

        for _ in range(2):  # one progress update per interval
            clock.advance(timedelta(days=2, minutes=1))
            await worker.run_until_idle()
        progress = [m for m in mail.to("ann@example.com") if "update" in str(m["Subject"])]
        assert len(progress) == 2

        await client.post("/v1/events", headers=admin, json=event(
            "e6", "shipment.delivered", "2026-11-29T10:00:00Z", shipment_id="P-2"))
        fixed = (await client.get(f"/v1/cases/{case['id']}", headers=admin)).json()
        assert fixed["state"] == "fixed"
        clock.advance(timedelta(days=2, minutes=1))
        await worker.run_until_idle()
        assert len([m for m in mail.to("ann@example.com")
                    if "update" in str(m["Subject"])]) == 2  # no more updates once fixed
        clock.advance(timedelta(days=1, minutes=1))  # three days after the fix
        await worker.run_until_idle()
        assert [m for m in mail.to("ann@example.com") if "How did we do" in str(m["Subject"])]

        await client.post("/v1/events", headers=admin, json=event(
            "e7", "purchase.completed", "2026-12-10T10:00:00Z", order_id="JL-2",
            customer_id="C-1", amount=129900, currency="GBP"))
        await worker.run_until_idle()
        assert [m for m in mail.to("ann@example.com") if str(m["Subject"]) == "Thank you"]
        closed = (await client.get(f"/v1/cases/{case['id']}", headers=admin)).json()
        assert closed["state"] == "closed"
        timeline = [e["kind"] for e in (await client.get(
            f"/v1/cases/{case['id']}/timeline", headers=admin)).json()]
        assert timeline.count("message") >= 6
        assert "thanked" in timeline


async def _count(db: Database, model: type) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)
