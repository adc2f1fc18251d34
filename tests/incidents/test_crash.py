"""An incident's run survives its worker being killed with SIGKILL halfway through.

The acceptance is 100,000 customers from a CSV on PostgreSQL (`bench/incidents.py
--kill-halfway` runs that size). The suite runs 1,500: more than the chunks one worker runs at
once (CHUNK x 8 = 800), so the kill, once half of them are processed, lands while the second
wave of chunks is being worked through, as it does at any size; 5,000 took four times as long
and showed nothing more. `AMENDS_TEST_INCIDENT_CUSTOMERS` sets another size.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections import defaultdict
from typing import Any

import httpx
import pytest
from sqlalchemy import func, insert, select

from amends.db import Database
from amends.models import Case, Coupon, Customer, Delivery, IncidentCustomer
from amends.roles import Role
from tests.factories import bearer, make_incentive, make_org, make_user, staff_headers
from tests.jobs.test_processes import start_worker, stop
from tests.receivers import smtp_server

pytestmark = pytest.mark.postgres_only

# More than CHUNK x the worker's concurrency (8), so chunks are still running at the kill.
TOTAL = int(os.environ.get("AMENDS_TEST_INCIDENT_CUSTOMERS", "1500"))
PATIENCE = 60 + TOTAL / 10  # seconds for each worker


async def _progress(client: httpx.AsyncClient, headers: dict[str, str],
                    incident_id: str) -> dict[str, Any]:
    answer = await client.get(f"/v1/incidents/{incident_id}/progress", headers=headers)
    assert answer.status_code == 200, answer.text
    progress: dict[str, Any] = answer.json()
    return progress


@pytest.mark.timeout(2 * PATIENCE + 60)
async def test_killing_the_worker_halfway_leaves_every_customer_one_case_gesture_and_email(
    client: httpx.AsyncClient, db: Database, database_url: str
) -> None:
    """Every affected customer ends with exactly one case, one coupon and one e-mail, though
    the worker running the incident was killed with SIGKILL halfway and a second one finished.

    The kill lands while chunks are being worked through (their transactions roll back and
    the chunks run again), at times while the first messages are being sent (a kill in the
    middle of sending is tests/delivery/test_crash.py's own test).
    "One e-mail" is one Message-ID per recipient. The Message-ID is the delivery id, so a
    message sent right before the kill (the SMTP server had it, the `sent` status never
    committed) is sent again after the lease runs out with the same Message-ID, which mail
    systems drop as a duplicate; a second Message-ID for a customer would be a second email.
    """
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    supervisor = await staff_headers(db, await make_user(db, tenant, role=Role.SUPERVISOR))
    manager = await staff_headers(db, await make_user(db, tenant, role=Role.MANAGER))
    incentive = await make_incentive(db, tenant, value=500, name="Sorry: 5 off")
    async with db.transaction() as session:
        await session.execute(insert(Customer), [
            {"organization_id": tenant.id, "external_id": f"C-{n}",
             "email": f"c{n}@example.com", "name": f"Customer {n}",
             "name_search": f"customer {n}"} for n in range(TOTAL)])
    created = await client.post("/v1/incidents", headers=supervisor, json={
        "title": "Depot fire", "reason": "late_delivery", "severity": 3,
        "incentive_id": str(incentive.id), "message": "A fire at our depot delayed you."})
    assert created.status_code == 201, created.text
    incident_id = created.json()["id"]
    incident = uuid.UUID(incident_id)
    csv_file = "customer_id\n" + "".join(f"C-{n}\n" for n in range(TOTAL))
    added = await client.post(f"/v1/incidents/{incident_id}/customers",
                              headers={**supervisor, "Content-Type": "text/csv"},
                              content=csv_file.encode())
    assert added.status_code == 200, added.text
    assert added.json()["added"] == TOTAL
    approved = await client.post(f"/v1/incidents/{incident_id}/approve", headers=manager,
                                 json={"note": "Everyone at the depot"})
    assert approved.status_code == 200, approved.text

    with smtp_server() as mail:
        saved = await client.put("/v1/channels/email", headers=admin, json={"settings": {
            "host": mail.host, "port": mail.port, "security": "none",
            "from_address": "care@shop.example", "rate_per_second": 100_000}})
        assert saved.status_code == 200, saved.text
        started = await client.post(f"/v1/incidents/{incident_id}/run", headers=supervisor)
        assert started.json()["status"] == "running", started.text

        first = start_worker(database_url, lease=2.0)
        try:
            deadline = time.monotonic() + PATIENCE
            while time.monotonic() < deadline:
                if (await _progress(client, supervisor, incident_id))["processed"] \
                        >= TOTAL // 2:
                    break
                await asyncio.sleep(0.1)
            first.send_signal(signal.SIGKILL)
            assert first.wait() == -signal.SIGKILL
        finally:
            stop(first)
        at_kill = await _progress(client, supervisor, incident_id)
        assert at_kill["processed"] >= TOTAL // 2, at_kill
        # Chunks were left to the second worker, and messages to send.
        assert at_kill["processed"] < TOTAL, "killed too late to prove anything"
        assert len(mail.messages) < TOTAL, "killed too late to prove anything"

        second = start_worker(database_url, lease=2.0)
        try:
            deadline = time.monotonic() + PATIENCE
            while (now := await _progress(client, supervisor, incident_id))["status"] \
                    != "completed":
                assert time.monotonic() < deadline, now
                await asyncio.sleep(0.5)
        finally:
            stop(second)
        received = list(mail.messages)

    message_ids: dict[str, set[str]] = defaultdict(set)
    for message in received:
        message_ids[str(message["To"])].add(str(message["Message-ID"]))
    assert set(message_ids) == {f"c{n}@example.com" for n in range(TOTAL)}
    assert {len(ids) for ids in message_ids.values()} == {1}
    async with db.transaction(write=False) as session:
        cases = (await session.execute(
            select(func.count(), func.count(func.distinct(Case.customer_id)))
            .where(Case.incident_id == incident))).one()
        coupons = (await session.execute(
            select(func.count(), func.count(func.distinct(Coupon.customer_id)))
            .where(Coupon.organization_id == tenant.id))).one()
        deliveries = dict((await session.execute(
            select(Delivery.status, func.count()).where(Delivery.incident_id == incident)
            .group_by(Delivery.status))).all())
        delivery_ids = set((await session.scalars(
            select(Delivery.id).where(Delivery.incident_id == incident))).all())
        states = dict((await session.execute(
            select(IncidentCustomer.state, func.count())
            .where(IncidentCustomer.incident_id == incident)
            .group_by(IncidentCustomer.state))).all())
    assert tuple(cases) == (TOTAL, TOTAL)
    assert tuple(coupons) == (TOTAL, TOTAL)
    assert deliveries == {"sent": TOTAL}
    assert states == {"done": TOTAL}
    # Each e-mail is the one its delivery row records, re-sent or not.
    assert {next(iter(ids)) for ids in message_ids.values()} == {
        f"<{d}@shop.example>" for d in delivery_ids}
