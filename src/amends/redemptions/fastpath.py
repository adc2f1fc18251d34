"""The redemption hot path on PostgreSQL: one statement, one round trip.

A till's redeem is the request that must be fastest and must never happen twice. On PostgreSQL
it runs as a single data-modifying CTE on an autocommit connection: the conditional UPDATE of
the coupon, the INSERT of the redemption and the INSERT of the audit event are one atomic
statement, so no BEGIN/COMMIT round trips are needed and nothing can commit half-way. When the
UPDATE matches no row (unknown code, used, expired, ...), the caller falls back to the general
path, which explains why with a follow-up read.

The discount expression is `coupons.policy.discount` for single-use kinds, in SQL; a test
checks that both agree. The UPDATE uses it too: a coupon is never used up for a discount of 0
(an order of 0, or a percentage of a few cents).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from amends.actor import Actor
from amends.coupons import policy
from amends.db import driver_connection
from amends.kit.context import request_id_var
from amends.kit.ids import new_id
from amends.models import Redemption


def discount_sql(row: str) -> str:
    """The discount of the coupon `row` on an order of $6."""
    return f"""
CASE WHEN {row}.kind = 'percent_off'
     THEN LEAST((CAST($6 AS bigint) * {row}.value + 50) / 100, $6)
     ELSE LEAST({row}.value, $6) END
"""


DISCOUNT_SQL = discount_sql("c")

REDEEM_SQL = f"""
WITH c AS (
    UPDATE coupons
    SET status = 'redeemed', redeemed_at = $3, redemption_count = redemption_count + 1,
        reservation_id = NULL, reserved_until = NULL
    WHERE organization_id = $1 AND code IN ($2::varchar, $14::varchar)
      AND kind IN ({", ".join(f"'{kind}'" for kind in policy.SINGLE_USE_KINDS)})
      AND (status = 'active' OR (status = 'reserved' AND reserved_until <= $3))
      AND valid_from <= $3 AND expires_at > $3
      AND (NOT bound_to_customer OR customer_external_id = $4)
      AND (min_order IS NULL OR min_order <= $6)
      AND ($7::varchar IS NULL OR currency = $7)
      AND {discount_sql("coupons")} > 0
    RETURNING id, kind, value, currency, code
), r AS (
    INSERT INTO redemptions (id, organization_id, coupon_id, order_id, order_amount, discount,
                             currency, channel, store_id, till_id, status, actor_id, created_at)
    SELECT $8, $1, c.id, $5, $6, {DISCOUNT_SQL}, c.currency, $9, $10, $11, 'completed', $12, $3
    FROM c
    RETURNING id, coupon_id, discount, currency
), a AS (
    INSERT INTO audit_events (id, organization_id, actor_type, actor_id, actor_label, action,
                              object_type, object_id, after, request_id, created_at)
    SELECT $13, $1, $15, $12, $16, 'coupon.redeemed', 'coupon', c.id::text,
           json_build_object('code', c.code, 'order_id', $5::varchar, 'order_amount', $6,
                             'discount', r.discount, 'channel', $9::varchar,
                             'store_id', $10::varchar),
           $17, $3
    FROM c JOIN r ON r.coupon_id = c.id
)
SELECT r.id, r.coupon_id, r.discount, r.currency FROM r
"""


def arguments(actor: Actor, *, codes: list[str], now: datetime,
              customer_external_id: str | None, order_id: str, order_amount: int,
              currency: str | None, channel: str, store_id: str | None, till_id: str | None
              ) -> tuple[Any, ...]:
    """REDEEM_SQL's parameters. The statement takes the code's two possible stored forms as
    two scalars (the same one twice when they agree), not an array: with scalars PostgreSQL
    settles on one generic plan for the prepared statement instead of planning every call."""
    return (actor.organization_id, codes[0], now, customer_external_id, order_id,
            order_amount, currency, new_id(), channel, store_id, till_id, actor.id, new_id(),
            codes[-1], actor.kind, actor.label, request_id_var.get())


async def redeem_single_use(
    session: AsyncSession, actor: Actor, *, codes: list[str], now: datetime,
    customer_external_id: str | None, order_id: str, order_amount: int, currency: str | None,
    channel: str, store_id: str | None, till_id: str | None,
) -> Redemption | None:
    """Redeem in one statement; None when no coupon matched (the caller explains why).

    When the request's session already holds a connection in a transaction (it read the API
    key, or stores an idempotent response), the statement joins that transaction, so it
    commits with the rest and no second connection is taken from the pool. Otherwise it runs
    alone on an autocommit connection.
    """
    args = arguments(actor, codes=codes, now=now, customer_external_id=customer_external_id,
                     order_id=order_id, order_amount=order_amount, currency=currency,
                     channel=channel, store_id=store_id, till_id=till_id)
    if session.in_transaction():
        raw = await (await session.connection()).get_raw_connection()
        row = await raw.driver_connection.fetchrow(REDEEM_SQL, *args)  # type: ignore[union-attr]
    else:
        engine = session.bind
        assert isinstance(engine, AsyncEngine)
        async with driver_connection(engine) as connection:
            row = await connection.fetchrow(REDEEM_SQL, *args)
    if row is None:
        return None
    return Redemption(
        id=row["id"], organization_id=actor.organization_id, coupon_id=row["coupon_id"],
        reservation_id=None, order_id=order_id, order_amount=order_amount,
        discount=int(row["discount"]), currency=row["currency"], channel=channel,
        store_id=store_id, till_id=till_id, status="completed", actor_id=actor.id,
        created_at=now, voided_at=None, void_reason=None,
    )

