"""A company's busy hour on PostgreSQL: 2 API processes and 1 worker, under every kind of
request at once, each arriving at a fixed rate (an open model: every request starts at its
scheduled time whether or not the earlier ones have finished).

    .venv/bin/python -m bench.day [--seconds 60] [--tills 20] [--agents 0.5] [--events 0.5]
        [--batch 50] [--approvals 0.2] [--dashboard 0.2] [--history 2000]

The company is the demo organisation (its staff, catalogue, authority limits and
`--history` cases of history for the dashboard), on a new PostgreSQL database, its e-mail
channel pointed at a local SMTP server (aiosmtpd). The kinds, each at its rate per second
(0 leaves it out; the defaults are an hour of 72,000 redemptions, 1,800 cases with a
gesture, 90,000 events, 720 grants and a dashboard reloaded every 5 s):

- tills redeem coupons (`POST /v1/redemptions`, a till API key; codes issued beforehand);
- agents (5 logged-in agents in turn) open a case (`POST /v1/cases`) and give a gesture with
  one click (`POST /v1/coupons`), sent by e-mail by the worker; every fifth is a 25 EUR gift
  card, above an agent's 20 EUR authority, so it answers 202 with an approval request;
- the shop's systems send order and shipment events in batches (`POST /v1/events`);
- a supervisor grants approval requests (`POST /v1/approvals/{id}/grant`, which issues and
  sends the gesture), oldest first: requests made before the run, then the agents' ones;
- a manager reloads the dashboard (`GET /dashboard`).

Latency is measured from each request's scheduled start to its answer (so a generator that
falls behind shows as latency, not as fewer requests). It prints p50/p99 per kind, the
requests that failed (an exception, or an answer other than the kind's expected one) by
kind and status, the e-mails the SMTP server received; then runs the tills alone at the same
rate for the same time and prints the ratio of the tills' p99 under the mix to their p99
alone (target <= 2: MET / NOT MET; the bench never fails on it). The machine's load average
is printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy import insert, select

from amends.actor import Actor
from amends.apikeys.service import create_api_key
from amends.approvals.service import set_limit
from amends.config import Settings
from amends.customers.service import upsert_customer
from amends.db import Database
from amends.demo import DEMO_PASSWORD, DEMO_SLUG, demo_password_hash, seed_demo
from amends.models import Customer, Incentive, Organization
from amends.roles import Role
from amends.users.service import create_user, log_in
from bench._net import free_port
from bench._pg import scratch_postgres
from bench.redeem import ROOT, Seeded, fill_coupons, load_average, serve

AGENTS = 5
GIFT_EVERY = 5  # every fifth gesture is above the agents' authority
TARGET = 2.0
# One arrival of a kind: its number and scheduled start.
Arrival = Callable[[int, float], Coroutine[Any, Any, None]]


class Inbox:
    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received += 1
        return "250 OK"


@dataclass
class Staff:
    token: str
    csrf: str

    def client_options(self) -> dict[str, Any]:
        return {"cookies": {"amends_session": self.token},
                "headers": {"X-CSRF-Token": self.csrf}}


@dataclass
class Company:
    till_token: str
    events_token: str
    agents: list[Staff]
    supervisor: Staff
    manager: Staff
    sorry: str  # the 10 EUR off incentive's id
    gift: str  # the 25 EUR gift card's id


async def prepare(url: str, *, base_url: str, smtp_port: int, history: int, customers: int,
                  coupons: int, codes_file: Path) -> Company:
    """The demo company with its history, more agents, budgets a busy hour does not exhaust,
    the till's and the shop's keys, `customers` customers for the agents' cases and
    `coupons` coupons for the tills."""
    db = Database(Settings(database_url=url, _env_file=None))
    started = time.perf_counter()
    await seed_demo(db, history_cases=history, base_url=base_url, smtp_port=smtp_port)
    print(f"  seeded the demo company with {history:,} cases of history in "
          f"{time.perf_counter() - started:.0f} s")
    async with db.transaction() as session:
        org_id = await session.scalar(select(Organization.id).where(
            Organization.slug == DEMO_SLUG))
        assert org_id is not None
        actor = Actor.system(org_id, "bench")
        incentives = {name: id_ for id_, name in (await session.execute(
            select(Incentive.id, Incentive.name).where(Incentive.organization_id == org_id)))}
        hashed = await demo_password_hash()
        for n in range(AGENTS):
            await create_user(session, actor, organization_id=org_id,
                              email=f"agent{n}@bench.example", name=f"Agent {n}",
                              role=Role.AGENT, password=DEMO_PASSWORD, password_hash=hashed)
        # The demo's agents may give 200 EUR a day: a busy hour's clicks would spend it.
        await set_limit(session, actor, subject="role:agent", currency="EUR",
                        max_gesture=2000, daily_budget=10**9, monthly_budget=None,
                        incentive_ids=None)
        await set_limit(session, actor, subject="role:supervisor", currency="EUR",
                        max_gesture=5000, daily_budget=10**9, monthly_budget=None,
                        incentive_ids=None)
        till = await create_api_key(session, actor, name="tills",
                                    scopes=["redemptions:read", "redemptions:write"])
        shop = await create_api_key(session, actor, name="shop", scopes=["events:write"])
        customer, _ = await upsert_customer(session, actor, external_id="C-1", data={})
        await session.execute(insert(Customer), [
            {"organization_id": org_id, "external_id": f"B-{n}", "email": f"b{n}@bench.example",
             "name": f"Customer {n}", "name_search": f"customer {n}"}
            for n in range(customers)])
    logins = []
    for email in [f"agent{n}@bench.example" for n in range(AGENTS)] + [
            "supervisor@demo.example", "manager@demo.example"]:
        async with db.transaction() as session:
            login = await log_in(session, organization_slug=DEMO_SLUG, email=email,
                                 password=DEMO_PASSWORD, hours=4)
            logins.append(Staff(login.token, login.user_session.csrf_token))
    await db.dispose()
    await fill_coupons(url, Seeded(till.token, "", org_id, customer.id,
                                   incentives["Sorry: 10 EUR off"]), coupons, codes_file)
    return Company(till.token, shop.token, logins[:AGENTS], logins[AGENTS],
                   logins[AGENTS + 1], str(incentives["Sorry: 10 EUR off"]),
                   str(incentives["25 EUR gift card"]))


@dataclass
class Kind:
    name: str
    rate: float
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    skipped: int = 0  # arrivals with nothing to do (the supervisor's queue was empty)

    def quantile(self, q: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1] * 1000


async def timed(kind: Kind, scheduled: float, call: Awaitable[httpx.Response],
                expected: tuple[int, ...]) -> httpx.Response | None:
    """Await `call`, recording its latency from `scheduled` and whether it failed."""
    try:
        response = await call
    except httpx.HTTPError as error:
        kind.latencies.append(time.perf_counter() - scheduled)
        kind.failures[type(error).__name__] += 1
        return None
    kind.latencies.append(time.perf_counter() - scheduled)
    if response.status_code not in expected:
        kind.failures[f"HTTP {response.status_code}"] += 1
        return None
    return response


async def arrivals(rate: float, seconds: float, start: float,
                   request: Arrival) -> None:
    """Start request n at `start + n / rate`, whatever the earlier ones are doing (none at a
    rate of 0)."""
    tasks: list[asyncio.Task[None]] = []
    if rate <= 0:
        return
    for n in itertools.count():
        scheduled = start + n / rate
        if scheduled >= start + seconds:
            break
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        tasks.append(asyncio.create_task(request(n, scheduled)))
    await asyncio.gather(*tasks)


def event_batch(first: int, size: int) -> dict[str, Any]:
    """Orders placed, and their parcels created and scanned, in one batch."""
    events: list[dict[str, Any]] = []
    for n in range(first, first + size):
        order, kind = f"O-{n // 3}", n % 3
        if kind == 0:
            events.append({"id": f"e-{n}", "type": "order.placed",
                           "occurred_at": "2026-12-01T09:00:00Z",
                           "data": {"order_id": order, "customer_id": f"S-{n % 5000}",
                                    "amount": 4999, "currency": "EUR"}})
        elif kind == 1:
            events.append({"id": f"e-{n}", "type": "shipment.created",
                           "occurred_at": "2026-12-01T10:00:00Z",
                           "data": {"shipment_id": f"P-{n // 3}", "order_id": order,
                                    "carrier": "DHL"}})
        else:
            events.append({"id": f"e-{n}", "type": "shipment.scanned",
                           "occurred_at": "2026-12-01T12:00:00Z",
                           "data": {"shipment_id": f"P-{n // 3}", "location": "Lyon hub"}})
    return {"events": events}


class Day:
    """The generators of each kind, sharing the company's clients and queues."""

    def __init__(self, base: str, company: Company, codes: list[str]) -> None:
        limits = httpx.Limits(max_connections=500, max_keepalive_connections=100)
        options: dict[str, Any] = {"base_url": base, "timeout": 60, "limits": limits}
        self.till = httpx.AsyncClient(**options, headers={
            "Authorization": f"Bearer {company.till_token}"})
        self.shop = httpx.AsyncClient(**options, headers={
            "Authorization": f"Bearer {company.events_token}"})
        self.agents = [httpx.AsyncClient(**options, **a.client_options())
                       for a in company.agents]
        self.supervisor = httpx.AsyncClient(**options, **company.supervisor.client_options())
        self.manager = httpx.AsyncClient(**options, **company.manager.client_options())
        self.company = company
        self.codes = iter(codes)
        self.customers = itertools.count()
        self.events = itertools.count(step=1000)
        self.waiting: deque[str] = deque()  # approval requests, oldest first
        self.sent = 0  # gestures that were given (and so e-mailed)

    async def close(self) -> None:
        for client in (self.till, self.shop, *self.agents, self.supervisor, self.manager):
            await client.aclose()

    def tills(self, kind: Kind) -> Arrival:
        async def redeem(n: int, scheduled: float) -> None:
            await timed(kind, scheduled, self.till.post("/v1/redemptions", json={
                "code": next(self.codes), "customer_id": "C-1", "order_id": f"T-{n}",
                "order_amount": 5000, "channel": "in_store", "store_id": "S-12",
                "till_id": f"T-{n % 8}"}), (201,))
        return redeem

    async def give(self, n: int, scheduled: float, opening: Kind | None,
                   gesture: Kind | None) -> None:
        """An agent opens a case and gives a gesture: the 10 EUR off, or every fifth time
        the gift card above their authority (an approval request)."""
        client = self.agents[n % len(self.agents)]
        customer = next(self.customers)
        call = client.post("/v1/cases", json={
            "customer_id": f"B-{customer}", "reason": "late_delivery", "severity": 2,
            "channel": "email", "conversation_ref": f"ticket-{customer}"})
        opened = await timed(opening, scheduled, call, (201,)) if opening else await call
        if opened is None or opened.status_code != 201:
            return
        gift = n % GIFT_EVERY == GIFT_EVERY - 1
        clicked = time.perf_counter()
        call = client.post("/v1/coupons", json={
            "case_id": opened.json()["id"], "note": "Parcel a week late",
            "incentive_id": self.company.gift if gift else self.company.sorry})
        given = await timed(gesture, clicked, call, (202,) if gift else (201,)) if gesture \
            else await call
        if given is None:
            return
        if given.status_code == 202:
            self.waiting.append(given.json()["id"])
        elif given.status_code == 201:
            self.sent += 1

    def agent(self, opening: Kind, gesture: Kind) -> Arrival:
        async def click(n: int, scheduled: float) -> None:
            await self.give(n, scheduled, opening, gesture)
        return click

    def shop_events(self, kind: Kind, size: int) -> Arrival:
        async def send(n: int, scheduled: float) -> None:
            await timed(kind, scheduled, self.shop.post(
                "/v1/events", json=event_batch(next(self.events), size)), (200,))
        return send

    def approvals(self, kind: Kind) -> Arrival:
        async def grant(n: int, scheduled: float) -> None:
            if not self.waiting:
                kind.skipped += 1
                return
            approval = self.waiting.popleft()
            if await timed(kind, scheduled, self.supervisor.post(
                    f"/v1/approvals/{approval}/grant", json={"reason": "Loyal customer"}),
                    (200,)) is not None:
                self.sent += 1
        return grant

    def dashboard(self, kind: Kind) -> Arrival:
        async def reload(n: int, scheduled: float) -> None:
            await timed(kind, scheduled, self.manager.get("/dashboard"), (200,))
        return reload


async def busy_hour(day: Day, args: argparse.Namespace) -> list[Kind]:
    tills = Kind("till: redeem", args.tills)
    opening = Kind("agent: open case", args.agents)
    gesture = Kind("agent: gesture", args.agents)
    events = Kind(f"events: batch of {args.batch}", args.events)
    granting = Kind("supervisor: grant", args.approvals)
    dashboard = Kind("manager: dashboard", args.dashboard)
    start = time.perf_counter() + 0.5
    await asyncio.gather(
        arrivals(tills.rate, args.seconds, start, day.tills(tills)),
        arrivals(opening.rate, args.seconds, start, day.agent(opening, gesture)),
        arrivals(events.rate, args.seconds, start, day.shop_events(events, args.batch)),
        arrivals(granting.rate, args.seconds, start, day.approvals(granting)),
        arrivals(dashboard.rate, args.seconds, start, day.dashboard(dashboard)))
    return [tills, opening, gesture, events, granting, dashboard]


async def tills_alone(day: Day, args: argparse.Namespace) -> Kind:
    tills = Kind("till: redeem, alone", args.tills)
    await arrivals(tills.rate, args.seconds, time.perf_counter() + 0.5, day.tills(tills))
    return tills


async def drive(base: str, company: Company, codes: list[str], inbox: Inbox,
                args: argparse.Namespace) -> None:
    day = Day(base, company, codes)
    try:
        # Approval requests made before the run, for the supervisor; and a warm-up of every
        # kind (one of each per process) so the first requests do not pay for start-up.
        waiting = int(args.approvals * args.seconds) + 1
        await asyncio.gather(*(day.give(GIFT_EVERY * n + GIFT_EVERY - 1, 0.0, None, None)
                               for n in range(waiting)))
        warm = Kind("warm-up", 1)
        for n in range(4):
            await day.tills(warm)(n, time.perf_counter())
            await day.dashboard(warm)(n, time.perf_counter())
            await day.shop_events(warm, 10)(n, time.perf_counter())
        print(f"  {len(day.waiting)} approval requests waiting; warm-up failures: "
              f"{sum(warm.failures.values())}")
        before = inbox.received
        sent_before = day.sent
        print(f"  the mix for {args.seconds:.0f} s ({load_average()})")
        kinds = await busy_hour(day, args)
        mix_load = load_average()
        expected = day.sent - sent_before
        deadline = time.perf_counter() + 60
        while inbox.received - before < expected and time.perf_counter() < deadline:
            await asyncio.sleep(0.5)
        mailed = inbox.received - before
        print(f"  the tills alone for {args.seconds:.0f} s ({load_average()})")
        alone = await tills_alone(day, args)
        report(kinds, alone, args, mix_load=mix_load, mailed=mailed, expected=expected)
    finally:
        await day.close()


def report(kinds: list[Kind], alone: Kind, args: argparse.Namespace, *, mix_load: str,
           mailed: int, expected: int) -> None:
    print(f"\nBusy hour on PostgreSQL: 2 API processes (uvicorn --workers 2), 1 worker, "
          f"{args.seconds:.0f} s, open model; {mix_load} at the end of the mix")
    print(f"{'kind':26} {'rate/s':>7} {'requests':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'errors':>7}")
    for kind in (*kinds, alone):
        print(f"{kind.name:26} {kind.rate:7.1f} {len(kind.latencies):9,} "
              f"{kind.quantile(50):8.1f} {kind.quantile(99):8.1f} "
              f"{sum(kind.failures.values()):7,}")
    errors = sum(sum(kind.failures.values()) for kind in kinds)
    print(f"Errors under the mix: {errors:,}" + "".join(
        f"; {kind.name}: " + ", ".join(f"{count} x {what}" for what, count in
                                        kind.failures.most_common())
        for kind in kinds if kind.failures))
    for kind in kinds:
        if kind.skipped:
            print(f"{kind.name}: {kind.skipped} arrivals found nothing to approve")
    print(f"E-mails at the SMTP server from the start of the mix to 60 s after: {mailed:,} "
          f"(gestures given under the mix, one message each: {expected:,}; approval requests "
          "and decisions also e-mail staff)")
    mixed = kinds[0].quantile(99)
    ratio = mixed / alone.quantile(99)
    print(f"Tills' p99 under the mix / alone: {mixed:.1f} / {alone.quantile(99):.1f} ms = "
          f"{ratio:.2f} (target <= {TARGET:.0f}): {'MET' if ratio <= TARGET else 'NOT MET'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--tills", type=float, default=20, help="redemptions a second")
    parser.add_argument("--agents", type=float, default=0.5,
                        help="cases opened, each with a gesture, a second")
    parser.add_argument("--events", type=float, default=0.5, help="event batches a second")
    parser.add_argument("--batch", type=int, default=50, help="events a batch")
    parser.add_argument("--approvals", type=float, default=0.2, help="grants a second")
    parser.add_argument("--dashboard", type=float, default=0.2, help="reloads a second")
    parser.add_argument("--history", type=int, default=2000,
                        help="cases of history behind the dashboard")
    args = parser.parse_args()
    inbox = Inbox()
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    print(f"PostgreSQL ({load_average()})")
    try:
        with scratch_postgres() as url, tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            codes_file = Path(tmp) / "codes.txt"
            customers = int(args.agents * args.seconds + args.approvals * args.seconds) + 100
            company = asyncio.run(prepare(
                url, base_url=base, smtp_port=smtp_port, history=args.history,
                customers=customers, coupons=int(args.tills * args.seconds * 2) + 100,
                codes_file=codes_file))
            env = {**os.environ, "AMENDS_DATABASE_URL": url, "AMENDS_EMBEDDED_WORKER": "false",
                   "AMENDS_LOG_LEVEL": "WARNING", "AMENDS_BASE_URL": base,
                   "AMENDS_CODE_FAILURES_PER_MINUTE": "1000000",
                   "AMENDS_OUTBOUND_ALLOW_PRIVATE": "true",  # the SMTP server is on 127.0.0.1
                   "PYTHONPATH": str(ROOT)}
            server = serve("amends.app:create_app", port, env, Path(tmp) / "serve.log",
                           factory=True, workers=2)
            with (Path(tmp) / "worker.log").open("ab") as log:
                worker = subprocess.Popen(
                    [str(Path(sys.executable).with_name("amends")), "worker"], env=env,
                    stdout=log, stderr=log)
            try:
                asyncio.run(drive(base, company, codes_file.read_text().splitlines(), inbox,
                                  args))
            finally:
                for process in (server, worker):
                    process.terminate()
                for process in (server, worker):
                    process.wait(timeout=60)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
