"""Telling devices that a pass changed, through the Apple Push Notification service.

The provider API is HTTP/2 only: `POST /3/device/<push token>` on api.push.apple.com
(api.sandbox.push.apple.com for development devices), with `authorization: bearer <JWT>`
(ES256, header `kid` = the key id, claims `iss` = the team id and `iat`), `apns-topic` = the
pass type identifier; for a pass the payload is an empty dictionary, and the device then asks
the pass web service what changed.
https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns
https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns
https://developer.apple.com/documentation/walletpasses/adding-a-web-service-to-update-passes
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import httpx
import jwt

PRODUCTION = "https://api.push.apple.com"
SANDBOX = "https://api.sandbox.push.apple.com"
# A provider token is refused once older than an hour, and renewing it more often than every
# twenty minutes is refused too (TooManyProviderTokenUpdates): renew after fifty.
TOKEN_SECONDS = 50 * 60
# Answers that say the push token is no longer any device's: its registrations are dropped.
GONE = frozenset({"Unregistered", "BadDeviceToken", "DeviceTokenNotForTopic"})


class PushFailed(Exception):
    """APNs did not take every notification (the job retries; a device notified twice only
    asks the web service once more)."""


@dataclass(frozen=True, slots=True)
class ApnsCredentials:
    team_id: str
    key_id: str
    key_pem: str
    topic: str  # the pass type identifier
    sandbox: bool = False


@dataclass(slots=True)
class PushOutcome:
    delivered: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)


class PushClient(Protocol):
    async def notify(self, credentials: ApnsCredentials, push_tokens: Sequence[str]
                     ) -> PushOutcome: ...


_tokens: dict[tuple[str, str, str], tuple[float, str]] = {}


def provider_token(credentials: ApnsCredentials, *, now: float | None = None) -> str:
    """The ES256 provider token, reused for fifty minutes."""
    moment = time.time() if now is None else now
    key = (credentials.team_id, credentials.key_id,
           hashlib.sha256(credentials.key_pem.encode()).hexdigest())
    cached = _tokens.get(key)
    if cached is not None and moment - cached[0] < TOKEN_SECONDS:
        return cached[1]
    token = jwt.encode({"iss": credentials.team_id, "iat": int(moment)}, credentials.key_pem,
                       algorithm="ES256", headers={"kid": credentials.key_id})
    _tokens[key] = (moment, token)
    return token


class Apns:
    """APNs over HTTP/2 with token authentication. `base_url` replaces Apple's hosts (a relay,
    or a local receiver in tests) and `verify` the trusted certificates."""

    def __init__(self, *, base_url: str | None = None,
                 verify: ssl.SSLContext | str | bool = True, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self.verify = verify
        self.timeout = timeout
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}

    def _client(self) -> httpx.AsyncClient:
        # Connections belong to the loop that opened them; one client (and its one HTTP/2
        # connection, multiplexing every notification) per loop.
        for loop in [loop for loop in self._clients if loop.is_closed()]:
            self._clients.pop(loop)
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = self._clients[loop] = httpx.AsyncClient(
                http2=True, verify=self.verify, timeout=self.timeout)
        return client

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()

    async def notify(self, credentials: ApnsCredentials, push_tokens: Sequence[str]
                     ) -> PushOutcome:
        base = self.base_url or (SANDBOX if credentials.sandbox else PRODUCTION)
        headers = {"authorization": f"bearer {provider_token(credentials)}",
                   "apns-topic": credentials.topic, "apns-push-type": "background",
                   "apns-priority": "5"}
        client = self._client()

        async def one(push_token: str) -> tuple[str, int, str]:
            try:
                response = await client.post(f"{base}/3/device/{push_token}", content=b"{}",
                                             headers=headers)
            except httpx.HTTPError as exc:
                return push_token, 0, f"unreachable: {exc}"
            reason = ""
            if response.status_code != 200:
                try:
                    reason = str(response.json().get("reason", ""))
                except ValueError:
                    reason = response.text[:200]
            return push_token, response.status_code, reason

        outcome = PushOutcome()
        errors: list[str] = []
        for push_token, status, reason in await asyncio.gather(*map(one, push_tokens)):
            if status == 200:
                outcome.delivered.append(push_token)
            elif status == 410 or reason in GONE:
                outcome.gone.append(push_token)
            else:
                errors.append(f"{status or 'no answer'} {reason}".strip())
        if errors:
            raise PushFailed(f"APNs refused {len(errors)} of {len(push_tokens)} notifications: "
                             + "; ".join(sorted(set(errors))[:5]))
        return outcome
