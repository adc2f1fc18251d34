"""Plain keyword-only factories for test data."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from amends.actor import Actor
from amends.apikeys.service import create_api_key
from amends.approvals.service import set_limit as save_limit
from amends.coupons.service import issue_coupon
from amends.customers.service import upsert_customer
from amends.db import Database
from amends.incentives.schemas import IncentiveCreate
from amends.incentives.service import create_incentive
from amends.models import Coupon, Customer, Incentive, Organization, User
from amends.organizations.service import create_organization
from amends.roles import Role, Scope
from amends.users.service import create_user, log_in

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


async def make_customer(db: Database, tenant: Tenant, *, external_id: str | None = None,
                        **fields: object) -> Customer:
    async with db.transaction() as session:
        customer, _ = await upsert_customer(
            session, Actor.system(tenant.id, "tests"),
            external_id=external_id or f"cust-{next(_seq)}",
            data={"email": f"c{next(_seq)}@example.com", **fields})
    return customer


async def make_incentive(db: Database, tenant: Tenant, *, kind: str = "amount_off",
                         value: int = 1000, currency: str = "EUR", validity_days: int = 30,
                         **fields: object) -> Incentive:
    data = {"name": fields.pop("name", f"{kind} {value}"), "kind": kind, "value": value,
            "currency": currency, "validity_days": validity_days, **fields}
    if kind == "free_item":
        data.setdefault("sku", "SKU-1")
    async with db.transaction() as session:
        return await create_incentive(session, Actor.system(tenant.id, "tests"),
                                      data=IncentiveCreate.model_validate(data))


async def make_coupon(db: Database, tenant: Tenant, *, customer: Customer | None = None,
                      incentive: Incentive | None = None, case_ref: str | None = None,
                      **incentive_fields: object) -> Coupon:
    customer = customer or await make_customer(db, tenant)
    incentive = incentive or await make_incentive(db, tenant, **incentive_fields)  # type: ignore[arg-type]
    async with db.transaction() as session:
        coupon, _ = await issue_coupon(session, Actor.system(tenant.id, "tests"),
                                       customer=customer, incentive=incentive, case_ref=case_ref)
    return coupon


async def staff_headers(db: Database, user: User, *, password: str = PASSWORD) -> dict[str, str]:
    """Headers a logged-in member of staff sends: the session cookie and the CSRF token."""
    organization = None
    async with db.transaction() as session:
        organization = await session.get(Organization, user.organization_id)
        assert organization is not None
        login = await log_in(session, organization_slug=organization.slug, email=user.email,
                             password=password, hours=24 * 365)
    return {"Cookie": f"amends_session={login.token}",
            "X-CSRF-Token": login.user_session.csrf_token}


async def set_limit(db: Database, tenant: Tenant, *, subject: str, currency: str = "EUR",
                    max_gesture: int | None = None, daily_budget: int | None = None,
                    monthly_budget: int | None = None) -> None:
    async with db.transaction() as session:
        await save_limit(session, Actor.system(tenant.id, "tests"), subject=subject,
                         currency=currency, max_gesture=max_gesture, daily_budget=daily_budget,
                         monthly_budget=monthly_budget, incentive_ids=None)
