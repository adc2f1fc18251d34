"""What the admin gives Gorgias, for one installation: the HTTP integration (the body of
`POST /api/integrations`) and its sidebar widget (the body of `POST /api/widgets`), with a
README.txt of the steps, by hand in Gorgias' settings or through its API.

Shapes: https://developers.gorgias.com/reference/integrations (an `http` integration: `url`,
`method`, `headers`, `request_content_type`, `response_content_type`, `form` whose values may
hold `{{ticket.*}}` variables, and `triggers` keyed `ticket-created`, `ticket-updated`,
`ticket-message-created`); https://developers.gorgias.com/reference/widgets (a widget of type
`http` bound to the integration's id, context `ticket`, a `wrapper` template of `card`, `text`
and `list` elements whose `path`s point into the JSON Amends answers; a card's links in
`meta.custom.links`, their `url` filled from that JSON)."""

from __future__ import annotations

import json
from typing import Any

from amends.helpdesk.platforms import Installed
from amends.integrations.gorgias.client import host

TOKEN_PLACEHOLDER = "PASTE THE INSTALLATION'S integration_token"
INTEGRATION_ID_PLACEHOLDER = "THE id GORGIAS ANSWERED FOR THE INTEGRATION"
TRIGGERS = {"ticket-created": True, "ticket-updated": True, "ticket-message-created": True}


def integration(installed: Installed) -> dict[str, Any]:
    return {
        "name": f"Amends ({installed.name})",
        "type": "http",
        "description": "Make amends from the ticket: the customer's cases and gestures, and a "
                       "link to give one.",
        "http": {
            "url": installed.urls["events"],
            "method": "POST",
            "headers": {"X-Amends-Token": TOKEN_PLACEHOLDER},
            "request_content_type": "application/json",
            "response_content_type": "application/json",
            "form": {"ticket_id": "{{ticket.id}}",
                     "customer_email": "{{ticket.customer.email}}",
                     "customer_name": "{{ticket.customer.name}}",
                     "status": "{{ticket.status}}"},
            "triggers": dict(TRIGGERS),
        },
    }


def widget() -> dict[str, Any]:
    text = [("Customer", "customer.name"), ("E-mail", "customer.email"),
            ("In Amends", "customer.in_amends"), ("Summary", "summary")]
    return {
        "context": "ticket",
        "type": "http",
        "integration_id": INTEGRATION_ID_PLACEHOLDER,
        "template": {
            "type": "wrapper",
            "widgets": [{
                "type": "card", "title": "Amends", "path": "", "order": 0,
                "meta": {"displayCard": True, "link": "",
                         "custom": {"links": [{"url": "{{panel_url}}",
                                               "label": "Make amends"}]}},
                "widgets": [
                    *({"type": "text", "title": title, "path": path, "order": order}
                      for order, (title, path) in enumerate(text)),
                    {"type": "list", "path": "open_cases", "order": len(text),
                     "meta": {"limit": "5", "orderBy": ""},
                     "widgets": [{"type": "card", "title": "{{reference}}: {{reason}}",
                                  "meta": {"displayCard": True},
                                  "widgets": [{"type": "text", "title": "State",
                                               "path": "state"}]}]},
                    {"type": "list", "path": "gestures", "order": len(text) + 1,
                     "meta": {"limit": "5", "orderBy": ""},
                     "widgets": [{"type": "card", "title": "{{name}}",
                                  "meta": {"displayCard": True},
                                  "widgets": [{"type": "text", "title": "Code",
                                               "path": "code"},
                                              {"type": "text", "title": "Status",
                                               "path": "status"}]}]},
                ],
            }],
        },
    }


def build(installed: Installed) -> dict[str, bytes]:
    """integration.json, widget.json and README.txt for the installation `installed`."""
    files = {"integration.json": integration(installed), "widget.json": widget()}
    out = {path: (json.dumps(data, indent=2) + "\n").encode() for path, data in files.items()}
    out["README.txt"] = readme(installed).encode()
    return out


def readme(installed: Installed) -> str:
    events = installed.urls["events"]
    return f"""Amends for Gorgias ({installed.name}, {installed.account})
=====================================================

Gorgias shows Amends in the ticket's sidebar as a widget: the customer, their open cases and
gestures, and a "Make amends" link that opens the agent's panel in a new tab (the agent logs
in to Amends once; the link works once, for 8 hours).

In Gorgias' settings (an admin):
1. Settings > Apps > HTTP integration > Manage > Add HTTP Integration.
   - Name: Amends. URL: {events}
   - Method: POST, request content type: application/json.
   - Body: the "form" of integration.json (ticket_id, customer_email, customer_name, status).
   - Headers: X-Amends-Token = the installation's integration_token (set in Amends,
     Admin > Helpdesks; Amends never shows it again).
   - Triggers: Ticket created, Ticket updated, Ticket message created.
2. Open a ticket, then in the sidebar's widget editor (the gear, "Edit widgets") drag the
   Amends data into a card and add the link "Make amends" with the URL {{{{panel_url}}}}.

Or through Gorgias' API (Basic auth: your e-mail and a REST API key):
1. Replace "{TOKEN_PLACEHOLDER}" in integration.json with the
   integration_token, then POST it to https://{host(installed.account)}/api/integrations.
2. Put the "id" Gorgias answers in widget.json's integration_id, then POST widget.json
   to https://{host(installed.account)}/api/widgets.

Amends also needs, set on the installation: api_email and api_key (to read tickets and post
the apology as a reply or an internal note) and link_secret (any long random text: it signs
the links).
"""
