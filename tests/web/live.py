"""One real `amends serve` process on a SQLite copy of the test schema for all the browser tests
of a run: each module gets its own demo organisation on it (`live_site`), or makes its own
organisations on its database (`shared_server`), so modules cannot see each other's data, and
the run starts one server instead of one per module. It stops when the run ends
(`stop_shared`, called by tests/web/conftest.py). A module that also runs on PostgreSQL starts
one server for the module on the session's database (`server_on`)."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from amends.config import Settings
from amends.db import Database
from amends.demo import DEMO_PASSWORD, DEMO_SLUG, SeededDemo, seed_demo
from tests.web.browser_watch import watch

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def seed(url: str, *, history_cases: int = 0, history_days: int = 90,
               base_url: str | None = None, smtp_port: int | None = None,
               slug: str = DEMO_SLUG) -> SeededDemo:
    """The demo organisation (with `history_cases` of history); with `base_url` and
    `smtp_port`, its channels point at the demo's outbox as `amends demo` seeds them."""
    db = Database(Settings(database_url=url, sqlite_synchronous="OFF", _env_file=None))
    try:
        seeded = await seed_demo(db, history_cases=history_cases, history_days=history_days,
                                 base_url=base_url, smtp_port=smtp_port, slug=slug)
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


@contextmanager
def signed_in_as(browser: Browser, base_url: str, email: str,
                 viewport: ViewportSize | None = None, *, org: str = DEMO_SLUG
                 ) -> Iterator[Page]:
    """A browser context of its own, logged in to the demo's console as `email`; fails the test
    on any console error or failed request of the page."""
    context = browser.new_context(viewport=viewport or ViewportSize(width=1280, height=900),
                                  base_url=base_url, accept_downloads=True)
    context.set_default_timeout(10_000)
    problems = watch(context)
    page = context.new_page()
    try:
        page.goto("/login")
        page.get_by_label("Organisation").fill(org)
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        # Everyone starts on the welcome page, but a clerk, who starts at the till.
        expect(page.get_by_role("heading", name=re.compile("^(Welcome|Till)"))).to_be_visible()
        yield page
        assert problems == [], "\n".join(problems)
    finally:
        context.close()


@dataclass
class LiveSite:
    url: str
    keys: dict[str, str]
    browser: Browser
    database: Path
    # The organisation's slug: log in with `signed_in_as(..., org=site.slug)`.
    slug: str = DEMO_SLUG
    # The demo's outbox (mail catcher and receivers) the organisation's channels send to,
    # when it was seeded `with_outbox`.
    outbox: Path | None = None


@dataclass
class _Shared:
    url: str
    database: Path
    outbox: Path
    smtp_port: int
    server: subprocess.Popen[bytes]


_shared: list[_Shared] = []
_organisations = itertools.count(1)


def _start_shared(sqlite_template: Path) -> _Shared:
    folder = Path(tempfile.mkdtemp(prefix="amends-browser-"))
    database = folder / "amends.db"
    shutil.copy(sqlite_template, database)
    port, smtp_port = free_port(), free_port()
    server = serve(f"sqlite+aiosqlite:///{database}", port, folder / "server.log",
                   outbox=folder / "demo-outbox", smtp_port=smtp_port)
    return _Shared(url=f"http://127.0.0.1:{port}", database=database,
                   outbox=folder / "demo-outbox", smtp_port=smtp_port, server=server)


def shared_server(sqlite_template: Path) -> _Shared:
    """The run's server (started by the first module that asks), on its SQLite database."""
    if not _shared:
        _shared.append(_start_shared(sqlite_template))
    return _shared[0]


@contextmanager
def server_on(database_url: str, log: Path) -> Iterator[str]:
    """A server of the block's own on `database_url` (a PostgreSQL or Citus test database),
    yielding its URL: it stops when the block ends, before other modules' tests empty that
    database under it and give its embedded worker their jobs."""
    port = free_port()
    server = serve(database_url, port, log)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)


def stop_shared() -> None:
    """Stop the run's server (at the end of the run)."""
    while _shared:
        shared = _shared.pop()
        shared.server.terminate()
        shared.server.wait(timeout=20)


@contextmanager
def live_site(sqlite_template: Path, folder: Path, *, history_cases: int = 0,
              history_days: int = 90, with_outbox: bool = False) -> Iterator[LiveSite]:
    """A demo organisation of its own (with `history_cases` of history) on the run's one
    server, and a Chromium until the block ends; with `with_outbox`, the organisation's
    channels send to the demo's outbox and mail catcher as `amends demo` seeds them. `folder`
    is the module's own, for what it writes.

    The browser is the module's: Playwright's synchronous API keeps an event loop running
    while it is open, and the asynchronous tests of later modules need the thread's loop."""
    del folder  # the server's files are the run's
    shared = shared_server(sqlite_template)
    slug = f"demo-{next(_organisations)}"
    seeded = asyncio.run(seed(f"sqlite+aiosqlite:///{shared.database}", slug=slug,
                              history_cases=history_cases, history_days=history_days,
                              base_url=shared.url if with_outbox else None,
                              smtp_port=shared.smtp_port if with_outbox else None))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield LiveSite(url=shared.url, keys=dict(seeded.api_keys), browser=browser,
                           database=shared.database, slug=slug,
                           outbox=shared.outbox if with_outbox else None)
        finally:
            browser.close()
