"""The app package an admin uploads to a helpdesk (Zendesk, Freshdesk, Gorgias), made for one
installation: the platform's files (`Platform.package`) in one zip, for the admin page's
download link and `amends integrations package`."""

from __future__ import annotations

import io
import uuid
import zipfile
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.errors import NotFound, ValidationFailed
from amends.helpdesk import service
from amends.helpdesk.platforms import Installed, Platform
from amends.models import HelpdeskInstallation, Organization

# Every file of a package carries this time, so the same installation gives the same zip.
_STAMP = (2020, 1, 1, 0, 0, 0)


class PackageNotNeeded(NotFound):
    code, title = "helpdesk_package_not_needed", "This helpdesk needs no package"


class InstallationNotChosen(ValidationFailed):
    code, title = "helpdesk_installation_not_chosen", "Choose the installation"


@dataclass(frozen=True, slots=True)
class Package:
    filename: str
    content: bytes
    installation: HelpdeskInstallation


def needs_package(platform: Platform) -> bool:
    return platform.package is not None


def _not_needed(platform: Platform, urls: dict[str, str] | None) -> PackageNotNeeded:
    if platform.name == "intercom":
        where = (f" (initialize: {urls['initialize']}, submit: {urls['submit']})"
                 if urls else "")
        return PackageNotNeeded(
            "Intercom needs no package: in the Intercom Developer Hub, give your app's "
            f"inbox Canvas Kit the initialize and submit URLs Amends shows{where}.")
    return PackageNotNeeded(f"{platform.title} needs no package.")


def build(installation: HelpdeskInstallation, *, organization_slug: str, base_url: str
          ) -> Package:
    """The installation's package as a zip (its files at the zip's root, as the helpdesks
    take them)."""
    platform = service.platform_of(installation.platform)
    urls = service.urls(base_url, organization_slug, installation)
    if platform.package is None:
        raise _not_needed(platform, urls)
    files = platform.package(Installed(
        installation_id=str(installation.id), organization=organization_slug,
        account=installation.account, name=installation.name,
        base_url=base_url.rstrip("/"), urls=urls))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            archive.writestr(zipfile.ZipInfo(path, date_time=_STAMP), files[path],
                             compress_type=zipfile.ZIP_DEFLATED)
    account = "".join(c if c.isalnum() or c in "-_" else "-" for c in installation.account)
    return Package(filename=f"amends-{installation.platform}-{account}.zip",
                   content=out.getvalue(), installation=installation)


async def for_organization(session: AsyncSession, *, organization: str, platform: str,
                           installation_id: uuid.UUID | None, base_url: str) -> Package:
    """The package of the organisation's one installation of `platform` (or the one named):
    refused in words when it has none, several and none was chosen, or the platform needs no
    package."""
    found = service.platform_of(platform)
    org = await session.scalar(select(Organization).where(Organization.slug == organization))
    if org is None:
        raise NotFound(f"No organisation {organization!r}.")
    installations = list((await session.scalars(select(HelpdeskInstallation).where(
        HelpdeskInstallation.organization_id == org.id,
        HelpdeskInstallation.platform == platform)
        .order_by(HelpdeskInstallation.created_at))).all())
    if installation_id is not None:
        installations = [i for i in installations if i.id == installation_id]
        if not installations:
            raise service.InstallationNotFound(
                f"{organization} has no {found.title} installation {installation_id}.")
    if not installations:
        if found.package is None:
            raise _not_needed(found, None)
        raise service.InstallationNotFound(
            f"{organization} has no {found.title} installation: install it first in the "
            "admin console (Admin > Helpdesk apps) or with POST /v1/helpdesk/installations.")
    if len(installations) > 1:
        listed = "; ".join(f"{i.id} ({i.account})" for i in installations)
        raise InstallationNotChosen(
            f"{organization} has {len(installations)} {found.title} installations: choose "
            f"one with --installation: {listed}.")
    return build(installations[0], organization_slug=org.slug, base_url=base_url)
