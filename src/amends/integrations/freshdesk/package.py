"""The Freshdesk app for one installation: a Platform 3.0 app (the files `fdk pack` would zip)
that the admin uploads as a custom app.

Layout and rules, from Freshworks' app skeleton and validation rules
(https://developers.freshworks.com/docs/app-sdk/v3.0/support_ticket/app-manifest/ and
https://github.com/freshworks-developers/marketplace, in
skills/app-dev/references/architecture/platform3-manifest-structure.md):
- manifest.json: `platform-version` "3.0"; the location `ticket_sidebar` under
  `modules.support_ticket.location` with its `url` and `icon` (files under app/); each request
  template declared in `modules.common.requests`; `engines`.
- config/iparams.json: the installation's settings form; `secure: true` keeps the secret out
  of the browser (only non-secure parameters reach `client.iparams.get()`).
- config/requests.json: the template's `schema` (protocol, method, host, path, headers; no
  body) and `options`; a secure parameter may be substituted only in `headers`, the host
  only from a non-secure one
  (https://developers.freshworks.com/docs/app-sdk/v3.0/support_ticket/advanced-interfaces/request-method/).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from amends.helpdesk.platforms import Installed

APP = Path(__file__).resolve().parents[2] / "web" / "static" / "helpdesk" / "freshdesk-app"
APP_FILES = ("index.html", "scripts/app.js", "styles/style.css", "styles/images/icon.svg")
TEMPLATE = "amendsSession"
# The versions Freshworks' current skeletons name; `fdk validate` rewrites them to its own.
ENGINES = {"node": "18.20.8", "fdk": "9.7.4"}


def manifest() -> dict[str, Any]:
    return {
        "platform-version": "3.0",
        "modules": {
            "common": {"requests": {TEMPLATE: {}}},
            "support_ticket": {
                "location": {"ticket_sidebar": {"url": "index.html",
                                                "icon": "styles/images/icon.svg"}},
            },
        },
        "engines": dict(ENGINES),
    }


def iparams(host: str) -> dict[str, Any]:
    return {
        "amends_host": {
            "display_name": "Amends address",
            "description": "Where Amends answers, without https:// (e.g. amends.example.com).",
            "type": "text", "required": True, "default_value": host,
        },
        "amends_secret": {
            "display_name": "Amends app secret",
            "description": "The app_secret set on this installation in Amends "
                           "(Admin, Helpdesks). Kept by Freshworks, never sent to browsers.",
            "type": "text", "required": True, "secure": True,
        },
    }


def requests(scheme: str, path: str) -> dict[str, Any]:
    return {
        TEMPLATE: {
            "schema": {
                "protocol": scheme, "method": "POST", "host": "<%= iparam.amends_host %>",
                "path": path,
                "headers": {"Authorization": "Bearer <%= iparam.amends_secret %>",
                            "Content-Type": "application/json"},
            },
            # One attempt: a retry would carry a nonce Amends has seen, and be refused.
            "options": {"maxAttempts": 1, "retryDelay": 500},
        }
    }


def build(installed: Installed) -> dict[str, bytes]:
    """The app's files by path, for the installation `installed` (its session address is
    the template's path; the host is an installation parameter, prefilled)."""
    session = urlsplit(f"{installed.urls['panel']}/session")
    files = {
        "manifest.json": manifest(),
        "config/iparams.json": iparams(session.netloc),
        "config/requests.json": requests(session.scheme, session.path),
    }
    out = {path: (json.dumps(data, indent=2) + "\n").encode() for path, data in files.items()}
    for name in APP_FILES:
        out[f"app/{name}"] = (APP / name).read_bytes()
    out["README.md"] = readme(installed).encode()
    return out


def readme(installed: Installed) -> str:
    return f"""# Amends for Freshdesk ({installed.name})

A custom app for {installed.account}: the Amends panel in the ticket sidebar.

1. In Freshdesk: Admin > Apps, then "Go to Developer Portal" > New app > Custom app, and
   upload this zip (the layout `fdk pack` produces; `fdk validate` checks the unzipped
   folder). Publish it. (https://developers.freshworks.com/docs/tutorials/foundations/hello/freshdesk/step-5)
2. Install it. In its settings, keep "Amends address" ({urlsplit(installed.base_url).netloc})
   and paste the installation's app_secret as "Amends app secret".
3. Open a ticket: the Amends panel shows in the sidebar for every agent who has an Amends
   user with the same e-mail address.
"""
