"""A helpdesk platform for the tests alone ("Test desk"), standing in for one of the four names
while a test runs: its panel is opened by a request carrying the installation's shared secret,
its ticket events are plain JSON, and its replies go to a real HTTP receiver on 127.0.0.1 in
the shape of Zendesk's ticket update (a comment, public or not).

The core (installations, agent mapping, the panel, the one click, ticket events) is tested
through it, apart from any real platform's signatures and payloads."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from amends.auth import SessionDep
from amends.delivery.channels import DeliveryFailed
from amends.errors import AmendsError
from amends.helpdesk import service as helpdesk
from amends.helpdesk.panel import refused, show_panel
from amends.helpdesk.platforms import Installed, Platform, Reply, Ticket
from amends.routing import router as make_router
from tests.factories import Tenant, bearer
from tests.receivers import Receiver

# The test desk borrows a real platform's name (the API accepts only those) for one test.
NAME = "gorgias"
SECRET_HEADER = "X-Test-Desk-Secret"
SHARED_SECRET = "desk-shared-secret-1234"
PANEL = "X-Amends-Panel"
PRIORITIES = {"low": 2, "normal": 3, "high": 4, "urgent": 5}


async def post_reply(settings: Mapping[str, Any], reply: Reply) -> str:
    """A comment on the ticket, as Zendesk's Update Ticket takes it
    (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-ticket)."""
    comment = {"body": reply.text, "public": reply.public}
    if reply.html:
        comment["html_body"] = reply.html
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.put(f"{settings['api_url']}/api/v2/tickets/{reply.ticket_id}.json",
                                json={"ticket": {"comment": comment}},
                                headers={"Idempotency-Key": reply.message_id})
    if answer.status_code >= 300:
        raise DeliveryFailed(f"the test desk answered {answer.status_code}")
    return str(answer.json()["audit"]["id"])


def package(installed: Installed) -> dict[str, bytes]:
    return {"manifest.json": (f'{{"name": "{installed.name}", "panel": '
                              f'"{installed.urls["panel"]}"}}').encode(),
            "README.txt": f"Made for {installed.organization}/{installed.account}\n".encode()}


PLATFORM = Platform(
    name=NAME, title="Test desk", secrets=("shared_secret", "api_url"),
    required=("shared_secret",), frame_origins=("https://desk.example",),
    severity=lambda priority: PRIORITIES.get(priority or "", 3),
    ticket_url=lambda account, ticket_id: f"https://{account}.desk.example/tickets/{ticket_id}",
    post_reply=post_reply, package=package)

router = make_router()


@router.post("/test-desk/{organization}/{installation_id}/panel")
async def load_panel(organization: str, installation_id: uuid.UUID, request: Request,
                     session: SessionDep) -> Response:
    """The desk's sidebar loads the panel: the agent's e-mail and the ticket, with the
    installation's shared secret in a header."""
    body = await request.json()
    try:
        installation = await helpdesk.installation_for(
            session, organization=organization, installation_id=installation_id,
            platform=NAME)
        helpdesk.check_secret(request.headers.get(SECRET_HEADER), installation,
                              "shared_secret")
    except AmendsError as error:
        return refused(request, error)
    return await show_panel(request, session, installation, agent_email=body.get("agent"),
                            ticket=Ticket.from_json(body["ticket"]))


@router.post("/test-desk/{organization}/{installation_id}/events")
async def receive_event(organization: str, installation_id: uuid.UUID, request: Request,
                       session: SessionDep) -> Response:
    body = await request.json()
    installation = await helpdesk.installation_for(
        session, organization=organization, installation_id=installation_id, platform=NAME)
    helpdesk.check_secret(request.headers.get(SECRET_HEADER), installation, "shared_secret")
    handled = await helpdesk.ticket_event(session, installation, body["kind"],
                                          Ticket.from_json(body["ticket"]))
    return JSONResponse({"outcome": handled.outcome, "why": handled.why,
                         "case": handled.case.reference if handled.case else None})


@dataclass
class Desk:
    """The test desk's receiver (what it was sent) and how to reach an installation."""

    receiver: Receiver

    def comments(self) -> list[dict[str, Any]]:
        return [r.json()["ticket"]["comment"] for r in self.receiver.requests]


async def install(client: httpx.AsyncClient, tenant: Tenant, desk: Desk,
                  **settings: Any) -> dict[str, Any]:
    answer = await client.post("/v1/helpdesk/installations", headers=bearer(tenant.admin_token),
                               json={"platform": NAME, "account": "shop",
                                     "settings": settings,
                                     "secrets": {"shared_secret": SHARED_SECRET,
                                                 "api_url": desk.receiver.url}})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def ticket(number: str = "123", *, email: str = "ann@example.com", **fields: Any
           ) -> dict[str, Any]:
    return {"id": number, "subject": "Where is my parcel?", "priority": "high",
            "tags": ["amends-late"],
            "requester": {"email": email, "name": "Ann Example"}, **fields}


async def open_panel(client: httpx.AsyncClient, tenant: Tenant, installation: dict[str, Any],
                     *, agent: str, on: dict[str, Any] | None = None,
                     secret: str = SHARED_SECRET) -> httpx.Response:
    return await client.post(f"/test-desk/{tenant.slug}/{installation['id']}/panel",
                             headers={SECRET_HEADER: secret},
                             json={"agent": agent, "ticket": on or ticket()})


def token_of(page: httpx.Response) -> str:
    found = re.search(r'"X-Amends-Panel": "([A-Za-z0-9_-]+)"', page.text)
    assert found, page.text
    return found.group(1)
