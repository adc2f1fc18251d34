"""What Freshdesk sends Amends, read strictly: the sidebar app's request for a panel (its
body built by the app's script from the data method) and an automation rule's webhook (a
JSON body of placeholders the admin pasted, values rendered as text).

Sources: the data method's objects (`ticket`, `loggedInUser`, `requester`),
https://developers.freshworks.com/docs/app-sdk/v3.0/support_ticket/front-end-apps/data-method/;
automation webhooks and their placeholders,
https://support.freshdesk.com/support/solutions/articles/132589-using-webhooks-in-automation-rules
(`{{ticket.tags}}` renders the tag names joined with ", ", `{{ticket.status}}` and
`{{ticket.priority}}` their names, e.g. "Resolved", "Urgent")."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as PydanticError

from amends.errors import ValidationFailed
from amends.helpdesk.platforms import Requester, Ticket, TicketEvent
from amends.integrations.freshdesk import client

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)]


class InvalidFreshdeskRequest(ValidationFailed):
    code, title = "invalid_freshdesk_request", "Not a request Amends' Freshdesk app sends"


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class RequesterIn(_Loose):
    id: Text | None = None
    name: Text | None = None
    email: Text | None = None
    phone: Text | None = None
    mobile: Text | None = None
    unique_external_id: Text | None = None


class TicketIn(_Loose):
    id: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,20}$")]
    subject: Annotated[str, StringConstraints(max_length=2000)] = ""
    priority: Text | None = None
    status: Text | None = None
    tags: list[Annotated[str, StringConstraints(max_length=100)]] = Field(default_factory=list,
                                                                          max_length=50)
    requester: RequesterIn = Field(default_factory=RequesterIn)


class SessionIn(_Loose):
    """The app's request for a panel: the agent (`loggedInUser.contact.email`), the ticket
    (the API is asked again for it), and a timestamp (seconds) and nonce against replays."""

    agent_email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3,
                                                  max_length=320)]
    ticket: TicketIn
    timestamp: int
    nonce: Annotated[str, StringConstraints(min_length=16, max_length=100,
                                            pattern=r"^[A-Za-z0-9_.:-]+$")]


def session_request(body: bytes) -> SessionIn:
    try:
        return SessionIn.model_validate_json(body)
    except PydanticError as exc:
        raise InvalidFreshdeskRequest(
            "Send {agent_email, ticket: {id, ...}, timestamp, nonce} as JSON: "
            + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        ) from None


def ticket_of(given: TicketIn) -> Ticket:
    r = given.requester
    return Ticket(id=given.id, subject=given.subject, priority=given.priority,
                  status=given.status, tags=tuple(given.tags),
                  requester=Requester(external_id=r.unique_external_id, email=r.email,
                                      phone=r.mobile or r.phone, name=r.name))


def _field(data: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = data.get(name)
        if isinstance(value, str | int | float) and str(value).strip():
            return str(value).strip()
    return None


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        words = [str(v) for v in value if isinstance(v, str | int)]
    elif isinstance(value, str):
        words = value.split(",")
    else:
        words = []
    return tuple(dict.fromkeys(w.strip().lower() for w in words if w.strip()))[:50]


def ticket_event(body: bytes) -> TicketEvent:
    """An automation rule's webhook as a ticket event: solved when its status is Resolved or
    Closed (by name or number), else tagged (its tags say whether a case opens). Accepts the
    body flat or under `ticket`, the contact under `contact` or `requester`."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidFreshdeskRequest("The webhook's body is not JSON: quote every "
                                      "placeholder in the rule's body.") from None
    if isinstance(data, dict) and isinstance(data.get("ticket"), dict):
        data = data["ticket"]
    if not isinstance(data, dict):
        raise InvalidFreshdeskRequest("The webhook's body is a JSON object.")
    ticket_id = _field(data, "id", "ticket_id")
    if ticket_id is None or not client.TICKET_ID.match(ticket_id):
        raise InvalidFreshdeskRequest("The webhook names no ticket: send "
                                      '{"ticket": {"id": "{{ticket.id}}", ...}}.')
    contact = data.get("contact") or data.get("requester") or {}
    contact = contact if isinstance(contact, dict) else {}
    status = _field(data, "status")
    ticket = Ticket(
        id=ticket_id, subject=(_field(data, "subject") or "")[:2000],
        priority=_field(data, "priority"), status=status, tags=_tags(data.get("tags")),
        requester=Requester(
            external_id=_field(contact, "unique_external_id"),
            email=_field(contact, "email") or _field(data, "email"),
            phone=_field(contact, "mobile", "phone"), name=_field(contact, "name")))
    return TicketEvent(kind="solved" if client.is_solved(status) else "tagged", ticket=ticket)
