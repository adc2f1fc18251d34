"""Gorgias' two ways into Amends. Gorgias has no app frame in its ticket sidebar: it shows
widgets of the JSON an HTTP integration answers
(https://docs.gorgias.com/en-US/connect-external-apps-to-gorgias-and-create-sidebar-widgets-81822,
https://developers.gorgias.com/reference/widgets).

1. The HTTP integration (`POST .../gorgias/events`, on ticket created, updated and message
   created) sends `X-Amends-Token: <integration_token>`, a header set in the integration
   (Gorgias documents no signature of its own). A ticket tagged with a mapped tag opens its
   case, a closed one fixes it; the answer is what the widget shows: the customer, their open
   cases and gestures, and a "Make amends" link.
2. The link (`GET .../gorgias?ticket=&expires=&signature=`) opens the panel in a new tab:
   signed with the installation's `link_secret`, short-lived and used once, and it takes the
   agent's own Amends login (the console's session cookie, sent to this first-party tab),
   whose user is the agent: nobody gets another person's authority.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Header, Query, Request
from fastapi.responses import RedirectResponse, Response

from amends.auth import SessionDep, authenticate
from amends.errors import AmendsError, Forbidden, NotAuthenticated, ValidationFailed, errors
from amends.helpdesk import panel
from amends.helpdesk import service as helpdesk
from amends.helpdesk.platforms import Requester, Ticket
from amends.integrations.gorgias import client, links
from amends.kit import outbound
from amends.models import HelpdeskInstallation
from amends.routing import router as make_router
from amends.routing import writes_on_read

log = logging.getLogger(__name__)
router = make_router(include_in_schema=False)

ROOT = "/helpdesk/{organization}/{installation_id}/gorgias"


class InvalidGorgiasRequest(ValidationFailed):
    code, title = "invalid_gorgias_request", "Not a request Amends' Gorgias integration sends"


class OtherOrganisation(Forbidden):
    code, title = "helpdesk_other_organisation", "Logged in to another organisation"


def _field(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return str(value).strip() if isinstance(value, str | int) and str(value).strip() else None


def _body_ticket(data: dict[str, Any], ticket_id: str) -> Ticket:
    """The ticket as the integration's body names it, when Gorgias' API cannot be read."""
    return Ticket(id=ticket_id, requester=Requester(
        email=_field(data, "customer_email"), name=_field(data, "customer_name")),
        status=_field(data, "status"))


async def _read(request: Request, installation: HelpdeskInstallation, ticket_id: str
                ) -> Ticket:
    # Gorgias' API is a peer like any other: the operator's outbound policy holds.
    with outbound.policy(allow_private=request.app.state.settings.outbound_allow_private):
        return await client.fetch_ticket(helpdesk.settings_of(installation), ticket_id)


def _words(key: str | None) -> str:
    return (key or "").replace("_", " ")


@router.post(f"{ROOT}/events", responses=errors(
    helpdesk.InstallationNotFound, helpdesk.SignatureRefused, InvalidGorgiasRequest,
    client.TicketNotFound))
async def ticket_event(organization: str, installation_id: uuid.UUID, request: Request,
                       session: SessionDep,
                       x_amends_token: Annotated[str | None, Header()] = None
                       ) -> dict[str, Any]:
    """Gorgias' HTTP integration on a ticket's event: opens the ticket's case for a mapped
    tag, fixes it when the ticket is closed, and answers what the sidebar widget shows (the
    customer, open cases, gestures given, the "Make amends" link). 401
    `helpdesk_signature_refused` without the installation's `X-Amends-Token`."""
    installation = await helpdesk.installation_for(
        session, organization=organization, installation_id=installation_id,
        platform="gorgias")
    helpdesk.check_secret(x_amends_token, installation, "integration_token")
    try:
        data = json.loads(await request.body() or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise InvalidGorgiasRequest("The integration's body is JSON: set its request content "
                                    "type to application/json.") from None
    data = data if isinstance(data, dict) else {}
    ticket_id = _field(data, "ticket_id") or request.query_params.get("ticket_id") or ""
    if not client.TICKET_ID.match(ticket_id):
        raise InvalidGorgiasRequest('The integration names no ticket: send {"ticket_id": '
                                    '"{{ticket.id}}"}.')
    try:
        ticket = await _read(request, installation, ticket_id)
    except client.GorgiasUnavailable as unavailable:
        log.warning("gorgias ticket %s not read: %s", ticket_id, unavailable.detail)
        ticket = _body_ticket(data, ticket_id)
    kind = "solved" if (ticket.status or "").lower() == "closed" else "tagged"
    try:
        handled = await helpdesk.ticket_event(session, installation, kind, ticket)
        outcome, why = handled.outcome, handled.why
    except helpdesk.RequesterUnknown as unknown:  # refused before anything was written
        outcome, why = "ignored", unknown.detail or ""
    return await _widget(request, session, installation, organization, ticket,
                         outcome=outcome, why=why)


async def _widget(request: Request, session: SessionDep, installation: HelpdeskInstallation,
                  organization: str, ticket: Ticket, *, outcome: str, why: str
                  ) -> dict[str, Any]:
    """The JSON Gorgias stores on the customer and the widget shows (its template's paths
    point into it; the link's URL is `{{panel_url}}`)."""
    actor = helpdesk.system_actor(installation)
    customer = await helpdesk.match_customer(session, actor, ticket.requester)
    cases = await helpdesk.open_cases_of(session, actor, customer) if customer else []
    gestures = await helpdesk.gestures_of(session, actor, customer, limit=5) if customer else []
    base = str(request.app.state.settings.base_url)
    root = helpdesk.urls(base, organization, installation)["panel"]
    url, until = links.make(root, helpdesk.secret_of(installation, "link_secret"),
                            installation_id=str(installation.id), ticket_id=ticket.id)
    return {
        "ticket_id": ticket.id,
        "outcome": outcome, **({"why": why} if why else {}),
        "customer": {
            "name": (customer.name if customer else ticket.requester.name) or "",
            "email": (customer.email if customer else ticket.requester.email) or "",
            "in_amends": "yes" if customer else "not yet",
        },
        "summary": f"{len(cases)} open case{'s' if len(cases) != 1 else ''} · "
                   f"{len(gestures)} gesture{'s' if len(gestures) != 1 else ''} given",
        "open_cases": [{"reference": c.reference, "reason": _words(c.reason),
                        "state": _words(c.state)} for c in cases],
        "gestures": [{"name": g.name, "code": g.code, "status": _words(g.status)}
                     for g in gestures],
        "panel_url": url,
        "panel_label": "Make amends",
        "link_expires": until.isoformat(),
    }


@router.get(ROOT, dependencies=[Depends(writes_on_read)])
async def open_link(organization: str, installation_id: uuid.UUID, request: Request,
                    session: SessionDep,
                    ticket: Annotated[str, Query(max_length=30)] = "",
                    expires: Annotated[int, Query()] = 0,
                    signature: Annotated[str, Query(max_length=100)] = "") -> Response:
    """The widget's "Make amends" link, opened by an agent logged in to Amends: the panel
    for the ticket, read from Gorgias. A forged, expired or used link is refused (401) in
    words; without a login, the login page first, then back here."""
    installation: HelpdeskInstallation | None = None
    try:
        installation = await helpdesk.installation_for(
            session, organization=organization, installation_id=installation_id,
            platform="gorgias")
        secret = helpdesk.secret_of(installation, "link_secret")
        if not (client.TICKET_ID.match(ticket) and links.valid(
                secret, installation_id=str(installation.id), ticket_id=ticket,
                expires=expires, given=signature)):
            raise helpdesk.SignatureRefused(
                "This link is not valid or has expired: use the link in the ticket's Amends "
                "widget after its next update.")
        try:
            actor = await authenticate(request)
        except NotAuthenticated:
            target = f"{request.url.path}?{request.url.query}"
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        if actor.kind != "user":
            raise OtherOrganisation("Open the link in a browser logged in to Amends.")
        if actor.organization_id != installation.organization_id:
            raise OtherOrganisation("You are logged in to another Amends organisation: log "
                                    "out, then open the link again.")
        try:
            await helpdesk.first_use(session, installation, token_id=f"link:{signature}",
                                     until=datetime.fromtimestamp(expires, UTC))
        except helpdesk.SignatureRefused:
            raise helpdesk.SignatureRefused(
                "This link was used already: its panel is open in the tab it opened; for "
                "another, use the link in the ticket's Amends widget after its next "
                "update.") from None
        found = await _read(request, installation, ticket)
    except AmendsError as error:
        return panel.refused(request, error, installation)
    # The console's user is the agent (`Actor.for_user` labels them by their e-mail).
    return await panel.show_panel(request, session, installation, agent_email=actor.label,
                                  ticket=found)
