"""Amends in Gorgias: an HTTP integration that opens and fixes cases on ticket events and
answers a sidebar widget (the customer, their cases and gestures, a signed one-use "Make
amends" link to the panel, opened by the agent logged in to Amends), and apologies posted
through the REST API as replies or internal notes. Secrets: `integration_token` (the
integration's header), `api_email` and `api_key` (REST API), `link_secret` (signs the links)
and, for tests, `api_base_url`."""

from __future__ import annotations

from amends.helpdesk.platforms import Platform, register
from amends.integrations.gorgias import client, package
from amends.integrations.gorgias.routes import router

PLATFORM = register(Platform(
    name="gorgias", title="Gorgias",
    secrets=("integration_token", "api_email", "api_key", "link_secret", "api_base_url"),
    required=("integration_token", "api_email", "api_key", "link_secret"),
    # The panel opens in a tab of its own: nobody frames it.
    frame_origins=(),
    # The API's address for tests, checked against the outbound policy when saved.
    peers=("api_base_url",),
    severity=client.severity, ticket_url=client.ticket_url, post_reply=client.post_reply,
    package=package.build,
))

__all__ = ["PLATFORM", "router"]
