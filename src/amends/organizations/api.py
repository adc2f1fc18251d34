from __future__ import annotations

from amends.auth import AdminCaller, Authenticated, MissingScope, SessionDep
from amends.errors import errors
from amends.incentives.service import IncentiveNotFound
from amends.organizations import service as organizations
from amends.organizations.schemas import OrganizationOut, OrganizationUpdate
from amends.organizations.service import DefaultLocaleNotSupported
from amends.routing import router as make_router

router = make_router(prefix="/v1/organization", tags=["organisation"])


@router.get("", responses=errors())
async def get_organization(session: SessionDep, actor: Authenticated) -> OrganizationOut:
    """The caller's organisation and its settings."""
    return OrganizationOut.model_validate(await organizations.of(session, actor))


@router.patch("", responses=errors(MissingScope, DefaultLocaleNotSupported, IncentiveNotFound))
async def update_organization(body: OrganizationUpdate, session: SessionDep,
                              actor: AdminCaller) -> OrganizationOut:
    """Change settings: every setting the product reads (code prefix, average order, second-
    gesture window, approval expiry, reminder and feedback timing, thank-you window, surprise
    gesture, automation budget, incident approval threshold, default hold-out share of
    incidents, locales and time zone, SMS segment budget, and the recommendation rules). The
    brand has its own route. Audited as `organization.updated` with the fields sent."""
    return OrganizationOut.model_validate(
        await organizations.update_settings(session, actor, update=body))
