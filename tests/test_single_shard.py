"""Every statement that writes, locks or joins tenant tables names the organisation.

On a database distributed by organisation (Citus), a statement reaches one shard only when it
says which organisation it is about: an UPDATE or DELETE by id alone, a `FOR UPDATE` without
the organisation or a join of two tenant tables on an id alone would have to visit every
shard (or be refused). This test runs a flow through most of Amends (issue, deliver, redeem,
reserve and confirm, void, cases, approvals, an incident, reports, roll-ups, the sweep and
the other periodic jobs, webhooks, logins), records every statement the application sends,
and reads each one. The reading is a heuristic over the SQL text, not a parser: it looks for
`organization_id` in the WHERE clause of a write or a lock, and in the ON clause of a join to a
tenant table. `test_the_reading_catches_the_usual_mistakes` shows what it catches.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from amends.config import Settings
from amends.db import Base, Database
from amends.jobs.worker import Worker
from amends.kit import codes
from amends.kit.clock import clock
from amends.models import Coupon
from amends.redemptions.fastpath import REDEEM_SQL
from amends.roles import Role
from tests.factories import (
    bearer,
    make_api_key,
    make_org,
    make_user,
    set_limit,
    staff_headers,
)
from tests.receivers import http_receiver, smtp_server

# Tables that stay on the coordinator (rows of no organisation) and the reference table.
LOCAL = frozenset({"jobs", "idempotency_keys", "alembic_version", "organizations"})
TENANT = frozenset(t.name for t in Base.metadata.sorted_tables
                   if "organization_id" in t.c and t.name not in LOCAL)
# Sweeps over due rows of every organisation: one table, no join, no lock (Citus runs them as
# multi-shard modifications). Any other write without the organisation is a mistake.
SWEEPS = (
    ("UPDATE", "coupons", "coupons.reserved_until <="),  # reservations.expire
    ("UPDATE", "reservations", "reservations.expires_at <="),  # reservations.expire
    ("UPDATE", "approvals", "approvals.expires_at <="),  # approvals.expire
    ("DELETE", "user_sessions", "user_sessions.expires_at <="),  # maintenance.purge
)
_TOKEN = re.compile(r"'(?:[^']|'')*'|\w+|[()]|[^\s\w()]+")
_CLAUSE_END = frozenset({"JOIN", "LEFT", "RIGHT", "INNER", "FULL", "CROSS", "WHERE", "GROUP",
                         "ORDER", "LIMIT", "HAVING", "UNION", "RETURNING", "FOR", "ON",
                         "OFFSET", "SET", "VALUES"})
_FROM_END = frozenset({"WHERE", "GROUP", "ORDER", "LIMIT", "HAVING", "UNION", "RETURNING"})
T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


def _tokens(sql: str) -> list[tuple[str, int]]:
    """(token, paren depth) for the statement: names unquoted and upper-case."""
    out, depth = [], 0
    for token in _TOKEN.findall(sql.replace('"', "")):
        if token == ")":
            depth -= 1
        out.append((token if token.startswith("'") else token.upper(), depth))
        if token == "(":
            depth += 1
    return out


def _clause(tokens: list[tuple[str, int]], start: int, depth: int,
            ends: frozenset[str] = _CLAUSE_END) -> list[str]:
    """The tokens from `start` to the next clause keyword at `depth` (or the end of the
    enclosing parenthesis)."""
    clause = []
    for token, level in tokens[start:]:
        if level < depth or (level == depth and token in ends):
            break
        clause.append(token)
    return clause


def _names_organization(tokens: list[str]) -> bool:
    return "ORGANIZATION_ID" in tokens


def _tables(tokens: list[str]) -> set[str]:
    return {t.lower() for t in tokens} & TENANT


def problems(sql: str) -> list[str]:
    """What in this statement would reach more than one shard (empty when nothing does)."""
    tokens = _tokens(sql)
    words = [t for t, _ in tokens]
    found: list[str] = []
    for i, (token, depth) in enumerate(tokens):
        following = words[i + 1] if i + 1 < len(words) else ""
        if token in ("UPDATE", "DELETE") and (words[i - 1] if i else "") not in (
                "FOR", "KEY", "DO"):
            table = (words[i + 2] if token == "DELETE" else following).lower()
            if table not in TENANT:
                continue
            where = next((j for j in range(i, len(tokens))
                          if tokens[j] == ("WHERE", depth)), None)
            condition = _clause(tokens, where + 1, depth, frozenset({"RETURNING"})) \
                if where is not None else []
            text = " ".join(condition).lower().replace(" . ", ".")
            if not _names_organization(condition) and not any(
                    (token, table) == (verb, name) and pattern.replace(" ", "") in
                    text.replace(" ", "") for verb, name, pattern in SWEEPS):
                found.append(f"{token} {table} without the organisation in its WHERE")
        elif token == "FOR" and following in ("UPDATE", "NO", "SHARE", "KEY"):
            select = max(j for j in range(i) if tokens[j] == ("SELECT", depth))
            scope = [t for t, level in tokens[select:i] if level >= depth]
            if not _tables(scope):
                continue
            where = scope.index("WHERE") if "WHERE" in scope else len(scope)
            if not _names_organization(scope[where:]):
                found.append(f"FOR UPDATE of {sorted(_tables(scope))} without the organisation")
        elif token == "JOIN":
            j = i + 1
            if following == "(":
                inner = _clause(tokens, i + 2, depth + 1, frozenset())
                joined = _tables(inner)
                j = i + 2 + len(inner) + 1
            else:
                joined = _tables([following])
            on = next((k for k in range(j, len(tokens)) if tokens[k] == ("ON", depth)), None)
            before = _tables([t for t, level in tokens[:i] if level <= depth])
            if not joined or not before or on is None:
                continue
            if not _names_organization(_clause(tokens, on + 1, depth)):
                found.append(f"JOIN of {sorted(joined)} to {sorted(before)} on an id alone")
        elif token == "SELECT" and depth > 0:
            scope = _clause(tokens, i + 1, depth, frozenset({"UNION"}))
            origin = scope[scope.index("FROM"):] if "FROM" in scope else []
            if _tables(origin[:2]) and not _names_organization(origin):
                found.append(f"a subquery over {sorted(_tables(origin[:2]))} without the "
                             "organisation")
    source = next((j for j, (t, d) in enumerate(tokens) if t == "SELECT" and d == 0), None)
    if words[:1] == ["INSERT"] and source is not None:
        start = next((j for j in range(source, len(tokens)) if tokens[j] == ("FROM", 0)), None)
        origin = _clause(tokens, start + 1, 0, _FROM_END) if start is not None else []
        # The filter may sit in a subquery the SELECT reads (whose own check is above).
        condition = words[words.index("WHERE", source):] if "WHERE" in words[source:] else []
        if _tables(origin) and not _names_organization(condition):
            found.append("INSERT ... SELECT without the organisation")
    return found


@contextmanager
def recorded() -> Iterator[list[str]]:
    """Every statement any engine of this process sends, while inside."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def test_the_reading_catches_the_usual_mistakes() -> None:
    assert problems("UPDATE coupons SET status=? WHERE coupons.id = ? AND coupons.status = ?")
    assert problems("DELETE FROM cases WHERE cases.id = $1::UUID")
    assert problems("SELECT customers.id FROM customers WHERE customers.id = ? FOR UPDATE")
    assert problems("SELECT redemptions.id, redemptions.organization_id FROM redemptions "
                    "JOIN coupons ON coupons.id = redemptions.coupon_id "
                    "WHERE redemptions.organization_id = ?")
    assert problems("SELECT coupons.id FROM coupons LEFT OUTER JOIN (SELECT "
                    "redemptions.coupon_id AS coupon_id FROM redemptions WHERE "
                    "redemptions.organization_id = ? GROUP BY redemptions.coupon_id) AS anon_1 "
                    "ON anon_1.coupon_id = coupons.id WHERE coupons.organization_id = ?")
    assert problems("UPDATE pool_codes SET coupon_id=? WHERE pool_codes.organization_id = ? "
                    "AND pool_codes.id = (SELECT pool_codes.id FROM pool_codes WHERE "
                    "pool_codes.pool_id = ? LIMIT 1 FOR UPDATE SKIP LOCKED)")
    assert problems("INSERT INTO ledger_rollup (organization_id, day) SELECT ?, coupons.day "
                    "FROM coupons GROUP BY coupons.day")
    assert problems("UPDATE coupons SET status=? WHERE coupons.status = ? RETURNING "
                    "coupons.organization_id")
    assert not problems("UPDATE coupons SET status=? WHERE coupons.organization_id = ? AND "
                        "coupons.id = ? RETURNING coupons.id")
    assert not problems("UPDATE reservations SET status=? WHERE reservations.status = ? AND "
                        "reservations.expires_at <= ?")
    assert not problems("SELECT coupons.id FROM coupons JOIN organizations ON organizations.id "
                        "= coupons.organization_id WHERE coupons.status = ?")
    assert not problems("UPDATE jobs SET status=? WHERE jobs.id IN (SELECT jobs.id FROM jobs "
                        "WHERE jobs.status = ? FOR UPDATE SKIP LOCKED)")


def test_the_tills_one_statement_redeem_names_the_organisation_in_every_part() -> None:
    assert problems(REDEEM_SQL) == []
    assert "WHERE organization_id = $" in REDEEM_SQL


async def test_every_write_lock_and_join_of_a_full_flow_names_the_organisation(
    client: httpx.AsyncClient, db: Database, settings: Settings, backend: str
) -> None:
    clock.freeze(T0)
    with recorded() as statements, smtp_server() as mail, http_receiver() as hooks:
        await _full_flow(client, db, settings, mail_host=mail.host, mail_port=mail.port,
                         hooks_url=hooks.url)
        assert len(mail.messages) >= 5  # the jobs did their work
        assert hooks.requests
    clock.reset()
    # The flow did what is read for: writes, joins, roll-ups and (not on SQLite) locks.
    seen = " ".join(statements)
    assert len(statements) > 300
    for sign in ("UPDATE coupons", "UPDATE cases", "DELETE FROM", " JOIN ",
                 "INSERT INTO ledger_rollup"):
        assert sign in seen, sign
    assert backend == "sqlite" or "FOR UPDATE" in seen
    mistakes = {s: found for s in dict.fromkeys(statements) if (found := problems(s))}
    assert not mistakes, "\n\n".join(f"{', '.join(v)}:\n{k}" for k, v in mistakes.items())


async def _full_flow(client: httpx.AsyncClient, db: Database, settings: Settings, *,
                     mail_host: str, mail_port: int, hooks_url: str) -> None:
    tenant, other = await make_org(db), await make_org(db)
    admin = bearer(tenant.admin_token)
    await set_limit(db, tenant, subject="role:agent", max_gesture=2000)
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    supervisor = await staff_headers(db, await make_user(db, tenant, role=Role.SUPERVISOR))
    manager = await staff_headers(db, await make_user(db, tenant, role=Role.MANAGER))
    till = bearer(await make_api_key(db, tenant, scopes=["redemptions:read",
                                                         "redemptions:write"]))
    worker = Worker(db, settings)

    async def ok(method: str, url: str, headers: dict[str, str], **kwargs: Any) -> Any:
        response = await client.request(method, url, headers=headers, **kwargs)
        assert response.status_code < 300, f"{method} {url}: {response.text}"
        return response.json() if "json" in response.headers.get("content-type", "") \
            else response.text

    for org in (admin, bearer(other.admin_token)):
        await ok("PUT", "/v1/channels/email", org, json={"settings": {
            "host": mail_host, "port": mail_port, "security": "none",
            "from_address": "care@shop.example"}})
    await ok("POST", "/v1/webhook-endpoints", admin, json={"url": hooks_url + "/hooks",
                                                          "event_types": []})
    small = await ok("POST", "/v1/incentives", admin, json={
        "name": "Sorry: 10 off", "kind": "amount_off", "value": 1000, "currency": "EUR",
        "validity_days": 30})
    big = await ok("POST", "/v1/incentives", admin, json={
        "name": "Gift card 50", "kind": "gift_card", "value": 5000, "currency": "EUR",
        "validity_days": 30})
    pool = await ok("POST", "/v1/code-pools", admin, json={"name": "Till codes"})
    await ok("POST", f"/v1/code-pools/{pool['id']}/imports", admin,
             content=b"code\nTILL0001\nTILL0002\nTILL0003\n")
    pooled = await ok("POST", "/v1/incentives", admin, json={
        "name": "Till code", "kind": "percent_off", "value": 10, "currency": "EUR",
        "validity_days": 30, "code_pool_id": pool["id"]})
    for n in range(6):
        await ok("PUT", f"/v1/customers/C-{n}", admin, json={
            "name": f"Customer {n}", "email": f"c{n}@example.com", "value_tier": "gold"})

    # A case through its steps, a gesture within authority and one above it.
    case = await ok("POST", "/v1/cases", agent, json={
        "customer_id": "C-0", "reason": "lost_parcel", "severity": 3, "channel": "email"})
    url = f"/v1/cases/{case['id']}"
    await ok("POST", f"{url}/notes", agent, json={"text": "Called the carrier"})
    await ok("POST", f"{url}/transitions", agent, json={"to": "apologised",
                                                        "apology": "Sorry"})
    coupon = await ok("POST", "/v1/coupons", agent, json={
        "case_id": case["id"], "incentive_id": small["id"], "channel": "email",
        "deliver": True})
    asked = await ok("POST", "/v1/coupons", agent, json={
        "customer_id": "C-1", "incentive_id": big["id"], "note": "Third late parcel"})
    granted = await ok("POST", f"/v1/approvals/{asked['id']}/grant", supervisor,
                       json={"reason": "Loyal customer"})
    refused = await ok("POST", "/v1/coupons", agent, json={
        "customer_id": "C-2", "incentive_id": big["id"]})
    await ok("POST", f"/v1/approvals/{refused['id']}/refuse", supervisor, json={"reason": "No"})
    from_pool = await ok("POST", "/v1/coupons", admin, json={
        "customer_id": "C-3", "incentive_id": pooled["id"]})
    await ok("POST", f"/v1/coupons/{coupon['id']}/deliveries", agent, json={"channel": "email"})
    await worker.run_until_idle()

    # The tills: redeem, void, a gift card's debits, reserve then confirm or release.
    sale = {"order_id": "O-1", "order_amount": 5000, "channel": "in_store", "store_id": "Leeds"}
    used = await ok("POST", "/v1/redemptions", till, json={
        **sale, "code": codes.display(coupon["code"]), "customer_id": "C-0"})
    await ok("POST", f"/v1/redemptions/{used['id']}/void", till, json={"reason": "refund"})
    card = await ok("GET", f"/v1/coupons/{granted['coupon_id']}", admin)
    for order in ("O-2", "O-3"):
        await ok("POST", "/v1/redemptions", till, json={
            **sale, "order_id": order, "order_amount": 2000, "code": card["code"],
            "customer_id": "C-1"})
    hold = await ok("POST", "/v1/reservations", till, json={
        **sale, "code": from_pool["code"], "customer_id": "C-3", "hold_minutes": 10})
    await ok("POST", f"/v1/reservations/{hold['id']}/release", till)
    hold = await ok("POST", "/v1/reservations", till, json={
        **sale, "code": from_pool["code"], "customer_id": "C-3", "hold_minutes": 10})
    await ok("POST", f"/v1/reservations/{hold['id']}/confirm", till)
    await ok("POST", "/v1/reservations", till, json={
        **sale, "code": coupon["code"], "customer_id": "C-0", "hold_minutes": 1})
    await ok("POST", f"/v1/coupons/{coupon['id']}/reinstate", admin, json={
        "reason": "Asked nicely", "days": 10})
    async with db.transaction(write=False) as session:
        token = await session.scalar(select(Coupon.page_token).where(
            Coupon.organization_id == tenant.id, Coupon.id == uuid.UUID(coupon["id"])))
    assert (await client.get(f"/c/{token}")).status_code == 200
    await ok("POST", f"/v1/coupons/{coupon['id']}/revoke", admin, json={"reason": "x"})

    # The case to its end and back, and the console's pages about it.
    await ok("POST", f"{url}/transitions", agent, json={"to": "reviewing",
                                                        "root_cause": "carrier"})
    await ok("POST", f"{url}/transitions", agent, json={"to": "fixed", "remedy": "Resent"})
    await ok("POST", f"{url}/transitions", agent, json={"to": "closed", "summary": "Done",
                                                        "skip_reason": "Customer happy"})
    await ok("POST", f"{url}/reopen", agent, json={"reason": "Parcel never came"})
    await ok("GET", f"{url}/timeline", agent)
    for page_url in (f"/cases/{case['id']}", "/customers/C-0", "/approvals", "/outcomes"):
        assert (await client.get(page_url, headers=manager)).status_code == 200

    # An incident: customers, preview, run; a second one paused, resumed and cancelled.
    made = []
    for title in ("Depot flood", "Site down"):
        incident = await ok("POST", "/v1/incidents", manager, json={
            "title": title, "reason": "late_delivery", "incentive_id": small["id"],
            "message": "We are sorry."})
        await ok("POST", f"/v1/incidents/{incident['id']}/customers", manager,
                 content=b"customer_id\nC-3\nC-4\nC-5\nC-ghost\n")
        await ok("GET", f"/v1/incidents/{incident['id']}/preview", manager)
        await ok("POST", f"/v1/incidents/{incident['id']}/run", manager)
        made.append(incident["id"])
    await ok("POST", f"/v1/incidents/{made[1]}/pause", manager)
    await worker.run_until_idle()
    await ok("POST", f"/v1/incidents/{made[1]}/resume", manager)
    await ok("POST", f"/v1/incidents/{made[1]}/cancel", manager, json={"reason": "Wrong list"})
    clock.advance(timedelta(seconds=5))
    await worker.run_until_idle()
    await ok("GET", f"/v1/incidents/{made[0]}/report", manager)
    await ok("GET", f"/v1/incidents/{made[0]}/report", manager, params={"format": "csv"})

    # Proactive recovery: a rule, parcels, the sweep, a delivered parcel and a purchase.
    stuck = {"name": "Stuck parcel", "condition": {"type": "not_scanned_for", "hours": 48},
             "filters": {"tiers": ["gold"], "min_order_value": 100},
             "actions": {"open_case": {"reason": "late_delivery", "severity": 2},
                         "apologise": ["email"], "progress_every_days": 1,
                         "incentive_id": small["id"]}}
    rule = await ok("POST", "/v1/rules", admin, json=stuck)  # saved off
    await ok("POST", f"/v1/rules/{rule['id']}/dry-run", admin)
    await ok("PUT", f"/v1/rules/{rule['id']}", admin, json={**stuck, "active": True})
    story = [{"id": "e1", "type": "order.placed", "occurred_at": "2026-11-20T09:00:00Z",
              "data": {"order_id": "JL-1", "customer_id": "C-5", "amount": 8000,
                       "currency": "EUR"}},
             {"id": "e2", "type": "shipment.created", "occurred_at": "2026-11-20T10:00:00Z",
              "data": {"shipment_id": "P-1", "order_id": "JL-1", "carrier": "DHL"}}]
    await ok("POST", "/v1/events", admin, json={"events": story})
    clock.advance(timedelta(days=3))
    await worker.ensure_periodic()  # the sweep, reminders, roll-ups, expiries and purge
    await worker.run_until_idle()
    clock.advance(timedelta(days=1, minutes=1))
    await worker.run_until_idle()
    await ok("POST", "/v1/events", admin, json={"events": [
        {"id": "e3", "type": "shipment.delivered", "occurred_at": "2026-11-24T10:00:00Z",
         "data": {"shipment_id": "P-1"}},
        {"id": "e4", "type": "purchase.completed", "occurred_at": "2026-11-25T10:00:00Z",
         "data": {"order_id": "JL-2", "customer_id": "C-5", "amount": 9000,
                  "currency": "EUR"}}]})
    clock.advance(timedelta(days=4))
    await worker.run_until_idle()

    # Reports and the roll-ups they read.
    await ok("POST", "/v1/reports/refresh", admin)
    for report in ("summary", "gestures", "over-time", "time-to-fix", "came-back",
                   "root-causes", "ledger", "effectiveness"):
        await ok("GET", f"/v1/reports/{report}", admin)
    await ok("GET", "/v1/suppressions", admin)
    keys = await ok("GET", "/v1/api-keys", admin)
    await ok("POST", f"/v1/api-keys/{keys[-1]['id']}/revoke", admin)
