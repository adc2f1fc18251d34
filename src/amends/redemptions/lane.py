"""The tills' lane: `POST /v1/redemptions` answered before the web framework when nothing about
the request needs it.

A till's redeem is the one request that must be as fast as the database allows. On PostgreSQL
the redemption is already one statement (`fastpath.REDEEM_SQL`: the conditional UPDATE, the
redemption row and the audit event, atomic, one round trip; on Citus two in one transaction,
on the organisation's shard). What is left is the framework
around it: routing, dependency resolution, a session, validation and serialisation layers.
This ASGI middleware answers the plain case itself:

- a valid body (the same Pydantic model as the route, validated from the raw bytes),
- an API key this process verified within the cache time, with `redemptions:write`,
- an order the service would take (`order_refusal`: an amount above 0, shipping within it),
- no Idempotency-Key, no spent code-failure budget and no lock on the code (the guard's own
  `refusal`, so both paths refuse alike), no webhook endpoint wanting `coupon.redeemed`, no
  Apple Wallet passes and no shop in the organisation (all known from this process's caches),
- and the statement redeemed a coupon.

Anything else (an error to explain, a first request with a key, SQLite, an idempotent retry)
passes through unchanged to the application, which answers exactly as it always does: the lane
only ever answers requests whose answer is a 201 the full path would give too.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

from pydantic import TypeAdapter, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from amends.actor import Actor
from amends.apikeys.service import verified_recently
from amends.db import driver_connection
from amends.kit.client import client_address
from amends.kit.clock import utcnow
from amends.redemptions.fastpath import arguments, redeem_row
from amends.redemptions.guard import Attempt, refusal
from amends.redemptions.schemas import RedeemRequest
from amends.redemptions.service import code_candidates, order_refusal
from amends.roles import Scope as Permission
from amends.shops.outbox import connections_known
from amends.wallet.outbox import apple_configured_known
from amends.webhooks.service import wants_known

PATH = "/v1/redemptions"
ROUTE = SimpleNamespace(path=PATH)  # for the access log and metrics
_BODY = TypeAdapter(RedeemRequest)
_HEADERS = [(b"content-type", b"application/json"), (b"x-served-by", b"till-lane")]


class TillLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay(chunks, message, receive), send)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        answered = await self._answer(scope, b"".join(chunks), send)
        if not answered:
            await self.app(scope, _replay(chunks, None, receive), send)

    async def _answer(self, scope: Scope, body: bytes, send: Send) -> bool:
        state = scope["app"].state
        if state.db.engine.dialect.name != "postgresql":
            return False
        headers = dict(scope["headers"])
        if b"idempotency-key" in headers:
            return False
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        key = verified_recently(token.strip()) if scheme.lower() == "bearer" else None
        if key is None or not ({Permission.REDEMPTIONS_WRITE, Permission.ADMIN} & key.scopes):
            return False
        if wants_known(key.organization_id, "coupon.redeemed") is not False or \
                apple_configured_known(key.organization_id) is not False or \
                connections_known(key.organization_id) != ():
            return False
        try:
            order = _BODY.validate_json(body)
        except ValidationError:
            return False
        if order_refusal(order.order_amount, order.shipping_amount) is not None:
            return False
        actor = Actor(organization_id=key.organization_id, kind="api_key", id=key.id,
                      label=f"api key {key.name}", scopes=key.scopes)
        attempt = Attempt.of(actor, client_address(scope), code=order.code,
                             customer=order.customer_id)
        if await refusal(state.limiter, attempt) is not None:
            return False
        now = utcnow()
        async with driver_connection(state.db.engine) as connection:
            row = await redeem_row(connection, arguments(
                actor, codes=code_candidates(order.code), now=now,
                customer_external_id=order.customer_id, order_id=order.order_id,
                order_amount=order.order_amount, currency=order.currency,
                channel=order.channel.value, store_id=order.store_id, till_id=order.till_id),
                in_transaction=False)
        if row is None:
            return False  # not redeemable as it stands: the application says why
        scope["route"] = ROUTE
        discount = int(row["discount"])
        payload = {
            "id": str(row["id"]), "coupon_id": str(row["coupon_id"]), "reservation_id": None,
            "order_id": order.order_id, "order_amount": order.order_amount,
            "discount": discount, "amount_due": order.order_amount - discount,
            "currency": row["currency"], "channel": order.channel.value,
            "store_id": order.store_id, "till_id": order.till_id, "status": "completed",
            "created_at": now.isoformat().replace("+00:00", "Z"), "voided_at": None}
        content = json.dumps(payload, separators=(",", ":")).encode()
        await send({"type": "http.response.start", "status": 201,
                    "headers": [*_HEADERS, (b"content-length", str(len(content)).encode())]})
        await send({"type": "http.response.body", "body": content})
        return True


def _replay(chunks: list[bytes], last: Message | None, then: Receive) -> Receive:
    """A `receive` that hands the application the body the lane already read, then listens
    to the client as before."""
    pending: list[Message] = [{"type": "http.request", "body": b"".join(chunks),
                               "more_body": False}]
    if last is not None:
        pending.append(last)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return await then()

    return receive
