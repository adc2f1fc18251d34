"""The organisation's brand as messages, pages and passes read it: every field resolved to
what is shown (the display name falls back to the organisation's name, the sender name to
the display name)."""

from __future__ import annotations

from dataclasses import dataclass

from amends.models import Organization

DEFAULT_COLOR = "#1f3a5f"
# White text on the brand colour (the coupon page's header band, buttons, wallet passes) must
# be readable: WCAG 2.2 success criterion 1.4.3 asks 4.5:1 for normal text
# (https://www.w3.org/TR/WCAG22/#contrast-minimum).
MIN_CONTRAST_WITH_WHITE = 4.5


def _channel(value: int) -> float:
    # sRGB to linear light, as WCAG defines relative luminance
    # (https://www.w3.org/TR/WCAG22/#dfn-relative-luminance).
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(color: str) -> float:
    """`#rrggbb` -> 0 (black) .. 1 (white)."""
    red, green, blue = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(red) + 0.7152 * _channel(green) + 0.0722 * _channel(blue)


def contrast_with_white(color: str) -> float:
    """The WCAG contrast ratio of white text on `color`: 1 (white on white) .. 21 (on black)."""
    return 1.05 / (relative_luminance(color) + 0.05)


def tint(color: str, *, white: float = 0.9) -> str:
    """`color` mixed with `white` parts of white: a pale background in the brand's hue."""
    mixed = (round(int(color[i:i + 2], 16) * (1 - white) + 255 * white) for i in (1, 3, 5))
    return "#" + "".join(f"{channel:02x}" for channel in mixed)


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

    def theme_path(self, organization_slug: str) -> str:
        """Where the colour is served as a style sheet (pages may not carry inline styles)."""
        return f"/brand/{organization_slug}/{self.color.removeprefix('#').lower()}.css"


def brand_of(organization: Organization) -> Brand:
    name = organization.display_name or organization.name
    return Brand(
        name=name, sender_name=organization.sender_name or name,
        sender_email=organization.sender_email, reply_to=organization.reply_to,
        color=organization.brand_color or DEFAULT_COLOR,
        support_email=organization.support_email, support_phone=organization.support_phone,
        support_url=organization.support_url, logo_sha256=organization.logo_sha256)
