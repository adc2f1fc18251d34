"""The `amends` command: serve, worker, migrate, and the administrative chores."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from amends.actor import Actor
from amends.config import Settings, get_settings
from amends.db import Database
from amends.errors import AmendsError
from amends.roles import API_KEY_SCOPES, Role

app = typer.Typer(help="Amends: make amends to a let-down customer in one click.",
                  no_args_is_help=True)
jobs_app = typer.Typer(help="Background jobs.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
codes_app = typer.Typer(help="Code pools of the organisation's own tills.", no_args_is_help=True)
app.add_typer(codes_app, name="codes")
console = Console()
T = TypeVar("T")


def _run(work: Callable[[Database], Awaitable[T]], settings: Settings | None = None) -> T:
    settings = settings or get_settings()

    async def main() -> T:
        db = Database(settings)
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except AmendsError as error:
        console.print(f"[red]{error.title}:[/red] {error.detail}")
        # An import's refusal lists the rows it refused (line, reason, what the line held).
        shown = [row for row in error.extra.get("errors", []) if "line" in row][:20]
        for row in shown:
            console.print(f"  line {row['line']}: {row['message']} ({row['value']})",
                          markup=False, highlight=False)
        if shown and error.extra.get("bad_rows", 0) > len(shown):
            console.print(f"  and {error.extra['bad_rows'] - len(shown):,} more")
        raise typer.Exit(1) from error


def _incidents() -> None:
    from amends.incidents.cli import register

    register(app, _run)


_incidents()


def _integrations() -> None:
    from amends.integrations.cli import register

    register(app, _run)


_integrations()


@app.command()
def migrate() -> None:
    """Bring the database schema to the latest migration; on a Citus coordinator, also
    distribute by organisation every table that is not distributed yet."""
    from amends.migrate import upgrade

    settings = get_settings()
    with console.status("Applying migrations..."):
        distributed = upgrade(settings.database_url)
    for line in distributed:
        console.print(f"Citus: {line}")
    console.print("[green]Database is at the latest migration.[/green]")


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="API processes.")] = 1,
) -> None:
    """Run the HTTP server (and, unless AMENDS_EMBEDDED_WORKER=false, a job worker in it)."""
    import uvicorn

    from amends.ops.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, json_logs=settings.log_json)
    # The application alone decides who the client is (AMENDS_TRUSTED_PROXIES): uvicorn's own
    # proxy handling would believe X-Forwarded-For from 127.0.0.1 before it ever sees it.
    uvicorn.run("amends.app:create_app", factory=True, host=host, port=port, workers=workers,
                access_log=False, log_config=None, proxy_headers=False)


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Jobs run at once.")] = None,
    include: Annotated[list[str] | None, typer.Option(
        "--include", "-I", help="Extra module(s) that register job kinds.")] = None,
) -> None:
    """Run background jobs until SIGTERM/SIGINT (finishes the jobs in hand first)."""
    from amends.jobs.loader import load_job_kinds
    from amends.jobs.worker import Worker
    from amends.ops.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, json_logs=settings.log_json)
    load_job_kinds(tuple(include or ()))

    async def work(db: Database) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await Worker(db, settings, concurrency=concurrency).run(stop)

    _run(work, settings)


@app.command("create-org")
def create_org(slug: str, name: str, currency: str = "EUR") -> None:
    """Create an organisation (tenant)."""
    from amends.organizations.service import create_organization

    async def work(db: Database) -> None:
        async with db.transaction() as session:
            org = await create_organization(session, slug=slug, name=name,
                                            default_currency=currency)
        console.print(f"Created organisation [bold]{org.slug}[/bold] ({org.id}).")

    _run(work)


@app.command("create-user")
def create_user(
    org: Annotated[str, typer.Option(help="Organisation slug.")],
    email: Annotated[str, typer.Option()],
    name: Annotated[str, typer.Option()],
    role: Annotated[Role, typer.Option()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True,
                                          confirmation_prompt=True)],
) -> None:
    """Create a member of staff who can log in to the console."""
    from amends.organizations.service import get_by_slug
    from amends.users.service import create_user as create

    async def work(db: Database) -> None:
        async with db.transaction() as session:
            organization = await get_by_slug(session, org)
            user = await create(session, None, organization_id=organization.id, email=email,
                                name=name, role=role, password=password)
        console.print(f"Created {user.role} [bold]{user.email}[/bold].")

    _run(work)


@app.command("create-api-key")
def create_api_key(
    org: Annotated[str, typer.Option(help="Organisation slug.")],
    name: Annotated[str, typer.Option()],
    scope: Annotated[list[str], typer.Option(
        help=f"Repeat for several: {', '.join(sorted(API_KEY_SCOPES))}.")],
) -> None:
    """Create an API key; its secret is printed once."""
    from amends.apikeys.service import create_api_key as create
    from amends.organizations.service import get_by_slug

    async def work(db: Database) -> None:
        async with db.transaction() as session:
            organization = await get_by_slug(session, org)
            created = await create(session, Actor.system(organization.id, "cli"), name=name,
                                   scopes=scope)
        console.print("API key (shown once, store it now):")
        console.print(created.token, soft_wrap=True, highlight=False)

    _run(work)


@app.command()
def demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
) -> None:
    """Migrate, seed a demo organisation (once), print its logins and keys, then serve. The
    demo's channels send to its own mail catcher and receivers: every message it sends is on
    the Outbox page (/outbox, admins)."""
    import os

    from amends.demo import seed_demo

    # What the demo needs unless the caller chose otherwise: plain HTTP on loopback, channels
    # that reach receivers on this machine, and the outbox they write to.
    for name, value in (("AMENDS_DEMO_OUTBOX", "demo-outbox"),
                        ("AMENDS_BASE_URL", f"http://{host}:{port}"),
                        ("AMENDS_OUTBOUND_ALLOW_PRIVATE", "true"),
                        ("AMENDS_COOKIE_SECURE", "false")):
        os.environ.setdefault(name, value)
    get_settings.cache_clear()
    migrate()
    settings = get_settings()

    async def work(db: Database) -> None:
        seeded = await seed_demo(db, console=console, base_url=settings.base_url,
                                 smtp_port=settings.demo_smtp_port)
        if seeded is None:
            console.print("The demo organisation exists already; its keys were shown when "
                          "it was created. Log in with the passwords above.")
            return
        table = Table(title="Demo logins (organisation: demo)")
        for column in ("role", "email", "password"):
            table.add_column(column)
        for role, email, password in seeded.logins:
            table.add_row(role, email, password)
        console.print(table)
        console.print("[bold]Demo API keys[/bold] (shown once, store them now):")
        for key_name, token in seeded.api_keys:
            console.print(f"  {key_name}: {token}", soft_wrap=True, highlight=False)

    _run(work, settings)
    if serve_after:
        if settings.cookie_secure and settings.base_url.startswith("http://"):
            console.print("[yellow]Serving over plain HTTP: set AMENDS_COOKIE_SECURE=false to "
                          "log in from browsers that refuse secure cookies on it.[/yellow]")
        console.print(f"Console: http://{host}:{port}/login   API docs: http://{host}:{port}/docs")
        serve(host=host, port=port, workers=1)


@jobs_app.command("dead")
def jobs_dead(limit: int = 50) -> None:
    """List dead jobs (all organisations)."""
    from amends.jobs import service as jobs

    async def work(db: Database) -> None:
        async with db.transaction(write=False) as session:
            page = await jobs.list_jobs(session, organization_id=None, limit=limit)
        table = Table("id", "kind", "attempts", "last error")
        for job in page.items:
            table.add_row(str(job.id), job.kind, str(job.attempts), (job.last_error or "")[:80])
        console.print(table if page.items else "No dead jobs.")

    _run(work)


@jobs_app.command("retry")
def jobs_retry(job_id: str) -> None:
    """Run a dead job again with a fresh set of attempts."""
    import uuid

    from amends.jobs import service as jobs

    async def work(db: Database) -> None:
        async with db.transaction() as session:
            job = await jobs.retry_dead(session, None, job_id=uuid.UUID(job_id),
                                        organization_id=None)
        console.print(f"Job {job.id} ({job.kind}) is queued again.")

    _run(work)


@codes_app.command("import")
def codes_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    pool: Annotated[str, typer.Option(help="Pool name (created if missing).")],
    org: Annotated[str, typer.Option(help="Organisation slug.")],
) -> None:
    """Stream a CSV of codes (first column) into a pool, with progress; safe to re-run. A
    file with bad rows imports nothing: they are listed, and the command exits with 1."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from amends.codepools import service as pools
    from amends.organizations.service import get_by_slug

    size = file.stat().st_size

    async def chunks() -> AsyncIterator[bytes]:
        with file.open("rb") as handle:
            while block := handle.read(1 << 20):
                yield block

    async def work(db: Database) -> None:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                      TransferSpeedColumn(), TimeRemainingColumn(),
                      TextColumn("{task.fields[counts]}"), console=console) as progress:
            task = progress.add_task(f"Importing {file.name}", total=size, counts="")

            def report(consumed: int, counts: pools.ImportReport) -> None:
                # The codes join the pool at the end, in one statement: until then, rows read.
                progress.update(task, completed=consumed,
                                counts=f"rows read {counts.rows:,} · bad rows "
                                       f"{counts.invalid:,}")

            async with db.transaction() as session:
                organization = await get_by_slug(session, org)
                actor = Actor.system(organization.id, "cli")
                try:
                    target = await pools.get_pool(session, actor, name=pool)
                except pools.CodePoolNotFound:
                    target = await pools.create_pool(session, actor, name=pool)
                record = await pools.import_codes(session, actor, pool=target, chunks=chunks(),
                                                  source=file.name, progress=report)
        console.print(f"Rows {record.rows:,}: added {record.added:,}, duplicates "
                      f"{record.duplicates:,}.")

    _run(work)
