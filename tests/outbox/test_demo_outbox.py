"""The demo's first gesture is delivered with no set-up: its channels send to the demo's own
mail catcher and receivers, and an admin reads every message on the Outbox page, the e-mail
as the customer sees it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from amends.actor import Actor
from amends.app import create_app
from amends.config import Settings
from amends.db import Database
from amends.demo import seed_channels
from amends.jobs.worker import Worker
from amends.roles import Role
from tests.factories import (
    bearer,
    make_customer,
    make_incentive,
    make_org,
    make_user,
    staff_headers,
)
from tests.web.live import free_port


@asynccontextmanager
async def demo_server(settings: Settings) -> AsyncIterator[str]:
    """The application on a real port, its lifespan run (the mail catcher starts with it)."""
    app = create_app(settings, run_worker=False)
    port = int(str(settings.base_url).rsplit(":", 1)[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_the_first_gestures_go_out_on_every_channel_and_show_in_the_outbox(
        settings: Settings, db: Database, tmp_path: Path) -> None:
    port = free_port()
    demo = settings.model_copy(update={
        "demo_outbox": tmp_path / "outbox", "demo_smtp_port": free_port(),
        "base_url": f"http://127.0.0.1:{port}"})
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    async with db.transaction() as session:
        await seed_channels(session, Actor.system(tenant.id, "demo"), base_url=demo.base_url,
                            smtp_port=demo.demo_smtp_port)
    incentive = str((await make_incentive(db, tenant, value=1000, name="Sorry 10")).id)
    for n in range(5):  # one customer per channel: a second gesture would need approval
        await make_customer(db, tenant, external_id=f"C-{n}", email=f"zoe{n}@example.com",
                            phone=f"+3361234567{n}", name="Zoé Robert")
    owner = await make_user(db, tenant, role=Role.ADMIN)
    agent = await make_user(db, tenant, role=Role.AGENT)
    async with demo_server(demo) as url, httpx.AsyncClient(base_url=url) as http:
        codes: dict[str, str] = {}
        for n, (channel, ref) in enumerate((("email", None), ("sms", None), ("whatsapp", None),
                                            ("helpdesk", "4411"), ("chat", "chat-77"))):
            case = (await http.post("/v1/cases", headers=admin, json={
                "customer_id": f"C-{n}", "reason": "late_delivery", "severity": 2,
                "channel": channel, "conversation_ref": ref})).json()
            issued = await http.post("/v1/coupons", headers=admin, json={
                "case_id": case["id"], "incentive_id": incentive})
            assert issued.status_code == 201, issued.text
            codes[channel] = issued.json()["code"]
        await Worker(db, demo).run_until_idle()

        page = await http.get("/outbox", headers=await staff_headers(db, owner))
        assert page.status_code == 200, page.text
        for channel, code in codes.items():
            if channel != "email":  # the e-mail's code is in its body, one click away
                assert code.replace("-", "") in page.text.replace("-", ""), channel
        for shown in ("zoe0@example.com", "+33612345671", "+33612345672", "ticket 4411",
                      "chat-77"):
            assert shown in page.text
        mails = [line for line in page.text.splitlines() if 'href="/outbox/mail/' in line]
        assert len(mails) == 1
        key = mails[0].split('href="/outbox/mail/')[1].split('"')[0]
        mail = await http.get(f"/outbox/mail/{key}", headers=await staff_headers(db, owner))
        assert mail.status_code == 200
        assert "zoe0@example.com" in mail.text
        body = await http.get(f"/outbox/mail/{key}/body",
                              headers=await staff_headers(db, owner))
        assert body.status_code == 200
        assert "script-src" not in body.headers["content-security-policy"]
        assert '<base target="_top">' in body.text
        link = body.text.split(f"{url}/c/")[1].split('"')[0]
        coupon_page = await http.get(f"/c/{link}")
        assert coupon_page.status_code == 200  # the e-mail's link opens the coupon page

        refused = await http.get("/outbox", headers=await staff_headers(db, agent))
        assert refused.status_code == 403


async def test_without_the_demo_outbox_the_receivers_and_page_are_not_there(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    owner = await make_user(db, tenant, role=Role.ADMIN)
    assert (await client.get("/outbox", headers=await staff_headers(db, owner))
            ).status_code == 404
    sms: dict[str, Any] = {"To": "+33612345678", "From": "+33700000000", "Body": "hi"}
    answer = await client.post("/demo/sms/2010-04-01/Accounts/AC1/Messages.json", data=sms)
    assert answer.status_code == 404
    assert answer.json()["code"] == "demo_outbox_off"
