"""Plain keyword-only factories for test data."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from amends.actor import Actor
from amends.apikeys.service import create_api_key
from amends.db import Database
from amends.models import Organization, User
from amends.organizations.service import create_organization
from amends.roles import Role, Scope
from amends.users.service import create_user

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


@dataclass
class Tenant:
    organization: Organization
    admin_token: str

    @property
    def id(self):  # type: ignore[no-untyped-def]
        return self.organization.id

    @property
    def slug(self) -> str:
        return self.organization.slug


async def make_org(db: Database, *, slug: str | None = None) -> Tenant:
    async with db.transaction() as session:
        org = await create_organization(
            session, slug=slug or f"org-{next(_seq)}", name="Test Retail"
        )
        created = await create_api_key(
            session, Actor.system(org.id, "tests"), name="admin", scopes=[Scope.ADMIN.value]
        )
    return Tenant(organization=org, admin_token=created.token)


async def make_api_key(db: Database, tenant: Tenant, *, scopes: list[str]) -> str:
    async with db.transaction() as session:
        created = await create_api_key(
            session, Actor.system(tenant.id, "tests"), name=f"key-{next(_seq)}", scopes=scopes
        )
    return created.token


async def make_user(db: Database, tenant: Tenant, *, role: Role = Role.AGENT,
                    email: str | None = None, password: str = PASSWORD) -> User:
    async with db.transaction() as session:
        return await create_user(
            session, None, organization_id=tenant.id,
            email=email or f"user{next(_seq)}@example.com", name=f"{role.value.title()} Person",
            role=role, password=password,
        )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
