"""The API keys admin page (/admin/api-keys): create a key with scopes (its secret shown once,
on the page that answers the form), see when each was last used, revoke one."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from amends.actor import Actor
from amends.apikeys import service as apikeys
from amends.apikeys.schemas import ApiKeyCreate
from amends.auth import SessionDep, require
from amends.errors import AmendsError
from amends.models import User
from amends.roles import Scope
from amends.routing import router as make_router
from amends.web.labels import N_
from amends.web.templating import back, gettext_for, render

router = make_router(include_in_schema=False)
Admin = Annotated[Actor, Depends(require(Scope.ADMIN))]
PAGE = "/admin/api-keys"

# Each scope a key may carry, in the order a reader meets them, with what it opens.
SCOPES = (
    (Scope.REDEMPTIONS_READ, N_("Check a code at a till or checkout, read a redemption.")),
    (Scope.REDEMPTIONS_WRITE, N_("Check, redeem, void and reserve codes: what a till needs.")),
    (Scope.COUPONS_ISSUE, N_("Give gestures, revoke, reinstate and resend them.")),
    (Scope.COUPONS_READ, N_("Read gestures and their codes.")),
    (Scope.CUSTOMERS_READ, N_("Read and search customers.")),
    (Scope.CUSTOMERS_WRITE, N_("Create and update customers.")),
    (Scope.CASES_READ, N_("Read cases and their timelines.")),
    (Scope.CASES_WRITE, N_("Open cases, add notes, move and reopen them.")),
    (Scope.EVENTS_WRITE, N_("Send order, parcel and helpdesk events.")),
    (Scope.SUPPRESSIONS_READ, N_("Read the marketing suppression list.")),
    (Scope.REPORTS_READ, N_("Read reports.")),
    (Scope.REPORTS_REFRESH, N_("Refresh the reports.")),
    (Scope.ADMIN, N_("Everything, including users, keys and settings: keep it for "
                     "set-up scripts.")),
)


async def _page(request: Request, session: SessionDep, actor: Actor, *,
                created: apikeys.NewApiKey | None = None, status_code: int = 200) -> Response:
    keys = await apikeys.list_api_keys(session, actor)
    creators = {user.id: user.name for user in (await session.scalars(select(User).where(
        User.organization_id == actor.organization_id,
        User.id.in_({key.created_by_user_id for key in keys if key.created_by_user_id})
    ))).all()}
    return render(request, "admin/api_keys.html", {
        "keys": keys, "creators": creators, "scopes": SCOPES, "created": created,
    }, status_code=status_code)


@router.get(PAGE, response_class=HTMLResponse)
async def api_keys_page(request: Request, session: SessionDep, actor: Admin) -> Response:
    """The organisation's API keys and a form to create one."""
    return await _page(request, session, actor)


@router.post(PAGE, response_class=HTMLResponse)
async def create(request: Request, session: SessionDep, actor: Admin,
                 name: Annotated[str, Form(max_length=200)] = "",
                 scopes: Annotated[list[str] | None, Form(max_length=64)] = None) -> Response:
    """Create a key; its secret is on this answer only."""
    _ = gettext_for(request)
    try:
        body = ApiKeyCreate(name=name.strip(), scopes=scopes or [])
    except ValidationError:
        return back(PAGE, problem=_("Give the key a name and at least one scope."))
    try:
        created = await apikeys.create_api_key(session, actor, name=body.name,
                                               scopes=body.scopes)
    except AmendsError:
        return back(PAGE, problem=_("Choose scopes from the list."))
    return await _page(request, session, actor, created=created)


@router.post(PAGE + "/{api_key_id}/revoke", response_class=HTMLResponse)
async def revoke(request: Request, api_key_id: uuid.UUID, session: SessionDep,
                 actor: Admin) -> Response:
    """Revoke a key: requests with it are refused within seconds."""
    _ = gettext_for(request)
    key = await apikeys.revoke_api_key(session, actor, api_key_id=api_key_id)
    return back(PAGE, notice=_("The key %(name)s is revoked.") % {"name": key.name})
