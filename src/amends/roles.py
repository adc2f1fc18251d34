"""Roles of staff and scopes of API keys: one vocabulary of permissions for both."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    ADMIN = "admin"
    AUDITOR = "auditor"


class Scope(StrEnum):
    COUPONS_ISSUE = "coupons:issue"
    REDEMPTIONS_WRITE = "redemptions:write"
    REDEMPTIONS_READ = "redemptions:read"
    EVENTS_WRITE = "events:write"
    REPORTS_READ = "reports:read"
    ADMIN = "admin"
    # Permissions that only staff roles carry (an API key with `admin` has them all).
    AUDIT_READ = "audit:read"
    CASES_WRITE = "cases:write"
    APPROVALS_DECIDE = "approvals:decide"
    CATALOGUE_WRITE = "catalogue:write"


API_KEY_SCOPES: frozenset[Scope] = frozenset(
    {
        Scope.COUPONS_ISSUE,
        Scope.REDEMPTIONS_WRITE,
        Scope.REDEMPTIONS_READ,
        Scope.EVENTS_WRITE,
        Scope.REPORTS_READ,
        Scope.ADMIN,
    }
)

_AGENT = {
    Scope.COUPONS_ISSUE,
    Scope.REDEMPTIONS_READ,
    Scope.REDEMPTIONS_WRITE,
    Scope.CASES_WRITE,
}

ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.AGENT: frozenset(_AGENT),
    Role.SUPERVISOR: frozenset(
        _AGENT | {Scope.APPROVALS_DECIDE, Scope.CATALOGUE_WRITE, Scope.REPORTS_READ}
    ),
    Role.MANAGER: frozenset(
        _AGENT
        | {Scope.APPROVALS_DECIDE, Scope.CATALOGUE_WRITE, Scope.REPORTS_READ, Scope.AUDIT_READ}
    ),
    Role.ADMIN: frozenset({Scope.ADMIN}),
    Role.AUDITOR: frozenset({Scope.AUDIT_READ, Scope.REPORTS_READ, Scope.REDEMPTIONS_READ}),
}
