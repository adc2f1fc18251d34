"""Idempotency keys with Stripe's semantics, for every POST route.

The key row is inserted in the request's own transaction, before the handler runs, and the
response is stored in that same transaction; so a key either has a stored response or does not
exist. A concurrent duplicate waits: on PostgreSQL its `INSERT ... ON CONFLICT DO NOTHING`
blocks on the unique index until the first transaction ends, on SQLite `BEGIN IMMEDIATE`
serialises the two. It then replays the stored response. The handler never runs twice.
Error responses are not stored (the transaction rolls back), so a failed request can be retried.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

from fastapi import Request, Response
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.errors import AmendsError, Conflict, ValidationFailed
from amends.kit.clock import utcnow
from amends.kit.ids import new_id
from amends.kit.secrets import digest
from amends.kit.sql import insert_for
from amends.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(Conflict):
    code, title = (
        "idempotency_key_reused",
        "This Idempotency-Key was used with a different request",
    )


class InvalidIdempotencyKey(ValidationFailed):
    code, title = "invalid_idempotency_key", "The Idempotency-Key header is not valid"


def principal_of(request: Request) -> str | None:
    """Whom a key belongs to: the credential that sent it (hashed)."""
    from amends.auth import SESSION_COOKIE

    credential = request.headers.get("authorization") or request.cookies.get(SESSION_COOKIE)
    return digest(credential) if credential else None


def valid_key(key: str) -> bool:
    return bool(key.strip()) and len(key) <= MAX_KEY_LENGTH and key.isprintable()


def fingerprint(request: Request, body: bytes) -> str:
    """What a key's request was: a retry must send the same method, path, query and body."""
    return hashlib.sha256(
        f"{request.method} {request.url.path}?{request.url.query}\n".encode() + body
    ).hexdigest()


async def _load(session: AsyncSession, principal: str, key: str) -> IdempotencyKey | None:
    return await session.scalar(
        select(IdempotencyKey)
        .where(IdempotencyKey.principal == principal, IdempotencyKey.key == key)
        .execution_options(populate_existing=True)
    )


def _replay(stored: IdempotencyKey) -> Response:
    assert stored.response_status is not None
    return Response(
        content=stored.response_body or b"",
        status_code=stored.response_status,
        media_type=stored.response_content_type,
        headers={"Idempotent-Replayed": "true"},
    )


async def run_idempotent(
    session: AsyncSession,
    request: Request,
    key: str,
    handler: Callable[[Request], Awaitable[Response]],
    *,
    ttl: timedelta,
) -> Response:
    if not valid_key(key):
        raise InvalidIdempotencyKey(f"Use 1 to {MAX_KEY_LENGTH} printable characters.")
    principal = principal_of(request)
    if principal is None:
        return await handler(request)
    request_hash = fingerprint(request, await request.body())
    now = utcnow()

    stored = await _load(session, principal, key)
    if stored is not None and stored.expires_at <= now:
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == stored.id))
        stored = None
    key_id = None
    if stored is None:
        key_id = (
            await session.execute(
                insert_for(session, IdempotencyKey.__table__)
                .values(
                    id=new_id(),
                    principal=principal,
                    key=key,
                    request_hash=request_hash,
                    created_at=now,
                    expires_at=now + ttl,
                )
                .on_conflict_do_nothing(index_elements=["principal", "key"])
                .returning(IdempotencyKey.__table__.c.id)
            )
        ).scalar_one_or_none()
        if key_id is None:
            stored = await _load(session, principal, key)
    if stored is not None:
        if stored.request_hash != request_hash:
            raise IdempotencyKeyReused(
                "Send a new Idempotency-Key for a different request, or the same body to "
                "get the first response again."
            )
        return _replay(stored)

    try:
        response = await handler(request)
    except AmendsError:
        # A refusal that keeps its own record (see AmendsError.keep_changes) must not keep
        # a key without a response.
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == key_id))
        raise
    content = getattr(response, "body", None)
    if response.status_code < 400 and isinstance(content, bytes):
        actor = getattr(request.state, "actor", None)
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == key_id)
            .values(
                organization_id=actor.organization_id if actor else None,
                response_status=response.status_code,
                response_body=content,
                response_content_type=response.media_type
                or response.headers.get("content-type"),
            )
        )
    else:
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == key_id))
    return response


async def purge_expired(session: AsyncSession) -> int:
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.expires_at <= utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)
