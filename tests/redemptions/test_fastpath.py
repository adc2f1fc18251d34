from __future__ import annotations

import pytest

from amends.coupons import policy
from amends.db import Database
from amends.redemptions.fastpath import discount_in_sql

CASES = [
    ("percent_off", 15, 12345), ("percent_off", 10, 5), ("percent_off", 100, 999),
    ("percent_off", 33, 1), ("amount_off", 1000, 400), ("amount_off", 1000, 4000),
    ("free_item", 2599, 2599), ("free_item", 2599, 0), ("amount_off", 1, 0),
]


@pytest.mark.postgres_only
async def test_the_one_statement_redeem_computes_the_same_discount_as_the_policy(
    db: Database,
) -> None:
    async with db.transaction(write=False) as session:
        for kind, value, order in CASES:
            assert await discount_in_sql(session, kind=kind, value=value, order_amount=order) \
                == policy.discount(kind, value, order), (kind, value, order)
