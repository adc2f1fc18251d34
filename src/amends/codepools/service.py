"""Pools of codes that the organisation's own tills issued, and their streaming import."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Uuid, bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.audit import service as audit
from amends.coupons.errors import CodePoolExhausted
from amends.errors import Conflict, NotFound, ValidationFailed
from amends.kit.clock import utcnow
from amends.kit.codes import external_form, external_forms
from amends.kit.csvstream import BadRows, Line, Run, first_column_runs
from amends.kit.ids import id_prefix
from amends.kit.sql import dialect_of, insert_new
from amends.models import CodePool, PoolCode, PoolImport
from amends.ops.metrics import CODE_POOL_EXHAUSTED

BATCH = 50_000  # rows per COPY (PostgreSQL) or INSERT (SQLite)
MAX_CODE_LENGTH = 64


class CodePoolNotFound(NotFound):
    code, title = "code_pool_not_found", "No such code pool"


class CodePoolExists(Conflict):
    code, title = "code_pool_exists", "A code pool with this name exists"


class CodeImportRejected(ValidationFailed):
    code, title = "code_import_rejected", "Rows of the file are not codes; nothing was imported"


class CodeImportEmpty(ValidationFailed):
    code, title = "code_import_empty", "The file has no codes"


async def create_pool(session: AsyncSession, actor: Actor, *, name: str) -> CodePool:
    pool = await insert_new(session, CodePool,
                            key={"organization_id": actor.organization_id, "name": name})
    if pool is None:
        raise CodePoolExists(f"There is a pool named {name!r}.")
    await audit.record(session, actor, action="code_pool.created", object_type="code_pool",
                       object_id=pool.id, after={"name": name})
    return pool


async def get_pool(session: AsyncSession, actor: Actor, *, pool_id: uuid.UUID | None = None,
                   name: str | None = None) -> CodePool:
    query = select(CodePool).where(CodePool.organization_id == actor.organization_id)
    query = query.where(CodePool.id == pool_id) if pool_id else query.where(CodePool.name == name)
    pool = await session.scalar(query)
    if pool is None:
        raise CodePoolNotFound()
    return pool


async def pool_counts(session: AsyncSession, actor: Actor) -> dict[uuid.UUID, tuple[int, int]]:
    """(available, allocated) for each pool of the organisation."""
    rows = await session.execute(
        select(PoolCode.pool_id, func.count(), func.count(PoolCode.coupon_id))
        .where(PoolCode.organization_id == actor.organization_id)
        .group_by(PoolCode.pool_id))
    return {pool_id: (int(total) - int(used), int(used)) for pool_id, total, used in rows.all()}


async def list_pools(session: AsyncSession, actor: Actor) -> list[CodePool]:
    return list((await session.scalars(select(CodePool).where(
        CodePool.organization_id == actor.organization_id).order_by(CodePool.name))).all())


async def allocate(session: AsyncSession, *, organization_id: uuid.UUID, pool: CodePool,
                   coupon_id: uuid.UUID) -> str:
    """Take one free code for a coupon, atomically.

    One statement: on PostgreSQL the candidate row is locked with SKIP LOCKED, so concurrent
    issuers take different codes without waiting for each other; on SQLite the write
    transaction (BEGIN IMMEDIATE) already serialises them.
    """
    candidate = (
        select(PoolCode.id)
        .where(PoolCode.organization_id == organization_id, PoolCode.pool_id == pool.id,
               PoolCode.coupon_id.is_(None))
        .order_by(PoolCode.id)
        .limit(1)
    )
    if dialect_of(session) == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    code = (await session.execute(
        update(PoolCode)
        .where(PoolCode.organization_id == organization_id,
               PoolCode.id == candidate.scalar_subquery(), PoolCode.coupon_id.is_(None))
        .values(coupon_id=coupon_id, allocated_at=utcnow())
        .returning(PoolCode.code)
        .execution_options(synchronize_session=False)
    )).scalar_one_or_none()
    if code is None:
        CODE_POOL_EXHAUSTED.labels(pool=pool.name).inc()
        raise CodePoolExhausted(f"The pool {pool.name!r} has no codes left; import more.",
                                pool=pool.name)
    return code


async def give_back(session: AsyncSession, *, code: str, organization_id: uuid.UUID) -> None:
    """Return a code that was allocated for a coupon that was not created after all."""
    await session.execute(
        update(PoolCode)
        .where(PoolCode.organization_id == organization_id, PoolCode.code == code)
        .values(coupon_id=None, allocated_at=None)
        .execution_options(synchronize_session=False))


@dataclass
class ImportReport:
    rows: int = 0
    added: int = 0
    duplicates: int = 0
    invalid: int = 0


_CODE = f"[A-Z0-9]{{1,{MAX_CODE_LENGTH}}}"  # a code, in its external form
_ONE_CODE = re.compile(_CODE)
_CODES = re.compile(f"(?:{_CODE}\n)+".encode())


def _code_of(value: str) -> tuple[str | None, str | None]:
    """(code, why not) for the first field of a row."""
    if not value:
        return None, "has no code in the first column"
    code = external_form(value)
    if len(code) > MAX_CODE_LENGTH:
        return None, f"is longer than {MAX_CODE_LENGTH} characters"
    if not _ONE_CODE.fullmatch(code):
        return None, "is not a code: only letters and digits are allowed"
    return code, None


def _codes_of(firsts: list[bytes]) -> bytes | None:
    """The codes of a run of first fields, each followed by a newline, if every one is a code
    (what `_code_of` would make of each, all at once); None if one is not, and then each is
    read by `_code_of` for its line's reason."""
    codes = external_forms(b"\n".join(firsts) + b"\n")
    return codes if _CODES.fullmatch(codes) else None


class _Sink:
    """Where an import's codes go, batch by batch (each code followed by a newline, in the
    file's order); `finish` adds them to the pool (what the organisation has in no pool yet)
    and returns how many it added. The database makes the rows' ids: a prefix of one new id
    and each row's ordinal in the import (`kit.ids.id_prefix`)."""

    async def write(self, codes: bytes, count: int) -> None:
        raise NotImplementedError

    async def finish(self) -> int:
        raise NotImplementedError


class _StagedCopy(_Sink):
    """PostgreSQL (and Citus): the codes as they are, one a line, `COPY`'d in the text format
    into a temporary table dropped at commit, then one `INSERT ... SELECT`: the database
    checks each code's uniqueness once, in one statement.

    That statement first leaves out the codes the organisation has and adds the others with a
    plain INSERT (`ON CONFLICT`'s speculative insertion costs as much again per row). If two
    rows of the file hold one code, or another import added one of them meanwhile, it fails
    on the unique key: the import then goes back to before it and adds the codes with `ON
    CONFLICT DO NOTHING`, which is right in every case.
    """

    _ADD = ("WITH added AS (INSERT INTO pool_codes (organization_id, id, pool_id, code) "
            "SELECT $1::uuid, ($3 || lpad(to_hex(n), 8, '0'))::uuid, $2::uuid, code "
            "FROM (SELECT code, row_number() OVER () AS n FROM {table}) AS staged {rest} "
            "RETURNING 1) SELECT count(*) FROM added")
    _NEW_ONLY = ("WHERE NOT EXISTS (SELECT FROM pool_codes AS held "
                 "WHERE held.organization_id = $1::uuid AND held.code = staged.code)")
    _UNLESS_HELD = "ON CONFLICT (organization_id, code) DO NOTHING"

    def __init__(self, connection: Any, table: str, organization_id: uuid.UUID,
                 pool_id: uuid.UUID) -> None:
        self.connection, self.table = connection, table
        self.organization_id, self.pool_id = organization_id, pool_id

    async def write(self, codes: bytes, count: int) -> None:
        # A memoryview: asyncpg takes bytes for a file's path.
        await self.connection.copy_to_table(self.table, source=memoryview(codes),
                                            columns=["code"], format="text")

    async def finish(self) -> int:
        # Counted from the rows the INSERT returns: Citus's own count is of the rows it sent
        # to the shards, conflicts included.
        arguments = (self.organization_id, self.pool_id, id_prefix())
        await self.connection.execute("SAVEPOINT pool_import")
        try:
            added = await self.connection.fetchval(
                self._ADD.format(table=self.table, rest=self._NEW_ONLY), *arguments)
        except asyncpg.UniqueViolationError:
            await self.connection.execute("ROLLBACK TO SAVEPOINT pool_import")
            added = await self.connection.fetchval(
                self._ADD.format(table=self.table, rest=self._UNLESS_HELD), *arguments)
        await self.connection.execute("RELEASE SAVEPOINT pool_import")
        await self.connection.execute(f"DROP TABLE {self.table}")
        return int(added)


class _InsertOrIgnore(_Sink):
    """SQLite: each batch one `INSERT OR IGNORE ... SELECT` over the batch's codes, passed as
    one JSON array (`json_each`): one statement and one parameter for thousands of rows."""

    _STATEMENT = text(
        "INSERT OR IGNORE INTO pool_codes (organization_id, id, pool_id, code) "
        "SELECT :organization_id, :prefix || printf('%08x', :offset + key + 1), :pool_id, value "
        "FROM json_each(:codes)"
    ).bindparams(bindparam("organization_id", type_=Uuid), bindparam("pool_id", type_=Uuid))

    def __init__(self, session: AsyncSession, organization_id: uuid.UUID,
                 pool_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id, self.pool_id = organization_id, pool_id
        self.prefix = id_prefix()
        self.written = self.added = 0

    async def write(self, codes: bytes, count: int) -> None:
        # Codes are letters and digits: quoted as they are, they make a JSON array of strings.
        array = b'["' + codes[:-1].replace(b"\n", b'","') + b'"]'
        result = await self.session.execute(self._STATEMENT, {
            "organization_id": self.organization_id, "pool_id": self.pool_id,
            "prefix": self.prefix, "offset": self.written, "codes": array.decode("ascii")})
        self.written += count
        self.added += int(getattr(result, "rowcount", 0))

    async def finish(self) -> int:
        return self.added


async def _sink(session: AsyncSession, *, organization_id: uuid.UUID, pool_id: uuid.UUID
                ) -> _Sink:
    if dialect_of(session) != "postgresql":
        return _InsertOrIgnore(session, organization_id, pool_id)
    table = f"pool_import_{uuid.uuid4().hex}"
    # Through the session, so that its transaction has begun: the table lives until it ends.
    await session.execute(text(f"CREATE TEMPORARY TABLE {table} (code text NOT NULL) "
                               f"ON COMMIT DROP"))
    connection = await (await session.connection()).get_raw_connection()
    driver = connection.driver_connection
    assert driver is not None
    return _StagedCopy(driver, table, organization_id, pool_id)


async def import_codes(
    session: AsyncSession,
    actor: Actor,
    *,
    pool: CodePool,
    chunks: AsyncIterator[bytes],
    source: str,
    progress: Callable[[int, ImportReport], None] | None = None,
) -> PoolImport:
    """Stream a CSV of codes into a pool, batch by batch, never holding the file in memory.

    A header row `code` is skipped. Codes already in any pool of the organisation count as
    duplicates, so importing the same file twice adds nothing the second time.

    All or nothing: if any row is not a code or cannot be read (not UTF-8, a NUL byte, too
    long, not CSV), `CodeImportRejected` lists the bad rows and the batches written before
    the first of them roll back with the caller's transaction; after it nothing more is
    written, but the file is read to the end so that one answer lists every bad row.

    The plain lines of a chunk (most files have nothing else) are read and checked at once
    (`first_column_runs`, `_codes_of`), with no Python step per row; the others, line by line.
    """
    report = ImportReport()
    bad = BadRows()
    batch: list[bytes] = []
    batched = 0
    consumed = 0
    sink = await _sink(session, organization_id=actor.organization_id, pool_id=pool.id)

    async def flush() -> None:
        nonlocal batched
        if batched:
            await sink.write(b"".join(batch), batched)
            batch.clear()
            batched = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal consumed
        async for chunk in chunks:
            consumed += len(chunk)
            yield chunk
            if progress is not None:
                progress(consumed, report)

    async for item in first_column_runs(counted(), headers=("code",)):
        if isinstance(item, Run):
            codes = _codes_of(item.firsts)
            if codes is None:
                lines: Iterable[Line] = item.lines()
            else:
                report.rows += len(item.firsts)
                lines = ()
                if not bad:
                    batch.append(codes)
                    batched += len(item.firsts)
        else:
            lines = (item,)
        for line in lines:
            report.rows += 1
            code, error = (None, line.error) if line.error else _code_of(line.first)
            if code is None:
                report.invalid += 1
                bad.add(line, error)
            elif not bad:
                batch.append(code.encode("ascii") + b"\n")
                batched += 1
        if batched >= BATCH:
            await flush()
    if bad:
        raise CodeImportRejected(bad.summary(rows=report.rows), **bad.problem(rows=report.rows))
    if report.rows == 0:
        raise CodeImportEmpty("The file has no codes: it is empty or holds only a header.")
    await flush()
    report.added = await sink.finish()
    report.duplicates = report.rows - report.invalid - report.added
    if progress is not None:
        progress(consumed, report)

    record = PoolImport(
        organization_id=actor.organization_id, pool_id=pool.id, source=source[:255],
        rows=report.rows, added=report.added, duplicates=report.duplicates,
        finished_at=utcnow(),
    )
    session.add(record)
    await session.flush()
    await audit.record(session, actor, action="code_pool.imported", object_type="code_pool",
                       object_id=pool.id,
                       after={"source": record.source, "rows": report.rows,
                              "added": report.added, "duplicates": report.duplicates})
    return record
