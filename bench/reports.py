"""How fast the manager's pages and the report API answer, against the same pages for an
organisation with no history (the baseline: templates, login, filters and the framework,
without data), in the same run; and how soon a gesture given now is in the dashboard.

    .venv/bin/python -m bench.reports [--cases 3000] [--requests 30] [--sqlite-only]
    .venv/bin/python -m bench.reports --cases 1000000 --gestures 3000000 [--requests 40]
        [--keep | --url URL]

Without `--gestures`: the demo history (`--cases` cases over 90 days), on SQLite and on
PostgreSQL. With `--gestures`: a large company's year on PostgreSQL (bench/large_history.py:
`--cases` cases, `--gestures` gestures with their redemptions, the customers' purchases; its
managers in Paris), made on a scratch database that is dropped at the end (`--keep` keeps it
and prints its URL; `--url` measures one kept before). After the load, the hourly refresh
(ledger, outcomes and every day of the daily roll-ups) runs once and is timed.

The pages: the dashboard (the last 90 days of the reader's zone, by reason), the dashboard by
agent, the outcomes page, the cost ledger (`/v1/reports/ledger`, by month), and the export of
the dashboard's 90 days of gestures (`/v1/exports/gestures.csv`), timed to its first byte (the
client then leaves). The server is a real uvicorn process; the times are wall-clock per
request, measured by the client (httpx), one request at a time, after two warm-up requests.
Target: p95 < 300 ms for every page, MET or NOT MET.

Freshness: a gesture is given through the API (`POST /v1/coupons`), then the dashboard is read
until its count of gestures shows it: the time from the request to that answer. Reports read
a day that writes changed from the tables until the fold (every ten seconds) has built it
again, so the dashboard has it at once. Then tills redeem (`POST /v1/redemptions`) gestures
given on `--busy` different days of the last month, as a busy minute's tills do: each use adds
to its gesture's day (a delta the reports add to the roll-up) and changes today's redemptions
(read from the tables). The pages are timed again in that state, before the fold, and then
the fold's own time is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from rich.console import Console
from sqlalchemy import func, select

from amends.actor import Actor
from amends.apikeys.service import create_api_key
from amends.config import Settings
from amends.coupons import policy
from amends.db import Database
from amends.demo import DEMO_PASSWORD, seed_demo
from amends.kit.clock import utcnow
from amends.migrate import upgrade
from amends.models import Coupon, Incentive, Organization
from amends.organizations.service import create_organization
from amends.outcomes import service as outcomes
from amends.roles import Role, Scope
from amends.rollups.tasks import fold_all
from amends.users.service import create_user, log_in
from bench import large_history
from bench._net import free_port
from bench._pg import scratch_postgres

UVICORN = Path(sys.executable).with_name("uvicorn")
TARGET_MS = 300.0
EMPTY_PASSWORD = "empty organisation bench"
PAGES = {"dashboard": "/dashboard", "dashboard by agent": "/dashboard?by=agent",
         "outcomes": "/outcomes", "ledger": "/v1/reports/ledger?by=period",
         "export first byte": "/v1/exports/gestures.csv"}
FIGURE = re.compile(r'data-figure="gestures_issued">([^<]*)<')
console = Console(highlight=False, width=110)


@dataclass
class Reader:
    """A manager's session token, how to give a gesture in their organisation, and gestures
    of different recent days that a till can use (code, customer, order amount)."""

    token: str
    api_key: str = ""
    incentive_id: str = ""
    usable: tuple[tuple[str, str, int], ...] = ()


async def _login(db: Database, slug: str, email: str, password: str) -> str:
    async with db.transaction() as session:
        return (await log_in(session, organization_slug=slug, email=email, password=password,
                             hours=2)).token


async def _empty(db: Database) -> Reader:
    """An organisation with no history and its manager (the baseline)."""
    async with db.transaction() as session:
        empty = await create_organization(session, slug="empty", name="Empty")
        await create_user(session, None, organization_id=empty.id, email="m@empty.example",
                          name="M", role=Role.MANAGER, password=EMPTY_PASSWORD)
    return Reader(await _login(db, "empty", "m@empty.example", EMPTY_PASSWORD))


async def _giver(db: Database, slug: str, busy: int
                 ) -> tuple[str, str, tuple[tuple[str, str, int], ...]]:
    """An API key that gives and redeems gestures in the organisation, a gesture of its
    catalogue, and `busy` unused gestures given on different days of the last month."""
    now = utcnow()
    async with db.transaction() as session:
        org = await session.scalar(select(Organization).where(Organization.slug == slug))
        assert org is not None
        key = await create_api_key(session, Actor.system(org.id, "bench"), name="bench giver",
                                   scopes=[Scope.ADMIN.value])
        incentive = await session.scalar(select(Incentive.id).where(
            Incentive.organization_id == org.id, Incentive.kind == "amount_off").limit(1))
        usable = select(Coupon.code, Coupon.customer_external_id,
                        func.coalesce(Coupon.min_order, 0), Coupon.issued_at).where(
            Coupon.organization_id == org.id, Coupon.status == "active",
            Coupon.kind.in_(policy.SINGLE_USE_KINDS), Coupon.expires_at > now,
            Coupon.issued_at > now - timedelta(days=31)).order_by(Coupon.issued_at)
        days: dict[str, tuple[str, str, int]] = {}
        for code, customer, least, issued in (await session.execute(usable)).all():
            days.setdefault(f"{issued:%Y-%m-%d}", (code, customer, int(least) + 5000))
    return key.token, str(incentive), tuple(list(days.values())[-busy:])


async def prepare_demo(url: str, cases: int, busy: int) -> tuple[Reader, Reader]:
    db = Database(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    started = time.perf_counter()
    await seed_demo(db, history_cases=cases)
    console.print(f"  seeded the demo with {cases:,} cases in "
                  f"{time.perf_counter() - started:.1f} s")
    demo = Reader(await _login(db, "demo", "manager@demo.example", DEMO_PASSWORD),
                  *await _giver(db, "demo", busy))
    empty = await _empty(db)
    await db.dispose()
    return demo, empty


async def prepare_large(url: str, busy: int) -> tuple[Reader, Reader]:
    """The large company's manager and the baseline's, after the hourly refresh."""
    db = Database(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    async with db.transaction(write=False) as session:
        org = await session.scalar(select(Organization.id).where(
            Organization.slug == large_history.SLUG))
    assert org is not None, "no generated organisation in that database"
    started = time.perf_counter()
    async with db.transaction() as session:
        await outcomes.refresh(session, org)
    console.print(f"  hourly refresh (ledger, outcomes, every day of the daily roll-ups): "
                  f"{time.perf_counter() - started:.1f} s")
    large = Reader(await _login(db, large_history.SLUG, large_history.MANAGER,
                                large_history.PASSWORD),
                   *await _giver(db, large_history.SLUG, busy))
    async with db.transaction(write=False) as session:
        known = await session.scalar(select(Organization.id).where(Organization.slug == "empty"))
    if known is None:
        empty = await _empty(db)
    else:
        empty = Reader(await _login(db, "empty", "m@empty.example", EMPTY_PASSWORD))
    await db.dispose()
    return large, empty


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _export_period() -> dict[str, str]:
    """The dashboard's default period: the last 90 days."""
    today = utcnow().date()
    return {"from": str(today - timedelta(days=89)), "to": str(today)}


def _timed(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    if path.startswith("/v1/exports/"):
        with client.stream("GET", path, params=_export_period()) as response:
            assert response.status_code == 200, (path, response.status_code)
            next(response.iter_raw())
            return (time.perf_counter() - started) * 1000
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return (time.perf_counter() - started) * 1000


def time_pages(base: str, reader: Reader, requests: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    with httpx.Client(base_url=base, cookies={"amends_session": reader.token},
                      timeout=120) as client:
        for name, path in PAGES.items():
            for _ in range(2):
                _timed(client, path)
            timings[name] = [_timed(client, path) for _ in range(requests)]
    return timings


def _issued(client: httpx.Client) -> int:
    page = client.get("/dashboard")
    assert page.status_code == 200
    found = FIGURE.search(page.text)
    assert found, "no count of gestures on the dashboard"
    return int(re.sub(r"\D", "", found.group(1)))


def freshness(base: str, reader: Reader) -> float:
    """Seconds from giving a gesture through the API to the dashboard counting it."""
    with httpx.Client(base_url=base, cookies={"amends_session": reader.token},
                      timeout=120) as client:
        before = _issued(client)
        stamp = f"{time.time_ns()}"
        started = time.perf_counter()
        given = httpx.post(f"{base}/v1/coupons", headers={
            "Authorization": f"Bearer {reader.api_key}"}, json={
            "customer_id": f"FRESH-{stamp}", "customer": {"name": "A new customer"},
            "incentive_id": reader.incentive_id, "deliver": False}, timeout=60)
        assert given.status_code == 201, given.text
        deadline = started + 120
        while time.perf_counter() < deadline:
            if _issued(client) > before:
                return time.perf_counter() - started
            time.sleep(0.2)
    raise RuntimeError("the gesture did not reach the dashboard in two minutes")


def busy_tills(base: str, reader: Reader) -> int:
    """Tills use the gestures of different recent days; returns how many days they change."""
    for n, (code, customer, amount) in enumerate(reader.usable):
        used = httpx.post(f"{base}/v1/redemptions", headers={
            "Authorization": f"Bearer {reader.api_key}"}, json={
            "code": code, "customer_id": customer, "order_id": f"BUSY-{time.time_ns()}-{n}",
            "order_amount": amount, "store_id": "Store 1", "till_id": "T1"}, timeout=60)
        assert used.status_code == 201, used.text
    return len(reader.usable)


@contextmanager
def serving(url: str) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "AMENDS_DATABASE_URL": url, "AMENDS_LOG_LEVEL": "WARNING",
           "AMENDS_EMBEDDED_WORKER": "false", "AMENDS_COOKIE_SECURE": "false"}
    process = subprocess.Popen(
        [str(UVICORN), "amends.app:create_app", "--factory", "--port", str(port),
         "--log-level", "warning", "--no-access-log"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def _table(title: str, main: dict[str, list[float]], empty: dict[str, list[float]]) -> bool:
    console.print(f"  {title}")
    console.print(f"    {'page':<20} {'empty p50':>10} {'p50':>10} {'p95':>10} {'max':>10}"
                  f"  target p95 < {TARGET_MS:.0f} ms")
    met = True
    for name in PAGES:
        p50, p95 = statistics.median(main[name]), percentile(main[name], 0.95)
        ok = p95 < TARGET_MS
        met &= ok
        console.print(f"    {name:<20} {statistics.median(empty[name]):>8.1f}ms {p50:>8.1f}ms "
                      f"{p95:>8.1f}ms {max(main[name]):>8.1f}ms  "
                      + ("[green]MET[/green]" if ok else "[red]NOT MET[/red]"))
    return met


async def _fold(url: str) -> tuple[int, float]:
    db = Database(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    started = time.perf_counter()
    async with db.transaction() as session:
        folded = await fold_all(session)
    await db.dispose()
    return folded, time.perf_counter() - started


def report(label: str, url: str, readers: tuple[Reader, Reader], requests: int) -> bool:
    main, empty = readers
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    with serving(url) as base:
        timings = time_pages(base, main, requests)
        baseline = time_pages(base, empty, requests)
        met = _table(f"{label}, every day built (load average {load})", timings, baseline)
        fresh = freshness(base, main)
        console.print(f"  freshness: a gesture given through the API was in the dashboard "
                      f"{fresh:.2f} s later (target: within 60 s: "
                      + ("[green]MET[/green])" if fresh < 60 else "[red]NOT MET[/red])"))
        changed = busy_tills(base, main)
        stale = time_pages(base, main, requests)
        met &= _table(f"{label}, after tills used gestures of {changed} different days, before "
                      "the fold", stale, baseline)
    folded, seconds = asyncio.run(_fold(url))
    console.print(f"  then the fold: {seconds:.2f} s (change rows folded: {folded:,})")
    return met and fresh < 60


def demo(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/reports.db"
        upgrade(url)
        console.print(f"\nSQLite: demo history of {args.cases:,} cases over 90 days")
        report("SQLite", url, asyncio.run(prepare_demo(url, args.cases, args.busy)),
               args.requests)
    if not args.sqlite_only:
        with scratch_postgres("amends_reports") as url:
            console.print(f"\nPostgreSQL: demo history of {args.cases:,} cases over 90 days")
            report("PostgreSQL", url, asyncio.run(prepare_demo(url, args.cases, args.busy)),
                   args.requests)


def large(args: argparse.Namespace) -> None:
    @contextmanager
    def database() -> Iterator[str]:
        if args.url:
            upgrade(args.url)
            yield args.url
            return
        with scratch_postgres("amends_reports_large", keep=args.keep) as url:
            console.print(f"\nPostgreSQL: a large company's year, {args.cases:,} cases and "
                          f"{args.gestures:,} gestures")
            asyncio.run(large_history.generate(url, cases=args.cases, gestures=args.gestures,
                                               console=console))
            yield url
            if args.keep:
                console.print(f"  kept: --url {url}")

    with database() as url:
        readers = asyncio.run(prepare_large(url, args.busy))
        met = report("PostgreSQL, large company", url, readers, args.requests)
    console.print("\nEvery target " + ("[green]MET[/green]" if met else "[red]NOT MET[/red]"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--gestures", type=int, default=0,
                        help="a large company's year on PostgreSQL with this many gestures")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--busy", type=int, default=10,
                        help="days of gestures the tills use before the pages are timed again")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the large scratch database")
    parser.add_argument("--url", help="measure a large database kept before (--keep)")
    args = parser.parse_args()
    if args.gestures or args.url:
        large(args)
    else:
        demo(args)


if __name__ == "__main__":
    main()
