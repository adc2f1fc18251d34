"""`POST /v1/redemptions`: the route class that answers a till's redeem with one statement.

A till's redeem is the one request that must be as fast as the database allows. On PostgreSQL
the redemption is one statement (`fastpath`: the claim, the redemption and its audit event,
the webhook deliveries and jobs, and the Idempotency-Key with its response), so what is left
to make fast is the framework around it. This route is an ordinary route of the application,
behind the same middleware (request id, access log, metrics, body size limit, security
headers), whose handler first tries the direct answer:

- a body the route's own model accepts (validated from the raw bytes),
- an API key with `redemptions:write` (verified within the cache time, else read as the
  application reads it),
- an order the service would take (`order_refusal`) and no spent code-failure budget or lock
  on the code (the guard's own `refusal`),
- what the organisation's outbox holds (`webhooks.wants_known`, ...; read when this process
  has not looked lately),
- an Idempotency-Key, if any, that is well formed: it is stored with the response in the
  same statement,
- and the statement redeemed a coupon.

On SQLite it answers a redeem without an Idempotency-Key through the process's group writer
(`redemptions.sqlite.Writer`: the redeems waiting for the write lock commit together). On
Citus it answers the plain shape with the claim and the record on the organisation's shard.
Anything else (an error to explain, a first request with a key, a replay of an
Idempotency-Key, SQLite with a key, Citus with an outbox, a gift card) goes to the route's
standard handler, the dependency-injected `redeem`, which runs the same redemption
(`service.redeem`) in the request's transaction and explains every refusal. Both answer with
the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from datetime import timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from fastapi import Request, Response
from pydantic import TypeAdapter, ValidationError

from amends.actor import Actor
from amends.apikeys.service import VerifiedKey, verified_recently, verify_on_miss
from amends.db import Database, driver_connection
from amends.idempotency import HEADER, fingerprint, principal_of, valid_key
from amends.kit.client import client_address
from amends.kit.clock import utcnow
from amends.redemptions import fastpath
from amends.redemptions import sqlite as sqlite_path
from amends.redemptions.guard import Attempt, refusal
from amends.redemptions.schemas import RedeemRequest
from amends.redemptions.service import order_of, order_refusal, outbox_of, statement_values
from amends.roles import Scope as Permission
from amends.routing import TransactionalRoute
from amends.shops.outbox import connections_known
from amends.wallet.outbox import apple_configured_known
from amends.webhooks.service import wants_known

_BODY = TypeAdapter(RedeemRequest)
SERVED_BY = {"x-served-by": "one-statement"}
SERVED_IN_GROUP = {"x-served-by": "group-commit"}


class RedeemRoute(TransactionalRoute):
    """The redeem route: the direct answer when it applies, else the standard handler."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        standard = super().get_route_handler()

        async def handler(request: Request) -> Response:
            answered = await _answer(request)
            return answered if answered is not None else await standard(request)

        return handler


async def _verified(db: Database, token: str) -> VerifiedKey | None:
    """The API key of `token`: the one this process verified within the cache time, else read
    and verified as the application does (its use noted). Every till's key expires from the
    cache at once: read here, the tills that meet an expired key stay on the route's direct
    answer instead of all taking the standard handler together (on SQLite, one write
    transaction each, one after the other)."""
    key = verified_recently(token)
    if key is None and token:
        async with db.read_sessions() as reader:
            key = await verify_on_miss(reader, token,
                                       cache_seconds=db.settings.api_key_cache_seconds,
                                       sessions=db.write_sessions)
    return key


def _outbox(actor: Actor) -> fastpath.Outbox | None:
    """What the organisation's redemptions write besides their own rows, from this process's
    caches; None when one of them does not know."""
    hooks = wants_known(actor.organization_id, fastpath.EVENT)
    wallet = apple_configured_known(actor.organization_id)
    shops = connections_known(actor.organization_id)
    if hooks is None or wallet is None or shops is None:
        return None
    return fastpath.Outbox(webhooks=hooks, wallet=wallet, shops=shops)


async def _answer(request: Request) -> Response | None:
    state = request.app.state
    db: Database = state.db
    sqlite = db.engine.dialect.name == "sqlite"
    idempotency_key = request.headers.get(HEADER)
    if idempotency_key is not None and (sqlite or not valid_key(idempotency_key)):
        return None
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    key = await _verified(db, token.strip()) if scheme.lower() == "bearer" else None
    if key is None or not ({Permission.REDEMPTIONS_WRITE, Permission.ADMIN} & key.scopes):
        return None
    actor = Actor(organization_id=key.organization_id, kind="api_key", id=key.id,
                  label=f"api key {key.name}", scopes=key.scopes)
    body = await request.body()
    try:
        order = _BODY.validate_json(body)
    except ValidationError:
        return None
    if order_refusal(order.order_amount, order.shipping_amount) is not None:
        return None
    attempt = Attempt.of(actor, client_address(request.scope), code=order.code,
                         customer=order.customer_id)
    if await refusal(state.limiter, attempt) is not None:
        return None
    outbox = _outbox(actor)
    if outbox is None:  # not known to this process lately: read as the service reads it
        async with db.read_sessions() as reader:
            outbox = await outbox_of(reader, actor.organization_id)
    now = utcnow()
    if sqlite:
        return await _in_group(db, statement_values(actor, order_of(order), now, outbox=outbox),
                               outbox)
    record = None
    if idempotency_key is not None:
        principal = principal_of(request)
        assert principal is not None  # the bearer token
        record = fastpath.KeyRecord(
            principal=principal, key=idempotency_key,
            request_hash=fingerprint(request, body),
            expires_at=now + timedelta(hours=state.settings.idempotency_key_hours))
    values = statement_values(actor, order_of(order), now, outbox=outbox, record=record)
    async with driver_connection(db.engine) as connection:
        if await fastpath.on_citus(connection):
            # The claim and the record on the organisation's shard; jobs and keys live on
            # the coordinator, and the service writes them in the same transaction.
            if record is not None or outbox != fastpath.Outbox():
                return None
            row = await fastpath.claim_and_record(connection, values)
            return None if row is None else _answered(row, values, db)
        try:
            row = await fastpath.redeem_row(connection, values, outbox=outbox,
                                            keyed=record is not None)
        except asyncpg.UniqueViolationError:
            # The key is taken (a retry, or another request's): the statement changed
            # nothing, and the standard handler replays or refuses.
            return None
    if row is None:
        return None  # not redeemable as it stands: the standard handler says why
    return _answered(row, values, db)


def _answered(row: Mapping[str, Any], values: dict[str, Any], db: Database,
              served_by: dict[str, str] = SERVED_BY) -> Response:
    if row.get("jobs"):
        db.jobs_enqueued.set()
    return Response(_body(row, values), status_code=201, media_type="application/json",
                    headers=served_by)


def _body(row: Mapping[str, Any], values: dict[str, Any]) -> bytes:
    stored: bytes | None = row.get("body")
    if stored is not None:
        return stored
    discount = int(row["discount"])
    parts = fastpath.response_fragments(values)
    filled = (str(row["coupon_id"]), str(discount), str(values["order_amount"] - discount),
              row["currency"])
    return "".join(part + value for part, value in zip(parts, (*filled, ""), strict=True)
                   ).encode()


def _writer(db: Database) -> sqlite_path.Writer | None:
    """The process's group writer of the tills' redeems on SQLite; None for a database in
    memory, which only the engine's own connections see."""
    writer = db.redeem_writer
    if writer is None:
        path = db.engine.url.database
        if not path or path == ":memory:" or path.startswith("file:"):
            return None
        assert db.sqlite_write_turn is not None
        writer = sqlite_path.Writer(path, synchronous=db.settings.sqlite_synchronous,
                                    busy_timeout_ms=db.settings.sqlite_busy_timeout_ms,
                                    write_turn=db.sqlite_write_turn)
        db.redeem_writer = writer
        db.closers.append(writer.close)
    return writer


async def _in_group(db: Database, values: dict[str, Any], outbox: fastpath.Outbox
                    ) -> Response | None:
    """SQLite's direct answer: the redeem committed with the others waiting (`Writer`); None
    when no coupon matched or the group failed (the standard handler runs it again in the
    request's transaction and explains, counting a failure against the guard's budgets)."""
    writer = _writer(db)
    if writer is None:
        return None
    try:
        row = await writer.redeem(values, outbox)
    except Exception:
        return None
    if row is None:
        return None
    return _answered(row, values, db, SERVED_IN_GROUP)
