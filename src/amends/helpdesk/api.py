"""The organisation's helpdesk apps, for admins: `/v1/helpdesk/installations`."""

from __future__ import annotations

import uuid

from fastapi import Request, Response

from amends.auth import AdminCaller, MissingScope, SessionDep
from amends.errors import errors
from amends.helpdesk import service
from amends.helpdesk.schemas import (
    InstallationIn,
    InstallationList,
    InstallationOut,
    InstallationPatch,
)
from amends.kit import outbound
from amends.models import HelpdeskInstallation, Organization
from amends.routing import router as make_router

router = make_router(prefix="/v1/helpdesk/installations", tags=["helpdesk"])


async def _out(request: Request, session: SessionDep, installation: HelpdeskInstallation
               ) -> InstallationOut:
    organization = await session.get(Organization, installation.organization_id)
    assert organization is not None
    base = str(request.app.state.settings.base_url)
    return InstallationOut(**service.public(installation),
                           urls=service.urls(base, organization.slug, installation))


@router.get("", responses=errors(MissingScope))
async def list_installations(request: Request, session: SessionDep, actor: AdminCaller
                             ) -> InstallationList:
    """Every helpdesk the organisation installed Amends in (secrets only by name)."""
    return InstallationList(items=[await _out(request, session, i) for i in
                                   await service.list_installations(session, actor)])


@router.post("", status_code=201, responses=errors(
    MissingScope, service.UnknownPlatform, service.InvalidInstallationSettings,
    service.InstallationExists, outbound.OutboundAddressRefused, outbound.InvalidOutboundUrl))
async def install(body: InstallationIn, request: Request, session: SessionDep,
                  actor: AdminCaller) -> InstallationOut:
    """Install Amends in a helpdesk account: 409 `helpdesk_installation_exists` when that
    account is installed already, 422 `invalid_helpdesk_settings` for a setting or secret the
    platform does not take (or a required secret missing), 422 `outbound_address_refused` for
    an API address Amends may not connect to."""
    with outbound.policy(allow_private=request.app.state.settings.outbound_allow_private):
        installation = await service.create_installation(
            session, actor, platform=body.platform, account=body.account, name=body.name,
            settings=body.settings.model_dump(exclude_none=True), secrets=body.secrets)
    return await _out(request, session, installation)


@router.get("/{installation_id}", responses=errors(MissingScope,
                                                    service.InstallationNotFound))
async def get_installation(installation_id: uuid.UUID, request: Request, session: SessionDep,
                           actor: AdminCaller) -> InstallationOut:
    """One installation, with the addresses to paste into the helpdesk (secrets by name)."""
    return await _out(request, session, await service.get_installation(
        session, actor, installation_id=installation_id))


@router.patch("/{installation_id}", responses=errors(
    MissingScope, service.InstallationNotFound, service.InvalidInstallationSettings,
    outbound.OutboundAddressRefused, outbound.InvalidOutboundUrl))
async def change(installation_id: uuid.UUID, body: InstallationPatch, request: Request,
                 session: SessionDep, actor: AdminCaller) -> InstallationOut:
    """Change the name, pause (`active: false`), settings or secrets; a secret left out or
    null keeps its value."""
    with outbound.policy(allow_private=request.app.state.settings.outbound_allow_private):
        installation = await service.update_installation(
            session, actor, installation_id=installation_id, name=body.name,
            active=body.active,
            settings=body.settings.model_dump(exclude_none=True) if body.settings else None,
            secrets=body.secrets)
    return await _out(request, session, installation)


@router.delete("/{installation_id}", status_code=204,
               responses=errors(MissingScope, service.InstallationNotFound))
async def uninstall(installation_id: uuid.UUID, session: SessionDep, actor: AdminCaller
                    ) -> Response:
    """Uninstall: the helpdesk's requests are refused from now on; cases keep their ticket
    reference."""
    await service.remove_installation(session, actor, installation_id=installation_id)
    return Response(status_code=204)
