"""Cursor pagination over time-ordered UUIDv7 ids."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.errors import ValidationFailed

T = TypeVar("T")


class InvalidCursor(ValidationFailed):
    code, title = "invalid_cursor", "The cursor is not valid"


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor() from exc


async def newest_first(session: AsyncSession, query: Select[Any], id_column: Any, *,
                       cursor: str | None, limit: int) -> Page[T]:
    """One page of `query`, newest first by its time-ordered id, after `cursor`."""
    if cursor:
        query = query.where(id_column < decode_cursor(cursor))
    rows = list((await session.scalars(query.order_by(id_column.desc()).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    last_id = getattr(rows[-1], "id", None) if rows else None
    return Page(items=rows, next_cursor=encode_cursor(last_id) if more and last_id else None)
