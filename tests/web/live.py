"""A real `amends serve` process on a SQLite copy of the test schema, seeded with the demo, for
the browser tests: started once per module that needs one."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from amends.config import Settings
from amends.db import Database
from amends.demo import SeededDemo, seed_demo


async def seed(url: str, *, history_cases: int = 0, history_days: int = 90,
               base_url: str | None = None, smtp_port: int | None = None) -> SeededDemo:
    """The demo organisation (with `history_cases` of history); with `base_url` and
    `smtp_port`, its channels point at the demo's outbox as `amends demo` seeds them."""
    db = Database(Settings(database_url=url, sqlite_synchronous="OFF", _env_file=None))
    try:
        seeded = await seed_demo(db, history_cases=history_cases, history_days=history_days,
                                 base_url=base_url, smtp_port=smtp_port)
    finally:
        await db.dispose()
    assert seeded is not None
    return seeded


def serve(url: str, port: int, log: Path, *, outbox: Path | None = None,
          smtp_port: int | None = None) -> subprocess.Popen[bytes]:
    """`amends serve` with its embedded worker, allowed to reach receivers on this machine;
    with `outbox`, it also runs the demo's mail catcher (on `smtp_port`) and receivers."""
    env = {**os.environ, "AMENDS_DATABASE_URL": url, "AMENDS_EMBEDDED_WORKER": "true",
           "AMENDS_WORKER_POLL_SECONDS": "0.1", "AMENDS_SWEEP_INTERVAL_SECONDS": "3600",
           "AMENDS_COOKIE_SECURE": "false", "AMENDS_LOG_LEVEL": "WARNING",
           "AMENDS_SQLITE_SYNCHRONOUS": "NORMAL", "AMENDS_BASE_URL": f"http://127.0.0.1:{port}",
           "AMENDS_OUTBOUND_ALLOW_PRIVATE": "true"}
    if outbox is not None:
        env["AMENDS_DEMO_OUTBOX"] = str(outbox)
        env["AMENDS_DEMO_SMTP_PORT"] = str(smtp_port)
    with log.open("wb") as out:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("amends")), "serve",
                                 "--port", str(port)], env=env, stdout=out, stderr=out)
    deadline = time.monotonic() + 90  # a loaded machine starts it slowly
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the server did not start:\n{log.read_text()}")
