"""The outcome reports over 1,000,000 cases on PostgreSQL: the cost ledger (by period, reason
and agent), the effectiveness of each gesture (win-back and uplift over the hold-out) and the
similar-cases evidence that a case page shows the agent.

    .venv/bin/python -m bench.outcomes [--cases 1000000] [--baseline-cases 100000 |
        --no-baseline] [--repeat 7] [--timeout 60] [--keep] [--url URL] [--explain]

The data is made by set-based SQL (INSERT ... SELECT FROM generate_series) on a scratch
database: one organisation, 6 staff in 2 teams and 3 stores, 4 gestures, one customer per 5
cases (standard / gold / platinum), cases over the last 400 days (8% held out: an apology and
no gesture), one coupon per other case (redeemed, voided, revoked, expired or outstanding; gift
cards partly spent), their redemptions and gift-card entries, and 0.6 completed orders per
case. A case's customer buys again within 90 days with a probability that depends on the tier
and the gesture, so the effectiveness report has a real signal. Random draws are seeded: the
same size gives the same data.

Each report runs `--repeat` times, each in a fresh session of the application's own
`Database` (so on a pooled connection, as in production), next to the same timings at
`--baseline-cases` on a second scratch database. Runs 1-5 get plans made for their
parameters; from the 6th, PostgreSQL may reuse a generic plan of the prepared statement, so the
default of 7 runs shows both. A run is stopped after `--timeout` seconds and counted as that
long. Target: every report < 2 s at 1,000,000 cases. `--explain` prints EXPLAIN (ANALYZE,
BUFFERS) of the statements of every report whose median misses the target (and the generic
plan when it is the slower one). `--keep` keeps the databases (their URLs are printed) and
`--url` times an already generated one instead of generating.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import DateTime, Integer, TextClause, Uuid, bindparam, event, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, create_async_engine
from sqlalchemy.types import TypeEngine

from amends.actor import Actor
from amends.config import Settings
from amends.db import Database
from amends.kit.clock import utcnow
from amends.migrate import upgrade
from amends.models import Case, Incentive, LedgerRollup, Organization, OutcomeRollup
from amends.outcomes import service as outcomes
from amends.reports.service import Filters
from bench._pg import scratch_postgres

SLUG = "bench-outcomes"
TARGET_SECONDS = 2.0
# PostgreSQL plans a prepared statement for its parameters the first five times, then may
# switch to a generic plan; asyncpg prepares every statement and keeps it per pooled
# connection, so from the sixth run the application may get the generic plan.
CUSTOM_PLAN_RUNS = 5
ORDERS_PER_CASE = 0.6
SIMILAR_REASON, SIMILAR_TIER, SIMILAR_SEVERITY = "late_delivery", "standard", 2

# Session settings of the loader only; the reports run with the server's own settings.
# FK triggers are off (replica role) because every row is consistent by construction.
LOADER_SETTINGS = """
SET synchronous_commit = off;
SET session_replication_role = replica;
SET work_mem = '256MB';
SET maintenance_work_mem = '1GB';
SET temp_buffers = '512MB';
CREATE FUNCTION pg_temp.v7(at timestamptz, salt text) RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT overlay(lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0') || '7'
                 || substr(md5(salt), 1, 19) PLACING '8' FROM 17 FOR 1)::uuid $$;
CREATE FUNCTION pg_temp.scrambled(n bigint, k bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT upper(lpad(to_hex((n * k) % 4294967296), 8, '0')) $$
"""
# Time-ordered ids like the application's (UUIDv7 from the row's time); references and codes
# from an odd multiplier modulo 2^32, a bijection, so they are unique without a check. Both
# functions are inlined by the planner (STABLE, each argument used once), which matters at
# millions of rows.

STAFF = """
CREATE TEMP TABLE staff AS
SELECT n, pg_temp.v7(:now - interval '1000 days', 'user' || n) AS id,
       email, name, role, team, store
FROM (VALUES (1, 'ana.lopez@bench.example', 'Ana Lopez', 'agent', 'Care North', 'Lyon'),
             (2, 'ben.okafor@bench.example', 'Ben Okafor', 'agent', 'Care North', 'Lyon'),
             (3, 'chloe.martin@bench.example', 'Chloé Martin', 'agent', 'Care North', 'Paris'),
             (4, 'dev.patel@bench.example', 'Dev Patel', 'agent', 'Care South', 'Paris'),
             (5, 'eva.nowak@bench.example', 'Eva Nowak', 'agent', 'Care South', 'Lille'),
             (6, 'femi.adeyemi@bench.example', 'Femi Adeyemi', 'supervisor', 'Care South',
              'Lille')) AS v(n, email, name, role, team, store);
INSERT INTO organizations (id, slug, name, default_currency, default_language, timezone,
    code_prefix, average_order_value, second_gesture_window_days, approval_hours,
    reminder_days, automation_daily_budget, feedback_delay_days, thank_you_window_days,
    surprise_incentive_id, incident_approval_threshold, recommendation_rules, created_at)
VALUES (:org, 'bench-outcomes', 'Bench Outcomes', 'EUR', 'en', 'UTC', 'AM', 5000, 30, 72, 3,
    20000, 3, 90, NULL, 100000, '{}', :now - interval '1300 days');
INSERT INTO users (id, organization_id, email, name, role, team, store, password_hash, active,
    created_at, last_login_at)
SELECT id, :org, email, name, role, team, store, '!bench-no-login', true,
       :now - interval '1000 days', :now - interval '1 day'
FROM staff;
CREATE TEMP TABLE inc AS
SELECT n, pg_temp.v7(:now - interval '900 days', 'incentive' || n) AS id,
       name, kind, value::bigint AS value, min_order::bigint AS min_order, validity_days,
       CASE WHEN kind = 'percent_off' THEN (5000 * value + 50) / 100 ELSE value END::bigint
           AS face_value, uplift
FROM (VALUES (1, 'Free shipping for 30 days', 'free_shipping', 490, NULL, 30, 0.06),
             (2, '€5 off your next order', 'amount_off', 500, 2500, 90, 0.12),
             (3, '10% off your next order', 'percent_off', 10, NULL, 60, 0.16),
             (4, '€40 gift card', 'gift_card', 4000, NULL, 365, 0.24))
     AS v(n, name, kind, value, min_order, validity_days, uplift);
INSERT INTO incentives (id, organization_id, name, kind, value, currency, min_order, sku,
    validity_days, valid_until, terms, reasons, bound_to_customer, code_pool_id, active,
    created_at, updated_at)
SELECT id, :org, name, kind, value, 'EUR', min_order, NULL, validity_days, NULL,
       'Valid ' || validity_days || ' days from issue, once per customer.',
       '["late_delivery", "lost_parcel", "damaged_item", "billing_error"]', true, NULL, true,
       :now - interval '900 days', :now - interval '900 days'
FROM inc
"""

CUSTOMERS = """
CREATE TEMP TABLE cust AS
SELECT n, pg_temp.v7(at, 'customer' || n) AS id, 'CUS-' || lpad(n::text, 7, '0') AS external_id,
       CASE WHEN r < 0.72 THEN 'standard' WHEN r < 0.94 THEN 'gold' ELSE 'platinum' END AS tier,
       at, r
FROM (SELECT n, random() AS r, :now - interval '1200 days'
             + (n::float8 / :customers) * interval '790 days' AS at
      FROM generate_series(1, :customers) AS n) AS s;
ALTER TABLE cust ADD PRIMARY KEY (n);
INSERT INTO customers (id, organization_id, external_id, email, phone, name, name_search,
    language, value_tier, lifetime_value, currency, marketing_consent, tags,
    opted_out_channels, created_at, updated_at)
SELECT id, :org, external_id, 'customer' || n || '@bench.example', '+336' || lpad(n::text, 8, '0'),
       first || ' ' || last, lower(first || ' ' || last),
       (ARRAY['en', 'fr', 'fr', 'de'])[1 + n % 4], tier,
       CASE tier WHEN 'standard' THEN 8000 WHEN 'gold' THEN 60000 ELSE 250000 END
           + (n % 97) * 100, 'EUR', n % 5 < 3,
       CASE WHEN tier = 'platinum' THEN '["vip"]' ELSE '[]' END::json,
       CASE WHEN n % 50 = 0 THEN '["sms"]' ELSE '[]' END::json, at, at
FROM (SELECT c.*, (ARRAY['Léa', 'Hugo', 'Amara', 'Jonas', 'Mei', 'Omar', 'Sofia', 'Tom'])
                  [1 + n % 8] AS first,
             (ARRAY['Bernard', 'Dubois', 'Schmidt', 'Rossi', 'Nguyen', 'Kowalski', 'Moreau',
                    'Silva', 'Haddad'])[1 + n % 9] AS last
      FROM cust AS c) AS named
"""

# One row per case with every draw the later steps share (who, which gesture, won back or not,
# when and for how much the customer bought again, what happened to the coupon).
PLAN = """
CREATE TEMP TABLE plan AS
SELECT d.*,
       CASE WHEN d.held_out THEN 'none'
            WHEN d.r_status < 0.03 THEN 'revoked'
            WHEN d.won AND d.order_at < least(d.expires_at, :now)
                 AND d.order_amount >= d.min_order AND d.r_use < 0.95
                THEN CASE WHEN d.r_status < 0.06 THEN 'voided' ELSE 'used' END
            ELSE 'unused' END AS gesture,
       CASE d.kind WHEN 'percent_off' THEN d.order_amount * d.value / 100
                   WHEN 'free_shipping' THEN d.value
                   ELSE least(d.value, d.order_amount) END AS discount
FROM (
  SELECT b.*, c.id AS customer_id, c.external_id AS customer_external_id, c.tier,
         i.id AS incentive_id, i.kind, i.value, coalesce(i.min_order, 0) AS min_order,
         i.face_value, b.opened_at + interval '7 minutes' AS issued_at,
         b.opened_at + interval '7 minutes' + i.validity_days * interval '1 day' AS expires_at,
         b.r_won < CASE c.tier WHEN 'standard' THEN 0.32 WHEN 'gold' THEN 0.38 ELSE 0.44 END
                   + coalesce(i.uplift, 0) AS won,
         b.opened_at + (1 + b.r_delay ^ 2 * 88) * interval '1 day' AS order_at,
         CASE WHEN b.opened_at < :now - interval '21 days'
              THEN CASE WHEN b.r_misc < 0.95 THEN 'closed' ELSE 'followed_up' END
              ELSE (ARRAY['open', 'apologised', 'reviewing', 'fixed', 'followed_up'])
                   [1 + floor(b.r_misc * 5)::int] END AS state
  FROM (
    SELECT n, opened_at, cust_n,
           CASE WHEN r_reason < 0.40 THEN 'late_delivery' WHEN r_reason < 0.60 THEN 'lost_parcel'
                WHEN r_reason < 0.85 THEN 'damaged_item' ELSE 'billing_error' END AS reason,
           CASE WHEN r_severity < 0.30 THEN 1 WHEN r_severity < 0.65 THEN 2
                WHEN r_severity < 0.90 THEN 3 ELSE 4 END AS severity,
           r_hold < 0.08 AS held_out,
           CASE WHEN r_hold < 0.08 THEN NULL WHEN r_gesture < 0.25 THEN 1
                WHEN r_gesture < 0.60 THEN 2 WHEN r_gesture < 0.85 THEN 3 ELSE 4 END AS inc_n,
           CASE WHEN r_staff < 0.15 THEN 0 ELSE 1 + floor((r_staff - 0.15) / 0.85 * 6)::int
                END AS staff_n,
           (ARRAY['email', 'chat', 'phone', 'email', 'in_store', 'social'])
               [1 + floor(r_channel * 6)::int] AS channel,
           1500 + floor(r_amount * 10000)::bigint AS order_amount,
           r_won, r_delay, r_status, r_use, r_misc, r_feedback
    FROM (SELECT n, :now - interval '400 days'
                    + ((n - 1 + random()) / :cases) * interval '400 days' AS opened_at,
                 1 + floor(random() * :customers)::int AS cust_n,
                 random() AS r_reason, random() AS r_severity, random() AS r_hold,
                 random() AS r_gesture, random() AS r_staff, random() AS r_channel,
                 random() AS r_amount, random() AS r_won, random() AS r_delay,
                 random() AS r_status, random() AS r_use, random() AS r_misc,
                 random() AS r_feedback
          FROM generate_series(1, :cases) AS n) AS draws) AS b
  JOIN cust AS c ON c.n = b.cust_n
  LEFT JOIN inc AS i ON i.n = b.inc_n) AS d
"""

CASES = """
INSERT INTO cases (id, organization_id, reference, customer_id, customer_external_id, reason,
    severity, channel, conversation_ref, state, summary, root_cause, responsible_party, remedy,
    skipped, opened_by_type, opened_by_id, opened_by_label, opened_at, fixed_at, closed_at,
    reopened_count, incident_id, held_out, feedback_score, feedback_comment, feedback_at,
    thanked_at, updated_at)
SELECT pg_temp.v7(opened_at, 'case' || n), :org, 'C-' || pg_temp.scrambled(n, 2654435761),
       customer_id, customer_external_id, reason, severity, channel,
       CASE WHEN channel IN ('email', 'chat') THEN 'conv-' || n END, state,
       CASE reason WHEN 'late_delivery' THEN 'Parcel arrived days after the promised date'
                   WHEN 'lost_parcel' THEN 'Parcel never arrived'
                   WHEN 'damaged_item' THEN 'Item arrived broken'
                   ELSE 'Charged twice for one order' END,
       CASE WHEN fixed_at IS NOT NULL THEN CASE reason WHEN 'billing_error' THEN 'payments'
            WHEN 'damaged_item' THEN 'packing' ELSE 'carrier' END END,
       CASE WHEN fixed_at IS NOT NULL AND reason IN ('late_delivery', 'lost_parcel')
            THEN 'Carrier' END,
       CASE WHEN fixed_at IS NOT NULL THEN CASE WHEN held_out THEN 'Apologised'
            ELSE 'Apologised and gave a gesture' END END,
       '{}', CASE WHEN staff_id IS NULL THEN 'system' ELSE 'user' END, staff_id,
       coalesce(staff_email, 'amends'), opened_at, fixed_at, closed_at,
       CASE WHEN r_misc < 0.01 THEN 1 ELSE 0 END, NULL, held_out,
       CASE WHEN closed_at IS NOT NULL AND r_feedback < 0.3
            THEN CASE WHEN won THEN 4 + floor(r_feedback * 20)::int % 2
                      ELSE 1 + floor(r_feedback * 30)::int % 4 END END,
       CASE WHEN closed_at IS NOT NULL AND r_feedback < 0.05 THEN 'Thanks for sorting it out'
            END,
       CASE WHEN closed_at IS NOT NULL AND r_feedback < 0.3 THEN closed_at END, NULL,
       coalesce(closed_at, fixed_at, opened_at)
FROM (SELECT p.*, s.id AS staff_id, s.email AS staff_email, fixed.at AS fixed_at,
             CASE WHEN p.state = 'closed' THEN fixed.at + interval '7 days' END AS closed_at
      FROM plan AS p
      LEFT JOIN staff AS s ON s.n = p.staff_n
      CROSS JOIN LATERAL (SELECT CASE WHEN p.state IN ('fixed', 'followed_up', 'closed')
                                      THEN p.opened_at + (1 + p.r_misc * 71) * interval '1 hour'
                                      END AS at) AS fixed) AS x
"""

COUPONS = """
INSERT INTO coupons (id, organization_id, customer_id, customer_external_id, incentive_id,
    case_ref, code, page_token, name, kind, value, currency, min_order, sku, terms,
    bound_to_customer, face_value, status, balance, last_debit, redemption_count, valid_from,
    expires_at, reserved_until, reservation_id, redeemed_at, revoked_at, revoked_reason,
    reinstated_count, reminded_at, channel, issued_by_type, issued_by_id, issued_by_label,
    issued_at)
SELECT pg_temp.v7(p.issued_at, 'coupon' || p.n), :org, p.customer_id, p.customer_external_id,
       p.incentive_id, 'C-' || pg_temp.scrambled(p.n, 2654435761),
       'AM' || pg_temp.scrambled(p.n, 2246822519) || upper(substr(md5('code' || p.n), 1, 6)),
       md5('page' || p.n), i.name, i.kind, i.value, 'EUR', i.min_order, NULL,
       'Valid ' || i.validity_days || ' days from issue, once per customer.', true,
       i.face_value,
       CASE WHEN p.gesture = 'revoked' THEN 'revoked'
            WHEN p.gesture = 'used' AND NOT (i.kind = 'free_shipping' OR
                 (i.kind = 'gift_card' AND p.discount < i.face_value)) THEN 'redeemed'
            ELSE 'active' END,
       CASE WHEN i.kind = 'gift_card' THEN i.face_value
            - CASE WHEN p.gesture = 'used' THEN p.discount ELSE 0 END END,
       CASE WHEN i.kind = 'gift_card' AND p.gesture IN ('used', 'voided') THEN p.discount END,
       CASE WHEN p.gesture = 'used' THEN 1 ELSE 0 END, p.issued_at, p.expires_at, NULL, NULL,
       CASE WHEN p.gesture IN ('used', 'voided') THEN p.order_at END,
       CASE WHEN p.gesture = 'revoked'
            THEN least(p.issued_at + interval '1 day', :now) END,
       CASE WHEN p.gesture = 'revoked' THEN 'Issued twice by mistake' END, 0,
       CASE WHEN p.gesture = 'unused' AND p.expires_at - interval '3 days' < :now
            THEN p.expires_at - interval '3 days' END,
       p.channel, CASE WHEN s.id IS NULL THEN 'system' ELSE 'user' END, s.id,
       coalesce(s.email, 'amends'), p.issued_at
FROM plan AS p JOIN inc AS i ON i.n = p.inc_n LEFT JOIN staff AS s ON s.n = p.staff_n
"""

REDEMPTIONS = """
INSERT INTO redemptions (id, organization_id, coupon_id, reservation_id, order_id, order_amount,
    discount, currency, channel, store_id, till_id, status, actor_id, created_at, voided_at,
    void_reason)
SELECT pg_temp.v7(p.order_at, 'redemption' || p.n), :org, pg_temp.v7(p.issued_at, 'coupon' || p.n),
       NULL, 'O-W' || p.n, p.order_amount, p.discount, 'EUR',
       CASE WHEN p.r_misc < 0.7 THEN 'online' ELSE 'in_store' END,
       CASE WHEN p.r_misc >= 0.7 THEN (ARRAY['Lyon', 'Paris', 'Lille'])[1 + p.n % 3] END,
       CASE WHEN p.r_misc >= 0.7 THEN 'till-' || (1 + p.n % 4) END,
       CASE WHEN p.gesture = 'voided' THEN 'voided' ELSE 'completed' END, NULL, p.order_at,
       CASE WHEN p.gesture = 'voided'
            THEN least(p.order_at + interval '3 days', :now) END,
       CASE WHEN p.gesture = 'voided' THEN 'Order refunded' END
FROM plan AS p WHERE p.gesture IN ('used', 'voided')
"""

GIFT_CARD_ENTRIES = """
INSERT INTO gift_card_entries (id, organization_id, coupon_id, redemption_id, kind, amount,
    balance_after, created_at)
SELECT pg_temp.v7(e.at, e.kind || p.n), :org, pg_temp.v7(p.issued_at, 'coupon' || p.n),
       CASE WHEN e.kind <> 'issue' THEN pg_temp.v7(p.order_at, 'redemption' || p.n) END,
       e.kind, e.amount, e.balance_after, e.at
FROM plan AS p
CROSS JOIN LATERAL (VALUES
    ('issue', p.face_value, p.face_value, p.issued_at, true),
    ('debit', -p.discount, p.face_value - p.discount, p.order_at,
     p.gesture IN ('used', 'voided')),
    ('credit', p.discount, p.face_value,
     least(p.order_at + interval '3 days', :now), p.gesture = 'voided'))
    AS e(kind, amount, balance_after, at, happened)
WHERE p.kind = 'gift_card' AND e.happened
"""

ORDER_COLUMNS = """INSERT INTO orders (id, organization_id, external_id, customer_id,
    customer_external_id, status, amount, currency, lines, placed_at, promised_at, completed_at,
    created_at, updated_at)"""
ORDER_VALUES = """'completed', amount, 'EUR',
       ('[{"sku": "SKU-' || (n % 500) || '", "quantity": 1, "price": ' || amount || '}]')::json,
       at - interval '2 days', at + interval '1 day', at, at - interval '2 days', at"""

WIN_BACK_ORDERS = f"""{ORDER_COLUMNS}
SELECT pg_temp.v7(at, 'order' || n), :org, 'O-W' || n, customer_id, customer_external_id,
       {ORDER_VALUES}
FROM (SELECT n, order_at AS at, order_amount AS amount, customer_id, customer_external_id
      FROM plan WHERE won AND order_at < :now) AS w
"""

OTHER_ORDERS = f"""{ORDER_COLUMNS}
SELECT pg_temp.v7(at, 'other-order' || n), :org, 'O-B' || n, customer_id, customer_external_id,
       {ORDER_VALUES}
FROM (SELECT o.n, o.at, o.amount, c.id AS customer_id, c.external_id AS customer_external_id
      FROM (SELECT n, :now - random() * interval '400 days' AS at,
                   1500 + floor(random() * 10000)::bigint AS amount,
                   1 + floor(random() * :customers)::int AS cust_n
            FROM generate_series(1, :orders) AS n) AS o
      JOIN cust AS c ON c.n = o.cust_n) AS b
"""

PARAMETER_TYPES: dict[str, TypeEngine[Any]] = {
    "org": Uuid(), "now": DateTime(timezone=True), "cases": Integer(), "customers": Integer(),
    "orders": Integer()}
BULK_TABLES = ("customers", "cases", "coupons", "redemptions", "gift_card_entries", "orders")
# Secondary indexes and unique constraints of the bulk tables: dropped before the load and
# built again after it (one sort each instead of a million random inserts into each b-tree).
SECONDARY_INDEXES = f"""
SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname,
              pg_get_constraintdef(oid))
FROM pg_constraint WHERE contype = 'u' AND conrelid::regclass::text IN {BULK_TABLES}
UNION ALL
SELECT format('DROP INDEX %s', indexrelid::regclass), pg_get_indexdef(indexrelid)
FROM pg_index WHERE indrelid::regclass::text IN {BULK_TABLES} AND NOT EXISTS (
    SELECT FROM pg_constraint WHERE conindid = indexrelid AND contype IN ('p', 'u'))
"""
TABLES = ("organizations", "users", "incentives", "customers", "cases", "coupons", "redemptions",
          "gift_card_entries", "orders")


def _sql(statement: str) -> TextClause:
    """The statement with its parameters typed, so asyncpg is told what `:now` is."""
    return text(statement).bindparams(*(bindparam(name, type_=type_)
                                        for name, type_ in PARAMETER_TYPES.items()
                                        if f":{name}" in statement))


async def _run(conn: AsyncConnection, label: str, script: str, params: dict[str, Any]) -> None:
    started = time.perf_counter()
    rows = 0
    for statement in filter(str.strip, script.split(";\n")):
        result = await conn.execute(_sql(statement), {k: v for k, v in params.items()
                                                      if f":{k}" in statement})
        rows = max(rows, result.rowcount or 0)
    print(f"  {label:<22} {rows:>11,} rows {time.perf_counter() - started:7.1f} s", flush=True)


async def generate(url: str, *, cases: int) -> None:
    """Fill an empty, migrated database; one connection, so the temporary tables survive."""
    customers = max(1, cases // 5)
    params: dict[str, Any] = {"org": uuid.uuid4(), "now": utcnow(), "cases": cases,
                              "customers": customers}
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    started = time.perf_counter()
    print(f"Generating {cases:,} cases, {customers:,} customers:")
    async with engine.connect() as conn:
        for statement in LOADER_SETTINGS.split(";\n"):
            await conn.execute(text(statement))
        await conn.execute(text("SELECT setseed(0.42)"))
        found: list[Any] = list(await conn.exec_driver_sql(SECONDARY_INDEXES))
        secondary = [(str(drop), str(make)) for drop, make in found]
        for drop, _ in secondary:
            await conn.exec_driver_sql(drop)
        await _run(conn, "organisation, staff", STAFF, params)
        await _run(conn, "customers", CUSTOMERS, params)
        await _run(conn, "plan (temporary)", PLAN, params)
        await _run(conn, "cases", CASES, params)
        await _run(conn, "coupons", COUPONS, params)
        await _run(conn, "redemptions", REDEMPTIONS, params)
        await _run(conn, "gift-card entries", GIFT_CARD_ENTRIES, params)
        await _run(conn, "win-back orders", WIN_BACK_ORDERS, params)
        won = await conn.scalar(_sql("SELECT count(*) FROM plan WHERE won AND order_at < :now"),
                                {"now": params["now"]})
        params["orders"] = max(0, round(cases * ORDERS_PER_CASE) - int(won or 0))
        await _run(conn, "other orders", OTHER_ORDERS, params)
        indexed = time.perf_counter()
        for _, make in secondary:
            await conn.exec_driver_sql(make)
        print(f"  {'indexes, constraints':<22} {len(secondary):>11,} "
              f"     {time.perf_counter() - indexed:7.1f} s")
        vacuumed = time.perf_counter()
        for table in TABLES:
            await conn.execute(text(f"VACUUM (ANALYZE) {table}"))
        print(f"  {'vacuum, analyze':<22} {'':>16} {time.perf_counter() - vacuumed:7.1f} s")
        await _describe(conn)
    await engine.dispose()
    print(f"  {'generated in':<22} {'':>16} {time.perf_counter() - started:7.1f} s")


async def _describe(conn: AsyncConnection) -> None:
    counts = [f"{table} {await conn.scalar(text(f'SELECT count(*) FROM {table}')):,}"
              for table in TABLES[3:]]
    print("  " + " · ".join(counts))
    mix = (await conn.execute(text(
        "SELECT status, count(*) FROM coupons GROUP BY status ORDER BY 2 DESC"))).all()
    used = await conn.scalar(text("SELECT count(DISTINCT coupon_id) FROM redemptions"))
    expired = await conn.scalar(text(
        "SELECT count(*) FROM coupons WHERE status = 'active' AND expires_at <= now()"))
    total = sum(int(n) for _, n in mix) or 1
    print("  coupons: " + " · ".join(f"{status} {int(n) / total:.0%}" for status, n in mix)
          + f" (of which active and expired {int(expired or 0) / total:.0%})"
          + f" · used at least once {int(used or 0) / total:.0%}")


Report = Callable[[AsyncSession], Awaitable[Any]]
Statement = tuple[str, Any]


@dataclass
class Timings:
    """Seconds per run, in order; a run stopped by the statement timeout counts as the
    timeout and is listed in `timed_out`."""

    runs: list[float] = field(default_factory=list)
    timed_out: set[int] = field(default_factory=set)
    statements: list[Statement] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def summary(self) -> str:
        ordered = sorted(self.runs)
        p95 = statistics.quantiles(ordered, n=20, method="inclusive")[18] \
            if len(ordered) > 1 else ordered[0]
        # A figure above every completed run depends on a stopped one: it is a lower bound.
        completed = max((s for n, s in enumerate(self.runs) if n not in self.timed_out),
                        default=0.0)

        def shown(seconds: float) -> str:
            return ("≥" if seconds > completed else "") + _ms(seconds)

        return f"min {shown(ordered[0])} · median {shown(self.median)} · p95 {shown(p95)}"

    def listing(self) -> str:
        return " ".join(f"{'≥' if n in self.timed_out else ''}{seconds:.2f}"
                        + (" |" if n == CUSTOM_PLAN_RUNS - 1 and len(self.runs) > n + 1 else "")
                        for n, seconds in enumerate(self.runs))

    def plan_cache_hurts(self) -> bool:
        """Did a run after the fifth (when PostgreSQL may switch to a generic plan) take
        much longer than the first five?"""
        first = self.runs[:CUSTOM_PLAN_RUNS]
        later = range(CUSTOM_PLAN_RUNS, len(self.runs))
        return any(n in self.timed_out or self.runs[n] > 2 * statistics.median(first)
                   for n in later)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7,.0f} ms"


async def _reports(db: Database) -> tuple[int, dict[str, Report], dict[str, str]]:
    async with db.transaction(write=False) as session:
        org_id = await session.scalar(select(Organization.id).where(Organization.slug == SLUG))
        if org_id is None:
            raise SystemExit("no generated organisation in that database (bench-outcomes)")
        size = await session.scalar(select(func.count()).select_from(Case)
                                    .where(Case.organization_id == org_id))
        gestures = {str(row.id): row.name for row in await session.execute(
            select(Incentive.id, Incentive.name).where(Incentive.organization_id == org_id))}
    actor = Actor.system(org_id, "bench")

    def ledger(by: str) -> Report:
        return lambda session: outcomes.ledger(session, actor, by=by, filters=Filters())

    return int(size or 0), {
        "ledger by period": ledger("period"),
        "ledger by reason": ledger("reason"),
        "ledger by agent": ledger("agent"),
        "effectiveness": lambda session: outcomes.effectiveness(session, actor),
        "similar (case page)": lambda session: outcomes.similar(
            session, organization_id=org_id, reason=SIMILAR_REASON, tier=SIMILAR_TIER,
            severity=SIMILAR_SEVERITY, incentive_ids=list(gestures)),
    }, gestures


async def _run_once(db: Database, report: Report, *, timeout: float,
                    capture: list[Statement] | None) -> tuple[float, bool, Any]:
    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if capture is not None:
            capture.append((statement, parameters))

    async with db.transaction(write=False) as session:
        await session.execute(text(f"SET LOCAL statement_timeout = {int(timeout * 1000)}"))
        event.listen(db.engine.sync_engine, "before_cursor_execute", record)
        started = time.perf_counter()
        try:
            result = await report(session)
        except DBAPIError as error:
            if "statement timeout" not in str(error):
                raise
            return timeout, True, None
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", record)
        return time.perf_counter() - started, False, result


async def rebuild_rollups(url: str) -> None:
    """The pre-aggregation the reports read: the hourly roll-up job's work, timed."""
    db = Database(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    async with db.transaction(write=False) as session:
        org_id = await session.scalar(select(Organization.id).where(Organization.slug == SLUG))
    assert org_id is not None
    started = time.perf_counter()
    async with db.transaction() as session:
        await outcomes.refresh(session, org_id)
    async with db.transaction(write=False) as session:
        ledger_rows = await session.scalar(select(func.count()).select_from(LedgerRollup))
        outcome_rows = await session.scalar(select(func.count()).select_from(OutcomeRollup))
    print(f"  roll-up job (ledger and outcomes) rebuilt in {time.perf_counter() - started:.1f} s:"
          f" {ledger_rows:,} ledger rows, {outcome_rows:,} outcome rows")
    await db.dispose()


async def time_reports(url: str, *, repeat: int, timeout: float, explain: bool
                       ) -> tuple[int, dict[str, Timings]]:
    db = Database(Settings(database_url=url, _env_file=None))
    size, reports, gestures = await _reports(db)
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"Timing the reports over {size:,} cases: {repeat} runs each, a fresh session each "
          f"(load average {load} on {os.cpu_count()} CPUs); seconds per run:")
    timings: dict[str, Timings] = {}
    for name, report in reports.items():
        timings[name] = figures = Timings()
        shown = None
        for n in range(repeat):
            seconds, timed_out, result = await _run_once(
                db, report, timeout=timeout, capture=figures.statements if n == 0 else None)
            figures.runs.append(seconds)
            if timed_out:
                figures.timed_out.add(n)
            shown = result if result is not None else shown
        print(f"  {name:<20} {figures.summary()}   runs: {figures.listing()}", flush=True)
        if shown is not None:
            _show(name, shown, gestures)
        if explain and figures.median > TARGET_SECONDS:
            await _explain(db, name, figures)
    await db.dispose()
    return size, timings


def _show(name: str, result: Any, gestures: dict[str, str]) -> None:
    """Enough of the answer to see that the data means something."""
    if name.startswith("ledger"):
        balanced = all(row["balanced"] for row in result)
        print(f"      {len(result)} rows, every row balances: {'yes' if balanced else 'NO'}")
    elif name == "effectiveness":
        for row in result:
            if row["reason"] == SIMILAR_REASON:
                print(f"      {row['reason']}, {row['gesture']:<26} win-back "
                      f"{row['win_back_rate']:.1%} (hold-out "
                      f"{row.get('holdout_win_back_rate', 0):.1%}, uplift "
                      f"{row['uplift'] or 0:+.1%}), cost per case "
                      f"{row['cost_per_case'] / 100:.2f}")
    else:
        for option in result:
            print(f"      {gestures[option.key]:<26} {option.outcomes.won:,}/"
                  f"{option.outcomes.cases:,} won back, average cost "
                  f"{option.average_cost / 100:.2f}")


async def _explain(db: Database, name: str, figures: Timings) -> None:
    """The plan of each statement of the report as run the first time (custom plan, with
    EXPLAIN ANALYZE); when a later run was much slower, also the generic plan PostgreSQL
    switched to (EXPLAIN only: it may run for hours)."""
    async with db.engine.connect() as conn:
        for n, (statement, parameters) in enumerate(figures.statements, start=1):
            plan = await conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            which = f"{name}, statement {n} of {len(figures.statements)}"
            print(f"    EXPLAIN (ANALYZE, BUFFERS) of {which}, as in the first run:")
            print("\n".join(f"      {row[0]}" for row in plan))
            if figures.plan_cache_hurts():
                await conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
                await conn.exec_driver_sql("PREPARE bench_generic AS " + statement)
                plan = await conn.exec_driver_sql(
                    "EXPLAIN EXECUTE bench_generic("
                    + ", ".join(_literal(value) for value in parameters) + ")")
                print(f"    EXPLAIN of {which}, generic plan (runs after the fifth):")
                print("\n".join(f"      {row[0]}" for row in plan))
                await conn.exec_driver_sql("DEALLOCATE bench_generic")
                await conn.exec_driver_sql("RESET plan_cache_mode")


def _literal(value: Any) -> str:
    if isinstance(value, bool | int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def measure(url: str | None, *, cases: int, repeat: int, timeout: float, keep: bool,
            explain: bool) -> tuple[int, dict[str, Timings]]:
    scratch = nullcontext(url) if url else scratch_postgres("amends_bench_outcomes", keep=keep)
    with scratch as database:
        if not url:
            asyncio.run(generate(database, cases=cases))
        upgrade(database)  # a database generated before the roll-ups were added
        asyncio.run(rebuild_rollups(database))
        figures = asyncio.run(time_reports(database, repeat=repeat, timeout=timeout,
                                           explain=explain))
        if keep and not url:
            print(f"  kept: --url {database}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--baseline-cases", type=int, default=100_000)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--repeat", type=int, default=7,
                        help="runs per report; from the 6th, PostgreSQL may use a generic plan")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="statement timeout of one run, in seconds")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    parser.add_argument("--url", help="time an already generated database")
    parser.add_argument("--explain", action="store_true",
                        help="EXPLAIN (ANALYZE, BUFFERS) the reports that miss the target")
    args = parser.parse_args()
    runs: dict[str, tuple[int, dict[str, Timings]]] = {}
    if args.no_baseline:
        print("Baseline skipped (--no-baseline).")
    else:
        runs["baseline"] = measure(None, cases=args.baseline_cases, repeat=args.repeat,
                                   timeout=args.timeout, keep=args.keep, explain=False)
    runs["measured"] = measure(args.url, cases=args.cases, repeat=args.repeat,
                               timeout=args.timeout, keep=args.keep, explain=args.explain)
    measured_size = runs["measured"][0]
    print(f"\nOutcome reports on PostgreSQL, {args.repeat} runs each in a fresh session (runs "
          f"after the {CUSTOM_PLAN_RUNS}th may use a generic plan); target < "
          f"{TARGET_SECONDS:.0f} s at {measured_size:,} cases")
    for name in runs["measured"][1]:
        print(name)
        for size, timings in runs.values():
            figures = timings[name]
            verdict = "" if size != measured_size else (
                "  within target" if figures.median < TARGET_SECONDS
                and not figures.timed_out else "  OVER TARGET")
            cache = "  (slower from the 6th run: generic plan)" \
                if figures.plan_cache_hurts() else ""
            print(f"  {size:>10,} cases  {figures.summary()}{verdict}{cache}")


if __name__ == "__main__":
    main()
