"""Amends as a Zendesk app: a ticket sidebar loaded with ZAF signed URLs, the ticket read from
Zendesk's API, the apology posted as a ticket comment, and trigger webhooks that open and fix
cases.

An installation's `account` is the Zendesk subdomain. Its secrets:
- `api_email`, `api_token`: an agent's API token, to read users and tickets and post comments
  (required);
- `app_public_key`: the app's PEM, `GET /api/v2/apps/{app_id}/public_key.pem`, and
  `zendesk_installation_id`: the app's installation id in Zendesk (the signed token's `aud`
  names it). Both are only known once the package is uploaded and installed, so they are set
  afterwards; the panel refuses to open until they are;
- `webhook_secret`: the signing secret of the webhook the triggers post to;
- `api_base_url`: another address for Zendesk's API than `https://{account}.zendesk.com`
  (a proxy; the tests' local Zendesk). Connections to it follow the outbound address policy.
"""

from __future__ import annotations

from amends.helpdesk.platforms import Platform, register
from amends.integrations.zendesk import client, package, payloads
from amends.integrations.zendesk.routes import router

PLATFORM = register(Platform(
    name="zendesk",
    title="Zendesk",
    secrets=("api_email", "api_token", "app_public_key", "zendesk_installation_id",
             "webhook_secret", "api_base_url"),
    required=("api_email", "api_token"),
    # The agent's Zendesk frames the sidebar's iframe.
    frame_origins=("https://*.zendesk.com",),
    severity=payloads.severity,
    ticket_url=payloads.ticket_url,
    post_reply=client.post_reply,
    fetch_ticket=client.fetch_ticket,
    package=package.package,
    peers=("api_base_url",),
))

__all__ = ["PLATFORM", "router"]
