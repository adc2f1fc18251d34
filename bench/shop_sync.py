"""Codes pushed into Shopify per second for an incident's gestures, against the local shop of
the tests (tests/shops/fakes.py: every GraphQL document validated and executed, the leaky
bucket of the chosen plan, THROTTLED answers as Shopify gives them).

    .venv/bin/python -m bench.shop_sync [--customers 10000] [--plan plus] [--concurrency 8]
        [--sqlite-only]

The incident's coupons are written as an incident writes them (one INSERT, and one INSERT of
their `shops.push` jobs), then one worker (8 jobs at a time unless `--concurrency` says)
pushes them. Each push of a customer the shop has not been asked about costs a customer
lookup (about 2 points) and the mutation (about 10): the bucket's restore rate bounds the
throughput, whatever the worker does. Prints the codes pushed per second, the THROTTLED
answers, the plan's ceiling and what a 10,000-customer incident takes on each plan: the
plan's ceiling or the rate measured, whichever is lower.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy import func, insert, select
from tests.shops.fakes import FakeShopify

from amends.actor import Actor
from amends.config import Settings
from amends.coupons import policy
from amends.coupons.service import coupon_values
from amends.db import Database
from amends.incentives.schemas import IncentiveCreate
from amends.incentives.service import create_incentive
from amends.integrations.shopify.client import forget_buckets
from amends.jobs.worker import Worker
from amends.kit import codes
from amends.kit.clock import utcnow
from amends.kit.ids import new_id
from amends.migrate import upgrade
from amends.models import Coupon, Customer, ShopCode
from amends.organizations.service import create_organization
from amends.shops import (
    outbox,
    tasks,  # noqa: F401  (registers the shops' jobs)
)
from amends.shops import service as shops
from bench._net import free_port
from bench._pg import scratch_postgres

ROOT = Path(__file__).resolve().parents[1]
# Restore rates in points a second (https://shopify.dev/docs/apps/build/apis/graphql-admin/
# rate-limits.md); the bucket holds twenty seconds of it.
PLANS = {"standard": 100.0, "advanced": 200.0, "plus": 1000.0, "enterprise": 2000.0}
POINTS_PER_CODE = 12.0  # the customer lookup (2) and the mutation (10), as the shop charges


async def prepare(db: Database, shop_url: str, token: str, secret: str, *,
                  customers: int, emails: list[str]) -> None:
    async with db.transaction() as session:
        organization = await create_organization(session, slug="bench-shops", name="Bench")
        actor = Actor.system(organization.id, "bench")
        await shops.create_connection(
            session, actor, platform="shopify", shop_url=shop_url, name="Bench shop",
            settings={}, secrets={"access_token": token, "client_secret": secret},
            allow_private=True)
        incentive = await create_incentive(session, actor, data=IncentiveCreate.model_validate(
            {"name": "Sorry", "kind": "amount_off", "value": 1000, "currency": "EUR",
             "validity_days": 30}))
        now = utcnow()
        people = [{"id": new_id(), "organization_id": organization.id,
                   "external_id": f"B-{n}", "email": emails[n], "name": f"B {n}",
                   "tags": [], "opted_out_channels": [], "created_at": now, "updated_at": now}
                  for n in range(customers)]
        for start in range(0, customers, 1000):
            await session.execute(insert(Customer), people[start:start + 1000])
        found = {c.id: c for c in (await session.scalars(select(Customer).where(
            Customer.organization_id == organization.id))).all()}
        expires = policy.expiry(now, validity_days=30, valid_until=None)
        rows = [coupon_values(actor, customer=found[p["id"]], incentive=incentive,
                              case_ref=f"INC-{n}", channel="email", code=codes.generate(),
                              face_value=1000, now=now, expires_at=expires)
                for n, p in enumerate(people)]
        for start in range(0, customers, 1000):
            await session.execute(insert(Coupon), rows[start:start + 1000])
        outbox.forget()
        await outbox.coupons_issued(session, organization_id=organization.id,
                                    coupon_ids=[r["id"] for r in rows])


async def pushed(db: Database) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(ShopCode).where(
            ShopCode.status == "pushed")) or 0)


def serve_shop(port: int, *, rate: float, customers: int) -> None:
    """The local shop, in a process of its own (in a thread of the bench's process, each
    request would wait for the interpreter lock)."""
    shop = FakeShopify(maximum=rate * 20, restore_rate=rate)
    for n in range(customers):
        shop.customer(email_of(n))
    uvicorn.run(shop.app(), host="127.0.0.1", port=port, log_level="warning")


def email_of(n: int) -> str:
    return f"b{n}@bench.example"


async def run(url: str, *, customers: int, plan: str, concurrency: int = 8) -> None:
    rate = PLANS[plan]
    settings = Settings(database_url=url, outbound_allow_private=True, embedded_worker=False,
                        worker_concurrency=concurrency, log_level="WARNING",
                        _env_file=None)  # type: ignore[call-arg]
    db = Database(settings)
    forget_buckets()
    port = free_port()
    shop_url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "bench.shop_sync", "--serve-shop",
                               str(port), "--plan", plan, "--customers", str(customers)],
                              cwd=ROOT)
    try:
        for _ in range(200):
            try:
                httpx.get(f"{shop_url}/_stats", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        shop = FakeShopify()
        await prepare(db, shop_url, shop.token, shop.client_secret, customers=customers,
                      emails=[email_of(n) for n in range(customers)])
        started = time.perf_counter()
        await Worker(db, settings).run_until_idle()
        seconds = time.perf_counter() - started
        done = await pushed(db)
        throttled = int(httpx.get(f"{shop_url}/_stats").json()["throttled"])
    finally:
        server.terminate()
        server.wait(timeout=20)
    await db.dispose()
    per_second = done / seconds if seconds else 0.0
    ceiling = rate / POINTS_PER_CODE
    print(f"  plan {plan} ({rate:.0f} points/s, bucket {rate * 20:.0f}): {done} of "
          f"{customers} codes pushed in {seconds:.1f} s = {per_second:.1f} codes/s "
          f"(THROTTLED answers: {throttled}; the plan's ceiling once its bucket is spent: "
          f"{ceiling:.1f} codes/s)")
    # Amends pushes at least `per_second`; a plan's bucket caps it at its ceiling.
    for name, points in PLANS.items():
        bound = min(points / POINTS_PER_CODE, per_second) if throttled == 0 or \
            name != plan else per_second
        print(f"    a 10,000-customer incident on {name:<10} takes about "
              f"{10_000 / bound / 60:5.1f} min ({bound:.1f} codes/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--plan", choices=sorted(PLANS), default="plus")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="jobs the worker runs at once (AMENDS_WORKER_CONCURRENCY)")
    parser.add_argument("--serve-shop", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_shop:
        serve_shop(args.serve_shop, rate=PLANS[args.plan], customers=args.customers)
        return
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        print("SQLite (one writer at a time: each push holds it across its calls to the shop)")
        asyncio.run(run(url, customers=args.customers, plan=args.plan,
                            concurrency=args.concurrency))
    if not args.sqlite_only:
        with scratch_postgres("amends_bench_shops") as url:
            print("PostgreSQL")
            asyncio.run(run(url, customers=args.customers, plan=args.plan,
                            concurrency=args.concurrency))


if __name__ == "__main__":
    main()
