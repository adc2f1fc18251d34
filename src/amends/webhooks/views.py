"""The webhooks admin page (admins): endpoints that receive the organisation's events, their
delivery log with each payload and the receiver's answer, resend, rotate the secret,
deactivate and delete; through the same service functions as the API."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from amends.actor import Actor
from amends.auth import SessionDep, SettingsDep, require
from amends.kit import outbound
from amends.models import WebhookEndpoint
from amends.roles import Scope
from amends.routing import router as make_router
from amends.web.templating import N_, back, gettext_for, render
from amends.webhooks import service as webhooks

router = make_router(include_in_schema=False)
Admin = Annotated[Actor, Depends(require(Scope.ADMIN))]
PAGE = "/admin/webhooks"
# A new secret travels to the page after the redirect in a cookie read once: reloading the
# page neither shows it again nor posts the form again.
ONCE_COOKIE = "amends_webhook_secret"

# What each event means to an admin choosing what to receive.
EVENT_NAMES = {
    "case.opened": N_("A case is opened"),
    "case.state_changed": N_("A case moves to another step"),
    "coupon.issued": N_("A gesture is given"),
    "coupon.redeemed": N_("A gesture is used"),
    "approval.requested": N_("A gesture waits for approval"),
    "approval.decided": N_("An approval is granted or refused"),
    "suppression.added": N_("A customer is taken off marketing (open case)"),
    "suppression.removed": N_("A customer may receive marketing again"),
}
STATUS_NAMES = {"pending": N_("Pending"), "retrying": N_("Retrying"),
                "delivered": N_("Delivered"), "failed": N_("Failed")}


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def _answer(text: str | None) -> str:
    """A receiver's answer, indented when it is JSON."""
    if not text:
        return ""
    try:
        return _pretty(json.loads(text))
    except ValueError:
        return text


def _with_secret(response: Response, endpoint: WebhookEndpoint, *, secure: bool) -> Response:
    response.set_cookie(ONCE_COOKIE, f"{endpoint.id}:{endpoint.secret}", max_age=120,
                        path=PAGE, secure=secure, httponly=True, samesite="strict")
    return response


def _secret_once(request: Request, endpoint_id: uuid.UUID | None = None
                 ) -> tuple[uuid.UUID, str] | None:
    """The secret the previous answer left for this page (of this endpoint, if given)."""
    held = request.cookies.get(ONCE_COOKIE, "")
    key, _, secret = held.partition(":")
    try:
        found = uuid.UUID(key)
    except ValueError:
        return None
    if not secret or (endpoint_id is not None and found != endpoint_id):
        return None
    return found, secret


def _shown(response: Response, request: Request) -> Response:
    if ONCE_COOKIE in request.cookies:
        response.delete_cookie(ONCE_COOKIE, path=PAGE)
    return response


async def _page(request: Request, session: SessionDep, actor: Actor, *,
                errors: dict[str, str] | None = None, form: dict[str, Any] | None = None,
                status_code: int = 200) -> Response:
    endpoints = await webhooks.list_endpoints(session, actor)
    once = _secret_once(request)
    created = next((e for e in endpoints if once and e.id == once[0]), None)
    return _shown(render(request, "admin/webhooks.html", {
        "endpoints": endpoints, "event_names": EVENT_NAMES, "created": created,
        "secret": once[1] if once and created else None, "errors": errors or {},
        "form": form or {"event_types": [], "url": "", "description": ""}},
        status_code=status_code), request)


@router.get("/admin/webhooks", response_class=HTMLResponse)
async def webhooks_page(request: Request, session: SessionDep, actor: Admin) -> Response:
    return await _page(request, session, actor)


@router.post("/admin/webhooks", response_class=HTMLResponse)
async def create_endpoint(request: Request, session: SessionDep, actor: Admin,
                          settings: SettingsDep,
                          url: Annotated[str, Form(max_length=2000)] = "",
                          description: Annotated[str, Form(max_length=200)] = "",
                          event_types: Annotated[list[str] | None, Form()] = None) -> Response:
    """A refusal answers the page with the errors; a success redirects to the page, which
    shows the new secret this once."""
    _ = gettext_for(request)
    chosen = [e for e in event_types or [] if e in webhooks.EVENT_TYPES]
    form = {"url": url, "description": description, "event_types": chosen}
    if not url.strip().lower().startswith(("http://", "https://")):
        return await _page(request, session, actor, form=form, status_code=422, errors={
            "url": _("Enter the receiver's address, starting with https://.")})
    try:
        endpoint = await webhooks.create_endpoint(
            session, actor, url=url.strip(), event_types=chosen, description=description,
            allow_private=settings.outbound_allow_private)
    except (outbound.OutboundAddressRefused, outbound.InvalidOutboundUrl) as refused:
        await session.rollback()
        return await _page(request, session, actor, form=form, status_code=422,
                           errors={"url": refused.detail})
    return _with_secret(back(PAGE), endpoint, secure=settings.cookie_secure)


@router.get("/admin/webhooks/{endpoint_id}", response_class=HTMLResponse)
async def endpoint_page(endpoint_id: uuid.UUID, request: Request, session: SessionDep,
                        actor: Admin) -> Response:
    endpoint = await webhooks.get_endpoint(session, actor, endpoint_id=endpoint_id)
    once = _secret_once(request, endpoint_id)
    return _shown(await _endpoint_page(request, session, actor, endpoint,
                                       secret=once[1] if once else None), request)


async def _endpoint_page(request: Request, session: SessionDep, actor: Actor,
                         endpoint: WebhookEndpoint, *, secret: str | None) -> Response:
    deliveries = await webhooks.list_deliveries(session, actor, endpoint_id=endpoint.id)
    return render(request, "admin/webhook.html", {
        "endpoint": endpoint, "event_names": EVENT_NAMES, "status_names": STATUS_NAMES,
        "deliveries": [{"row": d, "payload": _pretty(d.payload),
                        "answer": _answer(d.response_body)} for d in deliveries],
        "secret": secret})


@router.post("/admin/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend")
async def resend(endpoint_id: uuid.UUID, delivery_id: uuid.UUID, request: Request,
                 session: SessionDep, actor: Admin) -> Response:
    _ = gettext_for(request)
    here = f"{PAGE}/{endpoint_id}"
    try:
        await webhooks.resend(session, actor, endpoint_id=endpoint_id, delivery_id=delivery_id)
    except webhooks.WebhookEndpointInactive:
        await session.rollback()
        return back(here, problem=_("Activate the endpoint before resending to it."))
    return back(here, notice=_("Sent again: it is at the top of the log, with the same "
                               "webhook-id."))


@router.post("/admin/webhooks/{endpoint_id}/rotate-secret")
async def rotate_secret(endpoint_id: uuid.UUID, request: Request, session: SessionDep,
                        actor: Admin, settings: SettingsDep) -> Response:
    """Redirects to the endpoint's page, which shows the new secret this once."""
    endpoint = await webhooks.rotate_secret(session, actor, endpoint_id=endpoint_id)
    return _with_secret(back(f"{PAGE}/{endpoint_id}"), endpoint,
                        secure=settings.cookie_secure)


@router.post("/admin/webhooks/{endpoint_id}/active")
async def set_active(endpoint_id: uuid.UUID, request: Request, session: SessionDep,
                     actor: Admin, active: Annotated[str, Form(pattern="^(on|off)$")]
                     ) -> Response:
    _ = gettext_for(request)
    on = active == "on"
    await webhooks.update_endpoint(session, actor, endpoint_id=endpoint_id,
                                   changes={"active": on})
    return back(f"{PAGE}/{endpoint_id}", notice=_("Active: events are sent to it again.") if on
                else _("Deactivated: nothing is sent to it until you activate it."))


@router.post("/admin/webhooks/{endpoint_id}/delete")
async def delete_endpoint(endpoint_id: uuid.UUID, request: Request, session: SessionDep,
                          actor: Admin) -> Response:
    await webhooks.delete_endpoint(session, actor, endpoint_id=endpoint_id)
    return back(PAGE, notice=gettext_for(request)("Endpoint deleted, with its delivery log."))
