"""Mass incidents: who was affected, the dry run with its cost, the run, pause, resume,
cancel and the report."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select, update

from amends.config import Settings
from amends.db import Database
from amends.incidents import cli as incident_cli
from amends.incidents import service as incidents
from amends.jobs.worker import Worker
from amends.kit.clock import clock
from amends.models import (
    Case,
    CaseEvent,
    Coupon,
    Delivery,
    Incident,
    IncidentCustomer,
    Suppression,
)
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
from tests.receivers import smtp_server


async def _count(db: Database, model: type, *where: object) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(model)
                                        .where(*where)) or 0)  # type: ignore[arg-type]


async def _email(client: httpx.AsyncClient, admin: dict[str, str], host: str,
                 port: int) -> None:
    saved = await client.put("/v1/channels/email", headers=admin, json={"settings": {
        "host": host, "port": port, "security": "none", "from_address": "care@shop.example"}})
    assert saved.status_code == 200, saved.text


async def test_a_csv_of_customers_gets_one_case_one_gesture_one_email_each(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    manager = await staff_headers(db, await make_user(db, tenant, role=Role.MANAGER))
    incentive = await make_incentive(db, tenant, value=500, name="Sorry: 5 off")
    for n in range(12):
        await make_customer(db, tenant, external_id=f"C-{n}", email=f"c{n}@example.com")
    await make_customer(db, tenant, external_id="C-nomail", email=None, phone=None)
    created = await client.post("/v1/incidents", headers=manager, json={
        "title": "Warehouse flood", "reason": "late_delivery", "severity": 3,
        "incentive_id": str(incentive.id), "message": "Our warehouse flooded; we are sorry."})
    assert created.status_code == 201, created.text
    incident = created.json()
    body = "customer_id\n" + "\n".join([f"C-{n}" for n in range(12)]
                                       + ["C-3", "C-nomail", "C-ghost", ""]) + "\n"
    added = await client.post(f"/v1/incidents/{incident['id']}/customers", headers=manager,
                              content=body.encode(), params={},
                              )
    assert added.status_code == 200, added.text
    # Added: the 13 known customers (the incident's count); the unknown id is counted apart.
    assert added.json() == {"read": 15, "added": 13, "duplicates": 1, "unknown": 1}
    again = await client.post(f"/v1/incidents/{incident['id']}/customers", headers=manager,
                              content=body.encode())
    assert again.json()["added"] == 0

    with smtp_server() as mail:
        await _email(client, admin, mail.host, mail.port)
        preview = (await client.get(f"/v1/incidents/{incident['id']}/preview",
                                    headers=manager)).json()
        assert preview["affected"] == 13
        assert preview["unknown"] == 1
        assert preview["unreachable"] == 1
        assert preview["face_value_each"] == 500
        assert preview["face_value_total"] == 13 * 500
        assert preview["expected_cost"] == 13 * 500  # no redemption history yet
        assert preview["needs_approval"] is False
        assert [s["customer_id"] for s in preview["sample"][:3]] == ["C-0", "C-1", "C-2"]

        started = await client.post(f"/v1/incidents/{incident['id']}/run", headers=manager)
        assert started.json()["status"] == "running"
        twice = await client.post(f"/v1/incidents/{incident['id']}/run", headers=manager)
        assert twice.status_code == 409
        assert twice.json()["code"] == "incident_state_conflict"
        await Worker(db, settings).run_until_idle()
        clock.advance(timedelta(seconds=3))  # the job that marks it completed, if needed
        await Worker(db, settings).run_until_idle()
        # A re-run of every chunk (as after a crash) makes no second amends.
        async with db.transaction() as session:
            for chunk in range(2):
                assert await incidents.run_chunk(session, organization_id=tenant.id,
                                                 incident_id=incident["id"], chunk=chunk) == 0
        recipients = Counter(m["To"] for m in mail.messages)
    assert recipients == Counter({f"c{n}@example.com": 1 for n in range(12)})
    assert all("Our warehouse flooded; we are sorry." in m.get_body(("plain",)).get_content()
               for m in mail.messages)
    incident_filter = Case.incident_id.is_not(None)
    assert await _count(db, Case, incident_filter) == 12
    assert await _count(db, Coupon, Coupon.organization_id == tenant.id) == 12
    assert await _count(db, Suppression, Suppression.organization_id == tenant.id) == 12
    report = (await client.get(f"/v1/incidents/{incident['id']}/report",
                               headers=manager)).json()
    assert report["status"] == "completed"
    # Sent over SMTP: the messages left, none is confirmed delivered.
    assert (report["reached"], report["sent"], report["delivered"], report["redeemed"]) == (
        12, 12, 0, 0)
    assert report["states"]["unreachable"] == 1
    assert report["face_value_issued"] == 12 * 500
    download = await client.get(f"/v1/incidents/{incident['id']}/report",
                                headers=manager, params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert len(rows) == 14
    assert {r["state"] for r in rows} == {"done", "unreachable", "unknown"}
    assert all(r["code"] and r["message_status"] == "sent" for r in rows
               if r["state"] == "done")
    reporting = bearer(await make_api_key(db, tenant, scopes=["reports:read"]))
    without_codes = list(csv.DictReader(io.StringIO((await client.get(
        f"/v1/incidents/{incident['id']}/report", headers=reporting,
        params={"format": "csv"})).text)))
    assert len(without_codes) == 14
    assert {r["code"] for r in without_codes} == {""}
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    assert (await client.post("/v1/incidents", headers=agent, json={
        "title": "x", "reason": "late_delivery"})).status_code == 403


async def test_pause_holds_messages_resume_sends_them_and_cancel_revokes_the_rest(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    supervisor = await staff_headers(db, await make_user(db, tenant, role=Role.SUPERVISOR))
    incentive = await make_incentive(db, tenant, value=500)
    for n in range(6):
        await make_customer(db, tenant, external_id=f"P-{n}", email=f"p{n}@example.com")
    ids = []
    for title in ("Site down", "Depot lost"):
        made = (await client.post("/v1/incidents", headers=supervisor, json={
            "title": title, "reason": "late_delivery", "incentive_id": str(incentive.id)}
        )).json()
        members = "\n".join(f"P-{n}" for n in range(3) if title == "Site down") or \
            "\n".join(f"P-{n}" for n in range(3, 6))
        await client.post(f"/v1/incidents/{made['id']}/customers", headers=supervisor,
                          content=members.encode())
        ids.append(made["id"])
    with smtp_server() as mail:
        await _email(client, admin, mail.host, mail.port)
        for incident_id in ids:
            await client.post(f"/v1/incidents/{incident_id}/run", headers=supervisor)
            # The gestures are made (the chunk job ran) but no message has gone yet.
            async with db.transaction() as session:
                await incidents.run_chunk(session, organization_id=tenant.id,
                                          incident_id=incident_id, chunk=0)
        paused = await client.post(f"/v1/incidents/{ids[0]}/pause", headers=supervisor)
        assert paused.json()["status"] == "paused"
        cancelled = await client.post(f"/v1/incidents/{ids[1]}/cancel", headers=supervisor,
                                      json={"reason": "Parcels found"})
        assert cancelled.json()["status"] == "cancelled"
        await Worker(db, settings).run_until_idle()
        assert mail.messages == []
        held = await _count(db, Delivery, Delivery.status == "held")
        assert held == 3
        revoked = await _count(db, Coupon, Coupon.status == "revoked")
        assert revoked == 3
        resumed = await client.post(f"/v1/incidents/{ids[0]}/resume", headers=supervisor)
        assert resumed.json()["status"] == "running"
        await Worker(db, settings).run_until_idle()
        clock.advance(timedelta(seconds=3))
        await Worker(db, settings).run_until_idle()
        assert sorted(m["To"] for m in mail.messages) == [
            "p0@example.com", "p1@example.com", "p2@example.com"]
    async with db.transaction(write=False) as session:
        statuses = dict((await session.execute(select(Incident.title, Incident.status))).all())
    assert statuses == {"Site down": "completed", "Depot lost": "cancelled"}
    assert (await client.post(f"/v1/incidents/{ids[1]}/resume", headers=supervisor)
            ).json()["code"] == "incident_state_conflict"


async def test_above_the_threshold_a_manager_other_than_the_author_approves(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    supervisor = await staff_headers(db, await make_user(db, tenant, role=Role.SUPERVISOR))
    manager = await staff_headers(db, await make_user(db, tenant, role=Role.MANAGER))
    card = await make_incentive(db, tenant, kind="gift_card", value=60_000)
    for n in range(2):
        await make_customer(db, tenant, external_id=f"T-{n}", email=f"t{n}@example.com")
    made = (await client.post("/v1/incidents", headers=supervisor, json={
        "title": "Big", "reason": "lost_parcel", "incentive_id": str(card.id)})).json()
    await client.post(f"/v1/incidents/{made['id']}/customers", headers=supervisor,
                      content=b"T-0\nT-1\n")
    preview = (await client.get(f"/v1/incidents/{made['id']}/preview",
                                headers=supervisor)).json()
    assert preview["face_value_total"] == 120_000
    assert preview["needs_approval"] is True
    refused = await client.post(f"/v1/incidents/{made['id']}/run", headers=supervisor)
    assert refused.status_code == 409
    assert refused.json()["code"] == "incident_needs_approval"
    not_manager = await client.post(f"/v1/incidents/{made['id']}/approve",
                                    headers=supervisor, json={})
    assert not_manager.json()["code"] == "manager_required"
    approved = await client.post(f"/v1/incidents/{made['id']}/approve", headers=manager,
                                 json={"note": "Worth it"})
    assert approved.status_code == 200
    assert approved.json()["approved_by_label"]
    assert (await client.post(f"/v1/incidents/{made['id']}/run", headers=supervisor)
            ).json()["status"] == "running"


async def test_the_depot_query_finds_exactly_the_parcels_scanned_there_and_not_delivered(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    supervisor = await staff_headers(db, await make_user(db, tenant, role=Role.SUPERVISOR))
    events = bearer(await make_api_key(db, tenant, scopes=["events:write"]))
    # (customer, shipment, depot, scan time, delivered afterwards?)
    fixture = [
        ("A", "S-1", "Depot X", "2026-11-20T10:00:00Z", False),  # in
        ("B", "S-2", "Depot X", "2026-11-20T13:59:00Z", False),  # in
        ("C", "S-3", "Depot X", "2026-11-20T14:00:00Z", False),  # at the end: out
        ("D", "S-4", "Depot Y", "2026-11-20T11:00:00Z", False),  # other depot: out
        ("E", "S-5", "Depot X", "2026-11-20T11:00:00Z", True),   # delivered: out
        ("F", "S-6", "Depot X", "2026-11-20T08:59:00Z", False),  # before: out
        ("A", "S-7", "Depot X", "2026-11-20T12:00:00Z", False),  # A twice: once
    ]
    batch = []
    for n, (customer, shipment, depot, at, delivered) in enumerate(fixture):
        batch.append({"id": f"o{n}", "type": "order.placed",
                      "occurred_at": "2026-11-19T10:00:00Z",
                      "data": {"order_id": f"O-{n}", "customer_id": customer, "amount": 3000,
                               "currency": "EUR"}})
        batch.append({"id": f"c{n}", "type": "shipment.created", "occurred_at": at,
                      "data": {"shipment_id": shipment, "order_id": f"O-{n}",
                               "carrier": "dhl"}})
        batch.append({"id": f"s{n}", "type": "shipment.scanned", "occurred_at": at,
                      "data": {"shipment_id": shipment, "location": depot}})
        if delivered:
            batch.append({"id": f"d{n}", "type": "shipment.delivered",
                          "occurred_at": "2026-11-21T09:00:00Z",
                          "data": {"shipment_id": shipment}})
    ingested = await client.post("/v1/events", headers=events, json={"events": batch})
    assert ingested.status_code < 300, ingested.text
    made = (await client.post("/v1/incidents", headers=supervisor, json={
        "title": "Depot X lost parcels", "reason": "lost_parcel"})).json()
    added = await client.post(f"/v1/incidents/{made['id']}/customers/query",
                              headers=supervisor, json={
                                  "kind": "shipments_at_location", "location": "Depot X",
                                  "since": "2026-11-20T09:00:00Z",
                                  "until": "2026-11-20T14:00:00Z"})
    assert added.status_code == 200, added.text
    async with db.transaction(write=False) as session:
        from amends.actor import Actor

        found = await incidents.customers_from_query(
            session, Actor.system(tenant.id), kind="shipments_at_location",
            location="Depot X", since=datetime(2026, 11, 20, 9, tzinfo=UTC),
            until=datetime(2026, 11, 20, 14, tzinfo=UTC))
    assert found == ["A", "B"]
    assert added.json()["added"] == 2
    bad = await client.post(f"/v1/incidents/{made['id']}/customers/query",
                            headers=supervisor, json={
                                "kind": "shipments_at_location", "since": "2026-11-20T09:00:00Z",
                                "until": "2026-11-20T14:00:00Z"})
    assert bad.status_code == 422


async def test_the_cli_imports_a_file_and_follows_the_run_to_its_end(
    client: httpx.AsyncClient, db: Database, settings: Settings, tmp_path: Path
) -> None:
    tenant = await make_org(db)
    supervisor = await staff_headers(db, await make_user(db, tenant, role=Role.SUPERVISOR))
    incentive = await make_incentive(db, tenant, value=300)
    for n in range(5):
        await make_customer(db, tenant, external_id=f"K-{n}", email=f"k{n}@example.com")
    made = (await client.post("/v1/incidents", headers=supervisor, json={
        "title": "Site down", "reason": "late_delivery", "incentive_id": str(incentive.id)})
    ).json()
    file = tmp_path / "affected.csv"
    file.write_text("customer_id\r\n" + "\r\n".join(f"K-{n}" for n in range(5)) + "\r\nK-0")
    await incident_cli.import_file(db, org=tenant.slug, incident_id=uuid.UUID(made["id"]),
                                   file=file)
    preview = (await client.get(f"/v1/incidents/{made['id']}/preview",
                                headers=supervisor)).json()
    assert preview["affected"] == 5
    with smtp_server() as mail:
        await _email(client, bearer(tenant.admin_token), mail.host, mail.port)
        watching = asyncio.create_task(incident_cli.run(
            db, org=tenant.slug, incident_id=uuid.UUID(made["id"]), poll=0.05))
        # The workers work while the command watches, however slowly the command gets going.
        for _ in range(600):
            if watching.done():
                break
            await Worker(db, settings).run_until_idle()
            clock.advance(timedelta(seconds=3))
            await asyncio.sleep(0.05)
        assert await asyncio.wait_for(watching, 10) == "completed"
        assert len(mail.messages) == 5


async def test_an_incidents_cases_are_apologised_with_their_apology_held_out_ones_too(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    manager = await staff_headers(db, await make_user(db, tenant, role=Role.MANAGER))
    incentive = await make_incentive(db, tenant, value=500, name="Sorry: 5 off")
    for n in range(4):
        await make_customer(db, tenant, external_id=f"A-{n}", email=f"a{n}@example.com")
    await make_customer(db, tenant, external_id="A-nomail", email=None, phone=None)
    made = (await client.post("/v1/incidents", headers=manager, json={
        "title": "Depot fire", "reason": "late_delivery", "severity": 3,
        "incentive_id": str(incentive.id), "holdout_percent": 0,
        "message": "A fire at our depot delayed your parcel."})).json()
    await client.post(f"/v1/incidents/{made['id']}/customers", headers=manager,
                      content=b"A-0\nA-1\nA-2\nA-3\nA-nomail\n")
    async with db.transaction() as session:  # A-3 is in the hold-out group
        await session.execute(update(IncidentCustomer).where(
            IncidentCustomer.organization_id == tenant.id,
            IncidentCustomer.customer_external_id == "A-3").values(held_out=True))
    with smtp_server() as mail:
        await _email(client, admin, mail.host, mail.port)
        assert (await client.post(f"/v1/incidents/{made['id']}/run", headers=manager)
                ).json()["status"] == "running"
        await Worker(db, settings).run_until_idle()
        assert len(mail.messages) == 4

    listed = (await client.get("/v1/cases", headers=manager)).json()["items"]
    assert {c["customer_external_id"]: c["state"] for c in listed} == {
        f"A-{n}": "apologised" for n in range(4)}  # the unreachable one has no case
    for case in listed:
        timeline = (await client.get(f"/v1/cases/{case['id']}/timeline",
                                     headers=manager)).json()
        # Opened, its apology sent (with its gesture, or alone for the held-out customer),
        # then apologised with how: in that order, as an agent's case reads.
        assert [e["kind"] for e in timeline] == ["opened", "message", "state_changed"]
        moved = timeline[2]["data"]
        assert (moved["from"], moved["to"]) == ("open", "apologised")
        address = f"{case['customer_external_id'].lower().replace('-', '')}@example.com"
        kind = "incident_apology" if case["customer_external_id"] == "A-3" else "gesture"
        assert moved["message"] == {"kind": kind, "channel": "email", "address": address}
        assert moved["apology"] == (
            f"{'Incident apology' if kind == 'incident_apology' else 'Gesture'} message "
            f"via e-mail to {address}")
        assert timeline[0]["summary"] == "Case opened: Late delivery, severity 3, via e-mail"
        assert timeline[2]["actor_label"] == "incident: Depot fire"
    assert await _count(db, Coupon, Coupon.organization_id == tenant.id) == 3  # not A-3
    audited = (await client.get("/v1/audit-events", headers=admin, params={
        "action": "case.state_changed", "limit": 50})).json()["items"]
    assert sorted(e["object_id"] for e in audited) == sorted(c["id"] for c in listed)
    assert all(e["before"] == {"state": "open"} and e["after"]["state"] == "apologised"
               for e in audited)
    # A re-run of the chunk (as after a crash) moves nothing twice.
    async with db.transaction() as session:
        assert await incidents.run_chunk(session, organization_id=tenant.id,
                                         incident_id=made["id"], chunk=0) == 0
    assert await _count(db, CaseEvent, CaseEvent.organization_id == tenant.id,
                        CaseEvent.kind == "state_changed") == 4
