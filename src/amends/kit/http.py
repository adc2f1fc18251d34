"""One HTTP client per event loop for the calls Amends makes to providers and receivers.

Building an `httpx.AsyncClient` loads the CA bundle into a TLS context (about 20 ms of CPU);
one per message capped a worker at some fifty SMS or webhooks a second. The shared client also
keeps connections open between calls. Each event loop has its own (a client's connections
belong to the loop that opened them); `close()` ends this loop's at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=16, keepalive_expiry=30)
_clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}


def client() -> httpx.AsyncClient:
    """This loop's client (requests may pass their own `timeout`)."""
    for finished in [loop for loop in _clients if loop.is_closed()]:
        _clients.pop(finished)  # its connections died with it
    loop = asyncio.get_running_loop()
    shared = _clients.get(loop)
    if shared is None or shared.is_closed:
        shared = _clients[loop] = httpx.AsyncClient(timeout=TIMEOUT, limits=LIMITS)
    return shared


async def close() -> None:
    shared = _clients.pop(asyncio.get_running_loop(), None)
    if shared is not None:
        with contextlib.suppress(httpx.HTTPError, OSError):
            await shared.aclose()
