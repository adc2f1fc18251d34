"""A worker killed with SIGKILL in the middle of 200 emails: a second worker finishes them,
and sends again none of those recorded as sent when it was killed."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter

from sqlalchemy import func, select

from amends.actor import Actor
from amends.db import Database
from amends.delivery import service as delivery
from amends.delivery.service import save_channel
from amends.models import Delivery
from tests.factories import make_coupon, make_customer, make_incentive, make_org
from tests.jobs.test_processes import start_worker, stop
from tests.receivers import smtp_server

TOTAL = 200


async def test_killing_the_worker_mid_send_loses_no_email(db: Database,
                                                          database_url: str) -> None:
    tenant = await make_org(db)
    actor = Actor.system(tenant.id, "tests")
    incentive = await make_incentive(db, tenant)
    with smtp_server() as mail:
        async with db.transaction() as session:
            await save_channel(session, actor, channel="email", active=True, settings={
                "host": mail.host, "port": mail.port, "security": "none",
                "from_address": "care@shop.example"}, allow_private=True)
        for n in range(TOTAL):
            customer = await make_customer(db, tenant, external_id=f"C-{n}",
                                           email=f"c{n}@example.com")
            coupon = await make_coupon(db, tenant, customer=customer, incentive=incentive)
            async with db.transaction() as session:
                await delivery.deliver(session, actor, coupon=coupon, channel="email")
        first = start_worker(database_url, lease=2.0)
        try:
            deadline = time.monotonic() + 60
            while len(mail.messages) < 30 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            first.send_signal(signal.SIGKILL)
            first.wait()
        finally:
            stop(first)
        assert len(mail.messages) < TOTAL, "killed too late to prove anything"
        async with db.transaction(write=False) as session:
            recorded = {str(i) for i in (await session.scalars(
                select(Delivery.id).where(Delivery.status == "sent"))).all()}
        second = start_worker(database_url, lease=2.0)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                async with db.transaction(write=False) as session:
                    sent = await session.scalar(select(func.count()).select_from(Delivery)
                                                .where(Delivery.status == "sent"))
                if sent == TOTAL:
                    break
                await asyncio.sleep(0.2)
        finally:
            stop(second)
        recipients = {m["To"] for m in mail.messages}
        copies = Counter(m["X-Amends-Delivery"] for m in mail.messages)
    assert recipients == {f"c{n}@example.com" for n in range(TOTAL)}
    # Only a message taken in the moment before the kill, not yet recorded, goes twice.
    assert {copies[delivery_id] for delivery_id in recorded} <= {1}
    async with db.transaction(write=False) as session:
        statuses = (await session.scalars(select(Delivery.status))).all()
    assert set(statuses) == {"sent"}
    assert len(statuses) == TOTAL
