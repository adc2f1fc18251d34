"""Intercom's webhook notifications for one installation, at
`/helpdesk/{organisation}/{installation}/intercom/events`
(https://developers.intercom.com/docs/webhooks/webhook-notifications): conversations that
open and fix cases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from amends.auth import SessionDep
from amends.helpdesk import service as helpdesk
from amends.helpdesk.platforms import Ticket
from amends.integrations.intercom import signatures
from amends.integrations.intercom.payloads import Notification, ticket_of
from amends.integrations.intercom.routes import PLATFORM, ROOT, MalformedRequest
from amends.kit.clock import utcnow
from amends.routing import router as make_router

router = make_router(include_in_schema=False)
# A notification's id is remembered this long; an older notification is refused (401).
NOTIFICATION_HOURS = 24
# The topics that concern a case (https://developers.intercom.com/docs/references/webhooks/
# webhook-models): each names a conversation in `data.item`.
TOPICS = {"conversation.user.created": "opened", "conversation_part.tag.created": "tagged",
          "conversation.admin.closed": "solved"}


@router.post(ROOT + "/events")
async def events(organization: str, installation_id: uuid.UUID, request: Request,
                 session: SessionDep) -> JSONResponse:
    """A webhook notification: a conversation started by a customer, or tagged with a tag the
    installation maps to a reason, opens its case; closed by a teammate, its case is fixed.
    Each notification acts once (its id is remembered); another topic is acknowledged."""
    installation = await helpdesk.installation_for(
        session, organization=organization, installation_id=installation_id,
        platform=PLATFORM)
    raw = await request.body()
    signatures.check_hub_signature(installation, raw, request.headers.get("x-hub-signature"))
    try:
        notification = Notification.model_validate_json(raw)
    except ValidationError as error:
        raise MalformedRequest("The body is not an Intercom notification.") from error
    if notification.app_id and notification.app_id.strip().lower() != installation.account:
        raise helpdesk.SignatureRefused(
            "This notification comes from another Intercom workspace than the installation's.")
    sent = notification.first_sent_at or notification.created_at
    now = utcnow()
    if sent is not None and datetime.fromtimestamp(sent, tz=UTC) < now - timedelta(
            hours=NOTIFICATION_HOURS):
        raise helpdesk.SignatureRefused("This notification is too old to act on.")
    kind = TOPICS.get(notification.topic)
    item = notification.item()
    if kind is None or item.get("type") != "conversation" or not item.get("id"):
        return JSONResponse({"outcome": "ignored", "why": f"nothing to do for "
                                                          f"{notification.topic}"})
    if not notification.id:
        raise MalformedRequest("A notification about a conversation carries its id.")
    try:
        await helpdesk.first_use(session, installation,
                                 token_id=f"notification:{notification.id}",
                                 until=now + timedelta(hours=NOTIFICATION_HOURS))
    except helpdesk.SignatureRefused:
        # Intercom delivers at least once: the same notification again acts no more.
        return JSONResponse({"outcome": "duplicate", "why": "this notification was handled"})
    ticket: Ticket = ticket_of(str(item["id"]), item)
    try:
        async with session.begin_nested():
            handled = await helpdesk.ticket_event(session, installation, kind, ticket)
    except helpdesk.RequesterUnknown as error:
        return JSONResponse({"outcome": "ignored", "why": error.detail})
    return JSONResponse({"outcome": handled.outcome, "why": handled.why,
                         "case": handled.case.reference if handled.case else None})
