"""What the admin gives Gorgias keeps its documented shapes: the HTTP integration
(https://developers.gorgias.com/reference/integrations) calls this installation's events
address on the documented triggers with the token header and a JSON body of ticket variables;
the widget (https://developers.gorgias.com/reference/widgets) is an `http` widget of the
ticket whose every path, and the link's URL, point at something Amends' answer holds."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from amends.db import Database
from amends.helpdesk.platforms import Installed
from amends.integrations.gorgias import PLATFORM
from amends.integrations.gorgias.package import INTEGRATION_ID_PLACEHOLDER, TOKEN_PLACEHOLDER
from tests.factories import make_org
from tests.integrations.gorgias.gorgias import Gorgias
from tests.integrations.gorgias.test_gorgias import event, install

TRIGGERS = {"ticket-created", "ticket-updated", "ticket-message-created",
            "ticket-self-unsnoozed", "ticket-message-failed"}
WIDGET_TYPES = {"wrapper", "card", "text", "list"}


def made(installation: dict[str, Any]) -> dict[str, bytes]:
    assert PLATFORM.package is not None
    return PLATFORM.package(Installed(
        installation_id=installation["id"], organization="acme", account="shop",
        name="Shop", base_url="http://127.0.0.1:8000", urls=installation["urls"]))


def elements(widget: dict[str, Any]) -> list[dict[str, Any]]:
    found = [widget]
    for child in widget.get("widgets", []):
        found += elements(child)
    return found


def at(data: Any, path: str) -> Any:
    for part in [p for p in path.split(".") if p]:
        assert isinstance(data, dict), (path, data)
        assert part in data, (path, data)
        data = data[part]
    return data


def read_by(element: dict[str, Any], data: Any) -> int:
    """Walks the template over the answer as the widget does (a path is relative to its
    parent's data; a list's children to each item); returns how many paths it read."""
    here = at(data, element.get("path", ""))
    read = 1 if element.get("path") else 0
    for child in element.get("widgets", []):
        if element["type"] == "list":
            assert isinstance(here, list)
            read += sum(read_by({**child, "path": child.get("path", "")}, item)
                        for item in here)
        else:
            read += read_by(child, here)
    return read


async def test_the_integration_and_widget_fit_gorgias_and_amends_answer(
        client: httpx.AsyncClient, db: Database, gorgias: Gorgias) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, gorgias)
    files = made(installation)
    assert set(files) == {"integration.json", "widget.json", "README.txt"}

    integration = json.loads(files["integration.json"])
    assert integration["type"] == "http"
    http = integration["http"]
    assert http["url"] == installation["urls"]["events"]
    assert http["method"] in {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}
    assert http["request_content_type"] == "application/json"
    assert http["response_content_type"] == "application/json"
    assert http["headers"] == {"X-Amends-Token": TOKEN_PLACEHOLDER}
    assert set(http["triggers"]) <= TRIGGERS
    assert all(isinstance(v, str) for v in http["form"].values())  # a flat string map
    assert http["form"]["ticket_id"] == "{{ticket.id}}"

    widget = json.loads(files["widget.json"])
    assert (widget["context"], widget["type"]) == ("ticket", "http")
    assert widget["integration_id"] == INTEGRATION_ID_PLACEHOLDER
    template = widget["template"]
    assert template["type"] == "wrapper"
    assert {e["type"] for e in elements(template)} <= WIDGET_TYPES

    # What Amends answers the integration (its form filled in as Gorgias would) holds every
    # path the widget reads, and the link's URL.
    gorgias.add_ticket("123")
    body = {k: v.replace("{{ticket.id}}", "123").replace("{{ticket.customer.email}}",
                                                         "ann@example.com")
            for k, v in http["form"].items()}
    answer = (await event(client, tenant, installation, body)).json()
    [card] = template["widgets"]
    assert answer["open_cases"]  # the ticket's case, opened by this call
    assert read_by(card, answer) >= 7
    [link] = card["meta"]["custom"]["links"]
    assert link["label"] == "Make amends"
    for name in re.findall(r"\{\{(\w+)\}\}", link["url"]):
        assert name in answer
    assert answer["panel_url"].startswith(installation["urls"]["panel"] + "?ticket=123&")

    readme = files["README.txt"].decode()
    assert installation["urls"]["events"] in readme
    assert "X-Amends-Token" in readme
