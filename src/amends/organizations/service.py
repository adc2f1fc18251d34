"""Organisations (tenants)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.audit import service as audit
from amends.errors import Conflict, NotFound, ValidationFailed
from amends.incentives.service import IncentiveNotFound
from amends.kit.sql import insert_new
from amends.models import Incentive, Organization
from amends.tenancy import require_owned

if TYPE_CHECKING:
    from amends.organizations.schemas import OrganizationUpdate

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class OrganizationExists(Conflict):
    code, title = "organization_exists", "An organisation with this slug exists"


class OrganizationNotFound(NotFound):
    code, title = "organization_not_found", "No such organisation"


class InvalidSlug(ValidationFailed):
    code, title = "invalid_slug", "A slug is lower-case letters, digits and dashes"


class DefaultLocaleNotSupported(ValidationFailed):
    code, title = "default_locale_not_supported", "The default locale is not a supported one"


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


async def of(session: AsyncSession, actor: Actor) -> Organization:
    """The caller's organisation."""
    organization = await session.get(Organization, actor.organization_id)
    assert organization is not None  # the caller was authenticated into it
    return organization


async def update_settings(session: AsyncSession, actor: Actor, *, update: OrganizationUpdate
                          ) -> Organization:
    """Apply the settings `update` sets (a field left out is unchanged). The surprise gesture
    must be one of the organisation's; the default locale one of the supported ones. Audited
    as `organization.updated` with each field's value before and after."""
    organization = await of(session, actor)
    changes = update.model_dump(exclude_unset=True, exclude_none=False)
    if update.surprise_incentive_id is not None:
        await require_owned(session, Incentive, organization_id=organization.id,
                            object_id=update.surprise_incentive_id, missing=IncentiveNotFound,
                            field="surprise_incentive_id")
        changes["surprise_incentive_id"] = str(update.surprise_incentive_id)
    if update.supported_locales is not None:
        changes["supported_locales"] = list(dict.fromkeys(update.supported_locales))
    default = changes.get("default_locale", organization.default_locale)
    offered = changes.get("supported_locales", organization.supported_locales)
    if default not in offered:
        raise DefaultLocaleNotSupported(
            f"The default locale {default} must be one of the supported locales "
            f"({', '.join(offered)}).", field="default_locale")
    if update.recommendation_rules is not None:
        changes["recommendation_rules"] = update.recommendation_rules.model_dump(
            mode="json", exclude_none=True)
    before = {k: getattr(organization, k) for k in changes}
    for key, value in changes.items():
        setattr(organization, key, value)
    await session.flush()
    await audit.record(session, actor, action="organization.updated",
                       object_type="organization", object_id=organization.id,
                       before=before, after=changes)
    return organization
