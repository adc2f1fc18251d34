"""Freshdesk's REST API v2, as Amends uses it: read a ticket with its requester, post a reply
or a private note. Basic authentication with the API key as the user name and `X` as the
password; the account's own address, `https://{domain}/api/v2` (an `api_base_url` secret
points elsewhere, for tests; every connection goes through the outbound address policy).

Sources: https://developers.freshdesk.com/api/#authentication,
https://developers.freshdesk.com/api/#view_a_ticket (`include=requester`),
https://developers.freshdesk.com/api/#reply_ticket, https://developers.freshdesk.com/api/#add_note_to_a_ticket,
https://developers.freshdesk.com/api/#ratelimit (429 with `Retry-After`)."""

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
# Ticket priorities (1 Low ... 4 Urgent) read as a case severity (1 to 4), by number or by
# name: the API and the app's data method give numbers, an automation's placeholder the name.
# High and Urgent are both the worst, as Zendesk's are.
# https://developers.freshdesk.com/api/#tickets ("Priority" table)
SEVERITY = {"1": 2, "2": 3, "3": 4, "4": 4, "low": 2, "medium": 3, "high": 4, "urgent": 4}
# Statuses 4 Resolved and 5 Closed: the ticket is solved. https://developers.freshdesk.com/api/#tickets
SOLVED = frozenset({"4", "5", "resolved", "closed"})
STATUS_NAMES = {"2": "open", "3": "pending", "4": "resolved", "5": "closed"}


class FreshdeskUnavailable(AmendsError):
    status, code, title = 502, "freshdesk_unavailable", "Freshdesk did not answer as expected"


class TicketNotFound(NotFound):
    code, title = "freshdesk_ticket_not_found", "No such Freshdesk ticket"


class InvalidTicketId(ValidationFailed):
    code, title = "invalid_freshdesk_ticket", "Not a Freshdesk ticket id"


def severity(priority: str | None) -> int:
    return SEVERITY.get(str(priority or "").strip().lower(), 3)


def ticket_url(account: str, ticket_id: str) -> str:
    """The ticket in the agent's Freshdesk (`account` is its domain, acme.freshdesk.com)."""
    return f"https://{account}/a/tickets/{ticket_id}"


def is_solved(status: str | None) -> bool:
    return str(status or "").strip().lower() in SOLVED


def _base(settings: Mapping[str, Any]) -> str:
    return str(settings.get("api_base_url") or f"https://{settings['account']}").rstrip("/")


def _auth(settings: Mapping[str, Any]) -> dict[str, str]:
    token = base64.b64encode(f"{settings['api_key']}:X".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}


def checked_id(ticket_id: str) -> str:
    ticket_id = str(ticket_id).strip()
    if not TICKET_ID.match(ticket_id):
        raise InvalidTicketId("A Freshdesk ticket id is a number.")
    return ticket_id


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value not in (None, "") else None


def ticket_from(data: Mapping[str, Any]) -> Ticket:
    """A ticket as the API answers it (with `include=requester`): the requester's unique
    external id, e-mail and phone (mobile first), the priority and status as numbers."""
    requester = data.get("requester") or {}
    tags = data.get("tags") or []
    return Ticket(
        id=str(data["id"]),
        requester=Requester(external_id=_text(requester.get("unique_external_id")),
                            email=_text(requester.get("email") or data.get("email")),
                            phone=_text(requester.get("mobile") or requester.get("phone")),
                            name=_text(requester.get("name"))),
        subject=str(data.get("subject") or "")[:2000],
        priority=_text(data.get("priority")),
        tags=tuple(str(t) for t in tags if isinstance(t, str | int))[:50],
        status=_text(data.get("status")))


async def fetch_ticket(settings: Mapping[str, Any], ticket_id: str) -> Ticket:
    """`GET /api/v2/tickets/{id}?include=requester`: the ticket as Freshdesk knows it."""
    url = f"{_base(settings)}/api/v2/tickets/{checked_id(ticket_id)}"
    try:
        response = await http.client().get(url, params={"include": "requester"},
                                           headers=_auth(settings))
    except httpx.HTTPError as exc:
        raise FreshdeskUnavailable(f"Freshdesk could not be reached: {exc}") from exc
    if response.status_code == 404:
        raise TicketNotFound(f"Freshdesk has no ticket {ticket_id}.")
    if response.status_code in (401, 403):
        raise FreshdeskUnavailable("Freshdesk refused Amends' API key: ask your Amends "
                                   "administrator to set the installation's api_key again.")
    if not response.is_success:
        raise FreshdeskUnavailable(f"Freshdesk answered {response.status_code}.")
    try:
        return ticket_from(response.json())
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FreshdeskUnavailable("Freshdesk's answer is not a ticket.") from exc


async def post_reply(settings: Mapping[str, Any], reply: Reply) -> str:
    """A public reply (`POST /api/v2/tickets/{id}/reply`, e-mailed to the requester) or a
    private note (`POST /api/v2/tickets/{id}/notes` with `private: true`); returns the
    conversation's id. Over the rate limit (429, `Retry-After`) or unreachable: the delivery
    is retried later."""
    ticket_id = checked_id(reply.ticket_id)
    text = reply.html or "".join(f"<p>{escape(line)}</p>" for line in reply.text.split("\n")
                                 if line.strip())
    body: dict[str, Any]
    if reply.public:
        url, body = f"/api/v2/tickets/{ticket_id}/reply", {"body": text}
    else:
        url, body = f"/api/v2/tickets/{ticket_id}/notes", {"body": text, "private": True}
    try:
        response = await http.client().post(f"{_base(settings)}{url}", json=body,
                                            headers=_auth(settings))
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"Freshdesk unreachable: {exc}") from exc
    if response.status_code == 429:
        raise DeliveryFailed("Freshdesk's rate limit: retry after "
                             f"{response.headers.get('retry-after', 'a while')} s")
    if not response.is_success:
        raise DeliveryFailed(f"Freshdesk answered {response.status_code}: "
                             f"{response.text[:300]}")
    try:
        return str(response.json().get("id") or ticket_id)
    except ValueError:
        return ticket_id

