"""Setting the brand: its fields (checked, audited) and its logo (checked, re-encoded, stored
once per content hash, audited); and finding a stored logo to serve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.audit import service as audit
from amends.errors import NotFound, ValidationFailed
from amends.kit.sql import insert_new
from amends.models import BrandLogo, Organization
from amends.organizations.brand import MIN_CONTRAST_WITH_WHITE, contrast_with_white
from amends.organizations.logos import prepare_logo

BRAND_FIELDS = ("display_name", "sender_name", "sender_email", "reply_to", "brand_color",
                "support_email", "support_phone", "support_url")


class BrandColorTooLight(ValidationFailed):
    code, title = "brand_color_too_light", "White text would not be readable on this colour"


class LogoNotFound(NotFound):
    code, title = "logo_not_found", "No such logo"


@dataclass(frozen=True, slots=True)
class StoredLogo:
    sha256: str
    data: bytes
    content_type: str


async def organization_of(session: AsyncSession, actor: Actor) -> Organization:
    organization = await session.get(Organization, actor.organization_id)
    assert organization is not None  # the caller was authenticated into it
    return organization


def check_color(color: str | None) -> None:
    if color is None:
        return
    ratio = contrast_with_white(color)
    if ratio < MIN_CONTRAST_WITH_WHITE:
        raise BrandColorTooLight(
            f"White text on {color} has a contrast of {ratio:.2f}:1; the page, e-mails and "
            f"passes write white on the brand colour, which needs at least "
            f"{MIN_CONTRAST_WITH_WHITE}:1 (WCAG 1.4.3). Choose a darker shade.",
            field="brand_color", contrast=round(ratio, 2), minimum=MIN_CONTRAST_WITH_WHITE)


async def replace_brand(session: AsyncSession, actor: Actor, *, fields: dict[str, Any]
                        ) -> Organization:
    """Set every brand field to `fields` (a field left out is cleared and falls back to its
    default); the logo is not touched. Audited with the fields that changed."""
    check_color(fields.get("brand_color"))
    organization = await organization_of(session, actor)
    wanted = {name: fields.get(name) for name in BRAND_FIELDS}
    before = {k: getattr(organization, k) for k, v in wanted.items()
              if getattr(organization, k) != v}
    after = {k: wanted[k] for k in before}
    for key, value in after.items():
        setattr(organization, key, value)
    await session.flush()
    if after:
        await audit.record(session, actor, action="organization.brand_updated",
                           object_type="organization", object_id=organization.id,
                           before=before, after=after)
    return organization


async def set_logo(session: AsyncSession, actor: Actor, *, data: bytes,
                   content_type: str | None) -> tuple[Organization, BrandLogo]:
    """Check and re-encode the upload, store it (once per content: the same picture sent again
    reuses its row) and make it the brand's logo. The previous logo stays stored, so messages
    already sent that show it keep showing it."""
    prepared = prepare_logo(data, content_type)
    organization = await organization_of(session, actor)
    logo = await insert_new(
        session, BrandLogo, key={"organization_id": organization.id, "sha256": prepared.sha256},
        values={"content_type": "image/png", "data": prepared.png, "width": prepared.width,
                "height": prepared.height})
    if logo is None:
        logo = (await session.scalars(select(BrandLogo).where(
            BrandLogo.organization_id == organization.id,
            BrandLogo.sha256 == prepared.sha256))).one()
    before = organization.logo_sha256
    if before != prepared.sha256:
        organization.logo_sha256 = prepared.sha256
        await session.flush()
        await audit.record(session, actor, action="organization.logo_set",
                           object_type="organization", object_id=organization.id,
                           before={"logo_sha256": before},
                           after={"logo_sha256": prepared.sha256, "width": logo.width,
                                  "height": logo.height, "bytes_uploaded": len(data)})
    return organization, logo


async def remove_logo(session: AsyncSession, actor: Actor) -> Organization:
    """The brand has no logo any more, and no logo of the organisation is served any more
    (messages already sent show none): what a company that must stop using a mark needs."""
    organization = await organization_of(session, actor)
    before = organization.logo_sha256
    organization.logo_sha256 = None
    await session.flush()
    removed = len((await session.scalars(delete(BrandLogo).where(
        BrandLogo.organization_id == organization.id).returning(BrandLogo.sha256))).all())
    if before is not None or removed:
        await audit.record(session, actor, action="organization.logo_removed",
                           object_type="organization", object_id=organization.id,
                           before={"logo_sha256": before}, after={"logo_sha256": None,
                                                                  "logos_deleted": removed})
    return organization


async def current_logo(session: AsyncSession, organization: Organization) -> BrandLogo | None:
    if organization.logo_sha256 is None:
        return None
    logo: BrandLogo | None = (await session.scalars(select(BrandLogo).where(
        BrandLogo.organization_id == organization.id,
        BrandLogo.sha256 == organization.logo_sha256))).one_or_none()
    return logo


async def stored_logo(session: AsyncSession, *, organization_slug: str, sha256: str
                      ) -> StoredLogo:
    """A logo by its organisation's slug and content hash, for anyone (pages and e-mails show
    it); unknown organisation or hash alike answer LogoNotFound."""
    # The organisation first, then the logo by its key: one shard on Citus.
    organization = await organization_by_slug(session, organization_slug)
    row = None if organization is None else (await session.execute(
        select(BrandLogo.sha256, BrandLogo.data, BrandLogo.content_type).where(
            BrandLogo.organization_id == organization.id, BrandLogo.sha256 == sha256))).first()
    if row is None:
        raise LogoNotFound("There is no such logo.")
    return StoredLogo(sha256=row.sha256, data=row.data, content_type=row.content_type)


async def organization_by_slug(session: AsyncSession, slug: str) -> Organization | None:
    found: Organization | None = await session.scalar(
        select(Organization).where(Organization.slug == slug))
    return found
