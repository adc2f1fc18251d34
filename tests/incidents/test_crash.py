"""An incident's run survives its worker being killed with SIGKILL halfway through.

The acceptance is 100,000 customers from a CSV on PostgreSQL (`bench/incidents.py
--kill-halfway` runs that size). The suite runs it at the acceptance's test size, 5,000
(about half a minute here), and at 2,000 on Citus; `AMENDS_TEST_INCIDENT_CUSTOMERS` and
`AMENDS_TEST_INCIDENT_CUSTOMERS_CITUS` set others.
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
TOTAL = int(os.environ.get("AMENDS_TEST_INCIDENT_CUSTOMERS", "5000"))
PATIENCE = 60 + TOTAL / 10  # seconds for each worker
# On Citus each statement also crosses to a worker and each job commits on two nodes (its row
# on the coordinator, the organisation's rows on a worker): 2,000 customers, still more than
# twice CHUNK x concurrency, keep the run there within the CI's time (5,000 take two minutes).
CITUS_TOTAL = int(os.environ.get("AMENDS_TEST_INCIDENT_CUSTOMERS_CITUS", "2000"))


async def _progress(client: httpx.AsyncClient, headers: dict[str, str],
                    incident_id: str) -> dict[str, Any]:
    answer = await client.get(f"/v1/incidents/{incident_id}/progress", headers=headers)
    assert answer.status_code == 200, answer.text
    progress: dict[str, Any] = answer.json()
    return progress


@pytest.mark.timeout(2 * PATIENCE + 60)
async def test_killing_the_worker_halfway_leaves_every_customer_one_case_gesture_and_email(
    client: httpx.AsyncClient, db: Database, database_url: str, backend: str
) -> None:
    """Every affected customer ends with exactly one case, one coupon and one e-mail, though
    the worker running the incident was killed with SIGKILL halfway and a second one finished.

    The kill lands while chunks are being worked through (their transactions roll back and
    the chunks run again) and, often, while the first messages are being sent.
    "One e-mail" is one Message-ID per recipient. The Message-ID is the delivery id, so a
    message sent right before the kill (the SMTP server had it, the `sent` status never
    committed) is sent again after the lease runs out with the same Message-ID, which mail
    systems drop as a duplicate; a second Message-ID for a customer would be a second email.
    """
    total = CITUS_TOTAL if backend == "citus" else TOTAL
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    supervisor = await staff_headers(db, await make_user(db, tenant, role=Role.SUPERVISOR))
    manager = await staff_headers(db, await make_user(db, tenant, role=Role.MANAGER))
    incentive = await make_incentive(db, tenant, value=500, name="Sorry: 5 off")
    async with db.transaction() as session:
        await session.execute(insert(Customer), [
            {"organization_id": tenant.id, "external_id": f"C-{n}",
             "email": f"c{n}@example.com", "name": f"Customer {n}",
             "name_search": f"customer {n}"} for n in range(total)])
    created = await client.post("/v1/incidents", headers=supervisor, json={
        "title": "Depot fire", "reason": "late_delivery", "severity": 3,
        "incentive_id": str(incentive.id), "message": "A fire at our depot delayed you."})
    assert created.status_code == 201, created.text
    incident_id = created.json()["id"]
    incident = uuid.UUID(incident_id)
    csv_file = "customer_id\n" + "".join(f"C-{n}\n" for n in range(total))
    added = await client.post(f"/v1/incidents/{incident_id}/customers",
                              headers={**supervisor, "Content-Type": "text/csv"},
                              content=csv_file.encode())
    assert added.status_code == 200, added.text
    assert added.json()["added"] == total
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
                        >= total // 2:
                    break
                await asyncio.sleep(0.1)
            first.send_signal(signal.SIGKILL)
            assert first.wait() == -signal.SIGKILL
        finally:
            stop(first)
        at_kill = await _progress(client, supervisor, incident_id)
        assert at_kill["processed"] >= total // 2, at_kill
        assert len(mail.messages) < total, "killed too late to prove anything"

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
    assert set(message_ids) == {f"c{n}@example.com" for n in range(total)}
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
    assert tuple(cases) == (total, total)
    assert tuple(coupons) == (total, total)
    assert deliveries == {"sent": total}
    assert states == {"done": total}
    # Each e-mail is the one its delivery row records, re-sent or not.
    assert {next(iter(ids)) for ids in message_ids.values()} == {
        f"<{d}@shop.example>" for d in delivery_ids}
