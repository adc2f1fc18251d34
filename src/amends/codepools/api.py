from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from amends.actor import Actor
from amends.auth import MissingScope, SessionDep, require
from amends.codepools import service as pools
from amends.codepools.schemas import CodePoolCreate, CodePoolOut, PoolImportOut
from amends.errors import errors
from amends.models import CodePool
from amends.roles import Scope
from amends.routing import router as make_router

router = make_router(prefix="/v1/code-pools", tags=["code pools"])
PoolAdmin = Annotated[Actor, Depends(require(Scope.CATALOGUE_WRITE))]


def _out(pool: CodePool, counts: dict[uuid.UUID, tuple[int, int]]) -> CodePoolOut:
    available, allocated = counts.get(pool.id, (0, 0))
    return CodePoolOut(id=pool.id, name=pool.name, available=available, allocated=allocated,
                       created_at=pool.created_at)


@router.post("", status_code=201, responses=errors(MissingScope, pools.CodePoolExists))
async def create_code_pool(body: CodePoolCreate, session: SessionDep, actor: PoolAdmin
                           ) -> CodePoolOut:
    """A pool for codes that the organisation's own tills issued."""
    pool = await pools.create_pool(session, actor, name=body.name)
    return _out(pool, {})


@router.get("", responses=errors(MissingScope))
async def list_code_pools(session: SessionDep, actor: PoolAdmin) -> list[CodePoolOut]:
    """Pools with how many codes are left."""
    counts = await pools.pool_counts(session, actor)
    return [_out(p, counts) for p in await pools.list_pools(session, actor)]


@router.post(
    "/{pool_id}/imports", status_code=201,
    responses=errors(MissingScope, pools.CodePoolNotFound, pools.CodeImportRejected,
                     pools.CodeImportEmpty),
    openapi_extra={"requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string", "format": "binary"}}}}},
)
async def import_codes(pool_id: uuid.UUID, request: Request, session: SessionDep,
                       actor: PoolAdmin) -> PoolImportOut:
    """Stream a CSV (`text/csv` body, UTF-8, first column the code, optional `code` header)
    into the pool; codes already in a pool count as duplicates, so re-sending a file adds
    nothing. All or nothing: a file with rows that are not codes (or cannot be read) imports
    nothing and answers 422 `code_import_rejected` with the bad rows (line and reason, the
    first 100, and how many in all)."""
    pool = await pools.get_pool(session, actor, pool_id=pool_id)

    async def chunks() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            if chunk:
                yield chunk

    record = await pools.import_codes(session, actor, pool=pool, chunks=chunks(),
                                      source=request.headers.get("x-filename", "upload.csv"))
    return PoolImportOut.model_validate(record)
