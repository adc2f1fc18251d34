"""What Zendesk's words mean to Amends: its ticket priorities as severities, and the body a
Zendesk trigger posts to the ticket webhook.

The trigger's body is the admin's own JSON with Zendesk placeholders (the README shows the one
to paste). Placeholders render as plain text, so every value is a string: the status and
priority may be display words ("Solved", "High") and `{{ticket.tags}}` is one space-separated
string (https://support.zendesk.com/hc/en-us/articles/4408886858138,
https://developer.zendesk.com/api-reference/webhooks/webhooks-api/webhooks/ for the trigger's
`notification_webhook` action that carries it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from amends.errors import ValidationFailed
from amends.helpdesk.platforms import EventKind, Requester, Ticket

# Zendesk's ticket priorities (urgent, high, normal, low, or none)
# (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#json-format).
SEVERITIES = {"urgent": 5, "high": 4, "normal": 3, "low": 2}
SOLVED = ("solved", "closed")
_TICKET_ID = re.compile(r"^[1-9][0-9]{0,19}$")
_FIELD = 500


class InvalidTicketEvent(ValidationFailed):
    code, title = "invalid_zendesk_ticket_event", "Not a ticket event Amends understands"


def severity(priority: str | None) -> int:
    return SEVERITIES.get((priority or "").strip().lower(), 3)


def ticket_url(account: str, ticket_id: str) -> str:
    """The ticket in Zendesk's agent interface."""
    return f"https://{account}.zendesk.com/agent/tickets/{ticket_id}"


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()[:_FIELD]
    return text or None


def ticket_event(body: object) -> tuple[EventKind, Ticket]:
    """The trigger's body read as a ticket event: a solved (or closed) ticket is `solved`;
    else `opened` when the body says `"event": "created"`, `tagged` otherwise (the
    installation's tags decide whether a case opens)."""
    if not isinstance(body, dict):
        raise InvalidTicketEvent("The body is a JSON object such as the README's.")
    nested = body.get("ticket")
    data: Mapping[str, Any] = nested if isinstance(nested, dict) else body
    ticket_id = _text(data, "id") or _text(data, "ticket_id") or ""
    if not _TICKET_ID.match(ticket_id):
        raise InvalidTicketEvent("The body names no ticket: put \"id\": \"{{ticket.id}}\" in "
                                 "the trigger's JSON body.")
    given = data.get("requester")
    who: Mapping[str, Any] = given if isinstance(given, dict) else {}
    raw_tags = data.get("tags")
    tags = (raw_tags.split() if isinstance(raw_tags, str)
            else [str(t) for t in raw_tags] if isinstance(raw_tags, list) else [])
    status = (_text(data, "status") or "").lower() or None
    priority = (_text(data, "priority") or "").lower()
    ticket = Ticket(
        id=ticket_id,
        requester=Requester(external_id=_text(who, "external_id"), email=_text(who, "email"),
                            phone=_text(who, "phone"), name=_text(who, "name")),
        subject=_text(data, "subject") or "",
        priority=priority if priority in SEVERITIES else None,
        tags=tuple(tag.strip().lower()[:100] for tag in tags[:100] if tag.strip()),
        status=status)
    if status in SOLVED:
        return "solved", ticket
    event = (_text(body, "event") or "").lower()
    return ("opened" if event == "created" else "tagged"), ticket
