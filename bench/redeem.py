"""Redeem throughput and latency for every shape a till's request can take, each against a
bare endpoint doing only the conditional UPDATE, on the same database, in the same run, with
the same load (wrk, 32 connections, codes drawn without repetition from issued coupons).

    .venv/bin/python -m bench.redeem [--seconds 10] [--connections 32] [--coupons 200000]
        [--sqlite-coupons 50000] [--quick] [--citus]

The shapes, each measured on a server started for it (a warm-up, then the measured run):

- PostgreSQL, 1 uvicorn process: `bare` (bench/bare_redeem.py, FastAPI + asyncpg); `plain`
  (Amends, no Idempotency-Key, nobody subscribed); `Idempotency-Key` (a new key on every
  request); `webhook subscriber` (an endpoint for `coupon.redeemed`, registered through the
  API and pointing at a local receiver that answers 200: each redemption writes its delivery
  row in the request; no worker runs, so none is sent during the run).
- PostgreSQL, 2 uvicorn processes on one port (what `amends serve --workers 2` runs):
  `bare x2` and `Amends x2`, each process with half the connections in its pool.
- SQLite, the embedded default, 1 process: `bare aiosqlite` (bench/bare_redeem_sqlite.py, one
  connection, the same pragmas) and `SQLite` (Amends with its default settings).

For each: requests/s, p50/p90/p99, answers that were not 2xx, and which path answered (the
`X-Served-By` header of one more request after the run), then what the database holds
afterwards (redemptions, webhook deliveries and idempotency keys written), then each Amends
shape's ratios to its bare baseline with the targets: throughput >= 0.8x and p99 <= 1.3x
(MET / NOT MET; the bench never fails on them). The machine's load average is printed with
the figures: on a shared machine they move with it.

`--quick` is a smoke run (20,000 and 10,000 coupons, 2 s a run). Needs `wrk` (Debian:
apt-get install wrk).

With `--citus` the PostgreSQL shapes are repeated on a new database of the Citus cluster
named by AMENDS_BENCH_CITUS_URL (default: the coordinator on 127.0.0.1:9700, database
`citus`, whose workers are read from pg_dist_node), distributed by organisation as `amends
migrate` does it, and the figures are printed beside PostgreSQL's with the ratio Citus /
PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from amends.actor import Actor
from amends.apikeys.service import create_api_key
from amends.config import Settings
from amends.customers.service import upsert_customer
from amends.db import Database
from amends.incentives.schemas import IncentiveCreate
from amends.incentives.service import create_incentive
from amends.kit import codes
from amends.kit.clock import utcnow
from amends.migrate import upgrade
from amends.models import Coupon
from amends.organizations.service import create_organization
from bench._net import free_port
from bench._pg import scratch_citus, scratch_postgres

ROOT = Path(__file__).resolve().parents[1]
UVICORN = Path(sys.executable).with_name("uvicorn")
console = Console()
Figures = dict[str, float]
THROUGHPUT_TARGET, P99_TARGET = 0.8, 1.3
COLUMNS = ["id", "organization_id", "customer_id", "customer_external_id", "incentive_id",
           "case_ref", "code", "page_token", "name", "kind", "value", "currency", "terms",
           "bound_to_customer", "face_value", "status", "redemption_count", "reinstated_count",
           "valid_from", "expires_at", "issued_by_type", "issued_by_label", "issued_at"]


@dataclass(frozen=True)
class Shape:
    name: str
    app: str
    server: str  # shapes with the same server run one after the other on one server
    factory: bool = False
    workers: int = 1
    idempotent: bool = False
    webhook: bool = False
    baseline: str | None = None  # the bare run it is compared with


AMENDS_APP = "amends.app:create_app"
BARE_PG, BARE_SQLITE = "bench.bare_redeem:app", "bench.bare_redeem_sqlite:app"
# The webhook shape comes last on its server: its endpoint is removed after it.
POSTGRES_SHAPES = (
    Shape("bare", BARE_PG, "bare"),
    Shape("plain", AMENDS_APP, "amends", factory=True, baseline="bare"),
    Shape("Idempotency-Key", AMENDS_APP, "amends", factory=True, idempotent=True,
          baseline="bare"),
    Shape("webhook subscriber", AMENDS_APP, "amends", factory=True, webhook=True,
          baseline="bare"),
    Shape("bare x2", BARE_PG, "bare x2", workers=2),
    Shape("Amends x2", AMENDS_APP, "amends x2", factory=True, workers=2, baseline="bare x2"),
)
SQLITE_SHAPES = (
    Shape("bare aiosqlite", BARE_SQLITE, "bare"),
    Shape("SQLite", AMENDS_APP, "amends", factory=True, baseline="bare aiosqlite"),
)


@dataclass
class Seeded:
    till_token: str
    admin_token: str
    organization_id: uuid.UUID
    customer_id: uuid.UUID
    incentive_id: uuid.UUID


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


async def seed_organisation(url: str) -> Seeded:
    """An organisation, a till key, an admin key (to register the webhook endpoint), the
    customer and the incentive of the coupons."""
    db = Database(Settings(database_url=url, _env_file=None))
    async with db.transaction() as session:
        org = await create_organization(session, slug="bench", name="Bench")
        actor = Actor.system(org.id, "bench")
        till = await create_api_key(session, actor, name="till",
                                    scopes=["redemptions:read", "redemptions:write"])
        admin = await create_api_key(session, actor, name="admin", scopes=["admin"])
        customer, _ = await upsert_customer(session, actor, external_id="C-1", data={})
        incentive = await create_incentive(session, actor, data=IncentiveCreate(
            name="Sorry", kind="amount_off", value=1000, currency="EUR", validity_days=90))
    await db.dispose()
    return Seeded(till.token, admin.token, org.id, customer.id, incentive.id)


def coupon_rows(seeded: Seeded, start: int, stop: int, out: Any) -> list[tuple[Any, ...]]:
    """Coupons `start`..`stop` in COLUMNS' order; their codes written to `out`."""
    now = utcnow()
    expires = now.replace(year=now.year + 1)
    rows = []
    for n in range(start, stop):
        code = codes.generate()
        out.write(codes.display(code) + "\n")
        rows.append((uuid.uuid4(), seeded.organization_id, seeded.customer_id, "C-1",
                     seeded.incentive_id, f"b{n}", code, uuid.uuid4().hex, "Sorry",
                     "amount_off", 1000, "EUR", "", True, 1000, "active", 0, 0, now, expires,
                     "system", "bench", now))
    return rows


async def seed(url: str, count: int, codes_file: Path) -> Seeded:
    """The organisation and `count` coupons, their codes in a file."""
    seeded = await seed_organisation(url)
    await fill_coupons(url, seeded, count, codes_file)
    return seeded


async def fill_coupons(url: str, seeded: Seeded, count: int, codes_file: Path) -> None:
    """`count` coupons of `seeded`'s organisation, customer and incentive (COPY on
    PostgreSQL, batched INSERTs on SQLite), their codes written to a file."""
    started = time.perf_counter()
    sqlite = url.startswith("sqlite")
    batch = 10_000 if sqlite else 50_000
    if sqlite:
        engine = create_async_engine(url)
    else:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn)
    with codes_file.open("w") as out:
        for start in range(0, count, batch):
            rows = coupon_rows(seeded, start, min(count, start + batch), out)
            if sqlite:
                async with engine.begin() as connection:
                    await connection.execute(insert(Coupon),
                                             [dict(zip(COLUMNS, row, strict=True))
                                              for row in rows])
            else:
                await conn.copy_records_to_table("coupons", records=rows, columns=COLUMNS)
            print(f"\r  seeded {min(count, start + batch):,}/{count:,} coupons", end="",
                  flush=True)
    # The seeding's after-work before any run: the first run measured would pay for it.
    if sqlite:
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
        async with engine.connect() as connection:
            await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        await engine.dispose()
    else:
        await conn.execute("VACUUM ANALYZE coupons")  # hint bits and the visibility map
        try:
            await conn.execute("CHECKPOINT")
        except asyncpg.InsufficientPrivilegeError:
            print(" (no CHECKPOINT: the role may not)", end="")
        await conn.close()
    print(f" in {time.perf_counter() - started:.0f} s")


async def tally(url: str) -> dict[str, int]:
    """What redemptions left behind: redemption rows, webhook deliveries, idempotency keys."""
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        found = {table: int((await connection.execute(
            text(f"SELECT count(*) FROM {table}"))).scalar_one())
            for table in ("redemptions", "webhook_deliveries", "idempotency_keys")}
    await engine.dispose()
    return found


@contextmanager
def webhook_receiver() -> Iterator[str]:
    """A local HTTP server that answers 200 to every POST: the subscriber's endpoint."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        server.shutdown()
        server.server_close()


def serve(app: str, port: int, env: dict[str, str], log: Path, *, factory: bool,
          workers: int = 1) -> subprocess.Popen[bytes]:
    """uvicorn with `workers` processes on one port (`amends serve --workers N` runs the same
    for Amends), once every process has started its application (on a loaded machine one
    may take several seconds longer than the other)."""
    args = [str(UVICORN), app, "--host", "127.0.0.1", "--port", str(port), "--workers",
            str(workers), "--no-access-log", "--log-level", "info"]
    if factory:
        args.append("--factory")
    with log.open("ab") as out:
        proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=out, stderr=out)
    deadline = time.perf_counter() + 180
    while time.perf_counter() < deadline and proc.poll() is None:
        if log.read_text(errors="replace").count("Application startup complete") >= workers:
            return proc
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{app} did not start: {log.read_text(errors='replace')[-2000:]}")


def load(port: int, codes_file: Path, token: str, *, seconds: int, connections: int,
         threads: int = 2, label: str = "wrk", idempotency_prefix: str | None = None
         ) -> Figures:
    env = {**os.environ, "CODES_FILE": str(codes_file), "TOKEN": token,
           "THREADS": str(threads)}
    if idempotency_prefix:
        env["IDEMPOTENCY_PREFIX"] = idempotency_prefix
    # A long timeout: a slow answer counts in the latencies instead of being dropped.
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
            "--timeout", "30s",
            "-s", str(ROOT / "bench" / "redeem.lua"), f"http://127.0.0.1:{port}"]
    wrk = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    with Progress(TextColumn("  {task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(label, total=seconds)
        began = time.perf_counter()
        while wrk.poll() is None:
            bar.update(task, completed=min(seconds, time.perf_counter() - began))
            time.sleep(0.25)
    out, err = wrk.communicate()
    if wrk.returncode:
        raise RuntimeError(f"wrk failed ({label}): {err.strip() or out.strip()}")

    def ms(label: str) -> float:
        match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50": ms("50%"), "p90": ms("90%"), "p99": ms("99%"),
            "errors": float(errors.group(1)) if errors else 0.0, "total": float(total),
            "socket errors": float(sum(map(int, socket.groups()))) if socket else 0.0}


def answered_by(port: int, token: str, code: str, *, idempotent: bool) -> str:
    """Which path answered one more redemption of the shape: the one statement names itself."""
    headers = {"Authorization": f"Bearer {token}"}
    if idempotent:
        headers["Idempotency-Key"] = uuid.uuid4().hex
    response = httpx.post(f"http://127.0.0.1:{port}/v1/redemptions", timeout=30,
                          headers=headers, json={
                              "code": code, "customer_id": "C-1", "order_id": "O-probe",
                              "order_amount": 5000, "channel": "online"})
    if response.status_code != 201:
        return f"HTTP {response.status_code}"
    return str(response.headers.get("x-served-by", "application"))


@dataclass
class Run:
    shape: Shape
    figures: Figures
    answered_by: str
    written: dict[str, int]  # rows the measured run added, by table


def measure(database: str, url: str, shapes: tuple[Shape, ...], args: argparse.Namespace,
            coupons: int) -> dict[str, Run]:
    """Seed the database, then run each shape: a warm-up and a measured run, each on codes
    no other run uses. Shapes of one server run one after the other on it."""
    console.print(f"[bold]{database}[/bold] ({load_average()})")
    sqlite = url.startswith("sqlite")
    with tempfile.TemporaryDirectory() as tmp:
        all_codes = Path(tmp) / "codes.txt"
        seeded = asyncio.run(seed(url, coupons, all_codes))
        lines = all_codes.read_text().splitlines()
        share = len(lines) // len(shapes)
        env = {**os.environ, "AMENDS_DATABASE_URL": url, "AMENDS_EMBEDDED_WORKER": "false",
               "AMENDS_LOG_LEVEL": "WARNING", "AMENDS_CODE_FAILURES_PER_MINUTE": "1000000",
               "AMENDS_OUTBOUND_ALLOW_PRIVATE": "true", "PYTHONPATH": str(ROOT)}
        if sqlite:
            path = make_url(url).database or ""
            with sqlite3.connect(path) as check:
                stored_org = check.execute("SELECT organization_id FROM coupons LIMIT 1"
                                           ).fetchone()[0]
            env |= {"BARE_SQLITE_PATH": path, "BARE_ORG": str(stored_org)}
        else:
            env |= {"BARE_DSN": make_url(url).set(drivername="postgresql").render_as_string(
                hide_password=False), "BARE_ORG": str(seeded.organization_id)}
        servers = list(dict.fromkeys(shape.server for shape in shapes))
        results: dict[str, Run] = {}
        with webhook_receiver() as receiver:
            for server in servers:
                first = next(shape for shape in shapes if shape.server == server)
                server_env = dict(env)
                if not sqlite:  # SQLite runs with Amends' default pool
                    pool = max(1, args.connections // first.workers)
                    server_env |= {"AMENDS_DB_POOL_SIZE": str(pool),
                                   "AMENDS_DB_MAX_OVERFLOW": "4", "BARE_POOL": str(pool)}
                port = free_port()
                proc = serve(first.app, port, server_env, Path(tmp) / f"{server}.log",
                             factory=first.factory, workers=first.workers)
                try:
                    for n, shape in enumerate(shapes):
                        if shape.server == server:
                            results[shape.name] = run_shape(
                                shape, lines[n * share:(n + 1) * share], port=port, url=url,
                                seeded=seeded, receiver=receiver, tmp=Path(tmp), args=args)
                finally:
                    proc.terminate()
                    proc.wait(timeout=60)
    return results


def run_shape(shape: Shape, mine: list[str], *, port: int, url: str, seeded: Seeded,
              receiver: str, tmp: Path, args: argparse.Namespace) -> Run:
    probe, mine = mine[-1], mine[:-1]
    warm, measured = tmp / f"{shape.name}.warm.txt", tmp / f"{shape.name}.measured.txt"
    cut = len(mine) // 5  # a fifth for the warm-up
    warm.write_text("\n".join(mine[:cut]) + "\n")
    measured.write_text("\n".join(mine[cut:]) + "\n")
    admin = {"Authorization": f"Bearer {seeded.admin_token}"}
    endpoint = None
    if shape.webhook:
        registered = httpx.post(f"http://127.0.0.1:{port}/v1/webhook-endpoints", timeout=30,
                                headers=admin, json={"url": receiver,
                                                     "event_types": ["coupon.redeemed"]})
        registered.raise_for_status()
        endpoint = registered.json()["id"]
    prefix = uuid.uuid4().hex[:8] if shape.idempotent else None
    load(port, warm, seeded.till_token, seconds=args.warmup, connections=args.connections,
         label=f"{shape.name}: warm-up", idempotency_prefix=prefix and f"w{prefix}")
    before = asyncio.run(tally(url))
    figures = load(port, measured, seeded.till_token, seconds=args.seconds,
                   connections=args.connections, label=f"{shape.name}: measuring",
                   idempotency_prefix=prefix and f"m{prefix}")
    after = asyncio.run(tally(url))
    by = answered_by(port, seeded.till_token, probe, idempotent=shape.idempotent) \
        if shape.baseline else "bare"
    if endpoint is not None:
        httpx.delete(f"http://127.0.0.1:{port}/v1/webhook-endpoints/{endpoint}", timeout=30,
                     headers=admin).raise_for_status()
    if figures["total"] > len(mine) - cut:
        console.print(f"  [yellow]{shape.name}: more requests than codes; the codes were "
                      "used again (409s): give --coupons more[/yellow]")
    console.print(f"  {shape.name}: {figures['rps']:.0f} req/s ({load_average()})")
    return Run(shape, figures, by, {table: after[table] - before[table] for table in after})


def report(database: str, results: dict[str, Run], args: argparse.Namespace,
           coupons: int) -> None:
    print(f"\n{database}, wrk {args.connections} connections, {args.seconds} s a run, "
          f"{coupons:,} coupons; {load_average()}")
    print(f"{'':20} {'req/s':>7} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'non-2xx':>8} "
          f"{'sock err':>8}  "
          f"{'answered by':12} {'written: redemptions, deliveries, idempotency keys'}")
    for name, run in results.items():
        r, w = run.figures, run.written
        written = (f"{w['redemptions']:,}, {w['webhook_deliveries']:,}, "
                   f"{w['idempotency_keys']:,}") if run.shape.baseline else ""
        print(f"{name:20} {r['rps']:7.0f} {r['p50']:7.2f} {r['p90']:7.2f} {r['p99']:7.2f} "
              f"{r['errors']:8.0f} {r['socket errors']:8.0f}  {run.answered_by:12} {written}")
    print(f"{'ratio to bare':32} {'throughput':>10} {'(>= ' + str(THROUGHPUT_TARGET) + ')':>9}"
          f" {'p99':>6} {'(<= ' + str(P99_TARGET) + ')':>9}")
    for name, run in results.items():
        baseline = run.shape.baseline
        if baseline is None:
            continue
        bare = results[baseline].figures
        throughput = run.figures["rps"] / bare["rps"]
        p99 = run.figures["p99"] / bare["p99"]
        print(f"{name + ' / ' + baseline:32} {throughput:10.2f} "
              f"{'MET' if throughput >= THROUGHPUT_TARGET else 'NOT MET':>9} {p99:6.2f} "
              f"{'MET' if p99 <= P99_TARGET else 'NOT MET':>9}")


def compare(postgres: dict[str, Run], citus: dict[str, Run]) -> None:
    """Each figure on PostgreSQL and on Citus, and Citus / PostgreSQL (below 1 for req/s and
    above 1 for latency: Citus is slower)."""
    print("\nCitus (coordinator + 2 workers) beside PostgreSQL; ratio = Citus / PostgreSQL")
    print(f"{'':20}" + "".join(f"{figure:>29}" for figure in ("req/s", "p50 ms", "p99 ms")))
    print(f"{'':20}" + f"{'PostgreSQL':>12}{'Citus':>10}{'ratio':>7}" * 3)
    for name in postgres:
        line = f"{name:20}"
        for figure, digits in (("rps", 0), ("p50", 2), ("p99", 2)):
            pg, ci = postgres[name].figures[figure], citus[name].figures[figure]
            line += f"{pg:12.{digits}f}{ci:10.{digits}f}{ci / pg:7.2f}"
        print(line)
    for name, run in citus.items():
        if run.figures["errors"]:
            print(f"{name} on Citus: {run.figures['errors']:.0f} answers were not 2xx")


@contextmanager
def scratch_sqlite() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        upgrade(url)
        yield url


def run_on(database: str, scratch: Callable[[], AbstractContextManager[str]],
           shapes: tuple[Shape, ...], args: argparse.Namespace, coupons: int
           ) -> dict[str, Run]:
    with scratch() as url:
        return measure(database, url, shapes, args, coupons)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--coupons", type=int, default=200_000,
                        help="issued coupons on PostgreSQL, shared out among the shapes")
    parser.add_argument("--sqlite-coupons", type=int, default=50_000)
    parser.add_argument("--seconds", type=int, default=10, help="each measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds before each run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 20,000 and 10,000 coupons, 2 s a run, 1 s warm-up")
    parser.add_argument("--citus", action="store_true",
                        help="the PostgreSQL shapes on the Citus cluster too, side by side")
    args = parser.parse_args()
    if args.quick:
        args.coupons, args.sqlite_coupons, args.seconds, args.warmup = 20_000, 10_000, 2, 1
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    began = time.perf_counter()
    postgres = run_on("PostgreSQL", scratch_postgres, POSTGRES_SHAPES, args, args.coupons)
    citus = run_on("Citus", scratch_citus, POSTGRES_SHAPES, args, args.coupons) \
        if args.citus else None
    sqlite = run_on("SQLite", scratch_sqlite, SQLITE_SHAPES, args, args.sqlite_coupons)
    report("PostgreSQL", postgres, args, args.coupons)
    if citus is not None:
        report("Citus", citus, args, args.coupons)
        compare(postgres, citus)
    report("SQLite", sqlite, args, args.sqlite_coupons)
    print(f"\nWhole bench: {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
