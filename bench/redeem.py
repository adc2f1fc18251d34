"""Redeem throughput and latency: Amends vs a bare FastAPI + asyncpg endpoint doing only the
conditional UPDATE, on the same PostgreSQL, with the same load (wrk, 32 connections, codes
drawn without repetition from 1,000,000 issued coupons).

    .venv/bin/python -m bench.redeem [--coupons 1000000] [--seconds 20] [--connections 32]
        [--citus]

Needs `wrk` (Debian: apt-get install wrk). Targets: throughput ratio >= 0.7 and p99 no worse
than 1.5x the bare endpoint's.

With `--citus` the same runs are repeated on a new database of the Citus cluster named by
AMENDS_BENCH_CITUS_URL (default: the coordinator on 127.0.0.1:9700, database `citus`, whose
workers are read from pg_dist_node), distributed by organisation as `amends migrate` does it,
and the figures are printed beside PostgreSQL's with the ratio Citus / PostgreSQL. Every
redemption names one organisation, so each statement goes through the coordinator to the one
shard that holds it: on one machine this measures what that hop costs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import asyncpg
import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import make_url

from amends.actor import Actor
from amends.apikeys.service import create_api_key
from amends.config import Settings
from amends.customers.service import upsert_customer
from amends.db import Database
from amends.incentives.schemas import IncentiveCreate
from amends.incentives.service import create_incentive
from amends.kit import codes
from amends.kit.clock import utcnow
from amends.organizations.service import create_organization
from bench._net import free_port
from bench._pg import scratch_citus, scratch_postgres

ROOT = Path(__file__).resolve().parents[1]
UVICORN = Path(sys.executable).with_name("uvicorn")
console = Console()
Figures = dict[str, float]


async def seed(url: str, count: int, codes_file: Path) -> tuple[str, str]:
    """An organisation, a till key and `count` coupons (COPY), their codes in a file."""
    db = Database(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    async with db.transaction() as session:
        org = await create_organization(session, slug="bench", name="Bench")
        actor = Actor.system(org.id, "bench")
        key = await create_api_key(session, actor, name="till",
                                   scopes=["redemptions:read", "redemptions:write"])
        customer, _ = await upsert_customer(session, actor, external_id="C-1", data={})
        incentive = await create_incentive(session, actor, data=IncentiveCreate(
            name="Sorry", kind="amount_off", value=1000, currency="EUR", validity_days=90))
    await db.dispose()
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    now = utcnow()
    expires = now.replace(year=now.year + 1)
    columns = ["id", "organization_id", "customer_id", "customer_external_id", "incentive_id",
               "case_ref", "code", "page_token", "name", "kind", "value", "currency",
               "terms", "bound_to_customer", "face_value", "status", "redemption_count",
               "reinstated_count", "valid_from", "expires_at", "issued_by_type",
               "issued_by_label", "issued_at"]
    started = time.perf_counter()
    with codes_file.open("w") as out:
        for start in range(0, count, 50_000):
            rows = []
            for n in range(start, min(count, start + 50_000)):
                code = codes.generate()
                out.write(codes.display(code) + "\n")
                rows.append((uuid.uuid4(), org.id, customer.id, "C-1", incentive.id, f"b{n}",
                             code, uuid.uuid4().hex, "Sorry", "amount_off", 1000, "EUR", "",
                             True, 1000, "active", 0, 0, now, expires, "system", "bench", now))
            await conn.copy_records_to_table("coupons", records=rows, columns=columns)
            print(f"\r  seeded {min(count, start + 50_000):,}/{count:,} coupons", end="",
                  flush=True)
    await conn.execute("ANALYZE coupons")
    await conn.close()
    print(f" in {time.perf_counter() - started:.0f} s")
    return key.token, str(org.id)


def serve(app: str, port: int, env: dict[str, str], *, factory: bool) -> subprocess.Popen[bytes]:
    args = [str(UVICORN), app, "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            "--no-access-log", "--log-level", "warning"]
    if factory:
        args.append("--factory")
    proc = subprocess.Popen(args, env=env, cwd=ROOT)
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{app} did not start")


def load(port: int, codes_file: Path, token: str, *, seconds: int, connections: int,
         threads: int = 2, label: str = "wrk") -> Figures:
    env = {**os.environ, "CODES_FILE": str(codes_file), "TOKEN": token,
           "THREADS": str(threads)}
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
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
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50": ms("50%"), "p90": ms("90%"), "p99": ms("99%"),
            "errors": float(errors.group(1)) if errors else 0.0, "total": float(total)}


def measure(database: str, scratch: Callable[[], AbstractContextManager[str]],
            args: argparse.Namespace) -> dict[str, Figures]:
    """Seed a new database, then load the bare endpoint and Amends in turn on it: a warm-up
    and a measured run each, on codes no other run uses."""
    console.print(f"[bold]{database}[/bold]")
    with scratch() as url, tempfile.TemporaryDirectory() as tmp:
        all_codes = Path(tmp) / "codes.txt"
        token, org_id = asyncio.run(seed(url, args.coupons, all_codes))
        lines = all_codes.read_text().splitlines()
        # Four disjoint slices (warm-up and measured run, for each server): no code twice.
        slices = []
        for n in range(4):
            path = Path(tmp) / f"slice{n}.txt"
            path.write_text("\n".join(lines[n::4]) + "\n")
            slices.append(path)
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        env = {**os.environ, "AMENDS_DATABASE_URL": url, "AMENDS_EMBEDDED_WORKER": "false",
               "AMENDS_LOG_LEVEL": "WARNING", "AMENDS_CODE_FAILURES_PER_MINUTE": "1000000",
               "AMENDS_DB_POOL_SIZE": str(args.connections), "AMENDS_DB_MAX_OVERFLOW": "4",
               "BARE_DSN": dsn, "BARE_POOL": str(args.connections), "BARE_ORG": org_id,
               "PYTHONPATH": str(ROOT)}
        results = {}
        for name, app, warm, measured, factory in (
            ("bare", "bench.bare_redeem:app", slices[0], slices[1], False),
            ("amends", "amends.app:create_app", slices[2], slices[3], True),
        ):
            port = free_port()
            proc = serve(app, port, env, factory=factory)
            try:
                load(port, warm, token, seconds=3, connections=args.connections,
                     label=f"{database} {name}: warm-up")
                results[name] = load(port, measured, token, seconds=args.seconds,
                                     connections=args.connections,
                                     label=f"{database} {name}: measuring")
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            console.print(f"  {name}: {results[name]['rps']:.0f} req/s")
    return results


def report(database: str, results: dict[str, Figures], args: argparse.Namespace) -> None:
    bare, ours = results["bare"], results["amends"]
    print(f"\n{database}, 1 uvicorn process, wrk {args.connections} connections, "
          f"{args.seconds} s, {args.coupons:,} coupons")
    print(f"{'':8} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, r in (("bare", bare), ("amends", ours)):
        print(f"{name:8} {r['rps']:9.0f} {r['p50']:8.2f} {r['p90']:8.2f} {r['p99']:8.2f} "
              f"{r['errors']:8.0f}")
    print(f"throughput ratio amends/bare: {ours['rps'] / bare['rps']:.2f} (target >= 0.70)")
    print(f"p99 ratio amends/bare:        {ours['p99'] / bare['p99']:.2f} (target <= 1.50)")


def compare(postgres: dict[str, Figures], citus: dict[str, Figures]) -> None:
    """Each figure on PostgreSQL and on Citus, and Citus / PostgreSQL (below 1 for req/s and
    above 1 for latency: Citus is slower)."""
    print("\nCitus (coordinator + 2 workers) beside PostgreSQL; ratio = Citus / PostgreSQL")
    print(f"{'':8}" + "".join(f"{figure:>29}" for figure in ("req/s", "p50 ms", "p99 ms")))
    print(f"{'':8}" + f"{'PostgreSQL':>12}{'Citus':>10}{'ratio':>7}" * 3)
    for name in ("bare", "amends"):
        line = f"{name:8}"
        for figure, digits in (("rps", 0), ("p50", 2), ("p99", 2)):
            pg, ci = postgres[name][figure], citus[name][figure]
            line += f"{pg:12.{digits}f}{ci:10.{digits}f}{ci / pg:7.2f}"
        print(line)
    for name in ("bare", "amends"):
        if citus[name]["errors"]:
            print(f"{name} on Citus: {citus[name]['errors']:.0f} answers were not 2xx")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--coupons", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--citus", action="store_true",
                        help="the same runs on the Citus cluster too, printed side by side")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    postgres = measure("PostgreSQL", scratch_postgres, args)
    citus = measure("Citus", scratch_citus, args) if args.citus else None
    report("PostgreSQL", postgres, args)
    if citus is not None:
        report("Citus", citus, args)
        compare(postgres, citus)


if __name__ == "__main__":
    main()
