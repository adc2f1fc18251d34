"""Posting into a ticket through its installation's platform, as the delivery channel
`helpdesk` does for a case opened from a ticket: the apology with the code, as a public reply
or an internal note (the installation's `reply_as`)."""

from __future__ import annotations

from typing import Any

from amends.delivery.channels import HELPDESK_POSTERS, Outgoing, Sent
from amends.helpdesk.platforms import PLATFORMS, Platform, Reply, ticket_id_of


def poster_for(platform: Platform) -> Any:
    """How the `helpdesk` channel posts into a ticket of this platform."""
    async def post(message: Outgoing, settings: dict[str, Any]) -> Sent:
        reply = Reply(ticket_id=ticket_id_of(message.address), text=message.text,
                      html=message.html, public=settings.get("reply_as", "public") != "note",
                      message_id=message.id)
        posted = await platform.post_reply(settings, reply)
        return Sent(provider_id=posted, status="delivered")
    return post


def install() -> None:
    """Let the `helpdesk` channel post through every platform registered."""
    for name, platform in PLATFORMS.items():
        HELPDESK_POSTERS[name] = poster_for(platform)
