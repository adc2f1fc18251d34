"""One HTTP client per event loop for the calls Amends makes to providers and receivers.

Building an `httpx.AsyncClient` loads the CA bundle into a TLS context (about 20 ms of CPU);
one per message capped a worker at some fifty SMS or webhooks a second. The shared client also
keeps connections open between calls. Each event loop has its own (a client's connections
belong to the loop that opened them), one for each outbound policy; `close()` ends this loop's at
shutdown. Every connection goes through the outbound address policy (`outbound.py`): the host is
resolved here, each address judged, and the connection opened to a judged address.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

import httpcore
import httpx

from amends.kit import outbound

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=16, keepalive_expiry=30)
_clients: dict[tuple[asyncio.AbstractEventLoop, bool], httpx.AsyncClient] = {}


class _AllowedPeers(httpcore.AsyncNetworkBackend):
    """Opens connections only to addresses the outbound policy allows. httpcore hands it the
    host of the URL; it resolves the name itself and connects to a judged address, so a name
    that resolves elsewhere between the check and the connection gains nothing. TLS is started
    afterwards by httpcore with the URL's host as server name, and the Host header is the
    URL's, so certificates and virtual hosts work as before."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
                          ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await outbound.allowed_addresses(
                host, timeout=timeout or outbound.RESOLVE_SECONDS,
                allow_private=self.allow_private)
        except outbound.OutboundRefused as refused:
            raise httpcore.ConnectError(str(refused)) from refused
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # `allowed_addresses` returns at least one
        raise failure

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class _Transport(httpx.AsyncHTTPTransport):
    def __init__(self, *, allow_private: bool) -> None:
        context = httpx.create_ssl_context()
        super().__init__(verify=context, limits=LIMITS)
        # httpx offers no way to choose the pool's network backend: the same pool over ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context, max_connections=LIMITS.max_connections,
            max_keepalive_connections=LIMITS.max_keepalive_connections,
            keepalive_expiry=LIMITS.keepalive_expiry,
            network_backend=_AllowedPeers(allow_private=allow_private))


def client() -> httpx.AsyncClient:
    """This loop's client under the outbound policy in force (requests may pass their own
    `timeout`). A connection kept open under one policy is never reused under another."""
    for finished in [key for key in _clients if key[0].is_closed()]:
        _clients.pop(finished)  # its connections died with it
    key = (asyncio.get_running_loop(), outbound.allows_private())
    shared = _clients.get(key)
    if shared is None or shared.is_closed:
        shared = _clients[key] = httpx.AsyncClient(
            timeout=TIMEOUT, transport=_Transport(allow_private=key[1]))
    return shared


async def close() -> None:
    loop = asyncio.get_running_loop()
    for key in [key for key in _clients if key[0] is loop]:
        shared = _clients.pop(key)
        with contextlib.suppress(httpx.HTTPError, OSError):
            await shared.aclose()
