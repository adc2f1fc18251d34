"""The shops admin page (/admin/shops): each connected shop with the address its webhooks
go to, its last error, when it was last reconciled and how many codes are in each status;
forms to connect a Shopify or WooCommerce shop, pause, resume and disconnect one. Through the
same service functions as the API."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from amends.actor import Actor
from amends.auth import SessionDep, SettingsDep, require
from amends.errors import AmendsError
from amends.roles import Scope
from amends.routing import router as make_router
from amends.shops import service as shops
from amends.web.labels import N_
from amends.web.templating import back, gettext_for, render

router = make_router(include_in_schema=False)
Admin = Annotated[Actor, Depends(require(Scope.ADMIN))]
PAGE = "/admin/shops"
STATUS_NAMES = {"pending": N_("Queued"), "pushed": N_("In the shop"),
                "failed": N_("Not in the shop"), "deactivated": N_("Deactivated"),
                "deleted": N_("Gone from the shop")}
Text = Annotated[str, Form(max_length=2000)]


@router.get(PAGE, response_class=HTMLResponse)
async def shops_page(request: Request, session: SessionDep, settings: SettingsDep,
                     actor: Admin) -> Response:
    """The organisation's shops and the forms to connect one."""
    connections = await shops.list_connections(session, actor)
    counts = await shops.code_counts(session, actor.organization_id)
    base = str(settings.base_url)
    return render(request, "admin/shops.html", {
        "connections": [(c, shops.effective_settings(c), counts.get(c.id, {}),
                         shops.webhook_url(base, c)) for c in connections],
        "status_names": STATUS_NAMES, "platforms": shops.PLATFORMS})


@router.post(PAGE, response_class=HTMLResponse)
async def connect(request: Request, session: SessionDep, settings: SettingsDep, actor: Admin,
                  platform: Annotated[str, Form(max_length=20)] = "",
                  shop_url: Annotated[str, Form(max_length=300)] = "",
                  name: Annotated[str, Form(max_length=200)] = "",
                  api_version: Annotated[str, Form(max_length=10)] = "",
                  access_token: Text = "", client_secret: Text = "", consumer_key: Text = "",
                  consumer_secret: Text = "", webhook_secret: Text = "") -> Response:
    """Connect a shop with the secrets its platform takes."""
    _ = gettext_for(request)
    given = {"access_token": access_token, "client_secret": client_secret,
             "consumer_key": consumer_key, "consumer_secret": consumer_secret,
             "webhook_secret": webhook_secret}
    found = shops.PLATFORMS.get(platform)
    secrets = {k: v for k, v in given.items() if v and found and k in found.secrets}
    try:
        connection = await shops.create_connection(
            session, actor, platform=platform, shop_url=shop_url, name=name,
            settings={"api_version": api_version} if api_version and platform == "shopify"
            else {}, secrets=secrets, allow_private=settings.outbound_allow_private)
    except AmendsError as error:
        return back(PAGE, problem=error.detail or _("The shop could not be connected."))
    return back(PAGE, notice=_("%(name)s is connected: new gestures are pushed into it.")
                % {"name": connection.name})


@router.post(PAGE + "/{connection_id}/active", response_class=HTMLResponse)
async def switch(request: Request, connection_id: uuid.UUID, session: SessionDep,
                 actor: Admin, active: Annotated[str, Form(max_length=5)] = "") -> Response:
    """Pause or resume pushing into a shop."""
    _ = gettext_for(request)
    connection = await shops.update_connection(session, actor, connection_id=connection_id,
                                               active=active == "true")
    return back(PAGE, notice=(_("%(name)s is resumed.") if connection.active
                              else _("%(name)s is paused.")) % {"name": connection.name})


@router.post(PAGE + "/{connection_id}/delete", response_class=HTMLResponse)
async def disconnect(request: Request, connection_id: uuid.UUID, session: SessionDep,
                     actor: Admin) -> Response:
    """Disconnect a shop."""
    _ = gettext_for(request)
    connection = await shops.get_connection(session, actor, connection_id=connection_id)
    await shops.remove_connection(session, actor, connection_id=connection_id)
    return back(PAGE, notice=_("%(name)s is disconnected.") % {"name": connection.name})
