"""CSV imports (a code pool's codes, an incident's affected customers) are all or nothing: a file
with bad rows answers 422 problem+json listing them (line and reason, the first 100, and how
many in all) and writes nothing; the commands that import say the same and exit with 1,
without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from amends.config import Settings
from amends.db import Database
from amends.models import AuditEvent, IncidentCustomer, PoolCode, PoolImport
from tests.factories import Tenant, bearer, make_customer, make_org

AMENDS = Path(sys.executable).with_name("amends")


@dataclass(frozen=True)
class Bad:
    """A file, the code it is refused with, the first bad line and words of its reason."""

    name: str
    body: bytes
    code: str
    line: int | None = None
    reason: str = ""


def _files(header: str, good: str, other: str, not_one: str) -> list[Bad]:
    h, g, o = header.encode(), good.encode(), other.encode()
    rejected = f"{'code' if header == 'code' else 'customer'}_import_rejected"
    empty = f"{'code' if header == 'code' else 'customer'}_import_empty"
    return [
        Bad("utf-16", f"{header}\n{good}\n".encode("utf-16"), rejected, 1, "UTF-16"),
        Bad("latin-1", h + b"\n" + g + b"\nJos\xe9\n", rejected, 3, "not UTF-8"),
        Bad("nul byte", h + b"\n" + g + b"\nA\x00B\n", rejected, 3, "NUL"),
        Bad("missing column", h + b"\n" + g + b"\n,second column only\n", rejected, 3,
            "first column"),
        Bad("a bad row among good ones", h + b"\n" + g + b"\n" + not_one.encode() + b"\n"
            + o + b"\n", rejected, 3, ""),
        Bad("unterminated quote", h + b"\n" + g + b'\n"' + o + b"\n", rejected, 3, "CSV"),
        Bad("a very long line", h + b"\n" + g + b"\n" + b"X" * 200_000 + b"\n" + o + b"\n",
            rejected, 3, "longer than"),
        Bad("empty file", b"", empty),
        Bad("header only", h + b"\r\n", empty),
    ]


CODE_FILES = _files("code", "GOOD1", "GOOD2", "BAD CODE!")
CUSTOMER_FILES = _files("customer_id", "C-1", "C-2", "C" * 101)


async def _count(db: Database, model: type, tenant: Tenant) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(
            model.organization_id == tenant.id)) or 0)  # type: ignore[attr-defined]


async def _pool(client: httpx.AsyncClient, admin: dict[str, str]) -> str:
    made = await client.post("/v1/code-pools", headers=admin, json={"name": "Tills"})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def _incident(client: httpx.AsyncClient, admin: dict[str, str]) -> str:
    made = await client.post("/v1/incidents", headers=admin, json={
        "title": "Flood", "reason": "late_delivery"})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _assert_refused(response: httpx.Response, bad: Bad) -> None:
    assert response.status_code == 422, (bad.name, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == bad.code
    if bad.line is not None:
        assert problem["kept"] == 0
        assert problem["bad_rows"] == 1
        [row] = problem["errors"]
        assert row["line"] == bad.line
        assert bad.reason in row["message"]
        assert f"line {bad.line}" in problem["detail"]


@pytest.mark.parametrize("bad", CODE_FILES, ids=[b.name for b in CODE_FILES])
async def test_a_bad_file_of_codes_is_refused_with_its_rows_and_imports_nothing(
    client: httpx.AsyncClient, db: Database, bad: Bad
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    pool = await _pool(client, admin)
    audit_before = await _count(db, AuditEvent, tenant)
    response = await client.post(f"/v1/code-pools/{pool}/imports", content=bad.body,
                                 headers={**admin, "content-type": "text/csv"})
    _assert_refused(response, bad)
    assert await _count(db, PoolCode, tenant) == 0
    assert await _count(db, PoolImport, tenant) == 0
    assert await _count(db, AuditEvent, tenant) == audit_before
    [listed] = (await client.get("/v1/code-pools", headers=admin)).json()
    assert listed["available"] == 0


@pytest.mark.parametrize("bad", CUSTOMER_FILES, ids=[b.name for b in CUSTOMER_FILES])
async def test_a_bad_file_of_affected_customers_is_refused_with_its_rows_and_adds_nobody(
    client: httpx.AsyncClient, db: Database, bad: Bad
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    await make_customer(db, tenant, external_id="C-1")
    incident = await _incident(client, admin)
    response = await client.post(f"/v1/incidents/{incident}/customers", content=bad.body,
                                 headers={**admin, "content-type": "text/csv"})
    _assert_refused(response, bad)
    assert await _count(db, IncidentCustomer, tenant) == 0
    after = (await client.get(f"/v1/incidents/{incident}", headers=admin)).json()
    assert after["affected"] == 0


async def test_a_refusal_lists_the_first_hundred_bad_rows_and_counts_them_all(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    pool = await _pool(client, admin)
    lines = ["code"] + [f"GOOD{n}" if n % 2 else f"BAD-{n}!" for n in range(300)]
    response = await client.post(f"/v1/code-pools/{pool}/imports",
                                 content="\n".join(lines).encode(),
                                 headers={**admin, "content-type": "text/csv"})
    problem = response.json()
    assert (response.status_code, problem["rows"], problem["bad_rows"]) == (422, 300, 150)
    assert len(problem["errors"]) == 100
    assert [row["line"] for row in problem["errors"][:3]] == [2, 4, 6]
    assert problem["errors"][0]["value"] == "BAD-0!"
    assert "and 147 more" in problem["detail"]
    assert await _count(db, PoolCode, tenant) == 0


async def test_blank_lines_and_crlf_are_fine_and_a_good_file_imports_whole(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    pool = await _pool(client, admin)
    body = b"\xef\xbb\xbfcode\r\nGOOD1\r\n\r\ngood-2\r\nGOOD1\r\nGOOD3"
    response = await client.post(f"/v1/code-pools/{pool}/imports", content=body,
                                 headers={**admin, "content-type": "text/csv"})
    assert response.status_code == 201, response.text
    assert (response.json()["rows"], response.json()["added"],
            response.json()["duplicates"]) == (4, 3, 1)


def _cli(settings: Settings, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AMENDS_DATABASE_URL": settings.database_url, "COLUMNS": "200"}
    return subprocess.run([str(AMENDS), *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def _assert_cli_refused(done: subprocess.CompletedProcess[str], bad: Bad) -> None:
    said = done.stdout + done.stderr
    assert done.returncode == 1, (bad.name, said)
    assert "Traceback" not in said
    assert "Nothing was imported" in said or "no " in said.lower()
    if bad.line is not None:
        assert f"line {bad.line}" in said


CLI_FILES = [b for b in CODE_FILES if b.name in (
    "utf-16", "latin-1", "nul byte", "a bad row among good ones", "a very long line",
    "header only")]


@pytest.mark.parametrize("bad", CLI_FILES, ids=[b.name for b in CLI_FILES])
async def test_the_codes_import_command_refuses_a_bad_file_without_a_traceback(
    client: httpx.AsyncClient, db: Database, settings: Settings, tmp_path: Path, bad: Bad
) -> None:
    tenant = await make_org(db)
    file = tmp_path / "codes.csv"
    file.write_bytes(bad.body)
    done = _cli(settings, tmp_path, "codes", "import", str(file), "--pool", "Tills",
                "--org", tenant.slug)
    _assert_cli_refused(done, bad)
    assert await _count(db, PoolCode, tenant) == 0
    assert (await client.get("/v1/code-pools", headers=bearer(tenant.admin_token))).json() == []


CLI_CUSTOMER_FILES = [b for b in CUSTOMER_FILES if b.name in (
    "utf-16", "latin-1", "nul byte", "a bad row among good ones", "a very long line",
    "empty file")]


@pytest.mark.parametrize("bad", CLI_CUSTOMER_FILES, ids=[b.name for b in CLI_CUSTOMER_FILES])
async def test_the_incidents_import_command_refuses_a_bad_file_without_a_traceback(
    client: httpx.AsyncClient, db: Database, settings: Settings, tmp_path: Path, bad: Bad
) -> None:
    tenant = await make_org(db)
    incident = await _incident(client, bearer(tenant.admin_token))
    file = tmp_path / "affected.csv"
    file.write_bytes(bad.body)
    done = _cli(settings, tmp_path, "incidents", "import", incident, str(file),
                "--org", tenant.slug)
    _assert_cli_refused(done, bad)
    assert await _count(db, IncidentCustomer, tenant) == 0
