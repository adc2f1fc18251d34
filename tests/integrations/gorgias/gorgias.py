"""A local Gorgias account on 127.0.0.1, in the shapes of its REST API
(https://developers.gorgias.com/reference/get-ticket,
https://developers.gorgias.com/reference/create-ticket-message): tickets with their customer,
channels, tags and messages; messages posted into them; Basic authentication with a user's
e-mail and API key; 429 with `Retry-after` when told to."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.receivers import serving

API_EMAIL = "amends@shop.example"
API_KEY = "gorgias-api-key-0123456789"
INTEGRATION_TOKEN = "gorgias-token-" + "t" * 32
LINK_SECRET = "gorgias-link-secret-" + "l" * 32


@dataclass
class Posted:
    ticket_id: str
    body: dict[str, Any]


@dataclass
class Gorgias:
    url: str
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    posted: list[Posted] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    script: list[int] = field(default_factory=list)

    def add_ticket(self, ticket_id: str, *, email: str = "ann@example.com",
                   name: str = "Ann Example", channel: str = "email",
                   priority: str = "normal", status: str = "open",
                   tags: tuple[str, ...] = ("amends-late",), subject: str = "Where is it?",
                   external_id: str | None = None) -> dict[str, Any]:
        ticket = {
            "id": int(ticket_id), "subject": subject, "channel": channel,
            "priority": priority, "status": status,
            "tags": [{"id": n, "name": tag} for n, tag in enumerate(tags, 1)],
            "customer": {"id": 3924, "email": email, "name": name, "external_id": external_id,
                         "channels": [{"type": "email", "address": email, "preferred": True},
                                      {"type": "chat", "address": "visitor-77"}]},
            "meta": {"chat": {"conversation_id": "conv-77"}} if channel == "chat" else {},
            "messages": [{"id": 1, "from_agent": False, "channel": channel,
                          "source": {"type": channel, "from": {"address": email},
                                     "to": [{"address": "support@shop.example"}]}}],
        }
        self.tickets[ticket_id] = ticket
        return ticket


def _authorized(header: str | None) -> bool:
    return header == "Basic " + base64.b64encode(f"{API_EMAIL}:{API_KEY}".encode()).decode()


@contextmanager
def gorgias_account() -> Iterator[Gorgias]:
    desk = Gorgias(url="")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, payload: Any, headers: dict[str, str] | None = None
                    ) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            found = re.fullmatch(r"/api/tickets/(\d+)", urlsplit(self.path).path)
            if not found:
                return self._answer(404, {"error": "not found"})
            if not _authorized(self.headers.get("authorization")):
                return self._answer(401, {"error": "unauthorized"})
            desk.reads.append(self.path)
            ticket = desk.tickets.get(found.group(1))
            return self._answer(200 if ticket else 404, ticket or {"error": "not found"})

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length", 0)))
            found = re.fullmatch(r"/api/tickets/(\d+)/messages", urlsplit(self.path).path)
            if not found:
                return self._answer(404, {"error": "not found"})
            if not _authorized(self.headers.get("authorization")):
                return self._answer(401, {"error": "unauthorized"})
            status = desk.script.pop(0) if desk.script else 201
            if status == 429:
                return self._answer(429, {"error": "rate limited"},
                                    headers={"Retry-after": "20"})
            if status >= 300:
                return self._answer(status, {"error": "no"})
            body = json.loads(raw)
            desk.posted.append(Posted(found.group(1), body))
            return self._answer(201, {"id": 8000 + len(desk.posted), **body})

        def log_message(self, *args: object) -> None:
            return

    with serving(Handler) as url:
        desk.url = url
        yield desk
