"""What Intercom sends: Canvas Kit's initialize and submit requests (an inbox app in the
conversation details) and webhook notifications, read into the helpdesk's shapes.

Shapes:
- Canvas Kit requests: https://developers.intercom.com/docs/canvas-kit ("Initialize request",
  "Submit request" for the Inbox) and the `initialize_request` / `submit_request` schemas of
  Intercom's OpenAPI description (github.com/intercom/Intercom-OpenAPI,
  descriptions/2.11/api.intercom.io.yaml). Every field is read leniently (`extra="allow"`,
  nothing required but what Amends cannot work without): Intercom adds fields over time.
- The conversation and contact inside them are the REST models:
  https://developers.intercom.com/docs/references/rest-api/api.intercom.io/conversations and
  .../contacts.
- Webhook notifications: https://developers.intercom.com/docs/webhooks/webhook-notifications
  and https://developers.intercom.com/docs/references/webhooks/webhook-models.
"""

from __future__ import annotations

import html
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from amends.helpdesk.platforms import Requester, Ticket


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class Admin(_Lenient):
    """The teammate viewing the conversation (the REST admin model: `id` is a string)."""

    id: str | int | None = None
    email: str | None = None
    name: str | None = None


class CanvasRequest(_Lenient):
    """An initialize or a submit request from the Inbox.

    The contact is `contact` in the documented example and the OpenAPI description, but
    `customer` in the Canvas Kit page's table of submit attributes: both are read. Submit adds
    `component_id`, `input_values` and `current_canvas` (whose `stored_data` is what Amends
    gave with the canvas; the OpenAPI description nests the canvas one level deeper, under
    `current_canvas.current_canvas`, and both are read).
    """

    workspace_id: str | None = None
    workspace_region: str | None = None
    admin: Admin | None = None
    conversation: dict[str, Any] | None = None
    contact: dict[str, Any] | None = None
    customer: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    component_id: str | None = None
    input_values: dict[str, Any] = Field(default_factory=dict)
    current_canvas: dict[str, Any] | None = None

    def conversation_id(self) -> str | None:
        """The conversation's id: `conversation.id` (a string in the REST model), else
        `context.conversation_id` (an integer in the OpenAPI `context`)."""
        found = (self.conversation or {}).get("id") or (self.context or {}).get(
            "conversation_id")
        return str(found) if found not in (None, "") else None

    def the_contact(self) -> dict[str, Any]:
        return self.contact or self.customer or {}

    def stored_data(self) -> dict[str, Any]:
        """What Amends stored with the canvas the teammate clicked in."""
        canvas = self.current_canvas or {}
        found = canvas.get("stored_data")
        if not isinstance(found, dict):
            inner = canvas.get("current_canvas")
            found = inner.get("stored_data") if isinstance(inner, dict) else None
        return found if isinstance(found, dict) else {}

    def input(self, component_id: str) -> str | None:
        value = self.input_values.get(component_id)
        return value if isinstance(value, str) and value else None


def requester_of(contact: dict[str, Any], conversation: dict[str, Any] | None = None
                 ) -> Requester:
    """The customer as Intercom knows them. The contact's `external_id` is the shop's own id
    for the customer (Intercom's `id` is its own, and never an Amends customer's); a webhook's
    conversation names its contacts by ids only, so its e-mail and name come from the
    conversation's first message when a contact wrote it (`source.author`)."""
    author = ((conversation or {}).get("source") or {}).get("author") or {}
    if author.get("type") not in ("user", "lead", "contact"):
        author = {}
    return Requester(
        external_id=_text(contact.get("external_id")),
        email=_text(contact.get("email")) or _text(author.get("email")),
        phone=_text(contact.get("phone")),
        name=_text(contact.get("name")) or _text(author.get("name")))


def first_contact(conversation: dict[str, Any]) -> dict[str, Any]:
    """`contacts: {type: "contact.list", contacts: [{type, id, external_id}]}`."""
    listed = (conversation.get("contacts") or {}).get("contacts") or []
    return listed[0] if listed and isinstance(listed[0], dict) else {}


def ticket_of(conversation_id: str, conversation: dict[str, Any],
              contact: dict[str, Any] | None = None) -> Ticket:
    """A conversation as the helpdesk's ticket: its tags (`tags.tags[].name`), its priority
    (`priority`: "priority" or "not_priority"), its state (`open`, `closed`, `snoozed`) and
    the subject of its first message (an e-mail's subject, else the start of its text)."""
    tags = (conversation.get("tags") or {}).get("tags") or []
    source = conversation.get("source") or {}
    subject = _text(source.get("subject")) or _plain(_text(source.get("body")) or "")
    return Ticket(
        id=conversation_id,
        requester=requester_of(contact or first_contact(conversation), conversation),
        subject=subject[:200],
        priority=_text(conversation.get("priority")),
        tags=tuple(str(t["name"]) for t in tags if isinstance(t, dict) and t.get("name")),
        status=_text(conversation.get("state")))


class Notification(_Lenient):
    """A webhook notification: `{"type": "notification_event", "id": "notif_...", "topic",
    "app_id", "created_at", "data": {"type": "notification_event_data", "item": {...}}}`
    (https://developers.intercom.com/docs/references/webhooks/webhook-models)."""

    type: str | None = None
    id: str | None = None
    topic: str
    app_id: str | None = None
    created_at: int | None = None
    first_sent_at: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    def item(self) -> dict[str, Any]:
        found = self.data.get("item")
        return found if isinstance(found, dict) else {}


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


_TAG = re.compile(r"<[^>]+>")


def _plain(markup: str) -> str:
    """A message's HTML body as one line of text."""
    return " ".join(html.unescape(_TAG.sub(" ", markup)).split())
