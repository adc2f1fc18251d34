"""Event ingestion throughput (batches of 1,000) and the time of one recovery sweep over
1,000,000 shipments of which 10,000 are late, on PostgreSQL and SQLite.

    .venv/bin/python -m bench.events [--shipments 1000000] [--late 10000] [--batches 20]

The sweep is measured twice: the indexed query that finds the 10,000 candidates, and one run
of the sweep job (it fires for at most 500 shipments per rule and run, each opening a case).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from amends.actor import Actor
from amends.config import Settings
from amends.customers.service import upsert_customer
from amends.db import Database
from amends.events import service as events
from amends.kit.clock import clock
from amends.kit.ids import new_id
from amends.migrate import upgrade
from amends.models import Shipment
from amends.organizations.service import create_organization
from amends.recovery import service as recovery
from amends.recovery.schemas import RuleIn
from bench._pg import scratch_postgres

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def batch(start: int, size: int) -> list[dict[str, object]]:
    return [{"id": f"evt-{n}", "type": "order.placed", "occurred_at": "2026-11-27T09:00:00Z",
             "data": {"order_id": f"O-{n}", "customer_id": f"C-{n % 5000}", "amount": 4999,
                      "currency": "EUR"}} for n in range(start, start + size)]


async def run(url: str, *, shipments: int, late: int, batches: int) -> dict[str, float]:
    clock.freeze(NOW)
    db = Database(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    async with db.transaction() as session:
        org = await create_organization(session, slug="bench", name="Bench")
        actor = Actor.system(org.id, "bench")
        customer, _ = await upsert_customer(session, actor, external_id="C-bench", data={})
    started = time.perf_counter()
    for b in range(batches):
        async with db.transaction() as session:
            await events.ingest(session, actor, batch(b * 1000, 1000))
    ingest_rate = batches * 1000 / (time.perf_counter() - started)

    seeded = time.perf_counter()
    recent, old = NOW - timedelta(hours=2), NOW - timedelta(days=4)
    chunk = 20_000
    for start in range(0, shipments, chunk):
        rows = [{"id": new_id(), "organization_id": org.id, "external_id": f"P-{n}",
                 "customer_id": customer.id, "carrier": "DHL", "status": "in_transit",
                 "last_scan_at": old if n < late else recent, "created_at": old,
                 "updated_at": old} for n in range(start, min(shipments, start + chunk))]
        async with db.transaction() as session:
            await session.execute(insert(Shipment), rows)
        print(f"\r  seeded {min(shipments, start + chunk):,}/{shipments:,} shipments", end="",
              flush=True)
    print(f" in {time.perf_counter() - seeded:.0f} s")
    async with db.transaction() as session:
        rule = await recovery.save_rule(session, actor, data=RuleIn.model_validate({
            "name": "Not scanned for 48 h", "condition": {"type": "not_scanned_for",
                                                          "hours": 48},
            "actions": {"apologise": []}}))
    started = time.perf_counter()
    async with db.transaction(write=False) as session:
        found = await recovery.candidates(session, rule, limit=late + 1000)
    query_seconds = time.perf_counter() - started
    assert len(found) == late, len(found)
    started = time.perf_counter()
    async with db.transaction() as session:
        fired = await recovery.sweep(session)
    sweep_seconds = time.perf_counter() - started
    await db.dispose()
    clock.reset()
    return {"ingest": ingest_rate, "query": query_seconds, "sweep": sweep_seconds,
            "fired": fired}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shipments", type=int, default=1_000_000)
    parser.add_argument("--late", type=int, default=10_000)
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args()
    results = {}
    with scratch_postgres() as url:
        results["PostgreSQL"] = asyncio.run(run(url, shipments=args.shipments, late=args.late,
                                                batches=args.batches))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        upgrade(url)
        results["SQLite"] = asyncio.run(run(url, shipments=args.shipments, late=args.late,
                                            batches=args.batches))
    print(f"\n{args.batches} batches of 1,000 order events; {args.shipments:,} shipments, "
          f"{args.late:,} late")
    for name, r in results.items():
        print(f"{name:10} ingest {r['ingest']:7.0f} events/s · finding the {args.late:,} late "
              f"parcels {r['query'] * 1000:7.0f} ms · one sweep run ({r['fired']:.0f} "
              f"firings, each opening a case) {r['sweep']:6.1f} s")


if __name__ == "__main__":
    main()
