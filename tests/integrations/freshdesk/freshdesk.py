"""A local Freshdesk account on 127.0.0.1, in the shapes of the REST API v2
(https://developers.freshdesk.com/api/): tickets read with `include=requester`, replies and
private notes posted to them, Basic authentication with the API key and `X`, 429 with
`Retry-After` when told to.

It also plays the sidebar app the way Freshdesk runs it, for the browser test: `/a/tickets/{id}`
is a page shaped like Freshdesk's ticket view whose sidebar frames the package's own
app/index.html (`/app/index.html?ticket={id}`) with a stand-in for the Freshworks client (the data
method answers this account's ticket and agent; `invokeTemplate` asks `/proxy/{template}`),
and `/proxy/{template}` is Freshworks' proxy: it fills the package's config/requests.json
template with the installation parameters (the secure one never reaches the page) and sends
the request to Amends."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.receivers import serving

API_KEY = "fd-api-key-0123456789"
APP_SECRET = "fd-app-secret-" + "a" * 32
WEBHOOK_SECRET = "fd-webhook-secret-" + "b" * 32

# A stand-in for the Freshworks app client (what `{{{appclient}}}` loads): `app.initialized()`,
# `client.data.get`, `client.events.on('app.activated')`, `client.request.invokeTemplate`
# (its promise resolves {status, response} and rejects with the same on an error status).
FAKE_CLIENT = """
window.app = { initialized: function () { return Promise.resolve(window.fakeClient); } };
window.fakeClient = {
  data: { get: function (name) {
    return fetch('/host-data/' + name + location.search).then(function (r) { return r.json(); });
  } },
  events: { on: function (name, handler) {
    if (name === 'app.activated') { setTimeout(handler, 0); }
  } },
  instance: { resize: function () {} },
  request: { invokeTemplate: function (name, options) {
    return fetch('/proxy/' + name, { method: 'POST', body: options.body }).then(function (r) {
      return r.text().then(function (text) {
        var answer = { status: r.status, response: text };
        if (!r.ok) { throw answer; }
        return answer;
      });
    });
  } }
};
"""


@dataclass
class Posted:
    ticket_id: str
    kind: str  # "reply" or "note"
    body: dict[str, Any]
    authorization: str


@dataclass
class Freshdesk:
    url: str
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    posted: list[Posted] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    # Status codes to answer the next posts with (then 201s): 429 is the rate limit.
    script: list[int] = field(default_factory=list)
    # The sidebar app, for the browser test: its files by path, the installation parameters,
    # and the agent the page says is logged in.
    app_files: dict[str, bytes] = field(default_factory=dict)
    iparams: dict[str, str] = field(default_factory=dict)
    agent_email: str = ""
    # The page standing in for Freshdesk's ticket view (it frames `/host/{ticket}`).
    host_page: str = ""
    proxied: list[dict[str, Any]] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return self.url

    def add_ticket(self, ticket_id: str, *, email: str = "ann@example.com",
                   name: str = "Ann Example", priority: int = 3, status: int = 2,
                   tags: tuple[str, ...] = ("amends-late",), subject: str = "Where is it?",
                   **requester: Any) -> dict[str, Any]:
        """A ticket as `GET /api/v2/tickets/{id}?include=requester` answers it."""
        ticket = {"id": int(ticket_id), "subject": subject, "priority": priority,
                  "status": status, "tags": list(tags), "requester_id": 9001,
                  "requester": {"id": 9001, "name": name, "email": email, "mobile": None,
                                "phone": None, **requester}}
        self.tickets[ticket_id] = ticket
        return ticket


def _authorized(header: str | None) -> bool:
    expected = "Basic " + base64.b64encode(f"{API_KEY}:X".encode()).decode()
    return header == expected


def _fill(template: str, iparams: dict[str, str]) -> str:
    return re.sub(r"<%=\s*iparam\.(\w+)\s*%>", lambda m: iparams[m.group(1)], template)


@contextmanager
def freshdesk_account() -> Iterator[Freshdesk]:
    desk = Freshdesk(url="")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, payload: Any, content_type: str = "application/json",
                    headers: dict[str, str] | None = None) -> None:
            body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            found = re.fullmatch(r"/api/v2/tickets/(\d+)", path)
            if found:
                if not _authorized(self.headers.get("authorization")):
                    return self._answer(401, {"code": "invalid_credentials"})
                desk.reads.append(self.path)
                ticket = desk.tickets.get(found.group(1))
                return self._answer(200 if ticket else 404, ticket or {"errors": []})
            if path.startswith("/a/tickets/"):
                return self._answer(200, desk.host_page.encode(), "text/html; charset=utf-8")
            if path.startswith("/host-data/"):
                ticket_id = parse_qs(urlsplit(self.path).query).get("ticket", [""])[0]
                return self._answer(200, self._data(path.removeprefix("/host-data/"),
                                                    ticket_id))
            if path == "/app/index.html":
                page = desk.app_files["app/index.html"].decode().replace(
                    "{{{appclient}}}", "/fake-client.js")
                return self._answer(200, page.encode(), "text/html; charset=utf-8")
            if path == "/fake-client.js":
                return self._answer(200, FAKE_CLIENT.encode(), "text/javascript")
            file = desk.app_files.get(path.removeprefix("/"))
            if file is not None and path.startswith("/app/"):
                kind = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}
                return self._answer(200, file, kind.get(path.rsplit(".", 1)[-1], "text/plain"))
            return self._answer(404, {"errors": []})

        def _data(self, name: str, ticket_id: str) -> dict[str, Any]:
            """The data method's objects for the ticket the app is shown on."""
            ticket = desk.tickets.get(ticket_id, {})
            if name == "ticket":
                return {"ticket": {k: v for k, v in ticket.items() if k != "requester"}}
            if name == "loggedInUser":
                return {"loggedInUser": {"id": 6, "contact": {"email": desk.agent_email,
                                                              "name": "Sam"}}}
            if name in ("requester", "contact"):
                return {name: ticket.get("requester", {})}
            return {}

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            raw = self.rfile.read(length)
            path = urlsplit(self.path).path
            if path.startswith("/proxy/"):
                return self._proxy(path.removeprefix("/proxy/"), raw)
            found = re.fullmatch(r"/api/v2/tickets/(\d+)/(reply|notes)", path)
            if not found:
                return self._answer(404, {"errors": []})
            if not _authorized(self.headers.get("authorization")):
                return self._answer(401, {"code": "invalid_credentials"})
            status = desk.script.pop(0) if desk.script else 201
            if status == 429:
                return self._answer(429, {"message": "rate limited"},
                                    headers={"Retry-After": "30"})
            if status >= 300:
                return self._answer(status, {"errors": []})
            body = json.loads(raw)
            kind = "reply" if found.group(2) == "reply" else "note"
            desk.posted.append(Posted(found.group(1), kind, body,
                                      self.headers.get("authorization", "")))
            conversation = {"id": 7000 + len(desk.posted), "body": body.get("body"),
                            "ticket_id": int(found.group(1)),
                            "private": body.get("private", False) if kind == "note" else False,
                            "source": 0 if kind == "reply" else 2}
            return self._answer(201, conversation)

        def _proxy(self, name: str, body: bytes) -> None:
            """Freshworks' request method: the template filled in, sent from here."""
            template = json.loads(desk.app_files["config/requests.json"])[name]["schema"]
            url = (f"{template.get('protocol', 'https')}://{_fill(template['host'], desk.iparams)}"
                   f"{_fill(template.get('path', '/'), desk.iparams)}")
            headers = {k: _fill(v, desk.iparams) for k, v in template["headers"].items()}
            desk.proxied.append({"url": url, "headers": headers})
            answer = httpx.request(template["method"], url, headers=headers, content=body,
                                   timeout=15)
            self._answer(answer.status_code, answer.content,
                         answer.headers.get("content-type", "application/json"))

        def log_message(self, *args: object) -> None:
            return

    with serving(Handler) as url:
        desk.url = url
        yield desk
