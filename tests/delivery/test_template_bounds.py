"""An organisation's message templates are bounded: in output, in work, in time, and off the
event loop; one that does not render fails its messages, not the server or the worker."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from amends.config import Settings, get_settings
from amends.db import Database
from amends.delivery import sandbox, templates
from amends.jobs import service as jobs
from amends.jobs.worker import Worker
from amends.models import Job, MessageTemplate
from tests.factories import bearer, make_customer, make_incentive, make_org
from tests.receivers import smtp_server

TEN_MEGABYTES = '{{ "x" * 10000000 }}'
NESTED_LOOPS = "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}"
# Seconds of work for an unbounded sandbox, a little in every turn of the loop.
HEAVY = ('{% for i in range(100) %}{% for j in range(300) %}{{ ("x" * 60000).upper()|length }}'
         "{% endfor %}{% endfor %}")
# Renders with the sample values used when saving (customer "Ann"), not for anyone else.
TRAP = '{% if customer_name != "Ann" %}{{ "x" * 10000000 }}{% endif %}Hello {{ customer_name }}'


async def _coupon(client: httpx.AsyncClient, db: Database) -> tuple[dict[str, str], str]:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    incentive = await make_incentive(db, tenant)
    await make_customer(db, tenant, external_id="C-1", name="Ann")
    coupon = await client.post("/v1/coupons", headers=admin, json={
        "customer_id": "C-1", "incentive_id": str(incentive.id)})
    assert coupon.status_code == 201, coupon.text
    return admin, coupon.json()["id"]


async def _preview(client: httpx.AsyncClient, admin: dict[str, str], coupon_id: str,
                   body_text: str) -> httpx.Response:
    return await client.post("/v1/templates/preview", headers=admin, json={
        "coupon_id": coupon_id, "channel": "email", "body_text": body_text})


def _problem(response: httpx.Response, code: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


async def test_a_twenty_byte_template_that_renders_ten_megabytes_is_refused_at_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin, coupon_id = await _coupon(client, db)
    previewed = await _preview(client, admin, coupon_id, TEN_MEGABYTES)
    assert "200,000 characters" in _problem(previewed, "template_too_large")["detail"]
    saved = await client.put("/v1/templates", headers=admin, json={
        "channel": "email", "body_text": TEN_MEGABYTES})
    _problem(saved, "template_too_large")
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(MessageTemplate)) == 0


async def test_nested_loops_and_what_the_sandbox_refuses_answer_422_with_their_reason(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin, coupon_id = await _coupon(client, db)
    _problem(await _preview(client, admin, coupon_id, NESTED_LOOPS), "template_too_complex")
    _problem(await _preview(client, admin, coupon_id, "{{ 9 ** 999999 }}"), "template_too_large")
    refused = _problem(await _preview(client, admin, coupon_id, "{{ code.__class__ }}"),
                       "invalid_template")
    assert "unsafe" in refused["detail"]
    broken = _problem(await _preview(client, admin, coupon_id, "{% for %}"), "invalid_template")
    assert broken["detail"].startswith("Line 1:")
    _problem(await _preview(client, admin, coupon_id, "{{ 1 / 0 }}"), "invalid_template")
    fine = await _preview(client, admin, coupon_id,
                          "{% for n in range(3) %}{{ n }}{% endfor %} {{ code|lower }}")
    assert fine.status_code == 200, fine.text
    assert fine.json()["body_text"].startswith("012 ")


async def test_other_requests_are_served_while_a_heavy_template_renders(
    client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The work bound ends the heavy render, not the clock.
    monkeypatch.setattr(get_settings(), "template_max_seconds", 30.0)
    rendering, rendered = threading.Event(), threading.Event()

    def render_each(*args: Any, **kwargs: Any) -> list[list[str] | sandbox.InvalidTemplate]:
        rendering.set()
        try:
            return sandbox.render_each(*args, **kwargs)
        finally:
            rendered.set()

    monkeypatch.setattr(templates, "render_each", render_each)
    admin, coupon_id = await _coupon(client, db)
    heavy = asyncio.create_task(_preview(client, admin, coupon_id, HEAVY))
    assert await asyncio.to_thread(rendering.wait, 60)
    # Were the render on the event loop, nothing else would run until it ended: the quick
    # request would be answered only once the heavy render was over.
    quick = await client.get(f"/v1/coupons/{coupon_id}", headers=admin)
    assert quick.status_code == 200, quick.text
    assert not rendered.is_set()
    _problem(await heavy, "template_too_complex")


async def test_a_template_that_fails_for_a_real_customer_fails_its_messages_not_the_worker(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    await make_customer(db, tenant, external_id="C-1", name="Bob", email="bob@example.com")
    incentive = await make_incentive(db, tenant, validity_days=2)  # reminded at once
    with smtp_server() as mail:
        await client.put("/v1/channels/email", headers=admin, json={"settings": {
            "host": mail.host, "port": mail.port, "security": "none",
            "from_address": "care@shop.example"}})
        for kind in ("gesture", "reminder"):
            saved = await client.put("/v1/templates", headers=admin, json={
                "kind": kind, "channel": "email", "body_text": TRAP})
            assert saved.status_code == 200, saved.text
        issued = await client.post("/v1/coupons", headers=admin, json={
            "customer_id": "C-1", "incentive_id": str(incentive.id)})
        assert issued.status_code == 201, issued.text
        coupon_id = issued.json()["id"]
        sent = await client.post(f"/v1/coupons/{coupon_id}/deliveries", headers=admin,
                                 json={"channel": "email"})
        assert sent.status_code == 201, sent.text
        assert sent.json()["status"] == "failed"
        assert "template_too_large" in sent.json()["error"]

        async with db.transaction() as session:
            reminder_job = await jobs.enqueue(session, "delivery.remind_expiring")
        await Worker(db, settings).run_until_idle()

        deliveries = (await client.get(f"/v1/coupons/{coupon_id}/deliveries",
                                       headers=admin)).json()
        [reminder] = [d for d in deliveries if d["kind"] == "reminder"]
        assert reminder["status"] == "failed"
        assert reminder["error"].startswith("The template does not render (template_too_large)")
        assert mail.messages == []
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(Job.status).where(Job.id == reminder_job)) == \
            "succeeded"
