"""The Zendesk app the admin uploads (Admin Center > Apps and integrations > Zendesk Support
apps > Upload private app): a ZAF v2 package made for one installation, whose ticket sidebar is
the installation's panel address, loaded with signed URLs.

The files Zendesk requires are `manifest.json`, `translations/en.json`, `assets/logo.png`
(320 x 320) and `assets/logo-small.png` (128 x 128)
(https://developer.zendesk.com/documentation/apps/app-developer-guide/setup/#file-requirements,
https://developer.zendesk.com/documentation/apps/publish-your-app-or-theme/create_assets/);
the manifest's keys are those of
https://developer.zendesk.com/documentation/apps/app-developer-guide/manifest/, checked on
upload by zendesk/zendesk_apps_support (lib/zendesk_apps_support/validations/manifest.rb). The
sidebar is a remote URL, so the package needs no `assets/iframe.html`.
"""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import urlsplit

from PIL import Image, ImageDraw, ImageFont

from amends import __version__
from amends.helpdesk.platforms import Installed

# The brand's colours on the logos (the console's accent, and white).
ACCENT = (15, 118, 110, 255)
WHITE = (255, 255, 255, 255)
LOGO_SIZE, SMALL_LOGO_SIZE = 320, 128


def manifest(installed: Installed) -> dict[str, Any]:
    """A private app with one location, the ticket sidebar at the panel's address, loaded
    with a signed token (`signedUrls`); `flexible` lets it follow the sidebar's width."""
    host = urlsplit(installed.base_url).hostname or "localhost"
    return {
        "name": "Amends",
        "author": {"name": "Amends", "email": f"helpdesk@{host}", "url": installed.base_url},
        "defaultLocale": "en",
        "private": True,
        "location": {"support": {"ticket_sidebar": {"url": installed.urls["panel"],
                                                    "flexible": True}}},
        "version": __version__,
        "frameworkVersion": "2.0",
        "signedUrls": True,
    }


def translations(installed: Installed) -> dict[str, Any]:
    """`app.name` is what Zendesk shows; a private app needs nothing else
    (zendesk_apps_support, validations/translations.rb), the rest helps the admin."""
    return {"app": {
        "name": "Amends",
        "short_description": "Make amends from the ticket: the customer's cases and "
                             "gestures, and one click that gives one and posts the apology.",
        "long_description": f"Amends for {installed.name} ({installed.organization}). The "
                            "sidebar shows the ticket's customer in Amends and gives a "
                            "gesture in one click; the apology with its code is posted "
                            "into the ticket.",
        "installation_instructions": "After installing, give Amends the app's public key "
                                     "and the installation's id (see Amends' README, "
                                     "Install in your helpdesk > Zendesk).",
    }}


def _logo(size: int, *, transparent: bool) -> bytes:
    """A plain logo drawn here (no image files in the repository): the accent with a white
    'A', square for `logo.png` (Zendesk asks for no rounded corners), a disc on transparency
    for `logo-small.png`."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0) if transparent else ACCENT)
    draw = ImageDraw.Draw(image)
    if transparent:
        draw.ellipse((0, 0, size - 1, size - 1), fill=ACCENT)
    font = ImageFont.load_default(size=int(size * 0.62))
    draw.text((size / 2, size / 2), "A", font=font, fill=WHITE, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def package(installed: Installed) -> dict[str, bytes]:
    """The package's files by path, `manifest.json` at the root (Zendesk refuses a nested
    one)."""
    return {
        "manifest.json": json.dumps(manifest(installed), indent=2).encode() + b"\n",
        "translations/en.json": json.dumps(translations(installed), indent=2).encode() + b"\n",
        "assets/logo.png": _logo(LOGO_SIZE, transparent=False),
        "assets/logo-small.png": _logo(SMALL_LOGO_SIZE, transparent=True),
    }
