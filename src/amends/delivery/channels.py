"""Channel adapters behind one interface: `send(message, settings) -> Sent`.

Each raises `DeliveryFailed` with the provider's answer when the message did not go out; the
job retries it with backoff. Settings come from the organisation's channel configuration.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import Any, Literal, Protocol

import aiosmtplib
import httpx

from amends.delivery import mime
from amends.delivery.smtp import Server, SmtpPool
from amends.kit import http
from amends.kit.clock import utcnow
from amends.webhooks.service import signed_headers


class DeliveryFailed(Exception):
    """The provider did not take the message (the worker retries)."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: str
    channel: str
    address: str
    subject: str
    text: str
    html: str | None
    extra: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Sent:
    provider_id: str | None
    status: str  # "sent" (on its way) or "delivered" (in the conversation already)


class Channel(Protocol):
    async def send(self, message: Outgoing, settings: dict[str, Any]) -> Sent: ...


class Email:
    """SMTP with aiosmtplib: STARTTLS or implicit TLS, optional login, text + HTML as
    multipart/alternative, over connections kept open between messages (see `smtp.py`).

    The sender is the brand's (`extra`: from_name, from_email, reply_to) when given, else the
    channel's `from_address`. The message's bytes are written by `mime.py`: a name or subject
    outside ASCII as encoded words (RFC 2047), long ones folded."""

    def __init__(self) -> None:
        self.pool = SmtpPool()

    async def send(self, message: Outgoing, settings: dict[str, Any]) -> Sent:
        channel_name, channel_address = parseaddr(settings["from_address"])
        address = message.extra.get("from_email") or channel_address
        # The delivery id is the Message-ID: a retry carries the same one, so mail systems
        # (and the tests) can drop a duplicate.
        message_id = f"{message.id}@{address.rsplit('@', 1)[-1]}"
        mail = mime.Mail(
            from_name=message.extra.get("from_name") or channel_name, from_address=address,
            to=message.address, reply_to=message.extra.get("reply_to"),
            subject=message.subject, message_id=message_id, text=message.text,
            html=message.html, headers=(("X-Amends-Delivery", message.id),))
        try:
            await self.pool.send(Server.from_settings(settings), sender=address,
                                 recipient=message.address, data=mime.build(mail),
                                 smtputf8=mime.needs_smtputf8(mail))
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"SMTP: {exc}") from exc
        return Sent(provider_id=f"<{message_id}>", status="sent")


class TwilioMessages:
    """SMS and WhatsApp through an HTTP provider shaped like Twilio's Messages API."""

    def __init__(self, whatsapp: bool = False) -> None:
        self.whatsapp = whatsapp

    async def send(self, message: Outgoing, settings: dict[str, Any]) -> Sent:
        base = settings.get("base_url", "https://api.twilio.com").rstrip("/")
        sid = settings["account_sid"]
        prefix = "whatsapp:" if self.whatsapp else ""
        form = {"To": prefix + message.address, "From": prefix + settings["from_number"],
                "Body": message.text}
        if message.extra.get("status_callback"):
            form["StatusCallback"] = message.extra["status_callback"]
        try:
            response = await http.client().post(
                f"{base}/2010-04-01/Accounts/{sid}/Messages.json", data=form,
                auth=(sid, settings["auth_token"]),
                headers={"I-Twilio-Idempotency-Token": message.id})
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"SMS provider unreachable: {exc}") from exc
        if response.status_code >= 300:
            raise DeliveryFailed(f"SMS provider answered {response.status_code}: "
                                 f"{response.text[:300]}")
        return Sent(provider_id=str(response.json().get("sid")), status="sent")


# Posting into a ticket of an installed helpdesk app, by platform: each is registered by the
# helpdesk feature (`amends.helpdesk.replies`), which knows the platforms; a message's
# settings are its installation's (with `platform`), its address the case's ticket reference.
HelpdeskPoster = Callable[[Outgoing, dict[str, Any]], Awaitable[Sent]]
HELPDESK_POSTERS: dict[str, HelpdeskPoster] = {}


class Helpdesk:
    """A reply (or internal note) in the customer's ticket: through the installed helpdesk app
    of the case's ticket; else, set up as a channel, a public comment on a Zendesk-shaped
    tickets API."""

    async def send(self, message: Outgoing, settings: dict[str, Any]) -> Sent:
        platform = settings.get("platform")
        if platform is not None:
            poster = HELPDESK_POSTERS.get(str(platform))
            if poster is None:
                raise DeliveryFailed(f"no {platform} app is installed in this Amends")
            return await poster(message, settings)
        base = settings["base_url"].rstrip("/")
        ticket = message.address
        token = base64.b64encode(
            f"{settings['email']}/token:{settings['api_token']}".encode()).decode()
        body = {"ticket": {"comment": {"body": message.text, "public": True}}}
        try:
            response = await http.client().put(
                f"{base}/api/v2/tickets/{ticket}.json", json=body,
                headers={"Authorization": f"Basic {token}", "Idempotency-Key": message.id})
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"helpdesk unreachable: {exc}") from exc
        if response.status_code >= 300:
            raise DeliveryFailed(f"helpdesk answered {response.status_code}: "
                                 f"{response.text[:300]}")
        audit = response.json().get("audit", {})
        return Sent(provider_id=str(audit.get("id") or ticket), status="delivered")


class SignedWebhook:
    """A Standard Webhooks event to a chat or social platform the organisation runs."""

    async def send(self, message: Outgoing, settings: dict[str, Any]) -> Sent:
        when: datetime = utcnow()
        body = json.dumps({"type": "message.send", "timestamp": when.isoformat(),
                           "data": {"delivery_id": message.id, "to": message.address,
                                    "text": message.text, **message.extra.get("data", {})}},
                          separators=(",", ":"))
        headers = signed_headers(settings["secret"], message.id, when, body)
        try:
            response = await http.client().post(settings["url"], content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"webhook unreachable: {exc}") from exc
        if not response.is_success:
            raise DeliveryFailed(f"webhook answered {response.status_code}")
        return Sent(provider_id=message.id, status="delivered")


ADAPTERS: dict[str, Channel] = {
    "email": Email(),
    "sms": TwilioMessages(),
    "whatsapp": TwilioMessages(whatsapp=True),
    "helpdesk": Helpdesk(),
    "webhook": SignedWebhook(),
}
# The settings that name a peer Amends connects to: a URL, or the SMTP server's host. Each is
# checked against the outbound address policy when saved and again when connecting.
PEER_SETTINGS: dict[str, dict[str, Literal["url", "host"]]] = {
    "email": {"host": "host"},
    "sms": {"base_url": "url"},
    "whatsapp": {"base_url": "url"},
    "helpdesk": {"base_url": "url"},
    "webhook": {"url": "url"},
}
