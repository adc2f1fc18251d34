"""Demo data: an organisation with a user of each role and API keys, created once."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from sqlalchemy import select

from amends.actor import Actor
from amends.apikeys.service import create_api_key
from amends.db import Database
from amends.models import Organization
from amends.organizations.service import create_organization
from amends.roles import Role, Scope
from amends.users.service import create_user

DEMO_SLUG = "demo"
DEMO_PASSWORD = "amends-demo-password"

STAFF = [
    (Role.AGENT, "agent@demo.example", "Alex Agent", "Care team", None),
    (Role.SUPERVISOR, "supervisor@demo.example", "Sam Supervisor", "Care team", None),
    (Role.MANAGER, "manager@demo.example", "Morgan Manager", None, None),
    (Role.ADMIN, "admin@demo.example", "Ada Admin", None, None),
    (Role.AUDITOR, "auditor@demo.example", "Avery Auditor", None, None),
]
KEYS = [
    ("Till (POS)", [Scope.REDEMPTIONS_READ, Scope.REDEMPTIONS_WRITE]),
    ("Helpdesk integration", [Scope.COUPONS_ISSUE]),
    ("Order events", [Scope.EVENTS_WRITE]),
    ("Reporting", [Scope.REPORTS_READ]),
    ("Admin", [Scope.ADMIN]),
]


@dataclass
class SeededDemo:
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    api_keys: list[tuple[str, str]] = field(default_factory=list)


async def seed_demo(db: Database, *, console: Console | None = None) -> SeededDemo | None:
    """Create the demo organisation; None when it exists already (seeding runs once)."""
    async with db.transaction() as session:
        if await session.scalar(select(Organization.id).where(Organization.slug == DEMO_SLUG)):
            return None
        org = await create_organization(session, slug=DEMO_SLUG, name="Demo Retail")
        actor = Actor.system(org.id, "demo")
        seeded = SeededDemo()
        for role, email, name, team, store in STAFF:
            await create_user(session, actor, organization_id=org.id, email=email, name=name,
                              role=role, password=DEMO_PASSWORD, team=team, store=store)
            seeded.logins.append((role.value, email, DEMO_PASSWORD))
        for key_name, scopes in KEYS:
            created = await create_api_key(session, actor, name=key_name,
                                           scopes=[s.value for s in scopes])
            seeded.api_keys.append((key_name, created.token))
    if console is not None:
        console.print(f"Seeded the demo organisation [bold]{org.name}[/bold].")
    return seeded
