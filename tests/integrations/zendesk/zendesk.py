"""A Zendesk account for the tests: a real HTTP server on 127.0.0.1 that answers the Support
API calls the app makes, in Zendesk's documented shapes, and keeps what it was sent; the app's
signing key pair (RSA, as Zendesk signs ZAF tokens); and the page that frames the app as
Zendesk's agent interface does.

- `GET /api/v2/users/{id}.json` -> `{"user": {...}}`
  (https://developer.zendesk.com/api-reference/ticketing/users/users/#show-user)
- `GET /api/v2/tickets/{id}.json?include=users` -> `{"ticket": {...}, "users": [...]}`
  (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#show-ticket)
- `PUT /api/v2/tickets/{id}.json` -> `{"ticket": {...}, "audit": {"id", "events": [...]}}`
  (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-ticket)

Every API call must carry `Basic base64("{email}/token:{token}")`, else 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.receivers import serving

ACCOUNT = "lumiere"
API_EMAIL, API_TOKEN = "amends-bot@lumiere.example", "zd-api-token-0123456789"
ZENDESK_INSTALLATION_ID = "360001234567"
WEBHOOK_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
APP_GUID = "4f5b1c3e-0d6b-4e8e-9a2b-6c1d2e3f4a5b"


@dataclass(frozen=True)
class KeyPair:
    private_pem: bytes
    public_pem: str


def key_pair() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return KeyPair(private_pem=private, public_pem=public.decode())


APP_KEYS = key_pair()


def zaf_token(*, sub: str | int = 9001, account: str = ACCOUNT,
              installation: str = ZENDESK_INSTALLATION_ID, key: bytes | None = None,
              algorithm: str = "RS256", issued: float | None = None, lifetime: int = 300,
              **claims: Any) -> str:
    """A token as Zendesk signs a signed-URL load: RS256 with the app's key, `aud` the app's
    installation, `iss` the account, `sub` the agent, five minutes of life."""
    now = time.time() if issued is None else issued
    payload = {"iss": f"{account}.zendesk.com",
               "aud": f"https://{account}.zendesk.com/api/v2/apps/installations/"
                      f"{installation}.json",
               "sub": sub, "iat": int(now), "nbf": int(now), "exp": int(now) + lifetime,
               "jti": str(uuid.uuid4()),
               "context": {"product": "support", "location": "ticket_sidebar"}, **claims}
    return jwt.encode(payload, key if key is not None else APP_KEYS.private_pem,
                      algorithm=algorithm)


def webhook_headers(body: bytes, *, secret: str = WEBHOOK_SECRET,
                    at: datetime | None = None) -> dict[str, str]:
    """The headers Zendesk signs a webhook delivery with: base64(HMAC-SHA256(timestamp +
    body)) (https://developer.zendesk.com/documentation/webhooks/verifying/)."""
    stamp = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    mac = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
    return {"X-Zendesk-Webhook-Signature": base64.b64encode(mac).decode(),
            "X-Zendesk-Webhook-Signature-Timestamp": stamp,
            "X-Zendesk-Webhook-Id": "01GXYZWEBHOOK", "Content-Type": "application/json",
            "User-Agent": "Zendesk Webhook"}


@dataclass
class Put:
    ticket_id: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def comment(self) -> dict[str, Any]:
        return dict(self.body["ticket"]["comment"])


@dataclass
class Zendesk:
    url: str
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    puts: list[Put] = field(default_factory=list)
    # Answers to the next PUTs, in order (status, extra headers); 200 once they run out.
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    host_page: str = ""
    asked: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return self.url

    def agent(self, user_id: int, email: str, *, role: str = "agent") -> None:
        self.users[str(user_id)] = {"id": user_id, "email": email, "name": email.split("@")[0],
                                    "role": role}

    def ticket(self, ticket_id: int, *, requester: dict[str, Any], priority: str | None = "high",
               tags: list[str] | None = None, subject: str = "Where is my parcel?",
               status: str = "open") -> None:
        requester_id = 50_000 + ticket_id
        self.tickets[str(ticket_id)] = {
            "ticket": {"id": ticket_id, "subject": subject, "raw_subject": subject,
                       "priority": priority, "status": status, "tags": tags or [],
                       "requester_id": requester_id, "submitter_id": requester_id,
                       "type": "incident", "url": f"{self.url}/api/v2/tickets/{ticket_id}.json"},
            "users": [{"id": requester_id, "role": "end-user", "name": None, "email": None,
                       "phone": None, "external_id": None, **requester},
                      {"id": 9001, "role": "agent", "email": "someone@lumiere.example"}]}

    def comments(self, ticket_id: str | None = None) -> list[dict[str, Any]]:
        return [p.comment for p in self.puts if ticket_id in (None, p.ticket_id)]


_audits = itertools.count(80_000_000)


@contextmanager
def zendesk_account() -> Iterator[Zendesk]:
    """The account's API on a free port of 127.0.0.1 until the block ends."""
    account = Zendesk(url="")
    expected = "Basic " + base64.b64encode(f"{API_EMAIL}/token:{API_TOKEN}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: object, headers: dict[str, str] | None = None,
                    content_type: str = "application/json") -> None:
            payload = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def _authorised(self) -> bool:
            if self.headers.get("authorization") == expected:
                return True
            self._answer(401, {"error": "Couldn't authenticate you"})
            return False

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path.startswith("/agent/"):
                self._answer(200, account.host_page, content_type="text/html; charset=utf-8")
                return
            if not self._authorised():
                return
            account.asked.append(self.path)
            parts = path.removesuffix(".json").split("/")
            if path.startswith("/api/v2/users/") and parts[-1] in account.users:
                self._answer(200, {"user": account.users[parts[-1]]})
            elif path.startswith("/api/v2/tickets/") and parts[-1] in account.tickets:
                self._answer(200, account.tickets[parts[-1]])
            else:
                self._answer(404, {"error": "RecordNotFound", "description": "Not found"})

        def do_PUT(self) -> None:
            if not self._authorised():
                return
            ticket_id = urlsplit(self.path).path.removesuffix(".json").split("/")[-1]
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            status, headers = account.script.pop(0) if account.script else (200, {})
            if status != 200:
                self._answer(status, {"error": "APIRateLimitExceeded"} if status == 429
                             else {"error": "failed"}, headers)
                return
            account.puts.append(Put(ticket_id, dict(self.headers.items()), body))
            audit = next(_audits)
            self._answer(200, {"ticket": {"id": int(ticket_id), "status": "open"},
                               "audit": {"id": audit, "ticket_id": int(ticket_id),
                                         "events": [{"id": audit + 1, "type": "Comment",
                                                     **body["ticket"]["comment"]}]}})

        def log_message(self, *args: object) -> None:
            return

    with serving(Handler) as url:
        account.url = url
        yield account


def secrets_for(zendesk: Zendesk, **changes: str) -> dict[str, str]:
    """An installation's secrets pointing at the local account."""
    return {"api_email": API_EMAIL, "api_token": API_TOKEN, "app_public_key": APP_KEYS.public_pem,
            "zendesk_installation_id": ZENDESK_INSTALLATION_ID,
            "webhook_secret": WEBHOOK_SECRET, "api_base_url": zendesk.url, **changes}


AGENT_ID, AGENT_EMAIL = 9001, "sam@shop.example"
ZENDESK_ORIGIN = f"https://{ACCOUNT}.zendesk.com"


def panel_address(slug: str, installation_id: str, *, origin: str = ZENDESK_ORIGIN) -> str:
    """The sidebar's URL as Zendesk loads it: the package's URL with ZAF's `origin` and
    `app_guid` appended."""
    return (f"/helpdesk/{slug}/{installation_id}/zendesk?origin={origin}"
            f"&app_guid={APP_GUID}")
