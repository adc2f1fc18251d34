"""A large company's year on PostgreSQL, for bench/reports.py: one organisation with staff in
teams and stores, a catalogue of eight gestures, customers, cases (reasons, channels, agents,
fixes, root causes), gestures given with most cases and on their own, their redemptions (at a
till by a clerk or the till's key, or online; gift cards and free shipping used twice, some
redemptions voided, some gestures withdrawn) and the customers' purchases, spread over the
365 days that end yesterday.

Made set-wise: each table is filled by `INSERT ... SELECT` over `generate_series`, in chunks of
CHUNK rows with a progress bar, by cloning a row the application itself wrote (a customer, a
case, a coupon, a redemption, an order), so every column of today's schema is set as the
application sets it; the columns that vary are computed from the row's number. Every draw is a
hash of the row's number and a salt, never `random()`: a coupon's redemptions are computed
from the coupon's own number, so the two tables agree without reading each other, and the same
size gives the same data. Codes carry a valid check character (`kit.codes`).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import make_url

from amends.actor import Actor
from amends.apikeys.service import create_api_key
from amends.cases.service import open_case
from amends.config import Settings
from amends.coupons import policy as coupon_policy
from amends.coupons.service import issue_coupon
from amends.customers.service import upsert_customer
from amends.db import Database
from amends.events import service as events
from amends.incentives.schemas import IncentiveCreate
from amends.incentives.service import create_incentive
from amends.kit import codes
from amends.kit.clock import utcnow
from amends.kit.secrets import tenant_token
from amends.organizations.service import create_organization
from amends.redemptions import service as redemptions
from amends.roles import Role
from amends.users.service import create_user, hash_password
from bench.outcomes import SECONDARY_INDEXES

SLUG = "large"
PASSWORD = "large company bench"
MANAGER = "manager@large.example"
CHUNK = 100_000
SPAN = timedelta(days=365)
TEAMS = 6
DESK_AGENTS_PER_TEAM = 6
STORES = tuple(f"Store {n}" for n in range(1, 13))
# name, kind, value, min_order, validity_days
CATALOGUE = (
    ("Sorry: 5 EUR off", "amount_off", 500, None, 60),
    ("Sorry: 10 EUR off", "amount_off", 1000, None, 60),
    ("Sorry: 20 EUR off", "amount_off", 2000, 4000, 90),
    ("10% off your next order", "percent_off", 10, None, 60),
    ("15% off your next order", "percent_off", 15, 2000, 60),
    ("Free shipping for 6 months", "free_shipping", 495, None, 182),
    ("25 EUR gift card", "gift_card", 2500, None, 365),
    ("50 EUR gift card", "gift_card", 5000, None, 365),
)
# (reason, share of cases, root causes)
REASONS = (
    ("late_delivery", 30, ("carrier delay", "warehouse backlog", "address problem")),
    ("lost_parcel", 12, ("lost by carrier", "wrong address label")),
    ("damaged_item", 17, ("packaging", "carrier handling", "supplier defect")),
    ("billing_error", 14, ("price mismatch till vs web", "double charge")),
    ("refused_coupon", 9, ("till configuration", "staff training")),
    ("poor_service", 12, ("staff training", "understaffed shift")),
)
CHANNELS = (("email", 30), ("chat", 20), ("phone", 17), ("social", 9), ("whatsapp", 7),
            ("in_store", 17))
REDEEMED_SHARE = {"amount_off": 0.52, "percent_off": 0.42, "free_shipping": 0.46,
                  "gift_card": 0.62}

# Loader session only: no key checks (every row is consistent by construction), no wait for
# the WAL flush. `u(n, salt)` is a uniform draw in [0, 1) and `h(n, salt)` a non-negative
# integer one, both hashes of the row's number; `v7` a time-ordered id as the application's
# (UUIDv7 of the row's time); `enc7` and `weigh7` the 7 Crockford characters of a 35-bit
# number and their weighted sum (`kit.codes`), from the weight of the first. Each is one
# expression, which the planner inlines: at millions of rows a function call per value costs
# minutes.
LOADER = f"""
SET synchronous_commit = off;
SET session_replication_role = replica;
SET work_mem = '256MB';
SET maintenance_work_mem = '1GB';
CREATE FUNCTION pg_temp.v7(at timestamptz, salt text) RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT overlay(lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0') || '7'
                 || substr(md5(salt), 1, 19) PLACING '8' FROM 17 FOR 1)::uuid $$;
CREATE FUNCTION pg_temp.h(n bigint, salt bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT hashint8extended(n, salt) & 2147483647 $$;
CREATE FUNCTION pg_temp.u(n bigint, salt bigint) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
  SELECT (hashint8extended(n, salt) & 2147483647) / 2147483648.0::float8 $$;
CREATE FUNCTION pg_temp.enc7(x bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT {" || ".join(f"substr('{codes.ALPHABET}', ((x >> {5 * k}) & 31)::int + 1, 1)"
                     for k in range(6, -1, -1))} $$;
CREATE FUNCTION pg_temp.weigh7(x bigint, w bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT {" + ".join(f"(w + {6 - k}) * ((x >> {5 * k}) & 31)" for k in range(7))} $$
"""


def _weighted(draw: str, choices: tuple[tuple[str, int], ...]) -> str:
    """A CASE picking one of `choices` by its share, from a uniform `draw`."""
    total = sum(share for _, share in choices)
    bound, whens = 0.0, []
    for value, share in choices[:-1]:
        bound += share / total
        whens.append(f"WHEN {draw} < {bound:.6f} THEN '{value}'")
    return f"CASE {' '.join(whens)} ELSE '{choices[-1][0]}' END"


def _array(values: list[Any] | tuple[Any, ...], cast: str) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + f"]::{cast}[]"


# --- Per-row expressions: the case of number n, the gesture of number g -------------------
# Each step is a LATERAL subquery fenced with OFFSET 0, so that its values are computed once
# per row: without the fence PostgreSQL pulls the subqueries up and copies every expression
# into each place that reads it (the reason into the hold-out, into the gesture's case, ...).


def _staff_of(number: str, salt: int, channel: str) -> tuple[str, str]:
    """The member of staff (id, e-mail) who dealt with row `number` on `channel`: one of the
    stores' own agents in store, one of the desk agents elsewhere."""
    pick = f"pg_temp.h({number}, {salt})"
    desk = f"1 + {pick} % array_length(x.desk_ids, 1)"
    store = f"1 + {pick} % array_length(x.store_agent_ids, 1)"
    return (f"CASE WHEN {channel} = 'in_store' THEN x.store_agent_ids[{store}] "
            f"ELSE x.desk_ids[{desk}] END",
            f"CASE WHEN {channel} = 'in_store' THEN x.store_agent_emails[{store}] "
            f"ELSE x.desk_emails[{desk}] END")


_ROOT_CAUSES = " ".join(
    f"WHEN '{reason}' THEN ({_array(causes, 'text')})[1 + pg_temp.h(n, 10) % {len(causes)}]"
    for reason, _, causes in REASONS)
_OPENER_ID, _OPENER_EMAIL = _staff_of("n", 4, "cd.channel")
# The case n: cd its draws, cf its fix and review, cs its state.
CASE_STEPS = f"""
CROSS JOIN LATERAL (
  SELECT x.start + ((n - 1 + pg_temp.u(n, 0)) / x.cases) * x.span AS at,
         {_weighted("pg_temp.u(n, 2)", tuple((r, s) for r, s, _ in REASONS))} AS reason,
         {_weighted("pg_temp.u(n, 3)", CHANNELS)} AS channel,
         1 + pg_temp.h(n, 11) % x.customers AS customer,
         'C-' || upper(lpad(to_hex((n * 2654435761) % 4294967296), 8, '0'))
             || upper(substr(md5('reference' || n), 1, 4)) AS reference,
         exp(pg_temp.u(n, 8) * 3.6) * interval '1 hour' AS fix_after OFFSET 0) AS cd
CROSS JOIN LATERAL (
  SELECT cd.reason IN ('late_delivery', 'poor_service') AND pg_temp.u(n, 6) < 0.1 AS held_out,
         {_OPENER_ID} AS opener_id, {_OPENER_EMAIL} AS opener_email,
         CASE WHEN pg_temp.u(n, 7) < 0.88 AND cd.at + cd.fix_after < x.now
              THEN cd.at + cd.fix_after END AS fixed_at,
         CASE WHEN pg_temp.u(n, 9) < 0.65 THEN CASE cd.reason {_ROOT_CAUSES} END END
             AS root_cause OFFSET 0) AS cf
CROSS JOIN LATERAL (
  SELECT CASE WHEN cf.fixed_at IS NOT NULL
              THEN CASE WHEN pg_temp.u(n, 12) < 0.7 AND cf.fixed_at + interval '7 days' < x.now
                        THEN 'closed' WHEN pg_temp.u(n, 12) < 0.85 THEN 'followed_up'
                        ELSE 'fixed' END
              WHEN cf.root_cause IS NOT NULL THEN 'reviewing'
              WHEN pg_temp.u(n, 12) < 0.9 THEN 'apologised' ELSE 'open' END AS state
         OFFSET 0) AS cs
"""

# The gesture g: linked to case n = 1 + (g - 1) % cases (the nth of that case's two) unless
# that case was held out or g is past two per case; a gesture of no case goes to customer
# 1 + (g - 1) % customers with the ((g - 1) / customers)th gesture of the catalogue, so that
# (customer, incentive, case) stays unique. The case's steps read `n`, which is the case's
# number here (k.n) as it is the series' own in the cases' load.
_GIVER_ID, _GIVER_EMAIL = _staff_of("g", 15, "b.channel")
GESTURE_STEPS = f"""
CROSS JOIN LATERAL (SELECT 1 + (g - 1) % x.cases AS n, (g - 1) / x.cases AS nth OFFSET 0) AS k
{CASE_STEPS}
CROSS JOIN LATERAL (SELECT g <= 2 * x.cases AND NOT cf.held_out AS linked OFFSET 0) AS l
CROSS JOIN LATERAL (
  SELECT CASE WHEN l.linked THEN cd.at + interval '6 minutes' + k.nth * interval '3 hours'
              ELSE x.start + pg_temp.u(g, 0) * x.span END AS at,
         CASE WHEN l.linked THEN cd.customer ELSE 1 + (g - 1) % x.customers END AS customer,
         CASE WHEN l.linked THEN 1 + (pg_temp.h(n, 13) + k.nth) % x.incentives
              ELSE 1 + ((g - 1) / x.customers) % x.incentives END AS inc,
         CASE WHEN l.linked THEN cd.reference ELSE '' END AS case_ref,
         CASE WHEN l.linked THEN cd.channel
              ELSE {_weighted('pg_temp.u(g, 14)', CHANNELS)} END AS channel OFFSET 0) AS b
CROSS JOIN LATERAL (
  SELECT CASE WHEN l.linked THEN cf.opener_id ELSE {_GIVER_ID} END AS issuer_id,
         CASE WHEN l.linked THEN cf.opener_email ELSE {_GIVER_EMAIL} END AS issuer_email
         OFFSET 0) AS s
JOIN incentives AS i ON i.organization_id = x.org AND i.id = x.incentive_ids[b.inc]
CROSS JOIN LATERAL (
  SELECT b.at + i.validity_days * interval '1 day' AS expires_at,
         CASE WHEN i.kind = 'percent_off' THEN (x.average_order_value * i.value + 50) / 100
              ELSE i.value END AS face_value,
         b.at + (0.5 + 30 * pg_temp.u(g, 21) ^ 2) * interval '1 day' AS t1,
         greatest(coalesce(i.min_order, 0), 900 + pg_temp.h(g, 25) % 9000) AS a1,
         900 + pg_temp.h(g, 26) % 9000 AS a2 OFFSET 0) AS e
CROSS JOIN LATERAL (
  SELECT pg_temp.u(g, 20) < CASE i.kind {' '.join(f"WHEN '{kind}' THEN {share}"
                                                   for kind, share in REDEEMED_SHARE.items())}
                            ELSE 0.4 END
         AND e.t1 < least(e.expires_at, x.now) AS used,
         e.t1 + (1 + 20 * pg_temp.u(g, 24)) * interval '1 day' AS t2,
         CASE i.kind WHEN 'percent_off' THEN least((e.a1 * i.value + 50) / 100, e.a1)
                     ELSE least(i.value, e.a1) END AS d1 OFFSET 0) AS p
CROSS JOIN LATERAL (
  SELECT p.used AND i.kind IN ('free_shipping', 'gift_card') AND pg_temp.u(g, 23) < 0.35
         AND i.value - CASE WHEN i.kind = 'gift_card' THEN p.d1 ELSE 0 END > 0
         AND p.t2 < least(e.expires_at, x.now) AS again,
         p.used AND i.kind IN {coupon_policy.SINGLE_USE_KINDS} AND pg_temp.u(g, 27) < 0.04
         AS voided_before,
         NOT p.used AND pg_temp.u(g, 22) < 0.03 AND b.at + interval '1 day' < x.now
         AS revoked OFFSET 0) AS q
CROSS JOIN LATERAL (
  SELECT CASE WHEN NOT q.again THEN 0
              WHEN i.kind = 'gift_card' THEN least(i.value - p.d1, e.a2)
              ELSE least(i.value, e.a2) END AS d2 OFFSET 0) AS r
"""


# A gesture's code: the organisation's prefix, 14 Crockford characters (7 from a bijection of
# g modulo 2^35, so codes are unique, and 7 drawn) and the check character. Of any five
# consecutive numbers for the drawn half, at least one gives a check character that exists
# (only 4 of the 37 values lack one): the step `cc` takes the first that does.
_HI = "((g * 2654435761) % 34359738368)"
_LO = "(5 * (pg_temp.h(g, 16) % 6871947673))"


def _code_steps(prefix: str) -> str:
    base = sum((n + 1) * codes.ALPHABET.index(ch) for n, ch in enumerate(prefix))
    inverse = pow(len(prefix) + 15, -1, codes.MODULUS)
    total = f"({base} + pg_temp.weigh7({_HI}, {len(prefix) + 1}))"

    def check(j: str) -> str:
        return (f"(((-({total} + pg_temp.weigh7({_LO} + {j}, {len(prefix) + 8}))) % 37 + 37)"
                f" * {inverse} % 37)")

    chosen = " ".join(f"WHEN {check(str(j))} < 33 THEN {j}" for j in range(4))
    return (f"CROSS JOIN LATERAL (SELECT CASE {chosen} ELSE 4 END AS j OFFSET 0) AS cj "
            f"CROSS JOIN LATERAL (SELECT '{prefix}' || pg_temp.enc7({_HI}) "
            f"|| pg_temp.enc7({_LO} + cj.j) || substr('{codes.CHECK_ALPHABET}', "
            f"{check('cj.j')}::int + 1, 1) AS code OFFSET 0) AS cc")


def _overrides(prefix: str, token_prefix: str) -> dict[str, dict[str, str]]:
    customer_born = ("(x.start - interval '400 days' + (c::float8 / x.customers)"
                     " * interval '390 days')")
    customer_of = ("pg_temp.v7(x.start - interval '400 days' + (({c})::float8 / x.customers)"
                   " * interval '390 days', 'customer' || ({c}))")
    tiers = (("standard", 60), ("silver", 20), ("gold", 14), ("platinum", 6))
    in_store = "CASE WHEN i.kind <> 'free_shipping' AND pg_temp.u(g, 28) < 0.4"
    store = ("x.stores[1 + pg_temp.h(g, 29) % array_length(x.stores, 1)]")
    use_at = "CASE u.m WHEN 0 THEN b.at + (e.t1 - b.at) / 2 WHEN 1 THEN e.t1 ELSE p.t2 END"
    return {
        "customers": {
            "id": f"pg_temp.v7({customer_born}, 'customer' || c)",
            "external_id": "'CUS-' || c", "email": "'customer' || c || '@large.example'",
            "phone": "'+3361' || lpad(c::text, 7, '0')", "name": "'Customer ' || c",
            "name_search": "'customer ' || c",
            "value_tier": _weighted("pg_temp.u(c, 1)", tiers),
            "lifetime_value": "1000 * (5 + pg_temp.h(c, 2) % 1500)",
            "created_at": customer_born, "updated_at": customer_born},
        "cases": {
            "id": "pg_temp.v7(cd.at, 'case' || n)", "reference": "cd.reference",
            "customer_id": customer_of.format(c="cd.customer"),
            "customer_external_id": "'CUS-' || cd.customer", "reason": "cd.reason",
            "severity": "CASE WHEN pg_temp.u(n, 5) < 0.3 THEN 1 WHEN pg_temp.u(n, 5) < 0.7 "
                        "THEN 2 WHEN pg_temp.u(n, 5) < 0.92 THEN 3 ELSE 4 END",
            "channel": "cd.channel",
            "conversation_ref": "CASE WHEN cd.channel NOT IN ('phone', 'in_store') "
                                "THEN 'ZD-' || (100000 + n) END",
            "state": "cs.state", "summary": "'The order came late, broken or not at all.'",
            "root_cause": "cf.root_cause",
            "responsible_party": "CASE WHEN cf.root_cause IS NOT NULL THEN 'Operations' END",
            "remedy": "CASE WHEN cf.fixed_at IS NOT NULL THEN 'Replacement sent' END",
            "opened_by_type": "'user'", "opened_by_id": "cf.opener_id",
            "opened_by_label": "cf.opener_email", "opened_at": "cd.at",
            "fixed_at": "cf.fixed_at",
            "closed_at": "CASE WHEN cs.state = 'closed' THEN cf.fixed_at + interval '7 days' "
                         "END",
            "held_out": "cf.held_out", "incident_id": "NULL",
            "feedback_score": "NULL", "feedback_comment": "NULL", "feedback_at": "NULL",
            "thanked_at": "NULL", "reopened_count": "0", "skipped": "'{}'::json",
            "updated_at": "CASE cs.state WHEN 'closed' THEN cf.fixed_at + interval '7 days' "
                          "ELSE coalesce(cf.fixed_at, cd.at) END"},
        "coupons": {
            "id": "pg_temp.v7(b.at, 'coupon' || g)",
            "customer_id": customer_of.format(c="b.customer"),
            "customer_external_id": "'CUS-' || b.customer", "incentive_id": "i.id",
            "case_ref": "b.case_ref", "code": "cc.code",
            "page_token": f"'{token_prefix}' || md5('page' || g)", "name": "i.name",
            "kind": "i.kind", "value": "i.value", "currency": "i.currency",
            "min_order": "i.min_order", "sku": "i.sku", "terms": "i.terms",
            "bound_to_customer": "i.bound_to_customer", "face_value": "e.face_value",
            "status": f"CASE WHEN q.revoked THEN 'revoked' WHEN i.kind IN "
                      f"{coupon_policy.SINGLE_USE_KINDS} AND p.used THEN 'redeemed' "
                      "WHEN i.kind = 'gift_card' AND p.used AND i.value - p.d1 - r.d2 = 0 "
                      "THEN 'redeemed' ELSE 'active' END",
            "balance": "CASE WHEN i.kind = 'gift_card' THEN i.value "
                       "- CASE WHEN p.used THEN p.d1 + r.d2 ELSE 0 END END",
            "last_debit": "CASE WHEN i.kind = 'gift_card' AND p.used "
                          "THEN CASE WHEN q.again THEN r.d2 ELSE p.d1 END END",
            "redemption_count": "CASE WHEN p.used THEN 1 ELSE 0 END "
                                "+ CASE WHEN q.again THEN 1 ELSE 0 END",
            "valid_from": "b.at", "expires_at": "e.expires_at", "reserved_until": "NULL",
            "reservation_id": "NULL",
            "redeemed_at": "CASE WHEN q.again THEN p.t2 WHEN p.used THEN e.t1 END",
            "revoked_at": "CASE WHEN q.revoked THEN b.at + interval '1 day' END",
            "revoked_reason": "CASE WHEN q.revoked THEN 'Issued twice by mistake' END",
            "reinstated_count": "0", "reminded_at": "NULL", "channel": "b.channel",
            "issued_by_type": "'user'", "issued_by_id": "s.issuer_id",
            "issued_by_label": "s.issuer_email", "issued_at": "b.at"},
        "redemptions": {
            "id": f"pg_temp.v7({use_at}, 'redemption' || g || '-' || u.m)",
            "coupon_id": "pg_temp.v7(b.at, 'coupon' || g)", "reservation_id": "NULL",
            "order_id": "'O-' || g || '-' || u.m",
            "order_amount": "CASE WHEN u.m = 2 THEN e.a2 ELSE e.a1 END",
            "discount": "CASE WHEN u.m = 2 THEN r.d2 ELSE p.d1 END", "currency": "i.currency",
            "channel": f"{in_store} THEN 'in_store' ELSE 'online' END",
            "store_id": f"{in_store} THEN {store} END",
            "till_id": f"{in_store} THEN 'T' || (1 + pg_temp.h(g, 30) % 4) END",
            "status": "CASE WHEN u.m = 0 THEN 'voided' ELSE 'completed' END",
            "actor_id": f"{in_store} THEN CASE WHEN pg_temp.u(g, 31) < 0.3 THEN "
                        f"x.clerk_ids[1 + pg_temp.h(g, 29) % array_length(x.stores, 1)] "
                        "ELSE x.till_key END ELSE x.shop_key END",
            "created_at": use_at,
            "voided_at": "CASE WHEN u.m = 0 THEN b.at + (e.t1 - b.at) * 0.75 END",
            "void_reason": "CASE WHEN u.m = 0 THEN 'Order refunded' END"},
        "orders": {
            "id": "pg_temp.v7(x.start + ((o - 1 + pg_temp.u(o, 0)) / x.orders) * x.span, "
                  "'order' || o)",
            "external_id": "'P-' || o",
            "customer_id": customer_of.format(c="1 + pg_temp.h(o, 1) % x.customers"),
            "customer_external_id": "'CUS-' || (1 + pg_temp.h(o, 1) % x.customers)",
            "status": "'completed'", "amount": "1500 + pg_temp.h(o, 2) % 10000",
            "completed_at": "x.start + ((o - 1 + pg_temp.u(o, 0)) / x.orders) * x.span",
            "placed_at": "x.start + ((o - 1 + pg_temp.u(o, 0)) / x.orders) * x.span",
            "promised_at": "NULL",
            "created_at": "x.start + ((o - 1 + pg_temp.u(o, 0)) / x.orders) * x.span",
            "updated_at": "x.start + ((o - 1 + pg_temp.u(o, 0)) / x.orders) * x.span"},
    }


def _sources(prefix: str) -> dict[str, tuple[str, str, str]]:
    """What each table's rows are made from: (the series' variable, the steps after the
    template and the series, an extra condition)."""
    return {
        "customers": ("c", "", ""),
        "cases": ("n", CASE_STEPS, ""),
        "coupons": ("g", GESTURE_STEPS + _code_steps(prefix), ""),
        "redemptions": ("g", GESTURE_STEPS + " CROSS JOIN (VALUES (0), (1), (2)) AS u(m)",
                        "AND ((u.m = 0 AND q.voided_before) OR (u.m = 1 AND p.used) "
                        "OR (u.m = 2 AND q.again))"),
        "orders": ("o", "", ""),
    }


@dataclass(frozen=True)
class Large:
    """The generated organisation and how to log in as its manager."""

    organization_id: uuid.UUID
    slug: str
    manager: str
    password: str


async def seed_templates(url: str) -> tuple[Large, dict[str, Any]]:
    """The organisation, its staff, catalogue and tills' keys, and one customer, case,
    coupon, redemption and purchase written by the application: the rows the load clones."""
    db = Database(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    try:
        async with db.transaction() as session:
            org = await create_organization(session, slug=SLUG, name="Large Retail")
            # Its managers read the dashboard by days of Paris: a period of theirs starts and
            # ends an hour or two before midnight UTC.
            org.time_zone = "Europe/Paris"
            actor = Actor.system(org.id, "bench")
            hashed = await hash_password(PASSWORD)

            async def person(email: str, name: str, role: Role, team: str | None = None,
                             store: str | None = None) -> tuple[uuid.UUID, str]:
                user = await create_user(session, actor, organization_id=org.id, email=email,
                                         name=name, role=role, password=PASSWORD, team=team,
                                         store=store, password_hash=hashed)
                return user.id, user.email

            await person(MANAGER, "Morgan Manager", Role.MANAGER)
            desk = [await person(f"agent{t + 1}.{n + 1}@large.example",
                                 f"Agent {t + 1}.{n + 1}", Role.AGENT, team=f"Team {t + 1}")
                    for t in range(TEAMS) for n in range(DESK_AGENTS_PER_TEAM)]
            for t in range(TEAMS):
                await person(f"supervisor{t + 1}@large.example", f"Supervisor {t + 1}",
                             Role.SUPERVISOR, team=f"Team {t + 1}")
            in_store = [await person(f"store{n}.agent@large.example", f"{store} agent",
                                     Role.AGENT, team="Stores", store=store)
                        for n, store in enumerate(STORES, 1)]
            clerks = [await person(f"store{n}.clerk@large.example", f"{store} clerk",
                                   Role.CLERK, team="Stores", store=store)
                      for n, store in enumerate(STORES, 1)]
            tills = await create_api_key(session, actor, name="tills",
                                         scopes=["redemptions:write"])
            shop = await create_api_key(session, actor, name="web shop",
                                        scopes=["redemptions:write"])
            catalogue = [await create_incentive(session, actor, data=IncentiveCreate(
                name=name, kind=kind, value=value, currency="EUR", min_order=min_order,
                validity_days=days, terms="One order. Not with other offers."))
                for name, kind, value, min_order, days in CATALOGUE]
            customer, _ = await upsert_customer(session, actor, external_id="TEMPLATE", data={
                "name": "Template", "email": "template@large.example", "currency": "EUR",
                "locale": "fr-FR", "time_zone": "Europe/Paris"})
            staff = Actor.for_user(organization_id=org.id, user_id=desk[0][0],
                                   email=desk[0][1], role=Role.AGENT)
            case = await open_case(session, staff, customer=customer, reason="late_delivery",
                                   severity=2, channel="email", conversation_ref="ZD-1")
            coupon, _ = await issue_coupon(session, staff, customer=customer,
                                           incentive=catalogue[1], case_ref=case.reference,
                                           channel="email")
            till = Actor(organization_id=org.id, kind="api_key", id=tills.api_key.id,
                         label="tills")
            used = await redemptions.redeem(session, till, redemptions.Order(
                code=coupon.code, order_amount=4000, customer_external_id="TEMPLATE",
                order_id="O-TEMPLATE", store_id=STORES[0], till_id="T1"))
            await events.ingest(session, actor, [{
                "id": "template-purchase", "type": "purchase.completed",
                "occurred_at": utcnow().isoformat(),
                "data": {"order_id": "P-TEMPLATE", "customer_id": "TEMPLATE", "amount": 4200,
                         "currency": "EUR"}}])
            order_id = await session.scalar(_order_of(org.id))
            large = Large(organization_id=org.id, slug=SLUG, manager=MANAGER, password=PASSWORD)
            return large, {
                "templates": {"customers": customer.id, "cases": case.id,
                              "coupons": coupon.id, "redemptions": used.id,
                              "orders": order_id},
                "desk": desk, "store_agents": in_store, "clerks": clerks,
                "till_key": tills.api_key.id, "shop_key": shop.api_key.id,
                "incentives": [incentive.id for incentive in catalogue],
                "prefix": org.code_prefix or "", "token_prefix": tenant_token(org.id)[:22],
                "average_order_value": org.average_order_value}
    finally:
        await db.dispose()


def _order_of(organization_id: uuid.UUID) -> Any:
    from sqlalchemy import select

    from amends.models import Order

    return select(Order.id).where(Order.organization_id == organization_id,
                                  Order.external_id == "P-TEMPLATE")


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _clone_sql(conn: asyncpg.Connection, table: str, overrides: dict[str, str],
                     prefix: str) -> str:
    columns = [row["column_name"] for row in await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $1 "
        "AND table_schema = current_schema() ORDER BY ordinal_position", table)]
    variable, joins, condition = _sources(prefix)[table]
    values = [overrides.get(column, f"t.{column}") for column in columns]
    return (f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} "
            f"FROM {table} AS t CROSS JOIN ctx AS x "
            f"CROSS JOIN generate_series($2::bigint, $3::bigint) AS {variable} {joins} "
            f"WHERE t.organization_id = x.org AND t.id = $1 {condition}")


async def generate(url: str, *, cases: int, gestures: int, console: Console) -> Large:
    """Fill a migrated database with a large company's year (see the module's docstring);
    returns the organisation. Takes minutes at a million cases."""
    large, seeded = await seed_templates(url)
    incentives = len(seeded["incentives"])
    customers = max(cases // 2, -(-gestures // (incentives - 2)), 10)
    orders = cases
    now = utcnow().replace(microsecond=0)
    start = now - SPAN - timedelta(days=1)
    conn = await asyncpg.connect(_dsn(url))
    began = time.perf_counter()
    try:
        for statement in LOADER.split(";\n"):
            await conn.execute(statement)
        await conn.execute(
            "CREATE TEMP TABLE ctx AS SELECT $1::uuid AS org, $2::timestamptz AS start, "
            "$3::interval AS span, $4::timestamptz AS now, $5::bigint AS cases, "
            "$6::bigint AS gestures, $7::bigint AS customers, $8::bigint AS orders, "
            "$9::bigint AS incentives, $10::uuid[] AS incentive_ids, $11::uuid[] AS desk_ids, "
            "$12::text[] AS desk_emails, $13::uuid[] AS store_agent_ids, "
            "$14::text[] AS store_agent_emails, $15::text[] AS stores, $16::uuid[] AS clerk_ids,"
            " $17::uuid AS till_key, $18::uuid AS shop_key, $19::bigint AS average_order_value",
            large.organization_id, start, SPAN, now, cases, gestures, customers, orders,
            incentives, seeded["incentives"], [i for i, _ in seeded["desk"]],
            [e for _, e in seeded["desk"]], [i for i, _ in seeded["store_agents"]],
            [e for _, e in seeded["store_agents"]], list(STORES),
            [i for i, _ in seeded["clerks"]], seeded["till_key"], seeded["shop_key"],
            seeded["average_order_value"])
        # Indexes and unique constraints are built once after the load (one sort each) rather
        # than kept up to date through millions of random inserts.
        secondary = [(str(drop), str(make)) for drop, make in
                     await conn.fetch(SECONDARY_INDEXES)]
        for drop, _ in secondary:
            await conn.execute(drop)
        overrides = _overrides(seeded["prefix"], seeded["token_prefix"])
        sizes = {"customers": customers, "cases": cases, "coupons": gestures,
                 "redemptions": gestures, "orders": orders}
        with Progress(TextColumn("[bold]{task.description:<12}"), BarColumn(),
                      MofNCompleteColumn(), TextColumn("{task.fields[rows]:>12,} rows"),
                      TimeElapsedColumn(), console=console) as progress:
            for table, total in sizes.items():
                task = progress.add_task(table, total=total, rows=0)
                sql = await _clone_sql(conn, table, overrides[table], seeded["prefix"])
                made = 0
                for low in range(1, total + 1, CHUNK):
                    high = min(total, low + CHUNK - 1)
                    status = await conn.execute(sql, seeded["templates"][table], low, high)
                    made += int(status.split()[-1])
                    progress.update(task, completed=high, rows=made)
            task = progress.add_task("indexes", total=len(secondary), rows=0)
            for _, make in secondary:
                await conn.execute(make)
                progress.advance(task)
            tables = ("customers", "cases", "coupons", "redemptions", "orders", "users")
            task = progress.add_task("analyze", total=len(tables), rows=0)
            for table in tables:
                await conn.execute(f"VACUUM (ANALYZE) {table}")
                progress.advance(task)
    finally:
        await conn.close()
    console.print(f"  generated in {time.perf_counter() - began:.0f} s")
    return large
