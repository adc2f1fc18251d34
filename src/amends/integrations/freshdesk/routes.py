"""Freshdesk's two ways into Amends.

1. The sidebar app asks for a panel through its request template
   (https://developers.freshworks.com/docs/app-sdk/v3.0/support_ticket/advanced-interfaces/request-method/):
   Freshworks' proxy adds `Authorization: Bearer <the installation's app_secret>` from a
   secure installation parameter, which the browser never sees. Amends checks it in constant
   time, refuses a request more than five minutes old or one whose nonce it has seen, maps the
   agent by e-mail, reads the ticket again from Freshdesk's API and answers a one-use link to
   the panel, which the app frames.

   What the secret proves is that the request comes from the app installed in this
   Freshdesk account; the agent's e-mail is what Freshdesk's page told the app in that
   agent's browser (Freshdesk signs nothing about the agent).

2. An automation rule's webhook (ticket created, tag added, status changed) with the custom
   header `X-Amends-Secret: <webhook_secret>`. Freshdesk does not sign webhooks: the header
   is the only proof, so it is a long random secret compared in constant time.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse

from amends.auth import SessionDep
from amends.errors import errors
from amends.helpdesk import service as helpdesk
from amends.integrations.freshdesk import client, payloads
from amends.kit import outbound
from amends.kit.clock import utcnow
from amends.routing import router as make_router

log = logging.getLogger(__name__)
router = make_router(include_in_schema=False)

ROOT = "/helpdesk/{organization}/{installation_id}/freshdesk"
# A request older than this (or this far ahead: clocks differ) is refused; its nonce is
# remembered as long.
FRESH = timedelta(minutes=5)
# The same webhook body again within this window is a retry or a duplicate rule: done once.
DUPLICATE_WINDOW = timedelta(minutes=10)


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _bearer(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


@router.post(f"{ROOT}/session", responses=errors(
    helpdesk.InstallationNotFound, helpdesk.SignatureRefused, helpdesk.AgentNotMapped,
    payloads.InvalidFreshdeskRequest, client.TicketNotFound, client.FreshdeskUnavailable))
async def open_session(organization: str, installation_id: uuid.UUID, request: Request,
                       session: SessionDep,
                       authorization: Annotated[str | None, Header()] = None
                       ) -> dict[str, str]:
    """The Freshdesk app's request for the agent's panel (its request template adds the
    secret header). Answers `{"panel_url": ...}`: a link that opens the panel once, within two
    minutes. 401 `helpdesk_signature_refused` for a missing or wrong secret, a stale
    timestamp or a nonce used before; 403 `helpdesk_agent_unknown` for an agent without an
    Amends user."""
    installation = await helpdesk.installation_for(
        session, organization=organization, installation_id=installation_id,
        platform="freshdesk")
    helpdesk.check_secret(_bearer(authorization), installation, "app_secret")
    asked = payloads.session_request(await request.body())
    now = utcnow()
    sent = datetime.fromtimestamp(asked.timestamp, UTC) if abs(
        asked.timestamp) < 10**11 else None
    if sent is None or abs(now - sent) > FRESH:
        raise helpdesk.SignatureRefused("The request is more than 5 minutes old (or the "
                                        "clocks differ): reopen the ticket.")
    await helpdesk.first_use(session, installation, token_id=f"nonce:{asked.nonce}",
                             until=sent + FRESH)
    _, user = await helpdesk.agent(session, installation, asked.agent_email)
    settings = helpdesk.settings_of(installation)
    try:
        # Freshdesk's API is a peer like any other: the operator's outbound policy holds.
        with outbound.policy(allow_private=request.app.state.settings.outbound_allow_private):
            ticket = await client.fetch_ticket(settings, asked.ticket.id)
    except client.FreshdeskUnavailable as unavailable:
        # The panel still opens on what the app read from the page; replies wait for the API.
        log.warning("freshdesk ticket %s not read: %s", asked.ticket.id, unavailable.detail)
        ticket = payloads.ticket_of(asked.ticket)
    code = await helpdesk.open_panel_code(session, installation, user, ticket)
    base = str(request.app.state.settings.base_url).rstrip("/")
    return {"panel_url": f"{base}/helpdesk/panel/start?code={code}"
                         f"&installation={installation.id}"}


@router.post(f"{ROOT}/events", responses=errors(
    helpdesk.InstallationNotFound, helpdesk.SignatureRefused, payloads.InvalidFreshdeskRequest,
    helpdesk.RequesterUnknown))
async def ticket_event(organization: str, installation_id: uuid.UUID, request: Request,
                       session: SessionDep,
                       x_amends_secret: Annotated[str | None, Header()] = None
                       ) -> JSONResponse:
    """A Freshdesk automation rule's webhook: a ticket created or tagged with a mapped tag
    opens its case; Resolved or Closed moves it to fixed. The same body twice within ten
    minutes is done once (`"outcome": "duplicate"`)."""
    installation = await helpdesk.installation_for(
        session, organization=organization, installation_id=installation_id,
        platform="freshdesk")
    helpdesk.check_secret(x_amends_secret, installation, "webhook_secret")
    body = await request.body()
    event = payloads.ticket_event(body)
    try:
        await helpdesk.first_use(session, installation, token_id=f"event:{_digest(body)}",
                                 until=utcnow() + DUPLICATE_WINDOW)
    except helpdesk.SignatureRefused:
        return JSONResponse({"outcome": "duplicate", "ticket": event.ticket.id})
    handled = await helpdesk.ticket_event(session, installation, event.kind, event.ticket)
    answer: dict[str, Any] = {"outcome": handled.outcome, "ticket": event.ticket.id}
    if handled.case is not None:
        answer["case"] = handled.case.reference
    if handled.why:
        answer["why"] = handled.why
    return JSONResponse(answer)
