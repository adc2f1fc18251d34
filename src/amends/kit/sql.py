"""Dialect-aware SQL helpers for statements both SQLite and PostgreSQL support."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

Row = TypeVar("Row")


def insert_for(session: AsyncSession, table: Any) -> Any:
    """An INSERT that supports `.on_conflict_do_nothing()` on the session's dialect."""
    name = session.bind.dialect.name if session.bind is not None else "sqlite"
    if name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def dialect_of(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


async def insert_new(session: AsyncSession, model: type[Row], *, key: Mapping[str, Any],
                     values: Mapping[str, Any] | None = None) -> Row | None:
    """Insert a `model` row unless one with the same `key` (the columns of one of its unique
    constraints) exists; returns the new row, or None when the key was taken.

    One `INSERT ... ON CONFLICT (key) DO NOTHING` instead of a look-up and an insert: when two
    requests create the same row at once, the one that loses gets None (on PostgreSQL after
    waiting for the winner's commit), never a unique violation."""
    statement = (insert_for(session, model).values(**key, **(values or {}))
                 .on_conflict_do_nothing(index_elements=list(key)).returning(model))
    row: Row | None = (await session.scalars(statement)).one_or_none()
    return row


async def get_or_insert(session: AsyncSession, model: type[Row], *, key: Mapping[str, Any],
                        values: Mapping[str, Any] | None = None, lock: bool = False
                        ) -> tuple[Row, bool]:
    """The `model` row with `key` (the columns of one of its unique constraints), inserted with
    `values` when there is none; returns (row, created). Concurrent callers all get the one row.

    A caller that loses the insert to a concurrent one reads the winner's row in a new
    statement, which on PostgreSQL (READ COMMITTED) sees the winner's commit. With `lock`, the
    row found is locked (`FOR UPDATE` on PostgreSQL; SQLite's writers already take turns), so
    that a caller that reads its columns to change them works on the latest ones."""
    statement = select(model).filter_by(**key)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    found = (await session.scalars(statement)).one_or_none()
    if found is not None:
        return found, False
    inserted = await insert_new(session, model, key=key, values=values)
    if inserted is not None:
        return inserted, True
    return (await session.scalars(statement)).one(), False
