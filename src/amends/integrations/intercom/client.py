"""Intercom's REST API, as the installation's access token reaches it: the apology with the
code posted into the conversation, as a reply the customer sees or an internal note.

`POST /conversations/{id}/reply` with `{"message_type": "comment" | "note", "type": "admin",
"admin_id": "...", "body": "..."}` (the `admin_reply_conversation_request` schema:
https://developers.intercom.com/docs/references/rest-api/api.intercom.io/conversations/replyconversation),
a Bearer token and a pinned `Intercom-Version` header
(https://developers.intercom.com/docs/build-an-integration/learn-more/rest-apis/api-versioning).
It answers the conversation, or an `error.list`
(https://developers.intercom.com/docs/references/rest-api/errors/error-codes).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from amends.delivery.channels import DeliveryFailed
from amends.errors import ValidationFailed
from amends.helpdesk.platforms import Reply
from amends.kit import http, outbound

API_VERSION = "2.14"
# The REST hosts by the workspace's hosted region (the `servers` of the API description).
HOSTS = {"us": "https://api.intercom.io", "eu": "https://api.eu.intercom.io",
         "au": "https://api.au.intercom.io"}
# Settings Amends keeps of what Intercom's requests said (not shown, not set by hand): the
# teammate who last gave a gesture from the app, who authors the replies unless the
# installation names one (its `admin_id` secret), and the workspace's region.
SEEN_ADMIN = "intercom_admin_id"
SEEN_REGION = "intercom_region"


def api_base(settings: Mapping[str, Any]) -> str:
    """The installation's `api_base_url` (a regional host, or a local server in tests), else
    the host of the workspace's region, else the US one."""
    given = str(settings.get("api_base_url") or "").strip()
    if given:
        return given.rstrip("/")
    region = str(settings.get(SEEN_REGION) or "").lower()
    return HOSTS.get(region[:2], HOSTS["us"])


def severity(priority: str | None) -> int:
    """A conversation is either marked priority (`"priority"`) or not (`"not_priority"`)."""
    return 4 if priority == "priority" else 3


def ticket_url(account: str, ticket_id: str) -> str:
    """The conversation in the teammate's inbox (the workspace id is the inbox's app id)."""
    return (f"https://app.intercom.com/a/inbox/{quote(account, safe='')}/inbox/conversation/"
            f"{quote(ticket_id, safe='')}")


def as_html(text: str) -> str:
    """The apology as the HTML Intercom renders a part with: a paragraph a block, lines kept."""
    blocks = [block for block in text.strip().split("\n\n") if block.strip()]
    return "".join("<p>" + html.escape(block.strip()).replace("\n", "<br>") + "</p>"
                   for block in blocks)


async def post_reply(settings: Mapping[str, Any], reply: Reply) -> str:
    """Post the apology into the conversation; returns the id of the part posted. Intercom
    takes no idempotency key: a retry after a lost answer may post twice."""
    token = settings.get("access_token")
    if not token:
        raise DeliveryFailed("the Intercom installation has no access_token to post with")
    admin_id = str(settings.get("admin_id") or settings.get(SEEN_ADMIN) or "").strip()
    if not admin_id:
        raise DeliveryFailed("no Intercom teammate to post as: set the installation's "
                             "admin_id, or give a gesture from the app once")
    base = api_base(settings)
    try:
        await outbound.check_url(base, field="api_base_url",
                                 allow_private=outbound.allows_private())
    except ValidationFailed as refused:
        raise DeliveryFailed(f"Intercom's address is refused: {refused.detail}") from refused
    body = {"message_type": "comment" if reply.public else "note", "type": "admin",
            "admin_id": admin_id, "body": as_html(reply.text)}
    try:
        response = await http.client().post(
            f"{base}/conversations/{quote(reply.ticket_id, safe='')}/reply", json=body,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                     "Intercom-Version": API_VERSION})
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"Intercom unreachable: {exc}") from exc
    if not response.is_success:
        raise DeliveryFailed(f"Intercom answered {response.status_code}: {_errors(response)}")
    try:
        conversation = response.json()
    except ValueError:
        conversation = {}
    parts = ((conversation.get("conversation_parts") or {}).get("conversation_parts") or []
             if isinstance(conversation, dict) else [])
    if parts and isinstance(parts[-1], dict) and parts[-1].get("id"):
        return str(parts[-1]["id"])
    return str(conversation.get("id") or reply.ticket_id) if isinstance(
        conversation, dict) else reply.ticket_id


def _errors(response: httpx.Response) -> str:
    """An `error.list`'s messages and its request id (worth quoting to Intercom's support)."""
    try:
        found = response.json()
    except ValueError:
        return response.text[:300]
    if not isinstance(found, dict):
        return response.text[:300]
    said = "; ".join(f"{e.get('code')}: {e.get('message') or ''}".strip()
                     for e in found.get("errors") or [] if isinstance(e, dict))
    request_id = found.get("request_id")
    return (said or response.text[:300]) + (f" (request {request_id})" if request_id else "")
