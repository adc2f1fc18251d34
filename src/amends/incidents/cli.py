"""`amends incidents ...`: add the affected customers from a file and run an incident, with
progress bars."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from amends.actor import Actor
from amends.db import Database
from amends.incidents import service as incidents
from amends.organizations.service import get_by_slug

app = typer.Typer(help="Mass incidents: make amends to every customer an incident touched.",
                  no_args_is_help=True)
console = Console()
FINAL = ("completed", "cancelled")


async def _actor(db: Database, org: str) -> Actor:
    async with db.transaction(write=False) as session:
        organization = await get_by_slug(session, org)
    return Actor.system(organization.id, "cli")


async def import_file(db: Database, *, org: str, incident_id: uuid.UUID, file: Path) -> None:
    actor = await _actor(db, org)
    size = file.stat().st_size
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                  TextColumn("{task.fields[rows]}"), console=console) as progress:
        task = progress.add_task(f"Reading {file.name}", total=size, rows="")
        added_rows = 0

        async def chunks() -> AsyncIterator[bytes]:
            with file.open("rb") as handle:
                while block := handle.read(1 << 20):
                    progress.advance(task, len(block))
                    yield block

        def counted(rows: int) -> None:
            nonlocal added_rows
            added_rows += rows
            progress.update(task, rows=f"{added_rows:,} rows")

        async with db.transaction() as session:
            added = await incidents.import_customers(
                session, actor, incident_id=incident_id, progress=counted, chunks=chunks())
    console.print(f"Read {added.read:,}: added {added.added:,}, duplicates "
                  f"{added.duplicates:,}, unknown ids {added.unknown:,}.")


async def run(db: Database, *, org: str, incident_id: uuid.UUID, poll: float = 0.5) -> str:
    """Start the incident if it is a draft, then follow it until it ends (the workers do the
    work; Ctrl-C stops watching, not the incident)."""
    actor = await _actor(db, org)
    async with db.transaction() as session:
        incident = await incidents.get(session, actor, incident_id=incident_id)
        if incident.status == "draft":
            await incidents.start(session, actor, incident_id=incident_id)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TextColumn("{task.fields[detail]}"),
                  console=console) as progress:
        customers = progress.add_task("Customers reached", total=None, detail="")
        messages = progress.add_task("Messages sent", total=None, detail="")
        while True:
            async with db.transaction(write=False) as session:
                now = await incidents.progress(session, actor, incident_id=incident_id)
            sent = sum(now["messages"].get(s, 0) for s in ("sent", "delivered"))
            progress.update(customers, total=now["total"], completed=now["processed"],
                            detail=now["status"])
            progress.update(messages, total=sum(now["messages"].values()) or None,
                            completed=sent,
                            detail=f"held {now['messages'].get('held', 0):,} · failed "
                                   f"{now['messages'].get('failed', 0):,}")
            if now["status"] in (*FINAL, "paused"):
                return str(now["status"])
            await asyncio.sleep(poll)


def register(parent: typer.Typer, runner: object) -> None:
    from collections.abc import Awaitable, Callable
    from typing import Any, cast

    run_in_db = cast("Callable[[Callable[[Database], Awaitable[Any]]], Any]", runner)

    @app.command("import")
    def import_command(
        incident: Annotated[uuid.UUID, typer.Argument(help="Incident id")],
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
        org: Annotated[str, typer.Option(help="Organisation slug.")],
    ) -> None:
        """Stream a CSV of affected customer ids (first column) into a draft incident. A file
        with bad rows adds nothing: they are listed, and the command exits with 1."""
        run_in_db(lambda db: import_file(db, org=org, incident_id=incident, file=file))

    @app.command("run")
    def run_command(
        incident: Annotated[uuid.UUID, typer.Argument(help="Incident id")],
        org: Annotated[str, typer.Option(help="Organisation slug.")],
    ) -> None:
        """Start the incident (if not started) and show its progress until it ends."""
        status = run_in_db(lambda db: run(db, org=org, incident_id=incident))
        console.print(f"The incident is {status}.")

    parent.add_typer(app, name="incidents")
