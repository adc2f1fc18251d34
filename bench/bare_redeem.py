"""The bare baseline for bench/redeem.py: FastAPI + asyncpg doing only the conditional UPDATE.

Run by the bench as: uvicorn bench.bare_redeem:app (with BARE_DSN set).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

SQL = """
UPDATE coupons SET status = 'redeemed', redeemed_at = now()
WHERE organization_id = $1 AND code = $2 AND status = 'active' AND expires_at > now()
RETURNING id
"""


class Body(BaseModel):
    code: str
    customer_id: str | None = None
    order_id: str
    order_amount: int


pool: Any = None


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    global pool
    size = int(os.environ.get("BARE_POOL", "32"))
    pool = await asyncpg.create_pool(os.environ["BARE_DSN"], min_size=size, max_size=size)
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)
ORG = os.environ.get("BARE_ORG", "")


@app.post("/v1/redemptions")
async def redeem(body: Body) -> JSONResponse:
    import uuid

    async with pool.acquire() as conn:
        row = await conn.fetchrow(SQL, uuid.UUID(ORG), body.code.replace("-", "").upper())
    if row is None:
        return JSONResponse({"code": "coupon_already_redeemed"}, status_code=409)
    return JSONResponse({"id": str(row["id"])}, status_code=201)
