from __future__ import annotations

import re
from datetime import timedelta

import httpx

from amends.config import Settings
from amends.db import Database
from amends.jobs.worker import Worker
from amends.kit.clock import clock
from tests.factories import bearer, make_customer, make_incentive, make_org
from tests.receivers import smtp_server


async def test_opening_the_page_is_recorded_once_and_feedback_lands_on_the_case(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    await make_customer(db, tenant, external_id="C-1", name="Ann")
    incentive = await make_incentive(db, tenant)
    case = (await client.post("/v1/cases", headers=admin, json={
        "customer_id": "C-1", "reason": "late_delivery", "severity": 2,
        "channel": "in_store"})).json()
    coupon = (await client.post("/v1/coupons", headers=admin, json={
        "case_id": case["id"], "incentive_id": str(incentive.id)})).json()
    [message] = (await client.get(f"/v1/coupons/{coupon['id']}/deliveries",
                                  headers=admin)).json()
    page_path = re.search(r"(/c/[A-Za-z0-9_-]+)", message["body_text"]).group(1)  # type: ignore[union-attr]
    first = await client.get(page_path)
    assert first.status_code == 200
    assert coupon["code"] in first.text
    assert "How did we do" not in first.text  # feedback only once the case is fixed
    opened = (await client.get(f"/v1/coupons/{coupon['id']}/deliveries",
                               headers=admin)).json()[0]["opened_at"]
    assert opened is not None
    clock.advance(timedelta(hours=1))
    await client.get(page_path)
    again = (await client.get(f"/v1/coupons/{coupon['id']}/deliveries",
                              headers=admin)).json()[0]["opened_at"]
    assert again == opened

    await client.post(f"/v1/cases/{case['id']}/transitions", headers=admin, json={
        "to": "fixed", "skip_reason": "Fixed on the phone", "remedy": "Gesture given"})
    page = await client.get(page_path)
    assert "How did we do" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    forged = await client.post(f"{page_path}/feedback", data={"score": "5", "csrf_token": "x"})
    assert forged.status_code == 403
    sent = await client.post(f"{page_path}/feedback", data={
        "score": "4", "comment": "Quick and kind", "csrf_token": token})
    assert sent.status_code == 303
    thanked = await client.get(sent.headers["location"])
    assert "Thank you" in thanked.text
    assert "How did we do" not in thanked.text
    timeline = (await client.get(f"/v1/cases/{case['id']}/timeline", headers=admin)).json()
    assert timeline[-1]["kind"] == "feedback"
    assert "4/5" in timeline[-1]["summary"]
    missing = await client.get("/c/not-a-token", headers={"accept": "text/html"})
    assert missing.status_code == 404


async def test_customers_are_reminded_once_before_a_gesture_expires(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    await make_customer(db, tenant, external_id="C-1", email="ann@example.com")
    incentive = await make_incentive(db, tenant, validity_days=10)
    with smtp_server() as mail:
        await client.put("/v1/channels/email", headers=admin, json={"settings": {
            "host": mail.host, "port": mail.port, "security": "none",
            "from_address": "care@shop.example"}})
        coupon = (await client.post("/v1/coupons", headers=admin, json={
            "customer_id": "C-1", "incentive_id": str(incentive.id),
            "channel": "email"})).json()
        worker = Worker(db, settings)
        await worker.ensure_periodic()
        await worker.run_until_idle()
        assert len(mail.messages) == 1  # the gesture itself
        clock.advance(timedelta(days=6))  # 4 days left: not yet
        await worker.run_until_idle()
        clock.advance(timedelta(hours=2))
        await worker.run_until_idle()
        assert len(mail.messages) == 1
        clock.advance(timedelta(days=1, hours=1))  # under 3 days left
        for _ in range(3):
            await worker.run_until_idle()
            clock.advance(timedelta(hours=1, minutes=1))
        reminders = [m for m in mail.messages if "expires" in str(m["Subject"])]
        assert len(reminders) == 1
        assert coupon["code"] in reminders[0].get_body(("plain",)).get_content()
