"""A pool's import reads every file the way a till or a spreadsheet writes it, in whatever
chunks it arrives: the codes it holds join the pool in the file's order, a row that is not a
code is named by its line and nothing is imported."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from amends.actor import Actor
from amends.codepools import service as pools
from amends.db import Database
from amends.errors import AmendsError
from amends.models import PoolCode, PoolImport
from tests.factories import Tenant, make_org

CHUNKS = [1 << 20, 4096, 7]


async def _chunks(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start:start + size]


async def _import(db: Database, tenant: Tenant, body: bytes, *, size: int = 1 << 20,
                  pool: str = "Tills") -> PoolImport:
    actor = Actor.system(tenant.id, "tests")
    async with db.transaction() as session:
        try:
            target = await pools.get_pool(session, actor, name=pool)
        except pools.CodePoolNotFound:
            target = await pools.create_pool(session, actor, name=pool)
        return await pools.import_codes(session, actor, pool=target,
                                        chunks=_chunks(body, size), source="codes.csv")


async def _refusal(db: Database, tenant: Tenant, body: bytes, *, size: int) -> dict[str, Any]:
    with pytest.raises(pools.CodeImportRejected) as refused:
        await _import(db, tenant, body, size=size)
    problem: AmendsError = refused.value
    return {"detail": problem.detail, **problem.extra}


async def _codes(db: Database, tenant: Tenant) -> list[str]:
    async with db.transaction(write=False) as session:
        return list((await session.scalars(select(PoolCode.code).where(
            PoolCode.organization_id == tenant.id).order_by(PoolCode.id))).all())


# Each shape of row, written for row n, and the code it holds.
SHAPES = [
    (lambda n: f"POS{n:06d}", lambda n: f"POS{n:06d}"),
    (lambda n: f"pos-{n:06d}", lambda n: f"POS{n:06d}"),
    (lambda n: f"  Pos {n:03d}.{n % 1000:03d}\t,12.50,caf\u00e9 cr\u00e8me",
     lambda n: f"POS{n:03d}{n % 1000:03d}"),
    (lambda n: f'"POS_{n:06d}","5,00","say ""sorry""",', lambda n: f"POS{n:06d}"),
]


@pytest.mark.parametrize("size", CHUNKS)
async def test_a_file_as_tills_and_spreadsheets_write_it_imports_every_code_in_its_order(
    db: Database, size: int
) -> None:
    tenant = await make_org(db)
    rows = [(write(n), code(n)) for n in range(6000) for write, code in [SHAPES[n % 4]]]
    body = ("\ufeffcode,amount,note\r\n" + "".join(
        f"{written}\r\n" + ("\r\n" if n % 1000 == 0 else "") for n, (written, _) in
        enumerate(rows)) + "\r\n").encode()
    record = await _import(db, tenant, body, size=size)
    assert (record.rows, record.added, record.duplicates) == (6000, 6000, 0)
    assert await _codes(db, tenant) == [code for _, code in rows]


@pytest.mark.parametrize("size", CHUNKS)
async def test_bad_rows_among_many_good_ones_are_named_by_their_lines_and_nothing_is_imported(
    db: Database, size: int
) -> None:
    tenant = await make_org(db)
    lines = [f"POS{n:06d},1" for n in range(30_000)]
    bad = {
        12_345: ("BAD CODE!", "is not a code"),
        15_000: ('"P ""1"" S",x', "is not a code"),
        18_000: ('"POS1', "is not valid CSV"),
        20_000: ("X" * 1_000_000, "is longer than 65,536 bytes"),
        25_000: (",POS2", "has no code in the first column"),
        29_000: ("P" * 65, "is longer than 64 characters"),
    }
    for number, (text, _) in bad.items():
        lines[number - 1] = text
    body = "\n".join(lines).encode()
    body = body.replace(b"POS026000", b"POS\xff26000").replace(b"POS027000", b"POS\x0027000")
    problem = await _refusal(db, tenant, body, size=size)
    assert problem["rows"] == 30_000
    assert problem["bad_rows"] == 8
    listed = {row["line"]: row["message"] for row in problem["errors"]}
    assert sorted(listed) == sorted([*bad, 26_001, 27_001])
    for number, (_, reason) in bad.items():
        assert reason in listed[number], (number, listed[number])
    assert "not UTF-8" in listed[26_001]
    assert "NUL" in listed[27_001]
    assert "line 12345: is not a code" in problem["detail"]
    assert await _codes(db, tenant) == []


async def test_the_same_file_again_adds_nothing_and_another_organisation_has_its_own_codes(
    db: Database
) -> None:
    ours, theirs = await make_org(db), await make_org(db)
    body = "".join(f"POS{n:05d}\n" for n in range(20_000)).encode() + b"pos-00007\n"
    first = await _import(db, ours, body)
    assert (first.rows, first.added, first.duplicates) == (20_001, 20_000, 1)
    again = await _import(db, ours, body, pool="Web")
    assert (again.rows, again.added, again.duplicates) == (20_001, 0, 20_001)
    elsewhere = await _import(db, theirs, body)
    assert (elsewhere.added, elsewhere.duplicates) == (20_000, 1)
    more = await _import(db, ours, b"code\nNEW1\nPOS00001\n")
    assert (more.rows, more.added, more.duplicates) == (2, 1, 1)
    assert (await _codes(db, ours))[-2:] == ["POS19999", "NEW1"]


async def test_two_imports_at_once_of_the_same_codes_add_each_code_once(db: Database) -> None:
    tenant = await make_org(db)
    await _import(db, tenant, b"A1\n", pool="Tills")
    await _import(db, tenant, b"A2\n", pool="Web")
    ours = "".join(f"C{n:05d}\n" for n in range(0, 30_000)).encode()
    theirs = "".join(f"C{n:05d}\n" for n in range(10_000, 40_000)).encode()
    first, second = await asyncio.gather(_import(db, tenant, ours, pool="Tills"),
                                         _import(db, tenant, theirs, pool="Web"))
    assert first.added + second.added == 40_000
    assert first.added + first.duplicates == second.added + second.duplicates == 30_000
    assert len(await _codes(db, tenant)) == 40_002
