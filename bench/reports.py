"""How fast the manager's dashboard renders on the demo history (thousands of cases over 90
days), against the same page for an organisation with no history (the baseline: templates,
login, filters and the framework, without data), in the same run.

    .venv/bin/python -m bench.reports [--cases 3000] [--requests 30] [--sqlite-only]

Target: the dashboard renders in < 300 ms on the demo history. The server is a real uvicorn
process; the times are wall-clock per request, measured by the client (httpx), one request
at a time, after two warm-up requests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from amends.config import Settings
from amends.db import Database
from amends.demo import DEMO_PASSWORD, seed_demo
from amends.migrate import upgrade
from amends.organizations.service import create_organization
from amends.roles import Role
from amends.users.service import create_user, log_in
from bench._net import free_port
from bench._pg import scratch_postgres

UVICORN = Path(sys.executable).with_name("uvicorn")
PAGES = {"dashboard": "/dashboard", "dashboard by agent": "/dashboard?by=agent",
         "outcomes": "/outcomes"}


async def prepare(url: str, cases: int) -> tuple[str, str]:
    """The demo organisation with `cases` cases of history, and an empty organisation; a
    manager's session token for each."""
    db = Database(Settings(database_url=url, _env_file=None))
    started = time.perf_counter()
    await seed_demo(db, history_cases=cases)
    print(f"  seeded the demo with {cases:,} cases in {time.perf_counter() - started:.1f} s")
    async with db.transaction() as session:
        empty = await create_organization(session, slug="empty", name="Empty")
        await create_user(session, None, organization_id=empty.id, email="m@empty.example",
                          name="M", role=Role.MANAGER, password=DEMO_PASSWORD)
    tokens = []
    for slug, email in (("demo", "manager@demo.example"), ("empty", "m@empty.example")):
        async with db.transaction() as session:
            login = await log_in(session, organization_slug=slug, email=email,
                                 password=DEMO_PASSWORD, hours=1)
            tokens.append(login.token)
    await db.dispose()
    return tokens[0], tokens[1]


def time_pages(base: str, token: str, requests: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    with httpx.Client(base_url=base, cookies={"amends_session": token}, timeout=30) as client:
        for name, path in PAGES.items():
            for _ in range(2):
                assert client.get(path).status_code == 200, path
            samples = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get(path)
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            timings[name] = samples
    return timings


def serve(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "AMENDS_DATABASE_URL": url, "AMENDS_LOG_LEVEL": "WARNING",
           "AMENDS_EMBEDDED_WORKER": "false", "AMENDS_COOKIE_SECURE": "false"}
    process = subprocess.Popen(
        [str(UVICORN), "amends.app:create_app", "--factory", "--port", str(port),
         "--log-level", "warning", "--no-access-log"], env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start")


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(label: str, url: str, cases: int, requests: int) -> None:
    print(f"\n{label}: demo history of {cases:,} cases over 90 days")
    demo_token, empty_token = asyncio.run(prepare(url, cases))
    process, base = serve(url)
    try:
        demo = time_pages(base, demo_token, requests)
        empty = time_pages(base, empty_token, requests)
    finally:
        process.terminate()
        process.wait(timeout=15)
    print(f"  {'page':<20} {'empty p50':>10} {'demo p50':>10} {'demo p95':>10} "
          f"{'demo max':>10}  target")
    for name in PAGES:
        p50 = statistics.median(demo[name])
        p95 = percentile(demo[name], 0.95)
        verdict = "ok" if p95 < 300 else "MISSED"
        print(f"  {name:<20} {statistics.median(empty[name]):>8.1f}ms {p50:>8.1f}ms "
              f"{p95:>8.1f}ms {max(demo[name]):>8.1f}ms  p95 < 300 ms: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/reports.db"
        upgrade(url)
        report("SQLite", url, args.cases, args.requests)
    if not args.sqlite_only:
        with scratch_postgres("amends_reports") as url:
            report("PostgreSQL", url, args.cases, args.requests)


if __name__ == "__main__":
    main()
