"""Zendesk's Support API, as the app uses it: the agent behind a signed panel load, the ticket
in front of them, and the apology posted into it.

Every call authenticates with the installation's API token, `Authorization: Basic
base64("{api_email}/token:{api_token}")`
(https://developer.zendesk.com/api-reference/introduction/security-and-auth/#api-token), and
goes to `https://{account}.zendesk.com` unless the installation names another `api_base_url`
(a proxy, or the tests' local Zendesk). Every connection goes through Amends' outbound address
policy (`amends.kit.http`), so a base URL inside the operator's network gets nothing unless the
operator allows private peers.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from amends.delivery.channels import DeliveryFailed
from amends.errors import AmendsError, NotFound, ValidationFailed
from amends.helpdesk.platforms import Reply, Requester, Ticket
from amends.kit import http

# A 429's Retry-After up to this many seconds is waited out once, in the same attempt; a longer
# one fails the attempt (the delivery job retries it later, with backoff).
WAIT_OUT_SECONDS = 3
_TICKET_ID = re.compile(r"^[1-9][0-9]{0,19}$")


class ZendeskUnreachable(AmendsError):
    status, code, title = 502, "zendesk_unreachable", "Zendesk did not answer as expected"


class ZendeskNotConfigured(AmendsError):
    status, code, title = 409, "zendesk_not_configured", "The Zendesk app is not set up"


class TicketNotFound(NotFound):
    code, title = "zendesk_ticket_not_found", "No such Zendesk ticket"


class InvalidTicketId(ValidationFailed):
    code, title = "invalid_zendesk_ticket_id", "Not a Zendesk ticket id"


def base_url(settings: Mapping[str, Any]) -> str:
    given = str(settings.get("api_base_url") or "").strip()
    return (given or f"https://{settings['account']}.zendesk.com").rstrip("/")


def _auth(settings: Mapping[str, Any]) -> dict[str, str]:
    email, token = settings.get("api_email"), settings.get("api_token")
    if not email or not token:
        raise ZendeskNotConfigured("Set the installation's api_email and api_token (a Zendesk "
                                   "API token) so that Amends can read tickets.")
    basic = base64.b64encode(f"{email}/token:{token}".encode()).decode()
    return {"Authorization": f"Basic {basic}", "Accept": "application/json"}


async def _get(settings: Mapping[str, Any], path: str) -> httpx.Response:
    try:
        return await http.client().get(f"{base_url(settings)}{path}",
                                       headers=_auth(settings))
    except httpx.HTTPError as exc:
        raise ZendeskUnreachable(f"Zendesk could not be reached: {exc}") from exc


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ZendeskUnreachable(f"Zendesk's answer about {what} is not JSON.")
    return data


async def agent_email(settings: Mapping[str, Any], user_id: str) -> str | None:
    """The e-mail address of the Zendesk user a signed panel load names (its `sub`):
    `GET /api/v2/users/{user_id}` answers `{"user": {"email": ..., "role": ...}}`
    (https://developer.zendesk.com/api-reference/ticketing/users/users/#show-user). An
    end user (who cannot see the agent's sidebar) has none that counts."""
    response = await _get(settings, f"/api/v2/users/{quote(user_id, safe='')}.json")
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise ZendeskUnreachable(f"Zendesk answered {response.status_code} about the agent.")
    user = _json(response, "the agent").get("user") or {}
    if not isinstance(user, dict) or user.get("role") == "end-user":
        return None
    email = user.get("email")
    return str(email) if email else None


def _text(value: object) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


def ticket_from_api(data: Mapping[str, Any]) -> Ticket:
    """A ticket as `GET /api/v2/tickets/{id}?include=users` answers it: the ticket with its
    `requester_id`, `priority` (urgent, high, normal, low or null), `tags`, `subject` and
    `status`, and the sideloaded `users`, among them the requester with `external_id`, `email`,
    `phone` and `name`
    (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#show-ticket,
    https://developer.zendesk.com/documentation/ticketing/using-the-zendesk-api/side_loading/).
    """
    ticket = data.get("ticket")
    if not isinstance(ticket, dict) or ticket.get("id") is None:
        raise ZendeskUnreachable("Zendesk's answer names no ticket.")
    listed = data.get("users")
    users: list[Any] = listed if isinstance(listed, list) else []
    requester = next((u for u in users if isinstance(u, dict)
                      and u.get("id") == ticket.get("requester_id")), {})
    given = ticket.get("tags")
    tags: list[Any] = given if isinstance(given, list) else []
    return Ticket(
        id=str(ticket["id"]),
        requester=Requester(external_id=_text(requester.get("external_id")),
                            email=_text(requester.get("email")),
                            phone=_text(requester.get("phone")),
                            name=_text(requester.get("name"))),
        subject=str(ticket.get("subject") or ticket.get("raw_subject") or ""),
        priority=_text(ticket.get("priority")),
        tags=tuple(str(tag) for tag in tags),
        status=_text(ticket.get("status")))


async def fetch_ticket(settings: Mapping[str, Any], ticket_id: str) -> Ticket:
    """The ticket the panel's page named (by id only): read from Zendesk, so its requester,
    priority and tags are Zendesk's, not what a browser says."""
    if not _TICKET_ID.match(ticket_id):
        raise InvalidTicketId(f"{ticket_id[:40]!r} is not a Zendesk ticket id.")
    response = await _get(settings, f"/api/v2/tickets/{ticket_id}.json?include=users")
    if response.status_code == 404:
        raise TicketNotFound(f"Zendesk has no ticket {ticket_id} that this app can read.")
    if response.status_code != 200:
        raise ZendeskUnreachable(f"Zendesk answered {response.status_code} about ticket "
                                 f"{ticket_id}.")
    return ticket_from_api(_json(response, f"ticket {ticket_id}"))


def _retry_after(response: httpx.Response) -> int | None:
    try:
        return max(0, int(response.headers.get("retry-after", "")))
    except ValueError:
        return None


async def post_reply(settings: Mapping[str, Any], reply: Reply) -> str:
    """The apology as a comment on the ticket: `PUT /api/v2/tickets/{id}` with
    `{"ticket": {"comment": {"html_body" (or "body"), "public"}}}`. `public` is always sent: a
    comment otherwise takes the ticket's first comment's visibility
    (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-ticket,
    https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/). The
    delivery's id goes as `Idempotency-Key`
    (https://developer.zendesk.com/api-reference/ticketing/introduction/#idempotency). Returns
    the update's audit id. A 429 is waited out once when its Retry-After is short
    (https://developer.zendesk.com/api-reference/introduction/rate-limits/), else the attempt
    fails and the job retries later."""
    comment: dict[str, Any] = {"public": reply.public}
    if reply.html:
        comment["html_body"] = reply.html
    else:
        comment["body"] = reply.text
    url = f"{base_url(settings)}/api/v2/tickets/{quote(reply.ticket_id, safe='')}.json"
    try:
        headers = {**_auth(settings), "Idempotency-Key": reply.message_id}
    except ZendeskNotConfigured as error:
        raise DeliveryFailed(error.detail) from error
    waited = False
    while True:
        try:
            response = await http.client().put(url, json={"ticket": {"comment": comment}},
                                               headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"Zendesk unreachable: {exc}") from exc
        wait = _retry_after(response) if response.status_code == 429 else None
        if wait is None or waited or wait > WAIT_OUT_SECONDS:
            break
        waited = True
        await asyncio.sleep(wait)
    if response.status_code == 429:
        wait = _retry_after(response)
        raise DeliveryFailed("Zendesk is rate limiting this account"
                             + (f"; it asks to retry after {wait} s" if wait is not None
                                else ""))
    if response.status_code >= 300:
        raise DeliveryFailed(f"Zendesk answered {response.status_code}: "
                             f"{response.text[:300]}")
    try:
        audit = (response.json() or {}).get("audit") or {}
    except ValueError:
        audit = {}
    comments = [e for e in audit.get("events") or [] if isinstance(e, dict)
                and e.get("type") == "Comment"]
    posted = audit.get("id") or (comments[0].get("id") if comments else None)
    return str(posted or reply.ticket_id)
