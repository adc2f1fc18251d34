"""`amends integrations ...`: chores of the integrations with outside systems. `package`: the
app package of an organisation's helpdesk installation, as a zip the admin uploads to the
helpdesk."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console

from amends.config import get_settings
from amends.db import Database
from amends.helpdesk import packages
from amends.helpdesk.service import platform_of
from amends.integrations import helpdesks  # noqa: F401  (registers the platforms)

console = Console()
Runner = Callable[[Callable[[Database], Awaitable[Any]]], Any]


def register(parent: typer.Typer, run_in_db: Runner) -> None:
    app = typer.Typer(help="Integrations: the helpdesk apps' packages.",
                      no_args_is_help=True)

    @app.command("package")
    def package(
        platform: Annotated[Literal["zendesk", "freshdesk", "gorgias", "intercom"],
                            typer.Argument(help="zendesk, freshdesk or gorgias.")],
        org: Annotated[str, typer.Option(help="Organisation slug.")],
        installation: Annotated[uuid.UUID | None, typer.Option(
            help="The installation's id, when the organisation has several of this "
                 "helpdesk.")] = None,
        output: Annotated[Path | None, typer.Option(
            help="Where to write the zip (default: amends-PLATFORM-ACCOUNT.zip here).")] = None,
        base_url: Annotated[str | None, typer.Option(
            help="The address helpdesks reach Amends at (default: AMENDS_BASE_URL).")] = None,
    ) -> None:
        """Write the installation's app package (a zip to upload to the helpdesk)."""
        address = base_url or str(get_settings().base_url)

        async def work(db: Database) -> packages.Package:
            async with db.transaction(write=False) as session:
                return await packages.for_organization(
                    session, organization=org, platform=platform,
                    installation_id=installation, base_url=address)

        made: packages.Package = run_in_db(work)
        target = output or Path(made.filename)
        target.write_bytes(made.content)
        console.print(f"Wrote {target} ({len(made.content):,} bytes) for "
                      f"{made.installation.name} ({made.installation.account}); upload it "
                      f"to {platform_of(made.installation.platform).title}.",
                      markup=False, highlight=False, soft_wrap=True)  # a path is never cut

    parent.add_typer(app, name="integrations")
