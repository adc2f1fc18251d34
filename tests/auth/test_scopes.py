"""Each /v1 route opens to the scopes its name implies, and to no other.

`ROUTES` is the specification: for every route, the scopes that open it (`admin` opens every
route). The test walks the application's routes and calls each one with a credential that
carries one single scope, for every scope: it must pass the scope check exactly where the table
says. A route missing from the table fails the test, so every new route gets classified here
(and in the README's table of scopes)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from fastapi.routing import iter_route_contexts

from amends.db import Database
from amends.kit.secrets import digest, random_token
from amends.models import ApiKey
from amends.roles import API_KEY_SCOPES, Scope
from tests.factories import Tenant, bearer, make_org

ADMIN_ONLY: frozenset[str] = frozenset()
ANY = "any credential"
PUBLIC = "no credential (checked otherwise)"

ISSUE, COUPONS_READ = Scope.COUPONS_ISSUE, Scope.COUPONS_READ
R_READ, R_WRITE = Scope.REDEMPTIONS_READ, Scope.REDEMPTIONS_WRITE
C_READ, C_WRITE = Scope.CASES_READ, Scope.CASES_WRITE
CU_READ, CU_WRITE = Scope.CUSTOMERS_READ, Scope.CUSTOMERS_WRITE
REPORTS, CATALOGUE = Scope.REPORTS_READ, Scope.CATALOGUE_WRITE
DECIDE, AUDIT = Scope.APPROVALS_DECIDE, Scope.AUDIT_READ


def _any(*scopes: Scope) -> frozenset[str]:
    return frozenset(str(s) for s in scopes)


ROUTES: dict[tuple[str, str], frozenset[str] | str] = {
    # Redemptions: the tills.
    ("POST", "/v1/redemptions/validate"): _any(R_READ, R_WRITE),
    ("GET", "/v1/redemptions/{redemption_id}"): _any(R_READ, R_WRITE),
    ("POST", "/v1/redemptions"): _any(R_WRITE),
    ("POST", "/v1/redemptions/{redemption_id}/void"): _any(R_WRITE),
    ("POST", "/v1/reservations"): _any(R_WRITE),
    ("POST", "/v1/reservations/{reservation_id}/confirm"): _any(R_WRITE),
    ("POST", "/v1/reservations/{reservation_id}/release"): _any(R_WRITE),
    # Events from the shop and the carriers.
    ("POST", "/v1/events"): _any(Scope.EVENTS_WRITE),
    # Coupons and their messages.
    ("POST", "/v1/coupons"): _any(ISSUE),
    ("GET", "/v1/coupons"): _any(COUPONS_READ, ISSUE),
    ("GET", "/v1/coupons/{coupon_id}"): _any(COUPONS_READ, ISSUE),
    ("GET", "/v1/coupons/{coupon_id}/ledger"): _any(COUPONS_READ, ISSUE),
    ("GET", "/v1/coupons/{coupon_id}/ledger.csv"): _any(COUPONS_READ, ISSUE),
    ("POST", "/v1/coupons/{coupon_id}/revoke"): _any(ISSUE),
    ("POST", "/v1/coupons/{coupon_id}/reinstate"): _any(ISSUE),
    ("POST", "/v1/coupons/{coupon_id}/deliveries"): _any(ISSUE),
    ("GET", "/v1/coupons/{coupon_id}/deliveries"): _any(ISSUE),
    ("GET", "/v1/deliveries/{delivery_id}"): _any(ISSUE),
    ("POST", "/v1/deliveries/{delivery_id}/resend"): _any(ISSUE),
    ("POST", "/v1/templates/preview"): _any(ISSUE),
    ("POST", "/v1/delivery-callbacks/twilio/{delivery_id}"): PUBLIC,
    # Cases.
    ("POST", "/v1/cases"): _any(C_WRITE),
    ("GET", "/v1/cases"): _any(C_READ, C_WRITE),
    ("GET", "/v1/cases/{case_id}"): _any(C_READ, C_WRITE),
    ("GET", "/v1/cases/{case_id}/timeline"): _any(C_READ, C_WRITE),
    ("POST", "/v1/cases/{case_id}/notes"): _any(C_WRITE),
    ("POST", "/v1/cases/{case_id}/transitions"): _any(C_WRITE),
    ("POST", "/v1/cases/{case_id}/reopen"): _any(C_WRITE),
    ("GET", "/v1/cases/{case_id}/recommendations"): _any(ISSUE),
    ("GET", "/v1/reasons"): _any(C_READ, C_WRITE, CATALOGUE, REPORTS),
    ("PUT", "/v1/reasons/{key}"): _any(CATALOGUE),
    # Approvals and authority.
    ("GET", "/v1/approvals"): _any(DECIDE, ISSUE, AUDIT),
    ("GET", "/v1/approvals/{approval_id}"): _any(DECIDE, ISSUE, AUDIT),
    ("POST", "/v1/approvals/{approval_id}/grant"): _any(DECIDE),
    ("POST", "/v1/approvals/{approval_id}/refuse"): _any(DECIDE),
    ("GET", "/v1/authority-limits"): _any(CATALOGUE),
    ("PUT", "/v1/authority-limits"): _any(CATALOGUE),
    # Customers' contact data.
    ("PUT", "/v1/customers/{external_id}"): _any(CU_WRITE),
    ("GET", "/v1/customers/{external_id}"): _any(CU_READ, CU_WRITE),
    ("GET", "/v1/customers"): _any(CU_READ, CU_WRITE),
    ("GET", "/v1/suppressions"): _any(Scope.SUPPRESSIONS_READ),
    # The catalogue and what runs from it.
    ("POST", "/v1/incentives"): _any(CATALOGUE),
    ("GET", "/v1/incentives"): _any(CATALOGUE, ISSUE, REPORTS),
    ("GET", "/v1/incentives/{incentive_id}"): _any(CATALOGUE, ISSUE, REPORTS),
    ("PATCH", "/v1/incentives/{incentive_id}"): _any(CATALOGUE),
    ("DELETE", "/v1/incentives/{incentive_id}"): _any(CATALOGUE),
    ("POST", "/v1/code-pools"): _any(CATALOGUE),
    ("GET", "/v1/code-pools"): _any(CATALOGUE),
    ("POST", "/v1/code-pools/{pool_id}/imports"): _any(CATALOGUE),
    ("PUT", "/v1/templates"): _any(CATALOGUE),
    ("DELETE", "/v1/templates"): _any(CATALOGUE),
    ("POST", "/v1/rules"): _any(CATALOGUE),
    ("GET", "/v1/rules"): _any(CATALOGUE),
    ("PUT", "/v1/rules/{rule_id}"): _any(CATALOGUE),
    ("POST", "/v1/rules/{rule_id}/dry-run"): _any(CATALOGUE),
    # Incidents: making amends to many customers at once.
    ("POST", "/v1/incidents"): _any(DECIDE),
    ("GET", "/v1/incidents"): _any(DECIDE),
    ("GET", "/v1/incidents/{incident_id}"): _any(DECIDE),
    ("POST", "/v1/incidents/{incident_id}/customers"): _any(DECIDE),
    ("POST", "/v1/incidents/{incident_id}/customers/query"): _any(DECIDE),
    ("GET", "/v1/incidents/{incident_id}/preview"): _any(DECIDE),
    ("POST", "/v1/incidents/{incident_id}/approve"): _any(DECIDE),
    ("POST", "/v1/incidents/{incident_id}/run"): _any(DECIDE),
    ("POST", "/v1/incidents/{incident_id}/pause"): _any(DECIDE),
    ("POST", "/v1/incidents/{incident_id}/resume"): _any(DECIDE),
    ("POST", "/v1/incidents/{incident_id}/cancel"): _any(DECIDE),
    ("GET", "/v1/incidents/{incident_id}/progress"): _any(DECIDE),
    ("GET", "/v1/incidents/{incident_id}/report"): _any(REPORTS),
    # Reports.
    ("GET", "/v1/reports/summary"): _any(REPORTS),
    ("GET", "/v1/reports/gestures"): _any(REPORTS),
    ("GET", "/v1/reports/over-time"): _any(REPORTS),
    ("GET", "/v1/reports/time-to-fix"): _any(REPORTS),
    ("GET", "/v1/reports/came-back"): _any(REPORTS),
    ("GET", "/v1/reports/root-causes"): _any(REPORTS),
    ("GET", "/v1/reports/ledger"): _any(REPORTS),
    ("GET", "/v1/reports/effectiveness"): _any(REPORTS),
    ("GET", "/v1/reports/redeemed-by"): _any(REPORTS),
    ("POST", "/v1/reports/refresh"): _any(Scope.REPORTS_REFRESH),
    ("GET", "/v1/exports/gestures.csv"): _any(REPORTS),
    ("GET", "/v1/exports/redemptions.csv"): _any(REPORTS),
    ("GET", "/v1/audit-events"): _any(AUDIT),
    # The organisation and its integrations: administrators.
    ("GET", "/v1/organization"): ANY,
    # A person's own profile: any credential passes the scope check (an API key, not a
    # person, is then refused with not_a_person).
    ("GET", "/v1/users/me"): ANY,
    ("PATCH", "/v1/users/me"): ANY,
    ("GET", "/v1/users"): ADMIN_ONLY,
    ("POST", "/v1/users"): ADMIN_ONLY,
    ("GET", "/v1/users/{user_id}"): ADMIN_ONLY,
    ("PATCH", "/v1/users/{user_id}"): ADMIN_ONLY,
    ("POST", "/v1/users/{user_id}/deactivate"): ADMIN_ONLY,
    ("POST", "/v1/users/{user_id}/reactivate"): ADMIN_ONLY,
    ("POST", "/v1/users/{user_id}/reset-password"): ADMIN_ONLY,
    ("PATCH", "/v1/organization"): ADMIN_ONLY,
    # The brand is read by anything that writes to customers; only admins change it.
    ("GET", "/v1/organization/brand"): ANY,
    ("PUT", "/v1/organization/brand"): ADMIN_ONLY,
    ("PUT", "/v1/organization/brand/logo"): ADMIN_ONLY,
    ("DELETE", "/v1/organization/brand/logo"): ADMIN_ONLY,
    ("GET", "/v1/wallet"): ADMIN_ONLY,
    ("PUT", "/v1/wallet/apple"): ADMIN_ONLY,
    ("PUT", "/v1/wallet/google"): ADMIN_ONLY,
    ("DELETE", "/v1/wallet/apple"): ADMIN_ONLY,
    ("DELETE", "/v1/wallet/google"): ADMIN_ONLY,
    ("GET", "/v1/shops"): ADMIN_ONLY,
    ("POST", "/v1/shops"): ADMIN_ONLY,
    ("GET", "/v1/shops/{connection_id}"): ADMIN_ONLY,
    ("PATCH", "/v1/shops/{connection_id}"): ADMIN_ONLY,
    ("DELETE", "/v1/shops/{connection_id}"): ADMIN_ONLY,
    ("GET", "/v1/shops/{connection_id}/codes"): ADMIN_ONLY,
    ("PUT", "/v1/shops/{connection_id}/customers/{customer_id}"): ADMIN_ONLY,
    # The shops' order webhooks: checked by their signatures.
    ("POST", "/v1/shops/{connection_id}/webhooks/shopify"): PUBLIC,
    ("POST", "/v1/shops/{connection_id}/webhooks/woocommerce"): PUBLIC,
    ("POST", "/v1/api-keys"): ADMIN_ONLY,
    ("GET", "/v1/api-keys"): ADMIN_ONLY,
    ("POST", "/v1/api-keys/{api_key_id}/revoke"): ADMIN_ONLY,
    ("PUT", "/v1/channels/{channel}"): ADMIN_ONLY,
    ("GET", "/v1/channels"): ADMIN_ONLY,
    ("POST", "/v1/channels/{channel}/test"): ADMIN_ONLY,
    ("DELETE", "/v1/channels/{channel}"): ADMIN_ONLY,
    ("POST", "/v1/webhook-endpoints"): ADMIN_ONLY,
    ("GET", "/v1/webhook-endpoints"): ADMIN_ONLY,
    ("GET", "/v1/webhook-endpoints/{endpoint_id}/deliveries"): ADMIN_ONLY,
    ("PATCH", "/v1/webhook-endpoints/{endpoint_id}"): ADMIN_ONLY,
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id}"): ADMIN_ONLY,
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret"): ADMIN_ONLY,
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/resend"): ADMIN_ONLY,
    ("GET", "/v1/helpdesk/installations"): ADMIN_ONLY,
    ("POST", "/v1/helpdesk/installations"): ADMIN_ONLY,
    ("GET", "/v1/helpdesk/installations/{installation_id}"): ADMIN_ONLY,
    ("PATCH", "/v1/helpdesk/installations/{installation_id}"): ADMIN_ONLY,
    ("DELETE", "/v1/helpdesk/installations/{installation_id}"): ADMIN_ONLY,
    ("GET", "/v1/audit-events.csv"): _any(AUDIT),
    ("GET", "/v1/jobs"): ADMIN_ONLY,
    ("POST", "/v1/jobs/{job_id}/retry"): ADMIN_ONLY,
}


def _routes(app: Any) -> list[tuple[str, str]]:
    found = set()
    for context in iter_route_contexts(app.routes):
        path = context.path or ""
        if path.startswith("/v1/"):
            found.update((method, path) for method in context.methods or ()
                         if method != "HEAD")
    return sorted(found)


def _url(path: str) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return {"external_id": "C-1", "channel": "email", "key": "late_delivery"}.get(
            name, str(uuid.uuid4()))

    return re.sub(r"\{([^}:]+)(?::[^}]*)?\}", fill, path)


async def _key_with(db: Database, tenant: Tenant, scope: str) -> dict[str, str]:
    """A key with one scope, written as the service writes keys (staff-only scopes too, which
    the service does not give keys: the routes must still hold them to their table)."""
    secret = random_token(32)
    async with db.transaction() as session:
        key = ApiKey(organization_id=tenant.id, name=f"only {scope}", secret_hash=digest(secret),
                     hint=secret[:4], scopes=[scope])
        session.add(key)
        await session.flush()
        return bearer(f"amk_{key.id.hex}_{secret}")


def _allowed(rule: frozenset[str] | str, scope: str) -> bool:
    if scope == Scope.ADMIN or rule in (ANY, PUBLIC):
        return True
    assert isinstance(rule, frozenset)
    return scope in rule


async def test_every_route_is_in_the_table_of_scopes(app: Any) -> None:
    routes = _routes(app)
    assert routes, "no /v1 routes found"
    unclassified = [f"{method} {path}" for method, path in routes
                    if (method, path) not in ROUTES]
    assert unclassified == [], "classify these routes in ROUTES (and the README's scopes)"
    gone = [f"{method} {path}" for method, path in ROUTES if (method, path) not in routes]
    assert gone == []


async def test_a_key_with_one_scope_passes_exactly_the_routes_its_scope_opens(
    app: Any, client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    keys = {scope.value: await _key_with(db, tenant, scope.value) for scope in Scope}
    wrong: list[str] = []
    for method, path in _routes(app):
        rule = ROUTES[(method, path)]
        for scope, headers in keys.items():
            body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            response = await client.request(method, _url(path), headers=headers, **body)
            refused = (response.status_code == 403
                       and response.json().get("code") == "missing_scope")
            assert response.status_code < 500, (method, path, scope, response.text)
            if refused == _allowed(rule, scope):
                wrong.append(f"{method} {path} with {scope}: {response.status_code}")
    assert wrong == []


async def test_keys_are_given_only_scopes_that_are_meant_for_integrations(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    for scope in Scope:
        created = await client.post("/v1/api-keys", headers=admin,
                                    json={"name": scope.value, "scopes": [scope.value]})
        expected = 201 if scope in API_KEY_SCOPES else 422
        assert created.status_code == expected, (scope, created.text)


async def test_an_events_key_reads_no_customer_and_a_reporting_key_refreshes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    assert (await client.put("/v1/customers/C-1", headers=admin, json={
        "email": "ann@example.com", "phone": "+447700900123"})).status_code == 201
    events = bearer((await client.post("/v1/api-keys", headers=admin, json={
        "name": "Shop", "scopes": ["events:write"]})).json()["token"])
    for path, params in (("/v1/customers/C-1", {}), ("/v1/customers", {"q": "ann@example.com"}),
                         ("/v1/suppressions", {})):
        refused = await client.get(path, headers=events, params=params)
        assert refused.status_code == 403, path
        assert refused.json()["code"] == "missing_scope"
        assert "ann@example.com" not in refused.text
    reporting = bearer((await client.post("/v1/api-keys", headers=admin, json={
        "name": "BI", "scopes": ["reports:read"]})).json()["token"])
    assert (await client.get("/v1/reports/summary", headers=reporting)).status_code == 200
    refresh = await client.post("/v1/reports/refresh", headers=reporting)
    assert refresh.status_code == 403
    assert refresh.json()["required"] == ["reports:refresh"]
    crm = bearer((await client.post("/v1/api-keys", headers=admin, json={
        "name": "CRM", "scopes": ["customers:read"]})).json()["token"])
    found = await client.get("/v1/customers", headers=crm, params={"q": "ann@example.com"})
    assert [c["external_id"] for c in found.json()] == ["C-1"]
