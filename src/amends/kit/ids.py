"""Time-ordered UUIDv7 ids, generated in the application."""

from __future__ import annotations

import uuid

import uuid6


def new_id() -> uuid.UUID:
    return uuid.UUID(bytes=uuid6.uuid7().bytes)


def id_prefix() -> str:
    """The first 24 hex digits of a new id, for the rows one statement inserts by the million:
    each row's id is this prefix followed by the row's ordinal in 8 hex digits (a counter in the
    random bits, as RFC 9562 section 6.2 allows, for up to 4,294,967,295 rows), so they are
    time-ordered ids, ascending in the rows' order, made without a call per row."""
    return new_id().hex[:24]
