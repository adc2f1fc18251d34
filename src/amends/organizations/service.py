"""Organisations (tenants)."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.errors import Conflict, NotFound, ValidationFailed
from amends.kit.sql import insert_new
from amends.models import Organization

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class OrganizationExists(Conflict):
    code, title = "organization_exists", "An organisation with this slug exists"


class OrganizationNotFound(NotFound):
    code, title = "organization_not_found", "No such organisation"


class InvalidSlug(ValidationFailed):
    code, title = "invalid_slug", "A slug is lower-case letters, digits and dashes"


async def create_organization(
    session: AsyncSession, *, slug: str, name: str, default_currency: str = "EUR"
) -> Organization:
    if not SLUG.match(slug):
        raise InvalidSlug()
    org = await insert_new(session, Organization, key={"slug": slug},
                           values={"name": name, "default_currency": default_currency.upper()})
    if org is None:
        raise OrganizationExists(f"The slug {slug!r} is taken.")
    return org


async def get_by_slug(session: AsyncSession, slug: str) -> Organization:
    org = await session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        raise OrganizationNotFound(f"No organisation {slug!r}.")
    return org
