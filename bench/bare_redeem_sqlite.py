"""The bare baseline on SQLite for bench/redeem.py: FastAPI + aiosqlite doing only the
conditional UPDATE, on one connection with the pragmas Amends sets (WAL, synchronous=FULL).

Run by the bench as: uvicorn bench.bare_redeem_sqlite:app (with BARE_SQLITE_PATH and
BARE_ORG, the organisation's id as SQLite stores it, set).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiosqlite
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

# SQLite stores datetimes as naive UTC text ('2026-12-01 16:41:39.123456'), which compares
# in time order.
SQL = """
UPDATE coupons SET status = 'redeemed', redeemed_at = ?
WHERE organization_id = ? AND code = ? AND status = 'active' AND expires_at > ?
RETURNING id
"""


class Body(BaseModel):
    code: str
    customer_id: str | None = None
    order_id: str
    order_amount: int


connection: Any = None


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    global connection
    # isolation_level=None: autocommit, each UPDATE its own transaction.
    connection = await aiosqlite.connect(os.environ["BARE_SQLITE_PATH"], isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000"):
        await connection.execute(f"PRAGMA {pragma}")
    yield
    await connection.close()


app = FastAPI(lifespan=lifespan)
ORG = os.environ.get("BARE_ORG", "")


@app.post("/v1/redemptions")
async def redeem(body: Body) -> JSONResponse:
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    # One call on the connection's thread: the statement runs and finishes before the next.
    rows = await connection.execute_fetchall(
        SQL, (now, ORG, body.code.replace("-", "").upper(), now))
    if not rows:
        return JSONResponse({"code": "coupon_already_redeemed"}, status_code=409)
    return JSONResponse({"id": str(next(iter(rows))[0])}, status_code=201)
