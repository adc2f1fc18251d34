"""`amends integrations package`: the zip of an installation's app package, written for the
organisation's one installation of the helpdesk (or the one named), with a clear refusal when
it has none, several and none was chosen, or the helpdesk needs no package (Intercom: where to
paste its Canvas Kit URLs instead)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from amends.cli import app as cli
from amends.config import Settings, get_settings
from amends.db import Database
from amends.helpdesk.platforms import PLATFORMS
from tests.factories import Tenant, bearer, make_org
from tests.helpdesk.desk import NAME, PLATFORM, Desk, install

# A helpdesk that needs no package, as Intercom does.
CANVAS = dataclasses.replace(PLATFORM, name="intercom", title="Intercom", package=None)


@pytest.fixture
def command_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The command reads the test's database (its settings come from the environment)."""
    monkeypatch.setenv("AMENDS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("AMENDS_BASE_URL", "https://amends.shop.example")
    monkeypatch.setitem(PLATFORMS, "intercom", CANVAS)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def package(*args: str) -> Result:
    """The command, in a thread of its own (it runs its own event loop)."""
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, cli, ["integrations", "package", *args],
                                   env={"COLUMNS": "200"})


async def install_more(client: httpx.AsyncClient, tenant: Tenant, platform: str,
                       account: str) -> dict[str, Any]:
    answer = await client.post("/v1/helpdesk/installations", headers=bearer(tenant.admin_token),
                               json={"platform": platform, "account": account,
                                     "secrets": {"shared_secret": "s3cret-value"}})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def test_the_package_of_the_one_installation_is_written_as_a_zip(
        client: httpx.AsyncClient, db: Database, desk: Desk, command_env: None,
        tmp_path: Path) -> None:
    tenant = await make_org(db, slug="acme")
    installation = await install(client, tenant, desk)
    target = tmp_path / "desk.zip"
    done = await package(NAME, "--org", "acme", "--output", str(target))
    assert done.exit_code == 0, done.output
    assert f"Wrote {target}" in done.output
    assert "upload it to Test desk" in done.output
    with zipfile.ZipFile(target) as archive:
        assert sorted(archive.namelist()) == ["README.txt", "manifest.json"]
        manifest = archive.read("manifest.json").decode()
    panel = f"https://amends.shop.example/helpdesk/acme/{installation['id']}/{NAME}"
    assert panel in manifest
    # Another address for Amends, as the helpdesk reaches it.
    other = tmp_path / "other.zip"
    done = await package(NAME, "--org", "acme", "--output", str(other),
                         "--base-url", "https://care.acme.example/")
    assert done.exit_code == 0, done.output
    with zipfile.ZipFile(io.BytesIO(other.read_bytes())) as archive:
        assert (f"https://care.acme.example/helpdesk/acme/{installation['id']}/{NAME}"
                in archive.read("manifest.json").decode())
    # The same installation gives the same file.
    again = tmp_path / "again.zip"
    await package(NAME, "--org", "acme", "--output", str(again))
    assert again.read_bytes() == target.read_bytes()


async def test_several_installations_need_one_chosen(
        client: httpx.AsyncClient, db: Database, desk: Desk, command_env: None,
        tmp_path: Path) -> None:
    tenant = await make_org(db, slug="acme")
    first = await install(client, tenant, desk)
    second = await install_more(client, tenant, NAME, "outlet")
    refused = await package(NAME, "--org", "acme", "--output", str(tmp_path / "x.zip"))
    assert refused.exit_code == 1
    assert "acme has 2 Test desk installations: choose one with --installation" in (
        " ".join(refused.output.split()))
    assert first["id"] in " ".join(refused.output.split())
    assert not (tmp_path / "x.zip").exists()
    done = await package(NAME, "--org", "acme", "--installation", second["id"],
                         "--output", str(tmp_path / "outlet.zip"))
    assert done.exit_code == 0, done.output
    assert "(outlet)" in done.output


async def test_an_organisation_without_the_installation_or_a_helpdesk_without_a_package(
        client: httpx.AsyncClient, db: Database, desk: Desk, command_env: None,
        tmp_path: Path) -> None:
    tenant = await make_org(db, slug="acme")
    none = await package(NAME, "--org", "acme", "--output", str(tmp_path / "x.zip"))
    assert none.exit_code == 1
    assert "acme has no Test desk installation: install it first" in (
        " ".join(none.output.split()))
    unknown = await package(NAME, "--org", "nobody")
    assert unknown.exit_code == 1
    assert "No organisation 'nobody'" in unknown.output
    canvas = await package("intercom", "--org", "acme", "--output", str(tmp_path / "i.zip"))
    assert canvas.exit_code == 1
    assert "Intercom needs no package" in " ".join(canvas.output.split())
    installation = await install_more(client, tenant, "intercom", "ecahpwf5")
    canvas = await package("intercom", "--org", "acme", "--output", str(tmp_path / "i.zip"))
    assert canvas.exit_code == 1
    said = canvas.output.replace("\n", "")
    assert "initialize and submit URLs" in said
    assert f"/helpdesk/acme/{installation['id']}/intercom/initialize" in said
    assert list(tmp_path.glob("*.zip")) == []
