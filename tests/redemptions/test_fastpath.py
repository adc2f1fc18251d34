from __future__ import annotations

import pytest

from amends.coupons import policy
from amends.db import Database
from amends.redemptions.fastpath import DISCOUNT_SQL

CASES = [
    ("percent_off", 15, 12345), ("percent_off", 10, 5), ("percent_off", 100, 999),
    ("percent_off", 33, 1), ("amount_off", 1000, 400), ("amount_off", 1000, 4000),
    ("free_item", 2599, 2599), ("free_item", 2599, 0), ("amount_off", 1, 0),
]


@pytest.mark.postgres_only
async def test_the_one_statement_redeem_computes_the_same_discount_as_the_policy(
    db: Database,
) -> None:
    sql = (f"SELECT {DISCOUNT_SQL} FROM (SELECT $1::varchar AS kind, $2::bigint AS value) c"
           ).replace("$6", "$3")
    async with db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        pg = raw.driver_connection
        assert pg is not None
        for kind, value, order in CASES:
            assert await pg.fetchval(sql, kind, value, order) == policy.discount(
                kind, value, order), (kind, value, order)
