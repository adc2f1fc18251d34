"""Amends in Freshdesk: a ticket-sidebar app (a Freshworks Platform 3.0 custom app) whose
request template asks Amends for the agent's panel with a secret kept by Freshworks, an
automation webhook that opens and fixes cases, and replies or private notes posted through
the REST API v2. Secrets: `app_secret` (the app's header), `api_key` (REST API),
`webhook_secret` (the automation's header) and, for tests, `api_base_url`."""

from __future__ import annotations

from amends.helpdesk.platforms import Platform, register
from amends.integrations.freshdesk import client, package
from amends.integrations.freshdesk.routes import router

# Who frames the panel: Freshdesk's pages, and the app's own frame, which Freshworks serves
# from its CDN (https://developers.freshworks.com/docs/guides/solve-cors-errors/how-to-avoid-need-for-cors/);
# an account on its own domain adds it to the installation's `frame_origins`.
FRAME_ORIGINS = ("https://*.freshdesk.com", "https://*.myfreshworks.com",
                 "https://d3h0owdjgzys62.cloudfront.net")

PLATFORM = register(Platform(
    name="freshdesk", title="Freshdesk",
    secrets=("app_secret", "api_key", "webhook_secret", "api_base_url"),
    required=("app_secret", "api_key"),
    frame_origins=FRAME_ORIGINS,
    # The API's address for tests, checked against the outbound policy when saved.
    peers=("api_base_url",),
    severity=client.severity, ticket_url=client.ticket_url, post_reply=client.post_reply,
    package=package.build,
))

__all__ = ["PLATFORM", "router"]
