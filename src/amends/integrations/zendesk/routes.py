"""Where Zendesk reaches an installation: the sidebar's signed load (the agent's panel) and the
ticket webhook a trigger posts to. Both addresses carry the organisation's slug and the
installation's id (`helpdesk.service.urls`), put in the app's package and the webhook by the
admin."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from amends.auth import SessionDep
from amends.errors import AmendsError
from amends.helpdesk import panel
from amends.helpdesk import service as helpdesk
from amends.helpdesk.platforms import Ticket
from amends.integrations.zendesk import client, payloads, signatures
from amends.kit import outbound
from amends.kit.clock import utcnow
from amends.models import HelpdeskInstallation
from amends.routing import router as make_router

router = make_router(include_in_schema=False)

# The Zendesk Apps Framework's SDK, which the panel's first page loads to ask Zendesk for the
# ticket's id (https://developer.zendesk.com/api-reference/apps/apps-core-api/client_api/).
ZAF_ORIGIN = "https://static.zdassets.com"
ZAF_SDK = f"{ZAF_ORIGIN}/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js"


def _origin_allowed(installation: HelpdeskInstallation, origin: str | None) -> bool:
    """The page that frames the panel (ZAF's `origin` parameter) is the account's Zendesk, or
    an origin the installation lists: the panel's script talks to that frame only."""
    if not origin:
        return False
    allowed = {f"https://{installation.account}.zendesk.com",
               *helpdesk.effective_settings(installation)["frame_origins"]}
    return origin.lower().rstrip("/") in allowed


@router.post("/helpdesk/{organization}/{installation_id}/zendesk")
async def zendesk_panel(request: Request, session: SessionDep, organization: str,
                        installation_id: uuid.UUID,
                        token: Annotated[str | None, Form(max_length=20_000)] = None,
                        origin: Annotated[str | None, Query(max_length=300)] = None,
                        app_guid: Annotated[str | None, Query(max_length=100)] = None
                        ) -> HTMLResponse:
    """The ticket sidebar, loaded by Zendesk with a signed token (ZAF signed URLs): the token
    checked, used once, its agent mapped to an Amends user, then the page that asks Zendesk
    for the ticket's id. Every refusal is a 401 page that says why."""
    installation: HelpdeskInstallation | None = None
    try:
        installation = await helpdesk.installation_for(
            session, organization=organization, installation_id=installation_id,
            platform="zendesk")
        load = signatures.check_panel_token(
            token, account=installation.account,
            zendesk_installation_id=helpdesk.secret_of(installation, "zendesk_installation_id"),
            public_key=helpdesk.secret_of(installation, "app_public_key"))
        if not _origin_allowed(installation, origin) or not app_guid:
            raise helpdesk.SignatureRefused(
                f"The app was not opened by https://{installation.account}.zendesk.com: "
                "open it from a ticket there.")
        await helpdesk.first_use(session, installation, token_id=load.token_id,
                                 until=load.expires_at)
        with outbound.policy(allow_private=request.app.state.settings.outbound_allow_private):
            email = await client.agent_email(helpdesk.settings_of(installation), load.user_id)
    except AmendsError as error:
        return panel.refused(request, error, installation)
    return await panel.show_panel(
        request, session, installation, agent_email=email, ticket=None,
        bootstrap="helpdesk/zendesk_bootstrap.html", script_origins=(ZAF_ORIGIN,),
        extra={"origin": (origin or "").lower().rstrip("/"), "app_guid": app_guid,
               "sdk": ZAF_SDK})


async def _from_api(request: Request, installation: HelpdeskInstallation,
                    ticket: Ticket) -> Ticket:
    """The ticket as Zendesk's API tells it, with its subject, which a trigger's JSON body
    cannot carry safely (placeholders render as plain text, and a subject's quotes would break
    the JSON); the trigger's own fields when the API cannot be read."""
    try:
        with outbound.policy(allow_private=request.app.state.settings.outbound_allow_private):
            return await client.fetch_ticket(helpdesk.settings_of(installation), ticket.id)
    except AmendsError:
        return ticket


@router.post("/helpdesk/{organization}/{installation_id}/zendesk/events")
async def zendesk_ticket_event(request: Request, session: SessionDep, organization: str,
                               installation_id: uuid.UUID) -> JSONResponse:
    """A Zendesk trigger's webhook: the signature checked (401 if forged, stale or used
    before), then the ticket's case opened (a tag that names a reason), found, or fixed (the
    ticket solved). Answers what was done."""
    installation = await helpdesk.installation_for(
        session, organization=organization, installation_id=installation_id,
        platform="zendesk")
    body = await request.body()
    signature = request.headers.get("x-zendesk-webhook-signature")
    signed_at = signatures.check_webhook(
        body, signature=signature,
        timestamp=request.headers.get("x-zendesk-webhook-signature-timestamp"),
        secret=helpdesk.secret_of(installation, "webhook_secret"), now=utcnow())
    try:
        data: Any = json.loads(body)
    except ValueError:
        raise payloads.InvalidTicketEvent("The body is not JSON.") from None
    kind, ticket = payloads.ticket_event(data)
    assert signature is not None
    await helpdesk.first_use(
        session, installation,
        token_id=f"webhook:{hashlib.sha256(signature.encode()).hexdigest()}",
        until=signed_at + signatures.WEBHOOK_WINDOW)
    if kind != "solved" and not ticket.subject:
        ticket = await _from_api(request, installation, ticket)
    handled = await helpdesk.ticket_event(session, installation, kind, ticket)
    case = handled.case
    return JSONResponse({
        "event": kind, "ticket": ticket.id, "outcome": handled.outcome, "why": handled.why,
        "case": None if case is None else {"id": str(case.id), "reference": case.reference,
                                           "state": case.state, "reason": case.reason}})
