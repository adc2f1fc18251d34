"""Gorgias' REST API, as Amends uses it: read a ticket (its customer, channels, tags,
priority, status, messages), post a message into it. Basic authentication with a user's
e-mail and API key; the account's own address, `https://{domain}.gorgias.com/api` (an
`api_base_url` secret points elsewhere, for tests; every connection goes through the
outbound address policy).

Sources: https://developers.gorgias.com/docs/authentication (Basic e-mail:API key),
https://developers.gorgias.com/reference/get-ticket (the Ticket object),
https://developers.gorgias.com/reference/create-ticket-message and
https://developers.gorgias.com/docs/create-a-new-message-in-ticket-via-api (outgoing messages:
`from_agent: true`, a user as `sender`; `channel: "internal-note"` is never sent to the
customer; without `sent_datetime` Gorgias sends it),
https://developers.gorgias.com/reference/limitations (429 with `Retry-after`)."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from html import escape
from typing import Any

import httpx

from amends.delivery.channels import DeliveryFailed
from amends.errors import AmendsError, NotFound, ValidationFailed
from amends.helpdesk.platforms import Reply, Requester, Ticket
from amends.kit import http

TICKET_ID = re.compile(r"^[0-9]{1,20}$")
# Ticket priorities read as a case severity, 1 to 4: high and critical are both the worst, as
# Zendesk's high and urgent are (https://developers.gorgias.com/reference/get-ticket).
SEVERITY = {"low": 2, "normal": 3, "high": 4, "critical": 4}
# The channels a public reply goes out on as the ticket came in; any other is answered with an
# internal note the agent sends on (Gorgias sends an `email` or `chat` message itself).
REPLY_CHANNELS = ("email", "chat")


class GorgiasUnavailable(AmendsError):
    status, code, title = 502, "gorgias_unavailable", "Gorgias did not answer as expected"


class TicketNotFound(NotFound):
    code, title = "gorgias_ticket_not_found", "No such Gorgias ticket"


class InvalidTicketId(ValidationFailed):
    code, title = "invalid_gorgias_ticket", "Not a Gorgias ticket id"


def severity(priority: str | None) -> int:
    return SEVERITY.get(str(priority or "").strip().lower(), 3)


def host(account: str) -> str:
    """The account's host: `acme` or `acme.gorgias.com` both name acme.gorgias.com."""
    account = account.strip().lower()
    return account if "." in account else f"{account}.gorgias.com"


def ticket_url(account: str, ticket_id: str) -> str:
    return f"https://{host(account)}/app/ticket/{ticket_id}"


def _base(settings: Mapping[str, Any]) -> str:
    given = str(settings.get("api_base_url") or "").rstrip("/")
    return f"{given}/api" if given else f"https://{host(str(settings['account']))}/api"


def _auth(settings: Mapping[str, Any]) -> dict[str, str]:
    token = base64.b64encode(
        f"{settings['api_email']}:{settings['api_key']}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Accept": "application/json"}


def checked_id(ticket_id: str) -> str:
    ticket_id = str(ticket_id).strip()
    if not TICKET_ID.match(ticket_id):
        raise InvalidTicketId("A Gorgias ticket id is a number.")
    return ticket_id


def _text(value: Any) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    return None


def _channels(customer: Mapping[str, Any], *kinds: str) -> list[str]:
    return [str(c["address"]) for c in customer.get("channels") or []
            if isinstance(c, dict) and c.get("type") in kinds and _text(c.get("address"))]


def ticket_from(data: Mapping[str, Any]) -> Ticket:
    """The Ticket object as the panel and the events read it: the customer by external id,
    e-mail (the primary, else an e-mail channel) and phone (a phone or SMS channel); tags by
    name; priority and status as Gorgias words them."""
    customer = data.get("customer") or {}
    emails = _channels(customer, "email")
    phones = _channels(customer, "phone", "sms")
    names = [_text(t.get("name")) if isinstance(t, dict) else _text(t)
             for t in data.get("tags") or []]
    return Ticket(
        id=str(data["id"]),
        requester=Requester(external_id=_text(customer.get("external_id")),
                            email=_text(customer.get("email")) or (emails[0] if emails else None),
                            phone=phones[0] if phones else None,
                            name=_text(customer.get("name"))),
        subject=str(data.get("subject") or "")[:2000],
        priority=_text(data.get("priority")),
        tags=tuple(dict.fromkeys(n.lower() for n in names if n))[:50],
        status=_text(data.get("status")))


async def _ticket_data(settings: Mapping[str, Any], ticket_id: str) -> dict[str, Any]:
    url = f"{_base(settings)}/tickets/{checked_id(ticket_id)}"
    try:
        response = await http.client().get(url, headers=_auth(settings))
    except httpx.HTTPError as exc:
        raise GorgiasUnavailable(f"Gorgias could not be reached: {exc}") from exc
    if response.status_code == 404:
        raise TicketNotFound(f"Gorgias has no ticket {ticket_id}.")
    if response.status_code in (401, 403):
        raise GorgiasUnavailable("Gorgias refused Amends' API key: ask your Amends "
                                 "administrator to set the installation's api_key again.")
    if not response.is_success:
        raise GorgiasUnavailable(f"Gorgias answered {response.status_code}.")
    try:
        data = response.json()
    except ValueError as exc:
        raise GorgiasUnavailable("Gorgias' answer is not a ticket.") from exc
    if not isinstance(data, dict) or "id" not in data:
        raise GorgiasUnavailable("Gorgias' answer is not a ticket.")
    return data


async def fetch_ticket(settings: Mapping[str, Any], ticket_id: str) -> Ticket:
    """`GET /api/tickets/{id}`: the ticket as Gorgias knows it."""
    return ticket_from(await _ticket_data(settings, ticket_id))


def message_for(ticket: Mapping[str, Any], settings: Mapping[str, Any], reply: Reply
                ) -> dict[str, Any]:
    """The message to post: an internal note, or a reply on the ticket's own channel (e-mail:
    to the customer, from the address they wrote to; chat: to the chat's visitor, without
    `receiver`); a ticket on another channel gets an internal note."""
    html = reply.html or "".join(f"<p>{escape(line)}</p>" for line in reply.text.split("\n")
                                 if line.strip())
    message: dict[str, Any] = {
        "via": "api", "from_agent": True, "sender": {"email": settings["api_email"]},
        "body_text": reply.text, "body_html": html,
    }
    channel = str(ticket.get("channel") or "")
    customer = ticket.get("customer") or {}
    if not reply.public or channel not in REPLY_CHANNELS:
        return {**message, "channel": "internal-note"}
    if channel == "email":
        to = _text(customer.get("email")) or next(iter(_channels(customer, "email")), None)
        ours = _support_address(ticket)
        source: dict[str, Any] = {"type": "email", "to": [{"address": to}]}
        if ours:
            source["from"] = {"address": ours}
        return {**message, "channel": "email", "receiver": {"id": customer.get("id")},
                "subject": f"Re: {ticket.get('subject') or ''}".strip(), "source": source}
    visitor = _text(((ticket.get("meta") or {}).get("chat") or {}).get("conversation_id")) or (
        next(iter(_channels(customer, "chat")), None))
    return {**message, "channel": "chat",
            "source": {"type": "chat", "from": {"address": ""},
                       "to": [{"address": visitor or ""}]}}


def _support_address(ticket: Mapping[str, Any]) -> str | None:
    """The address the customer wrote to: the `to` of their latest e-mail in the ticket."""
    for message in reversed(ticket.get("messages") or []):
        if not isinstance(message, dict) or message.get("from_agent"):
            continue
        for to in (message.get("source") or {}).get("to") or []:
            if isinstance(to, dict) and _text(to.get("address")):
                return str(to["address"])
    return None


async def post_reply(settings: Mapping[str, Any], reply: Reply) -> str:
    """`POST /api/tickets/{id}/messages`: the apology as a reply or an internal note; returns
    the message's id. Over the rate limit (429, `Retry-after`) or unreachable: the delivery is
    retried later."""
    try:
        ticket = await _ticket_data(settings, reply.ticket_id)
    except AmendsError as error:
        raise DeliveryFailed(error.detail or error.title) from error
    body = message_for(ticket, settings, reply)
    try:
        response = await http.client().post(
            f"{_base(settings)}/tickets/{checked_id(reply.ticket_id)}/messages", json=body,
            headers=_auth(settings))
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"Gorgias unreachable: {exc}") from exc
    if response.status_code == 429:
        raise DeliveryFailed("Gorgias' rate limit: retry after "
                             f"{response.headers.get('retry-after', 'a while')} s")
    if not response.is_success:
        raise DeliveryFailed(f"Gorgias answered {response.status_code}: {response.text[:300]}")
    try:
        return str(response.json().get("id") or reply.ticket_id)
    except ValueError:
        return reply.ticket_id
