"""Amends as an Intercom inbox app (Canvas Kit): no package to upload, the app's initialize
and submit URLs point at Amends (`routes`), its webhooks open and fix cases, and the
apology with the code is posted into the conversation through Intercom's REST API
(`client`)."""

from __future__ import annotations

from amends.helpdesk.platforms import Platform, register
from amends.integrations.intercom import client, routes, webhooks
from amends.routing import router as make_router

# Canvas Kit's initialize and submit, and webhook notifications.
router = make_router(include_in_schema=False)
router.include_router(routes.router)
router.include_router(webhooks.router)

PLATFORM = register(Platform(
    name="intercom", title="Intercom",
    # client_secret: signs Canvas Kit requests and webhooks (the app's Basic info page);
    # access_token: posts replies (the app's Authentication page); admin_id: the teammate
    # replies are posted as (else the one who gave the gesture); api_base_url: Intercom's
    # REST host (https://api.eu.intercom.io, https://api.au.intercom.io; by default the
    # workspace's region's).
    secrets=("client_secret", "access_token", "admin_id", "api_base_url"),
    required=("client_secret",),
    peers=("api_base_url",),  # checked against the outbound address policy when saved
    frame_origins=(),  # Canvas Kit draws the canvas itself: nothing is framed
    severity=client.severity,
    ticket_url=client.ticket_url,
    post_reply=client.post_reply,
))
