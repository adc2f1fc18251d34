"""The organisation's brand as messages, pages and passes read it: every field resolved to
what is shown (the display name falls back to the organisation's name, the sender name to
the display name)."""

from __future__ import annotations

from dataclasses import dataclass

from amends.models import Organization

DEFAULT_COLOR = "#1f3a5f"


@dataclass(frozen=True, slots=True)
class Brand:
    name: str
    sender_name: str
    sender_email: str | None
    reply_to: str | None
    color: str
    support_email: str | None
    support_phone: str | None
    support_url: str | None
    logo_sha256: str | None

    def logo_path(self, organization_slug: str) -> str | None:
        """Where the logo is served; the hash in the path makes it cacheable for ever."""
        if self.logo_sha256 is None:
            return None
        return f"/brand/{organization_slug}/{self.logo_sha256}.png"


def brand_of(organization: Organization) -> Brand:
    name = organization.display_name or organization.name
    return Brand(
        name=name, sender_name=organization.sender_name or name,
        sender_email=organization.sender_email, reply_to=organization.reply_to,
        color=organization.brand_color or DEFAULT_COLOR,
        support_email=organization.support_email, support_phone=organization.support_phone,
        support_url=organization.support_url, logo_sha256=organization.logo_sha256)
