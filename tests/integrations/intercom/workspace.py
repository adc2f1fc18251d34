"""An Intercom workspace for the tests: the Canvas Kit requests its inbox sends (signed with the
app's client secret, shaped as https://developers.intercom.com/docs/canvas-kit shows them),
its webhook notifications (https://developers.intercom.com/docs/webhooks/webhook-notifications),
and a REST API on 127.0.0.1 that takes `POST /conversations/{id}/reply` and answers the
conversation with the part posted, as Intercom does
(https://developers.intercom.com/docs/references/rest-api/api.intercom.io/conversations/replyconversation)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from amends.config import Settings
from amends.db import Database
from tests.factories import Tenant, bearer
from tests.integrations.intercom import canvas_schema
from tests.receivers import Receiver

WORKSPACE = "ecahpwf5"
CLIENT_SECRET = "0b8f3f0e-intercom-client-secret"
ACCESS_TOKEN = "dG9rOjEyMzQ1Njc4OTA="
CONVERSATION = "1911149811"
ADMIN_ID = "814860"
AGENT = "sam@shop.example"

# The conversation the REST API answers a reply with (the part posted last).
REPLIED = {"type": "conversation", "id": CONVERSATION, "state": "open", "conversation_parts": {
    "type": "conversation_part.list", "total_count": 1, "conversation_parts": [
        {"type": "conversation_part", "id": "7281920115", "part_type": "comment",
         "body": "<p>Sorry</p>", "author": {"type": "admin", "id": ADMIN_ID}}]}}


def admin(email: str = AGENT, id: str = ADMIN_ID) -> dict[str, Any]:
    """The teammate, as the REST admin model writes one."""
    return {"type": "admin", "id": id, "name": "Sam Agent", "email": email,
            "job_title": "Support", "away_mode_enabled": False, "away_mode_reassign": False,
            "has_inbox_seat": True, "team_ids": [], "avatar": {"image_url": None}}


def contact(*, external_id: str | None = "C-1", email: str | None = "ann@example.com",
            name: str = "Ann Customer", phone: str | None = None) -> dict[str, Any]:
    return {"type": "contact", "id": "6329bd9ffe4e2e91dac76188", "role": "user",
            "external_id": external_id, "email": email, "phone": phone, "name": name,
            "created_at": 1663597223, "updated_at": 1663597260}


def conversation(*, id: str = CONVERSATION, tags: tuple[str, ...] = (),
                 priority: str = "not_priority", state: str = "open",
                 customer: dict[str, Any] | None = None) -> dict[str, Any]:
    """A conversation as the REST conversation model writes one (abridged to what matters)."""
    who = customer or contact()
    return {
        "type": "conversation", "id": id, "title": None, "created_at": 1663597223,
        "updated_at": 1663597260, "waiting_since": 1663597260, "snoozed_until": None,
        "open": state == "open", "state": state, "read": False, "priority": priority,
        "admin_assignee_id": None, "team_assignee_id": None,
        "tags": {"type": "tag.list", "tags": [
            {"type": "tag", "id": str(n), "name": name, "applied_at": 1663597260,
             "applied_by": {"type": "admin", "id": ADMIN_ID}}
            for n, name in enumerate(tags, start=1)]},
        "source": {"type": "conversation", "id": "403918330", "delivered_as":
                   "customer_initiated", "subject": "",
                   "body": "<p>My parcel is a week late &amp; still not here.</p>",
                   "author": {"type": "user", "id": who["id"], "name": who["name"],
                              "email": who["email"]},
                   "attachments": [], "url": None, "redacted": False},
        "contacts": {"type": "contact.list", "contacts": [
            {"type": "contact", "id": who["id"], "external_id": who["external_id"]}]},
        "custom_attributes": {},
    }


def sign(body: bytes, secret: str = CLIENT_SECRET) -> str:
    """X-Body-Signature: the hex HMAC-SHA256 of the body with the client secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def hub_sign(body: bytes, secret: str = CLIENT_SECRET) -> str:
    """X-Hub-Signature: sha1= and the hex HMAC-SHA1 of the body with the client secret."""
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


@dataclass
class Workspace:
    """The workspace, the Amends organisation it is installed for, and the app's URLs."""

    client: httpx.AsyncClient
    db: Database
    settings: Settings
    tenant: Tenant
    api: Receiver
    installation: dict[str, Any]
    admin: dict[str, Any] = field(default_factory=admin)
    conversation: dict[str, Any] = field(default_factory=conversation)
    contact: dict[str, Any] = field(default_factory=contact)

    @property
    def urls(self) -> dict[str, str]:
        return {k: v.replace(str(self.settings.base_url).rstrip("/"), "")
                for k, v in self.installation["urls"].items()}

    def request(self, **extra: Any) -> dict[str, Any]:
        """An initialize request's body, as the docs' Inbox example has it; submit adds to it."""
        return {"workspace_id": WORKSPACE, "workspace_region": "US", "admin": self.admin,
                "conversation": self.conversation, "contact": self.contact,
                "context": {"conversation_id": int(self.conversation["id"]),
                            "location": "conversation", "locale": "en"},
                **extra}

    async def send(self, path: str, body: dict[str, Any] | bytes, *,
                   signature: str | None = None, header: str = "X-Body-Signature"
                   ) -> httpx.Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"content-type": "application/json",
                   "user-agent": "intercom-parrot-service-client/1.0"}
        if signature != "":
            headers[header] = signature or (sign(raw) if header == "X-Body-Signature"
                                            else hub_sign(raw))
        return await self.client.post(path, content=raw, headers=headers)

    async def initialize(self, **changes: Any) -> dict[str, Any]:
        """Open the app in a conversation: its canvas, checked against the documented shapes."""
        answer = await self.send(self.urls["initialize"], self.request(**changes))
        assert answer.status_code == 200, answer.text
        return canvas_schema.check(answer.json())

    def submission(self, shown: dict[str, Any], component_id: str,
                   inputs: dict[str, Any] | None = None) -> dict[str, Any]:
        """The submit request a click on `component_id` of the canvas `shown` sends: the values
        of its inputs (their defaults unless changed) and the canvas, with its stored data."""
        assert component_id in canvas_schema.ids(shown), (component_id,
                                                          canvas_schema.ids(shown))
        values = {c["id"]: c["value"] for c in canvas_schema.components(shown)
                  if c["type"] == "dropdown" and "value" in c}
        return self.request(component_id=component_id,
                            input_values={**values, **(inputs or {})},
                            current_canvas=shown["canvas"])

    async def click(self, shown: dict[str, Any], component_id: str,
                    inputs: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = await self.send(self.urls["submit"],
                                 self.submission(shown, component_id, inputs))
        assert answer.status_code == 200, answer.text
        return canvas_schema.check(answer.json())

    async def notify(self, topic: str, item: dict[str, Any], *, id: str = "notif_1",
                     sent: float | None = None, app_id: str = WORKSPACE,
                     signature: str | None = None) -> httpx.Response:
        """A webhook notification, as the signed-notifications example writes one."""
        when = int(sent if sent is not None else time.time())
        body = {"type": "notification_event", "app_id": app_id, "id": id, "topic": topic,
                "created_at": when, "first_sent_at": when, "delivery_attempts": 1,
                "delivery_status": "pending", "links": {},
                "data": {"type": "notification_event_data", "item": item}}
        return await self.send(self.urls["events"], body, signature=signature,
                               header="X-Hub-Signature")

    def replies(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.api.requests]


async def install(client: httpx.AsyncClient, tenant: Tenant, api: Receiver,
                  **settings: Any) -> dict[str, Any]:
    created = await client.post("/v1/helpdesk/installations", headers=bearer(
        tenant.admin_token), json={
        "platform": "intercom", "account": WORKSPACE, "name": "Shop inbox",
        "settings": settings,
        "secrets": {"client_secret": CLIENT_SECRET, "access_token": ACCESS_TOKEN,
                    "api_base_url": api.url}})
    assert created.status_code == 201, created.text
    return dict(created.json())
