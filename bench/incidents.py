"""A mass incident at scale: 100,000 affected customers from a CSV, run by worker processes
that send every e-mail to a local SMTP server.

    .venv/bin/python -m bench.incidents [--customers 100000] [--small 10000] [--workers 2]
        [--concurrency 8] [--sqlite-only | --postgres-only] [--sqlite-customers N]
        [--citus] [--kill-halfway] [--timeout 3600]

For each database, and at two sizes (the small one shows whether memory grows with the
number of customers), it prints: the import of the CSV through the service, the time to issue
every gesture (every affected customer has a case, a coupon and a queued message), the
delivery throughput to the SMTP server, and the peak resident memory (VmHWM) of the workers.
Targets, on PostgreSQL with 2 workers: issuing 100,000 customers < 60 s and 1,000,000 < 5 min
(the time growing no faster than the number of customers); messages leaving at >= 1,000/s
(from the first message taken by the SMTP server to the last); worker memory bounded (about
the same at both sizes).
At the end it counts what every customer has: one case, one coupon, one message, and one
Message-ID at the SMTP server. With `--kill-halfway` the workers are killed with SIGKILL once
half the customers are issued and new ones finish the run; the counts must not change.

The channel's `rate_per_second` is set very high so the incident's pacing does not limit
the figures; the clock starts when the workers are launched and stops at the database's own
timestamps of the last customer processed and the last message sent. A run still going at
`--timeout` is stopped and its figures so far are printed (`>N s`), with the time by which 99%
of the gestures were issued: a chunk that failed once is retried behind every message queued.

With `--citus` the PostgreSQL runs are repeated, at the same sizes, on a new database of the
Citus cluster named by AMENDS_BENCH_CITUS_URL (default: the coordinator on 127.0.0.1:9700,
database `citus`, whose workers are read from pg_dist_node), distributed by organisation as
`amends migrate` does it, and the figures are printed side by side with the ratio Citus /
PostgreSQL (with `--postgres-only`, SQLite is left out).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, insert, select, update

from amends.actor import Actor
from amends.config import Settings
from amends.db import Database
from amends.delivery.service import save_channel
from amends.incentives.schemas import IncentiveCreate
from amends.incentives.service import create_incentive
from amends.incidents import service as incidents
from amends.incidents.cli import import_file
from amends.incidents.schemas import IncidentIn
from amends.kit.clock import utcnow
from amends.migrate import upgrade
from amends.models import Case, Coupon, Customer, Delivery, IncidentCustomer, Job, Organization
from amends.organizations.service import create_organization
from bench._net import free_port
from bench._pg import scratch_citus, scratch_postgres

AMENDS = Path(sys.executable).with_name("amends")
SEED_BATCH = 10_000
console = Console()


class Inbox:
    """Counts what arrives; each message is kept only as its Message-ID."""

    def __init__(self) -> None:
        self.received = 0
        self.message_ids: set[bytes] = set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.content
        start = content.find(b"Message-ID:")
        self.message_ids.add(content[start:content.find(b"\n", start)].strip())
        self.received += 1
        return "250 OK"


@dataclass
class Result:
    database: str
    customers: int
    imported: float
    elapsed: float  # from the workers' launch to the end of the run (or the time limit)
    issued: int
    sent: int
    issued_after: float | None  # None: not all issued within the time limit
    most_issued_after: float | None  # 99% of them (a retried chunk can wait behind messages)
    sent_after: float | None
    sending_window: float | None  # from the first message sent to the last
    received: int
    distinct: int
    peak_mib: float
    retried: int
    problems: Counter[str] = field(default_factory=Counter)
    killed_at: float | None = None  # when the workers were killed with SIGKILL (--kill-halfway)
    exact: dict[str, int] = field(default_factory=dict)  # rows per customer, at the end
    failed: int = 0  # messages that will not be sent (not rendered, or refused for good)
    cpu_issuing: float = 0.0  # the workers' CPU seconds until every gesture was issued
    cpu_sending: float = 0.0  # and after (the messages still to send)
    sent_after_issuing: int = 0

    @property
    def issuing_rate(self) -> float:
        return self.issued / (self.issued_after or self.elapsed)

    @property
    def sending_rate(self) -> float:
        return self.sent / (self.sent_after or self.elapsed)

    @property
    def leaving_rate(self) -> float | None:
        """Messages per second while they were leaving (first to last sent)."""
        return self.sent / self.sending_window if self.sending_window else None


def cpu_seconds(pid: int) -> float:
    """The CPU time the process has used (user + system), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    """The high-water mark of the process's resident memory, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


async def seed(db: Database, *, customers: int, smtp_port: int, csv_path: Path
               ) -> tuple[str, uuid.UUID, uuid.UUID]:
    """An organisation, its customers (in bulk), an incident and the e-mail channel."""
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    async with db.transaction() as session:
        organization = await create_organization(session, slug=slug, name="Bench Retail")
        # The bench has no second manager to approve a run this large.
        await session.execute(update(Organization).where(Organization.id == organization.id)
                              .values(incident_approval_threshold=10**15))
        actor = Actor.system(organization.id, "bench")
        incentive = await create_incentive(session, actor, data=IncentiveCreate(
            name="Sorry: 5 off", kind="amount_off", value=500, currency="EUR",
            validity_days=30))
        await save_channel(session, actor, channel="email", active=True, settings={
            "host": "127.0.0.1", "port": smtp_port, "security": "none",
            "from_address": "care@bench.example", "rate_per_second": 100_000},
            allow_private=True)  # the bench's SMTP server listens on 127.0.0.1
        incident = await incidents.create(session, actor, data=IncidentIn(
            title="Depot fire", reason="late_delivery", severity=3,
            incentive_id=incentive.id, message="A fire at our depot delayed your parcel."))
    for start in range(0, customers, SEED_BATCH):
        async with db.transaction() as session:
            await session.execute(insert(Customer), [
                {"organization_id": organization.id, "external_id": f"C-{n}",
                 "email": f"c{n}@bench.example", "name": f"Customer {n}",
                 "name_search": f"customer {n}"}
                for n in range(start, min(customers, start + SEED_BATCH))])
    with csv_path.open("w") as out:
        out.write("customer_id\n")
        out.writelines(f"C-{n}\n" for n in range(customers))
    return slug, organization.id, incident.id


# The bench's own reads name the organisation, so that on Citus each goes to the one shard
# that holds it rather than to every shard, once a second, beside the workers.

async def counts(db: Database, organization_id: uuid.UUID, incident_id: uuid.UUID
                 ) -> tuple[int, int, int]:
    """(customers still pending, messages sent, messages failed: not rendered or refused)."""
    async with db.transaction(write=False) as session:
        pending = await session.scalar(select(func.count()).select_from(IncidentCustomer)
                                       .where(IncidentCustomer.organization_id == organization_id,
                                              IncidentCustomer.incident_id == incident_id,
                                              IncidentCustomer.state == "pending"))
        sent = await session.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.organization_id == organization_id, Delivery.incident_id == incident_id,
            Delivery.status == "sent"))
        failed = await session.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.organization_id == organization_id, Delivery.incident_id == incident_id,
            Delivery.status == "failed"))
    return int(pending or 0), int(sent or 0), int(failed or 0)


async def last_times(db: Database, organization_id: uuid.UUID, incident_id: uuid.UUID
                     ) -> tuple[datetime | None, datetime | None, datetime | None]:
    """When the last customer was processed, when the first message left and when the last
    one did (the database's own timestamps, so the figures do not depend on how often the
    bench looks)."""
    async with db.transaction(write=False) as session:
        processed = await session.scalar(select(func.max(IncidentCustomer.processed_at))
                                         .where(IncidentCustomer.organization_id
                                                == organization_id,
                                                IncidentCustomer.incident_id == incident_id))
        first_sent, last_sent = (await session.execute(
            select(func.min(Delivery.sent_at), func.max(Delivery.sent_at))
            .where(Delivery.organization_id == organization_id,
                   Delivery.incident_id == incident_id))).one()
    return processed, first_sent, last_sent


async def exact_counts(db: Database, organization_id: uuid.UUID, incident_id: uuid.UUID
                       ) -> dict[str, int]:
    """What every customer ended with: cases, coupons and messages, and how many customers."""
    async with db.transaction(write=False) as session:
        cases, with_case = (await session.execute(
            select(func.count(), func.count(func.distinct(Case.customer_id)))
            .where(Case.organization_id == organization_id,
                   Case.incident_id == incident_id))).one()
        coupons, with_coupon = (await session.execute(
            select(func.count(), func.count(func.distinct(Coupon.customer_id)))
            .join(IncidentCustomer, (IncidentCustomer.coupon_id == Coupon.id)
                  & (IncidentCustomer.organization_id == Coupon.organization_id))
            .where(IncidentCustomer.organization_id == organization_id,
                   IncidentCustomer.incident_id == incident_id))).one()
        all_coupons = await session.scalar(
            select(func.count()).select_from(Coupon).join(
                Case, (Case.reference == Coupon.case_ref)
                & (Case.organization_id == Coupon.organization_id))
            .where(Case.organization_id == organization_id, Case.incident_id == incident_id))
        messages = await session.scalar(select(func.count()).select_from(Delivery)
                                        .where(Delivery.organization_id == organization_id,
                                               Delivery.incident_id == incident_id))
    return {"cases": int(cases), "customers with a case": int(with_case),
            "coupons": int(all_coupons or 0), "customers with a coupon": int(with_coupon),
            "coupons recorded": int(coupons), "messages": int(messages or 0)}


async def retried_jobs(db: Database) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(Job)
                                        .where(Job.attempts > 1)) or 0)


def start_workers(url: str, *, workers: int, concurrency: int, log: Path, lease: float = 60
                  ) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "AMENDS_DATABASE_URL": url, "AMENDS_LOG_LEVEL": "WARNING",
           "AMENDS_LOG_JSON": "true", "AMENDS_WORKER_POLL_SECONDS": "0.05",
           "AMENDS_JOB_LEASE_SECONDS": str(lease), "AMENDS_OUTBOUND_ALLOW_PRIVATE": "true"}
    with log.open("ab") as out:
        return [subprocess.Popen([str(AMENDS), "worker", "--concurrency", str(concurrency)],
                                 env=env, stdout=subprocess.DEVNULL, stderr=out)
                for _ in range(workers)]


def problems_in(log: Path) -> Counter[str]:
    """The workers' warnings and errors, by message (and error, for failed jobs)."""
    found: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        detail = str(entry.get("error") or entry.get("exception") or "")
        error = detail.strip().splitlines()[-1:] or [""]
        found[f"{entry.get('message', '?')}: {error[0][:100]}".rstrip(": ")] += 1
    return found


async def run_one(name: str, url: str, *, customers: int, workers: int, concurrency: int,
                  timeout: float, kill_halfway: bool = False) -> Result:
    inbox = Inbox()
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    db = Database(Settings(database_url=url, embedded_worker=False,
                           _env_file=None))
    processes: list[subprocess.Popen[bytes]] = []
    tmp = tempfile.TemporaryDirectory()
    log = Path(tmp.name) / "workers.log"
    try:
        console.print(f"[bold]{name}, {customers:,} customers[/bold]: seeding")
        csv_path = Path(tmp.name) / "affected.csv"
        slug, organization_id, incident_id = await seed(
            db, customers=customers, smtp_port=smtp_port, csv_path=csv_path)
        began = time.perf_counter()
        await import_file(db, org=slug, incident_id=incident_id, file=csv_path)
        imported = time.perf_counter() - began
        async with db.transaction() as session:
            await incidents.start(session, Actor.system(organization_id, "bench"),
                                  incident_id=incident_id)
        # With --kill-halfway, a short lease: the killed workers' jobs run again soon.
        lease = 5.0 if kill_halfway else 60.0
        processes = start_workers(url, workers=workers, concurrency=concurrency, log=log,
                                  lease=lease)
        began = time.perf_counter()
        launched = utcnow()
        killed_at: float | None = None
        issued_after: float | None = None
        most_issued_after: float | None = None
        sent_after: float | None = None
        sending_window: float | None = None
        peak = 0.0
        # The workers' CPU seconds (those of killed workers in `spent`): on a machine shared
        # with other work, the cost of each customer and message whatever the wall clock.
        spent, cpu, cpu_at_issued, sent_when_issued = 0.0, 0.0, 0.0, 0
        used: dict[int, float] = {}
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
            issuing = bar.add_task("Gestures issued", total=customers)
            sending = bar.add_task("Messages sent", total=customers)
            while True:
                pending, sent, failed = await counts(db, organization_id, incident_id)
                elapsed = time.perf_counter() - began
                peak = max([peak, *(peak_rss_mib(w.pid) for w in processes)])
                used = {w.pid: cpu_seconds(w.pid) or used.get(w.pid, 0.0) for w in processes}
                cpu = spent + sum(used.values())
                bar.update(issuing, completed=customers - pending)
                if kill_halfway and killed_at is None and customers - pending >= customers // 2:
                    for process in processes:
                        process.send_signal(signal.SIGKILL)
                    for process in processes:
                        process.wait()
                    spent, used = cpu, {}
                    killed_at = elapsed
                    console.print(f"Killed the workers with SIGKILL at {elapsed:.1f} s "
                                  f"({customers - pending:,} issued, {sent:,} sent); "
                                  "starting new ones.")
                    processes = start_workers(url, workers=workers, concurrency=concurrency,
                                              log=log, lease=lease)
                bar.update(sending, completed=sent)
                if pending <= customers // 100 and most_issued_after is None:
                    most_issued_after = elapsed
                if not pending and issued_after is None:
                    last_processed, _, _ = await last_times(db, organization_id, incident_id)
                    issued_after = (last_processed - launched).total_seconds() \
                        if last_processed else elapsed
                    cpu_at_issued, sent_when_issued = cpu, sent
                if not pending and sent + failed >= customers:
                    _, first_sent, last_sent = await last_times(db, organization_id,
                                                                incident_id)
                    sent_after = (last_sent - launched).total_seconds() if last_sent else elapsed
                    if first_sent and last_sent and last_sent > first_sent:
                        sending_window = (last_sent - first_sent).total_seconds()
                    break
                if elapsed > timeout:
                    console.print(f"[red]Stopped at the time limit ({timeout:.0f} s).[/red]")
                    break
                if any(w.poll() is not None for w in processes):
                    raise RuntimeError(f"{name}: a worker exited early")
                # The bench's counts read every row: at a million, not every second.
                await asyncio.sleep(max(1.0, customers / 200_000))
        return Result(name, customers, imported, elapsed, customers - pending, sent,
                      issued_after, most_issued_after, sent_after, sending_window,
                      inbox.received,
                      len(inbox.message_ids), peak, await retried_jobs(db),
                      problems_in(log), killed_at,
                      await exact_counts(db, organization_id, incident_id), failed,
                      cpu_at_issued, cpu - cpu_at_issued, sent - sent_when_issued)
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=120)
        await db.dispose()
        controller.stop()
        tmp.cleanup()


def measure(name: str, sizes: list[int], args: argparse.Namespace) -> list[Result]:
    results = []
    for size in sizes:
        if name == "SQLite":
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite+aiosqlite:///{tmp}/bench.db"
                upgrade(url)
                results.append(asyncio.run(run_one(
                    name, url, customers=size, workers=args.workers,
                    concurrency=args.concurrency, timeout=args.timeout,
                    kill_halfway=args.kill_halfway)))
        else:
            with (scratch_citus if name == "Citus" else scratch_postgres)() as url:
                results.append(asyncio.run(run_one(
                    name, url, customers=size, workers=args.workers,
                    concurrency=args.concurrency, timeout=args.timeout,
                    kill_halfway=args.kill_halfway)))
    return results


def _time(seconds: float | None, elapsed: float) -> str:
    return f"{seconds:.1f}s" if seconds is not None else f">{elapsed:.0f}s"


def report(results: list[Result], args: argparse.Namespace) -> None:
    print(f"\n{args.workers} worker process(es) x {args.concurrency} jobs at once; "
          "times from the workers' launch")
    print(f"{'database':11}{'customers':>10}{'import':>9}{'99% at':>9}{'issuing':>10}"
          f"{'issued':>9}"
          f"{'/s':>6}{'all sent':>10}{'sent':>9}{'/s':>6}{'received':>10}{'distinct':>10}"
          f"{'peak RSS':>10}{'retried':>9}")
    for r in results:
        print(f"{r.database:11}{r.customers:>10,}{r.imported:>8.1f}s"
              f"{_time(r.most_issued_after, r.elapsed):>9}"
              f"{_time(r.issued_after, r.elapsed):>10}{r.issued:>9,}{r.issuing_rate:>6,.0f}"
              f"{_time(r.sent_after, r.elapsed):>10}{r.sent:>9,}{r.sending_rate:>6,.0f}"
              f"{r.received:>10,}{r.distinct:>10,}{r.peak_mib:>6.0f} MiB{r.retried:>9,}")
    print("issuing: until every customer has a case, a coupon and a queued message (99% at: "
          "until 99% have); all sent: "
          "until the last message left; /s: customers per second over that time; received, "
          "distinct: messages at the SMTP server and distinct Message-IDs among them; "
          "retried: jobs that ran more than once.")
    for r in results:
        if r.killed_at is not None:
            print(f"  {r.database} {r.customers:,}: workers killed with SIGKILL at "
                  f"{r.killed_at:.1f} s and restarted")
        wanted = dict.fromkeys(r.exact, r.customers)
        verdict = "exactly one each" if r.exact == wanted and r.distinct == r.customers \
            else "NOT one each"
        print(f"  {r.database} {r.customers:,}: " + ", ".join(
            f"{key} {value:,}" for key, value in r.exact.items())
            + f", distinct Message-IDs {r.distinct:,}, failed {r.failed:,}: {verdict}")
        for problem, count in r.problems.most_common(5):
            print(f"  {r.database} {r.customers:,}: the workers logged {count:,} x {problem}")
    issuing_targets = {100_000: 60.0, 1_000_000: 300.0}
    for r in results:
        target = issuing_targets.get(r.customers)
        if r.database == "PostgreSQL" and target is not None:
            verdict = ("MET" if r.issued_after is not None and r.issued_after < target
                       else "NOT MET")
            print(f"Issuing {r.customers:,} on PostgreSQL with {args.workers} workers: "
                  f"{_time(r.issued_after, r.elapsed)}, target < {target:.0f} s: {verdict}.")
    for r in results:
        if r.cpu_issuing and r.issued:
            print(f"Worker CPU, {r.database} {r.customers:,}: "
                  f"{r.cpu_issuing / r.issued * 1000:.2f} ms a customer issued "
                  f"({r.cpu_issuing:.0f} s)" + (
                      f", {r.cpu_sending / r.sent_after_issuing * 1000:.2f} ms a message "
                      f"sent after ({r.cpu_sending:.0f} s for {r.sent_after_issuing:,})"
                      if r.sent_after_issuing and r.cpu_sending else "")
                  + f"; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.")
    for r in results:
        if r.leaving_rate is not None:
            verdict = "MET" if r.leaving_rate >= 1000 else "NOT MET"
            print(f"Messages leaving, {r.database} {r.customers:,}: {r.sent:,} in "
                  f"{r.sending_window:.1f} s from the first to the last sent = "
                  f"{r.leaving_rate:,.0f}/s with {args.workers} workers, target >= 1,000/s: "
                  f"{verdict}.")
    for database in ("SQLite", "PostgreSQL", "Citus"):
        sized = sorted((r for r in results if r.database == database),
                       key=lambda r: r.customers)
        if len(sized) == 2 and sized[0].peak_mib:
            small, large = sized
            print(f"{database}: worker peak {small.peak_mib:.0f} MiB at "
                  f"{small.customers:,} customers, {large.peak_mib:.0f} MiB at "
                  f"{large.customers:,} ({large.peak_mib / small.peak_mib:.2f}x for "
                  f"{large.customers / small.customers:.0f}x the customers).")
            if small.issued_after and large.issued_after:
                growth = large.issued_after / small.issued_after
                scale = large.customers / small.customers
                shape = "linear or better" if growth <= 1.1 * scale else "worse than linear"
                print(f"{database}: issuing {small.issued_after:.1f} s at "
                      f"{small.customers:,}, {large.issued_after:.1f} s at "
                      f"{large.customers:,}: {growth:.2f}x the time for "
                      f"{scale:.0f}x the customers ({shape}).")
    compare([r for r in results if r.database == "PostgreSQL"],
            [r for r in results if r.database == "Citus"])


def compare(postgres: list[Result], citus: list[Result]) -> None:
    """Each size's times and rates on PostgreSQL and on Citus, and Citus / PostgreSQL (above 1
    for times and below 1 for rates: Citus is slower). A run stopped at the time limit shows
    `>N s` and no ratio."""
    pairs = [(pg, ci) for pg in postgres for ci in citus if pg.customers == ci.customers]
    if not pairs:
        return
    print("\nCitus (coordinator + 2 workers) beside PostgreSQL; ratio = Citus / PostgreSQL")
    figures = ("issuing", "issued/s", "all sent", "sent/s")
    print(f"{'customers':>9}" + "".join(f"{figure:>29}" for figure in figures))
    print(f"{'':9}" + f"{'PostgreSQL':>13}{'Citus':>9}{'ratio':>7}" * len(figures))
    for pg, ci in pairs:
        cells = (
            (_time(pg.issued_after, pg.elapsed), _time(ci.issued_after, ci.elapsed),
             _ratio(ci.issued_after, pg.issued_after)),
            (f"{pg.issuing_rate:,.0f}", f"{ci.issuing_rate:,.0f}",
             _ratio(ci.issuing_rate if ci.issued_after else None,
                    pg.issuing_rate if pg.issued_after else None)),
            (_time(pg.sent_after, pg.elapsed), _time(ci.sent_after, ci.elapsed),
             _ratio(ci.sent_after, pg.sent_after)),
            (f"{pg.sending_rate:,.0f}", f"{ci.sending_rate:,.0f}",
             _ratio(ci.sending_rate if ci.sent_after else None,
                    pg.sending_rate if pg.sent_after else None)),
        )
        print(f"{pg.customers:>9,}" + "".join(f"{a:>13}{b:>9}{c:>7}" for a, b, c in cells))


def _ratio(citus: float | None, postgres: float | None) -> str:
    return f"{citus / postgres:.2f}" if citus and postgres else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000,
                        help="a second, smaller size, to compare the workers' memory (0: none)")
    parser.add_argument("--sqlite-customers", type=int, default=None,
                        help="a different (large) size for SQLite, if it is too slow")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes (default 2: one a core of the bench machine)")
    parser.add_argument("--concurrency", type=int, default=8, help="jobs per worker")
    parser.add_argument("--citus", action="store_true",
                        help="the PostgreSQL runs on the Citus cluster too, side by side")
    parser.add_argument("--kill-halfway", action="store_true",
                        help="SIGKILL the workers once half the customers are issued, start "
                             "new ones, and check every count at the end")
    parser.add_argument("--timeout", type=float, default=3600,
                        help="seconds per run; figures so far are printed if it runs out")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--sqlite-only", action="store_true")
    only.add_argument("--postgres-only", action="store_true")
    args = parser.parse_args()
    if args.citus and args.sqlite_only:
        parser.error("--citus runs beside PostgreSQL: not with --sqlite-only")
    results: list[Result] = []
    if not args.sqlite_only:
        results += measure("PostgreSQL", [n for n in (args.small, args.customers) if n], args)
    if args.citus:
        results += measure("Citus", [n for n in (args.small, args.customers) if n], args)
    if not args.postgres_only:
        results += measure("SQLite", [n for n in (args.small,
                                                  args.sqlite_customers or args.customers) if n],
                           args)
    report(results, args)


if __name__ == "__main__":
    main()
