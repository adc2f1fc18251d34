"""Finance's row-level export on PostgreSQL: 1,000,000 gestures downloaded as CSV over HTTP from
a real server, against a bare `COPY (SELECT ...) TO STDOUT` of the same rows.

    .venv/bin/python -m bench.exports [--rows 1000000] [--first 100000] [--repeat 3]
        [--keep | --url URL]

The data is made by set-based SQL on a scratch database (AMENDS_BENCH_POSTGRES_URL, as the
other benches): one organisation, 6 staff in 3 stores, 3 gestures, 50,000 customers, and per
gesture a case (its reason is in the file); 40% of the gestures were redeemed, at a till or
online, 2% revoked. Gestures are spread evenly over 300 days that end yesterday, so the first
`--first` of them fall in the first 300 * first / rows days. Each table is filled in chunks of
100,000 (with progress) by cloning one row that the application itself wrote (a customer, a
case, a coupon, a redemption) over `generate_series`, so every column of today's schema is set
as the application sets it.

Then one `uvicorn` process serves Amends and the bench downloads /v1/exports/gestures.csv
for the period of the first rows and for the whole period, reading the stream as it comes,
`--repeat` times each after a warm-up, and prints the medians. The server's peak resident
memory (VmHWM) is read when it has started, when the client has read the first `--first` rows
of the big file, and at the end: flat memory means the same peak at both. The baseline reads
the same rows with `COPY (SELECT * FROM coupons WHERE organisation and period ORDER BY id) TO
STDOUT (FORMAT csv)` straight from PostgreSQL with asyncpg, in turn with each download. The
machine's load average is printed with the figures: they move with it.
Target: 1,000,000 rows in under 20 s, with a peak memory that does not grow with the rows.
`--keep` keeps the database (its URL is printed) and `--url` measures one kept before.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from amends.actor import Actor
from amends.apikeys.service import create_api_key
from amends.cases.service import open_case
from amends.config import Settings
from amends.coupons.service import issue_coupon
from amends.customers.service import upsert_customer
from amends.db import Database
from amends.incentives.schemas import IncentiveCreate
from amends.incentives.service import create_incentive
from amends.kit.clock import utcnow
from amends.organizations.service import create_organization
from amends.redemptions import service as redemptions
from amends.roles import Role
from amends.users.service import create_user, hash_password
from bench._net import free_port
from bench._pg import scratch_postgres
from bench.incidents import peak_rss_mib
from bench.outcomes import SECONDARY_INDEXES

ROOT = Path(__file__).resolve().parents[1]
UVICORN = Path(sys.executable).with_name("uvicorn")
SLUG = "bench-exports"
TARGET_SECONDS = 20.0
SPAN = timedelta(days=300)
CHUNK = 100_000
CUSTOMERS = 50_000
STAFF = (("ana.lopez", "Ana Lopez", "Lyon"), ("ben.okafor", "Ben Okafor", "Lyon"),
         ("chloe.martin", "Chloé Martin", "Paris"), ("dev.patel", "Dev Patel", "Paris"),
         ("eva.nowak", "Eva Nowak", "Lille"), ("femi.adeyemi", "Femi Adeyemi", "Lille"))
GESTURES = (("€5 off your next order", "amount_off", 500, 500),
            ("10% off your next order", "percent_off", 10, 500),
            ("Free shipping for 30 days", "free_shipping", 490, 490))

# Loader session only: no key checks (every row is consistent by construction), no wait for
# the WAL flush; ids time-ordered as the application's (UUIDv7 from the row's time).
LOADER = """
SET synchronous_commit = off;
SET session_replication_role = replica;
CREATE FUNCTION pg_temp.v7(at timestamptz, salt text) RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT overlay(lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0') || '7'
                 || substr(md5(salt), 1, 19) PLACING '8' FROM 17 FOR 1)::uuid $$
"""


def _gesture(field: int) -> str:
    """The `field` of gesture n (1 + n % 3 of GESTURES), in SQL."""
    values = ", ".join(repr(g[field]) for g in GESTURES)
    return f"(ARRAY[{values}])[1 + n % {len(GESTURES)}]"


# $1 template id, $2..$3 the numbers, $4 the first gesture's time, $5 the step between two,
# $6 when the customers were created, $7 staff ids, $8 staff e-mails, $9 gesture ids.
WHEN = ("CROSS JOIN LATERAL (SELECT $4::timestamptz + (n - 1) * $5::interval AS at, "
        "$6::timestamptz AS born, $7::uuid[] AS staff, $8::text[] AS emails, "
        "$9::uuid[] AS gestures) AS g")
CUSTOMER_OF = "1 + n % {customers}"
OVERRIDES: dict[str, dict[str, str]] = {
    "customers": {
        "id": "pg_temp.v7(g.born, 'customer' || n)", "external_id": "'CUS-' || n",
        "email": "'customer' || n || '@bench.example'",
        "phone": "'+3361' || lpad(n::text, 7, '0')", "name": "'Customer ' || n",
        "name_search": "'customer ' || n", "created_at": "g.born", "updated_at": "g.born"},
    "cases": {
        "id": "pg_temp.v7(g.at, 'case' || n)", "reference": "'K-' || n",
        "customer_id": "pg_temp.v7(g.born, 'customer' || ({customer}))",
        "customer_external_id": "'CUS-' || ({customer})",
        "reason": "(ARRAY['late_delivery', 'lost_parcel', 'damaged_item', 'billing_error'])"
                  "[1 + n % 4]",
        "channel": "(ARRAY['email', 'chat', 'phone', 'sms'])[1 + n % 4]",
        "opened_by_id": "(g.staff)[1 + n % 6]", "opened_by_label": "(g.emails)[1 + n % 6]",
        "opened_at": "g.at", "updated_at": "g.at"},
    "coupons": {
        "id": "pg_temp.v7(g.at, 'coupon' || n)",
        "customer_id": "pg_temp.v7(g.born, 'customer' || ({customer}))",
        "customer_external_id": "'CUS-' || ({customer})",
        "incentive_id": "(g.gestures)[1 + n % 3]", "case_ref": "'K-' || n",
        # An odd multiplier modulo 2^32 is a bijection: unique codes without a check.
        "code": "'AM' || upper(lpad(to_hex((n * 2654435761) % 4294967296), 8, '0')"
                " || substr(md5('code' || n), 1, 5))",
        "page_token": "md5('page' || n)",
        "name": _gesture(0), "kind": _gesture(1), "value": _gesture(2),
        "face_value": _gesture(3),
        "status": "CASE WHEN n % 10 < 4 THEN 'redeemed' WHEN n % 50 = 7 THEN 'revoked'"
                  " ELSE 'active' END",
        "redemption_count": "CASE WHEN n % 10 < 4 THEN 1 ELSE 0 END",
        "redeemed_at": "CASE WHEN n % 10 < 4 THEN g.at + interval '3 days' END",
        "revoked_at": "CASE WHEN n % 50 = 7 THEN g.at + interval '1 hour' END",
        "valid_from": "g.at", "expires_at": "g.at + interval '90 days'",
        "channel": "(ARRAY['email', 'chat', 'phone', 'sms'])[1 + n % 4]",
        "issued_by_type": "'user'", "issued_by_id": "(g.staff)[1 + n % 6]",
        "issued_by_label": "(g.emails)[1 + n % 6]", "issued_at": "g.at"},
    "redemptions": {
        "id": "pg_temp.v7(g.at + interval '3 days', 'redemption' || n)",
        "coupon_id": "pg_temp.v7(g.at, 'coupon' || n)", "reservation_id": "NULL",
        "order_id": "'O-' || n", "order_amount": "2000 + (n % 80) * 100",
        "discount": "CASE n % 3 WHEN 1 THEN (2000 + (n % 80) * 100) / 10 "
                    "ELSE (ARRAY[500, 500, 490])[1 + n % 3] END",
        "channel": "CASE WHEN n % 3 = 0 THEN 'online' ELSE 'in_store' END",
        "store_id": "CASE WHEN n % 3 <> 0 THEN (ARRAY['Lyon', 'Paris', 'Lille'])[1 + n % 3] END",
        "till_id": "CASE WHEN n % 3 <> 0 THEN 'till-' || (1 + n % 4) END",
        "status": "'completed'", "actor_id": "(g.staff)[1 + n % 6]",
        "created_at": "g.at + interval '3 days'", "voided_at": "NULL", "void_reason": "NULL"},
}
ONLY = {"redemptions": "AND n % 10 < 4"}


@dataclass
class Seeded:
    token: str
    organization_id: uuid.UUID
    start: datetime
    templates: dict[str, uuid.UUID]
    staff_ids: list[uuid.UUID]
    staff_emails: list[str]
    gesture_ids: list[uuid.UUID]


async def seed_templates(url: str) -> Seeded:
    """The organisation, its staff, gestures and key, and one customer, case, coupon and
    redemption written by the application (the rows the generator clones)."""
    db = Database(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    try:
        async with db.transaction() as session:
            org = await create_organization(session, slug=SLUG, name="Bench Exports")
            actor = Actor.system(org.id, "bench")
            key = await create_api_key(session, actor, name="finance",
                                       scopes=["reports:read", "coupons:read"])
            password = "bench password, not for login"
            hashed = await hash_password(password)
            staff = [await create_user(session, None, organization_id=org.id,
                                       email=f"{login}@bench.example", name=name,
                                       role=Role.AGENT, password=password, store=store,
                                       password_hash=hashed)
                     for login, name, store in STAFF]
            gestures = [await create_incentive(session, actor, data=IncentiveCreate(
                name=name, kind=kind, value=value, currency="EUR", validity_days=90))
                for name, kind, value, _ in GESTURES]
            customer, _ = await upsert_customer(session, actor, external_id="TEMPLATE",
                                                data={"email": "template@bench.example"})
            case = await open_case(session, actor, customer=customer, reason="late_delivery",
                                   severity=2, channel="email", conversation_ref=None)
            coupon, _ = await issue_coupon(session, actor, customer=customer,
                                           incentive=gestures[0], case_ref=case.reference)
            used = await redemptions.redeem(session, actor, redemptions.Order(
                code=coupon.code, order_amount=4000, customer_external_id="TEMPLATE",
                order_id="O-TEMPLATE", store_id="Lyon", till_id="till-1"))
    finally:
        await db.dispose()
    # The generated gestures end a day before the templates, which stay out of the period.
    start = utcnow().replace(microsecond=0) - SPAN - timedelta(days=1)
    return Seeded(token=key.token, organization_id=org.id, start=start,
                  templates={"customers": customer.id, "cases": case.id, "coupons": coupon.id,
                             "redemptions": used.id},
                  staff_ids=[s.id for s in staff], staff_emails=[s.email for s in staff],
                  gesture_ids=[g.id for g in gestures])


async def kept(url: str) -> tuple[Seeded, int]:
    """A database generated before (`--keep`): its organisation, a new key, its first
    gesture's time and how many there are."""
    conn = await asyncpg.connect(_dsn(url))
    try:
        org = await conn.fetchval("SELECT id FROM organizations WHERE slug = $1", SLUG)
        if org is None:
            raise SystemExit(f"no organisation {SLUG!r} in that database")
        start, rows = await conn.fetchrow(
            "SELECT min(issued_at), count(*) FROM coupons WHERE organization_id = $1 "
            "AND issued_by_type = 'user' AND case_ref LIKE 'K-%'", org)
    finally:
        await conn.close()
    db = Database(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    try:
        async with db.transaction() as session:
            key = await create_api_key(session, Actor.system(org, "bench"), name="finance",
                                       scopes=["reports:read", "coupons:read"])
    finally:
        await db.dispose()
    return Seeded(token=key.token, organization_id=org, start=start, templates={},
                  staff_ids=[], staff_emails=[], gesture_ids=[]), int(rows)


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _clone_sql(conn: asyncpg.Connection, table: str, customers: int) -> str:
    columns = [row["column_name"] for row in await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $1 "
        "AND table_schema = current_schema() ORDER BY ordinal_position", table)]
    customer = CUSTOMER_OF.format(customers=customers)
    overrides = {column: value.replace("{customer}", customer)
                 for column, value in OVERRIDES[table].items()}
    values = [overrides.get(column, f"t.{column}") for column in columns]
    return (f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} "
            f"FROM {table} AS t CROSS JOIN generate_series($2::bigint, $3::bigint) AS n {WHEN} "
            f"WHERE t.organization_id = $10 AND t.id = $1 {ONLY.get(table, '')}")


async def generate(url: str, seeded: Seeded, *, rows: int) -> None:
    conn = await asyncpg.connect(_dsn(url))
    started = time.perf_counter()
    step = SPAN / rows
    try:
        for statement in LOADER.split(";\n"):
            await conn.execute(statement)
        # Indexes and unique constraints are built once after the load (one sort each) rather
        # than kept up to date through a million random inserts.
        secondary = [(str(drop), str(make)) for drop, make in
                     await conn.fetch(SECONDARY_INDEXES)]
        for drop, _ in secondary:
            await conn.execute(drop)
        print(f"Generating {rows:,} gestures (each with its case), their redemptions and "
              f"{CUSTOMERS:,} customers:", flush=True)
        for table, total in (("customers", CUSTOMERS), ("cases", rows), ("coupons", rows),
                             ("redemptions", rows)):
            sql = await _clone_sql(conn, table, CUSTOMERS)
            began, made, back = time.perf_counter(), 0, ""
            for low in range(1, total + 1, CHUNK):
                high = min(total, low + CHUNK - 1)
                status = await conn.execute(
                    sql, seeded.templates[table], low, high, seeded.start, step, seeded.start,
                    seeded.staff_ids, seeded.staff_emails, seeded.gesture_ids,
                    seeded.organization_id)
                made += int(status.split()[-1])
                print(f"{back}  {table:<12} {made:>11,} rows  {high / total:6.1%}  "
                      f"{time.perf_counter() - began:6.1f} s", end="", flush=True)
                back = "\r" if sys.stdout.isatty() else "\n"
            print(flush=True)
        began = time.perf_counter()
        for _, make in secondary:
            await conn.execute(make)
        print(f"  {len(secondary)} indexes, constraints {time.perf_counter() - began:13.1f} s")
        began = time.perf_counter()
        for table in ("customers", "cases", "coupons", "redemptions"):
            await conn.execute(f"VACUUM (ANALYZE) {table}")
        print(f"  vacuum, analyze {time.perf_counter() - began:21.1f} s")
    finally:
        await conn.close()
    print(f"  generated in {time.perf_counter() - started:24.1f} s", flush=True)


@dataclass
class Run:
    rows: int
    seconds: float
    megabytes: float
    peak_at_first: float = 0.0  # when the client had read the first `--first` rows
    peak_after: float = 0.0

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


async def bare_copy(url: str, seeded: Seeded, end: datetime) -> Run:
    """The same gestures, as PostgreSQL copies the table's rows out, and nothing else."""
    conn = await asyncpg.connect(_dsn(url))
    lines, size = 0, 0

    async def sink(data: bytes) -> None:
        nonlocal lines, size
        lines += data.count(b"\n")
        size += len(data)

    began = time.perf_counter()
    try:
        await conn.copy_from_query(
            "SELECT * FROM coupons WHERE organization_id = $1 AND issued_at >= $2 "
            "AND issued_at < $3 ORDER BY id", seeded.organization_id, seeded.start, end,
            output=sink, format="csv")
    finally:
        await conn.close()
    return Run(rows=lines, seconds=time.perf_counter() - began, megabytes=size / 1e6)


def serve(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AMENDS_DATABASE_URL": url, "AMENDS_EMBEDDED_WORKER": "false",
           "AMENDS_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [str(UVICORN), "amends.app:create_app", "--factory", "--host", "127.0.0.1", "--port",
         str(port), "--workers", "1", "--no-access-log", "--log-level", "warning"],
        env=env, cwd=ROOT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("amends did not start")


def download(port: int, token: str, pid: int, *, start: datetime, end: datetime,
             first: int) -> Run:
    """The export over HTTP, read as it comes; the server's peak memory when `first` rows have
    arrived and at the end."""
    params = {"from": start.isoformat(), "to": end.isoformat()}
    run = Run(rows=0, seconds=0.0, megabytes=0.0)
    lines, size = 0, 0
    began = time.perf_counter()
    with httpx.stream("GET", f"http://127.0.0.1:{port}/v1/exports/gestures.csv",
                      params=params, headers={"Authorization": f"Bearer {token}"},
                      timeout=120) as response:
        if response.status_code != 200:
            raise RuntimeError(f"export answered {response.status_code}: {response.read()!r}")
        for data in response.iter_raw(256 * 1024):
            lines += data.count(b"\n")
            size += len(data)
            if not run.peak_at_first and lines > first:
                run.peak_at_first = peak_rss_mib(pid)
    run.seconds = time.perf_counter() - began
    run.rows, run.megabytes = lines - 1, size / 1e6  # less the header
    run.peak_after = peak_rss_mib(pid)
    return run


@dataclass
class Figures:
    """The runs of one size: the bare COPY's and the export's, and the server's peak memory."""

    rows: int
    copies: list[Run] = field(default_factory=list)
    downloads: list[Run] = field(default_factory=list)

    @staticmethod
    def median(runs: list[Run]) -> Run:
        return sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]


def measure(url: str, seeded: Seeded, *, rows: int, first: int, repeat: int
            ) -> tuple[dict[str, Figures], float]:
    """Each size `repeat` times, the bare COPY and the export in turn, after one download of
    the small period that warms the server and the database's cache; and the server's peak
    memory when it had started."""
    ends = {"first": seeded.start + SPAN * first / rows, "all": seeded.start + SPAN}
    figures = {"first": Figures(first), "all": Figures(rows)}
    port = free_port()
    server = serve(url, port)
    started_peak = peak_rss_mib(server.pid)
    try:
        print(f"Downloading the export over HTTP from 1 uvicorn process, {repeat} times each "
              "size after a warm-up:", flush=True)
        download(port, seeded.token, server.pid, start=seeded.start, end=ends["first"],
                 first=first)
        for n in range(1, repeat + 1):
            for size, end in ends.items():
                copied = asyncio.run(bare_copy(url, seeded, end))
                fetched = download(port, seeded.token, server.pid, start=seeded.start,
                                   end=end, first=first)
                figures[size].copies.append(copied)
                figures[size].downloads.append(fetched)
                print(f"  run {n}: {fetched.rows:>9,} rows in {fetched.seconds:5.1f} s "
                      f"(bare COPY {copied.seconds:4.1f} s)", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return figures, started_peak


def report(figures: dict[str, Figures], started_peak: float) -> None:
    small, big = figures["first"], figures["all"]
    print(f"\nGestures export on PostgreSQL, medians of {len(big.downloads)} runs; load average "
          + ", ".join(f"{n:.1f}" for n in os.getloadavg()) + f" on {os.cpu_count()} CPUs")
    print(f"{'':34}{'rows':>11}{'seconds':>9}{'rows/s':>10}{'MB':>8}")
    for size in (small, big):
        for label, run in (("bare COPY of the coupons' rows", Figures.median(size.copies)),
                           ("amends, HTTP, CSV", Figures.median(size.downloads))):
            print(f"  {label:<32}{run.rows:>11,}{run.seconds:>9.1f}{run.rate:>10,.0f}"
                  f"{run.megabytes:>8.0f}")
    whole, copy = Figures.median(big.downloads), Figures.median(big.copies)
    verdict = "within target" if whole.seconds < TARGET_SECONDS else "OVER TARGET"
    print(f"{whole.rows:,} rows in {whole.seconds:.1f} s ({verdict}: < {TARGET_SECONDS:.0f} s);"
          f" {whole.seconds / copy.seconds:.1f}x the bare COPY's time")
    at_small = big.downloads[0].peak_at_first
    at_big = max(run.peak_after for run in big.downloads)
    growth = at_big - at_small
    print(f"server peak RSS (VmHWM): {started_peak:.0f} MiB started, {at_small:.0f} MiB at "
          f"{small.rows:,} rows, {at_big:.0f} MiB at {big.rows:,} rows: {growth:+.1f} MiB "
          f"({'flat' if growth < 16 else 'GROWS'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--first", type=int, default=100_000,
                        help="the smaller export, and where the big one's memory is read")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each size")
    parser.add_argument("--url", help="measure a database kept by an earlier --keep")
    args = parser.parse_args()
    if args.url:
        seeded, rows = asyncio.run(kept(args.url))
        report(*measure(args.url, seeded, rows=rows, first=args.first, repeat=args.repeat))
        return
    with scratch_postgres("amends_bench_exports", keep=args.keep) as url:
        seeded = asyncio.run(seed_templates(url))
        asyncio.run(generate(url, seeded, rows=args.rows))
        results = measure(url, seeded, rows=args.rows, first=args.first, repeat=args.repeat)
        if args.keep:
            print(f"  kept: --url {url}")
    report(*results)


if __name__ == "__main__":
    main()
