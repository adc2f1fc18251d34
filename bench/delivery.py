"""Click-to-received latency: 50 gestures a second for 30 s, each issued by the API with
`channel: email` and sent by the server's embedded worker to a local SMTP server.

    .venv/bin/python -m bench.delivery [--rate 50] [--seconds 30] [--sqlite-only]

Prints p50/p95/p99 from the click (the request leaving the client) to the message arriving at
the SMTP server, on SQLite and on PostgreSQL. Target: p99 < 1 s.
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
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from amends.migrate import upgrade
from bench._net import free_port
from bench._pg import scratch_postgres

AMENDS = Path(sys.executable).with_name("amends")


class Inbox:
    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content)
        self.arrived[str(message["To"])] = time.perf_counter()
        return "250 OK"


async def drive(url: str, smtp_port: int, inbox: Inbox, *, rate: int, seconds: int,
                separate_worker: bool) -> list[float]:
    port = free_port()
    env = {**os.environ, "AMENDS_DATABASE_URL": url, "AMENDS_LOG_LEVEL": "WARNING",
           "AMENDS_EMBEDDED_WORKER": "false" if separate_worker else "true",
           "AMENDS_WORKER_POLL_SECONDS": "0.05" if separate_worker else "0.25",
           "AMENDS_BASE_URL": f"http://127.0.0.1:{port}",
           "AMENDS_OUTBOUND_ALLOW_PRIVATE": "true"}  # the SMTP server listens on 127.0.0.1
    with tempfile.TemporaryDirectory() as tmp:
        seeded = subprocess.run([str(AMENDS), "demo", "--no-serve"], env=env, cwd=tmp,
                                capture_output=True, text=True, check=True).stdout
    token = next(line.split(": ", 1)[1].strip() for line in seeded.splitlines()
                 if line.strip().startswith("Admin:"))
    server = subprocess.Popen([str(AMENDS), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([str(AMENDS), "worker"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) if separate_worker else None
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers,
                                     timeout=30) as client:
            for _ in range(100):
                try:
                    await client.get("/healthz")
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
            await client.put("/v1/channels/email", json={"settings": {
                "host": "127.0.0.1", "port": smtp_port, "security": "none",
                "from_address": "care@bench.example"}})
            incentive = (await client.post("/v1/incentives", json={
                "name": "Sorry", "kind": "amount_off", "value": 1000, "currency": "EUR",
                "validity_days": 30})).json()["id"]
            total = rate * seconds
            for n in range(total):
                await client.put(f"/v1/customers/B-{n}",
                                 json={"email": f"b{n}@bench.example", "name": f"B {n}"})
            clicked: dict[str, float] = {}

            async def click(n: int) -> None:
                clicked[f"b{n}@bench.example"] = time.perf_counter()
                response = await client.post("/v1/coupons", json={
                    "customer_id": f"B-{n}", "incentive_id": incentive, "channel": "email"})
                assert response.status_code == 201, response.text

            start = time.perf_counter()
            tasks = []
            for n in range(total):
                await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
                tasks.append(asyncio.create_task(click(n)))
            await asyncio.gather(*tasks)
            deadline = time.perf_counter() + 30
            while len([a for a in clicked if a in inbox.arrived]) < total and \
                    time.perf_counter() < deadline:
                await asyncio.sleep(0.1)
    finally:
        for process in (server, worker):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
    missing = [a for a in clicked if a not in inbox.arrived]
    if missing:
        print(f"  {len(missing)} messages did not arrive within 30 s of the last click")
    return [inbox.arrived[a] - t for a, t in clicked.items() if a in inbox.arrived]


def report(name: str, latencies: list[float]) -> None:
    q = statistics.quantiles(latencies, n=100)
    print(f"{name:10} {len(latencies):5} messages  p50 {q[49] * 1000:7.1f} ms  "
          f"p95 {q[94] * 1000:7.1f} ms  p99 {q[98] * 1000:7.1f} ms  "
          f"({'meets' if q[98] < 1 else 'misses'} the 1 s target)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--separate-worker", action="store_true",
                        help="run `amends worker` beside `amends serve` (no embedded worker)")
    args = parser.parse_args()
    results = {}
    for name in ("SQLite", "PostgreSQL"):
        if name == "PostgreSQL" and args.sqlite_only:
            continue
        inbox = Inbox()
        smtp_port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        try:
            if name == "SQLite":
                with tempfile.TemporaryDirectory() as tmp:
                    url = f"sqlite+aiosqlite:///{tmp}/bench.db"
                    upgrade(url)
                    results[name] = asyncio.run(drive(
                        url, smtp_port, inbox, rate=args.rate, seconds=args.seconds,
                        separate_worker=args.separate_worker))
            else:
                with scratch_postgres() as url:
                    results[name] = asyncio.run(drive(
                        url, smtp_port, inbox, rate=args.rate, seconds=args.seconds,
                        separate_worker=args.separate_worker))
        finally:
            controller.stop()
    how = ("1 server process and 1 worker process" if args.separate_worker
           else "1 server process with its embedded worker")
    print(f"\n{args.rate} gestures/s for {args.seconds} s, click to SMTP server ({how})")
    for name, latencies in results.items():
        report(name, latencies)


if __name__ == "__main__":
    main()
