"""Pools of codes that the organisation's own tills issued, and their streaming import."""

from __future__ import annotations

import codecs
import csv
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.audit import service as audit
from amends.coupons.errors import CodePoolExhausted
from amends.errors import Conflict, NotFound
from amends.kit.clock import utcnow
from amends.kit.codes import external_form
from amends.kit.ids import new_id
from amends.kit.sql import dialect_of, insert_for, insert_new
from amends.models import CodePool, PoolCode, PoolImport
from amends.ops.metrics import CODE_POOL_EXHAUSTED

BATCH = 5_000
MAX_CODE_LENGTH = 64
SAMPLES_KEPT = 100


class CodePoolNotFound(NotFound):
    code, title = "code_pool_not_found", "No such code pool"


class CodePoolExists(Conflict):
    code, title = "code_pool_exists", "A code pool with this name exists"


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
        .where(PoolCode.pool_id == pool.id, PoolCode.coupon_id.is_(None))
        .order_by(PoolCode.id)
        .limit(1)
    )
    if dialect_of(session) == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    code = (await session.execute(
        update(PoolCode)
        .where(PoolCode.id == candidate.scalar_subquery(), PoolCode.coupon_id.is_(None))
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
    invalid_samples: list[dict[str, Any]] = field(default_factory=list)


def _code_from_row(row: list[str]) -> tuple[str | None, str | None]:
    """(code, error) for one CSV row; the first column is the code."""
    if not row or not row[0].strip():
        return None, "empty"
    code = external_form(row[0])
    if len(code) > MAX_CODE_LENGTH:
        return None, f"longer than {MAX_CODE_LENGTH} characters"
    if not code.isascii() or not code.isalnum():
        return None, "only letters and digits are allowed"
    return code, None


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
    """
    report = ImportReport()
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    pending = ""
    batch: list[dict[str, Any]] = []
    line_number = 0
    consumed = 0
    table = PoolCode.__table__

    async def flush() -> None:
        if not batch:
            return
        # executemany with RETURNING: SQLAlchemy batches it into multi-row INSERTs
        # ("insertmanyvalues") and the returned ids count exactly what was new.
        result = await session.execute(
            insert_for(session, table).on_conflict_do_nothing().returning(table.c.id), batch
        )
        added = len(result.all())
        report.added += added
        report.duplicates += len(batch) - added
        batch.clear()

    def take(line: str) -> None:
        nonlocal line_number
        line_number += 1
        row = next(csv.reader([line]), [])
        if line_number == 1 and row and row[0].strip().lower() == "code":
            return
        report.rows += 1
        code, error = _code_from_row(row)
        if code is None:
            report.invalid += 1
            if len(report.invalid_samples) < SAMPLES_KEPT:
                report.invalid_samples.append({"line": line_number, "error": error,
                                               "value": line[:80]})
            return
        batch.append({"id": new_id(), "organization_id": actor.organization_id,
                      "pool_id": pool.id, "code": code})

    async for chunk in chunks:
        consumed += len(chunk)
        pending += decoder.decode(chunk)
        *lines, pending = pending.split("\n")
        for line in lines:
            take(line.rstrip("\r"))
            if len(batch) >= BATCH:
                await flush()
        if progress is not None:
            progress(consumed, report)
    pending += decoder.decode(b"", final=True)
    if pending.strip():
        take(pending.rstrip("\r"))
    await flush()
    if progress is not None:
        progress(consumed, report)

    record = PoolImport(
        organization_id=actor.organization_id, pool_id=pool.id, source=source[:255],
        rows=report.rows, added=report.added, duplicates=report.duplicates,
        invalid=report.invalid, invalid_samples=report.invalid_samples, finished_at=utcnow(),
    )
    session.add(record)
    await session.flush()
    await audit.record(session, actor, action="code_pool.imported", object_type="code_pool",
                       object_id=pool.id,
                       after={"source": record.source, "rows": report.rows,
                              "added": report.added, "duplicates": report.duplicates,
                              "invalid": report.invalid})
    return record
