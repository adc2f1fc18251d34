from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from amends.actor import Actor
from amends.coupons import policy
from amends.db import Database
from amends.kit.clock import utcnow
from amends.models import AuditEvent, Coupon, Redemption
from amends.redemptions import fastpath
from amends.redemptions.fastpath import DISCOUNT_SQL
from tests.factories import make_coupon, make_customer, make_org

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


@pytest.mark.postgres_only
@pytest.mark.parametrize("in_transaction", [True, False])
async def test_citus_two_statements_record_what_the_one_statement_records(
    db: Database, monkeypatch: pytest.MonkeyPatch, in_transaction: bool
) -> None:
    """The form Citus runs (the claim, then the redemption and audit event, on the
    organisation's shard) leaves the same rows as the one statement of PostgreSQL."""
    tenant = await make_org(db)
    customer = await make_customer(db, tenant, external_id="C-1")
    coupons = [await make_coupon(db, tenant, customer=customer, kind="percent_off", value=15,
                                 case_ref=f"K-{n}") for n in range(2)]
    actor = Actor(organization_id=tenant.id, kind="api_key", id=uuid.uuid4(),
                  label="api key till")
    made = []
    for coupon, citus in zip(coupons, (False, True), strict=True):
        if citus:
            monkeypatch.setattr(fastpath, "on_citus", _yes)
        order = {"codes": [coupon.code], "now": utcnow(), "customer_external_id": "C-1",
                 "order_id": "O-1", "order_amount": 12345, "currency": "EUR",
                 "channel": "in_store", "store_id": "Leeds", "till_id": "T3"}
        async with db.write_sessions() as session:
            if in_transaction:
                await session.connection()
            made.append(await fastpath.redeem_single_use(session, actor, **order))
            await session.commit()
        monkeypatch.undo()
    assert all(m is not None for m in made)
    async with db.transaction(write=False) as session:
        rows = [await session.scalar(select(Redemption).where(
            Redemption.organization_id == tenant.id, Redemption.id == m.id)) for m in made if m]
        events = (await session.scalars(select(AuditEvent).where(
            AuditEvent.organization_id == tenant.id, AuditEvent.action == "coupon.redeemed")
            .order_by(AuditEvent.object_id))).all()
        used = (await session.scalars(select(Coupon.status).where(
            Coupon.organization_id == tenant.id))).all()

    def shown(redemption: Redemption | None) -> tuple[object, ...]:
        assert redemption is not None
        return (redemption.discount, redemption.currency, redemption.order_amount,
                redemption.status, redemption.store_id, redemption.till_id)

    assert shown(rows[0]) == shown(rows[1]) == (1852, "EUR", 12345, "completed", "Leeds",
                                                  "T3")
    assert used == ["redeemed", "redeemed"]
    afters = sorted(({k: v for k, v in e.after.items() if k != "code"}, e.object_id)
                    for e in events)
    assert [a for a, _ in afters] == [{"order_id": "O-1", "order_amount": 12345,
                                       "discount": 1852, "channel": "in_store",
                                       "store_id": "Leeds"}] * 2
    assert {e.after["code"] for e in events} == {c.code for c in coupons}
    assert {o for _, o in afters} == {str(c.id) for c in coupons}


async def _yes(connection: object) -> bool:
    return True
