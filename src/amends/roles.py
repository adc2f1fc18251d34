"""Roles of staff and scopes of API keys: one vocabulary of permissions for both."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    ADMIN = "admin"
    AUDITOR = "auditor"
    # A store's till operator: checks and redeems codes, nothing else.
    CLERK = "clerk"


class Scope(StrEnum):
    """What a credential may do; each route requires the scope its name implies (the README
    lists, for each scope, the routes it opens) and `admin` opens every route."""

    COUPONS_ISSUE = "coupons:issue"
    COUPONS_READ = "coupons:read"
    REDEMPTIONS_WRITE = "redemptions:write"
    REDEMPTIONS_READ = "redemptions:read"
    EVENTS_WRITE = "events:write"
    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_WRITE = "customers:write"
    CASES_READ = "cases:read"
    CASES_WRITE = "cases:write"
    SUPPRESSIONS_READ = "suppressions:read"
    REPORTS_READ = "reports:read"
    REPORTS_REFRESH = "reports:refresh"
    ADMIN = "admin"
    # Permissions that only staff roles carry (an API key with `admin` has them all).
    AUDIT_READ = "audit:read"
    APPROVALS_DECIDE = "approvals:decide"
    CATALOGUE_WRITE = "catalogue:write"


API_KEY_SCOPES: frozenset[Scope] = frozenset(
    {
        Scope.COUPONS_ISSUE,
        Scope.COUPONS_READ,
        Scope.REDEMPTIONS_WRITE,
        Scope.REDEMPTIONS_READ,
        Scope.EVENTS_WRITE,
        Scope.CUSTOMERS_READ,
        Scope.CUSTOMERS_WRITE,
        Scope.CASES_READ,
        Scope.CASES_WRITE,
        Scope.SUPPRESSIONS_READ,
        Scope.REPORTS_READ,
        Scope.REPORTS_REFRESH,
        Scope.ADMIN,
    }
)

_AGENT = {
    Scope.COUPONS_ISSUE,
    Scope.COUPONS_READ,
    Scope.REDEMPTIONS_READ,
    Scope.REDEMPTIONS_WRITE,
    Scope.CASES_READ,
    Scope.CASES_WRITE,
    Scope.CUSTOMERS_READ,
    Scope.CUSTOMERS_WRITE,
}

ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.AGENT: frozenset(_AGENT),
    Role.SUPERVISOR: frozenset(
        _AGENT | {Scope.APPROVALS_DECIDE, Scope.CATALOGUE_WRITE, Scope.REPORTS_READ}
    ),
    Role.MANAGER: frozenset(
        _AGENT
        | {Scope.APPROVALS_DECIDE, Scope.CATALOGUE_WRITE, Scope.REPORTS_READ, Scope.AUDIT_READ,
           Scope.REPORTS_REFRESH}
    ),
    Role.ADMIN: frozenset({Scope.ADMIN}),
    Role.AUDITOR: frozenset({Scope.AUDIT_READ, Scope.REPORTS_READ, Scope.REDEMPTIONS_READ,
                             Scope.CASES_READ, Scope.COUPONS_READ}),
    Role.CLERK: frozenset({Scope.REDEMPTIONS_READ, Scope.REDEMPTIONS_WRITE}),
}
