"""Who is on the other end: the client's address, the one rule every limit and log uses.

The connection's peer is the client unless it is one of the operator's reverse proxies
(`AMENDS_TRUSTED_PROXIES`, none by default). Then the forwarding header is read from the right:
each trusted proxy appended the address it saw, so the right-most address that is not itself a
trusted proxy is the first one no proxy of ours vouches for. Everything to its left was written
by the client and is ignored, however it is forged.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

from starlette.types import Scope

UNKNOWN = "unknown"


class ClientAddresses:
    def __init__(self, trusted_proxies: Iterable[str], *, header: str = "X-Forwarded-For"
                 ) -> None:
        self._trusted = tuple(ip_network(proxy, strict=False) for proxy in trusted_proxies)
        self._header = header.lower().encode("latin-1")
        self._rfc7239 = self._header == b"forwarded"

    def of(self, scope: Scope) -> str:
        """The client's address for this request (`unknown` when the server has no peer
        address, as on a Unix socket)."""
        peer = scope.get("client")
        address = peer[0] if peer else UNKNOWN
        if not self._trusted or not self._is_trusted(address):
            return address
        for hop in reversed(self._hops(scope)):
            if hop is None:
                # Not an address: the proxy that wrote it is the last thing known for sure.
                return address
            address = hop
            if not self._is_trusted(hop):
                return hop
        return address

    def _is_trusted(self, address: str) -> bool:
        try:
            parsed = _unmapped(ip_address(address))
        except ValueError:
            return False
        return any(parsed in network for network in self._trusted)

    def _hops(self, scope: Scope) -> list[str | None]:
        # Several header lines of the same name are one list, in order (RFC 9110, 5.3).
        values = [v.decode("latin-1") for k, v in scope["headers"] if k == self._header]
        elements = ",".join(values).split(",") if values else []
        if self._rfc7239:
            return [_address(_forwarded_for(element)) for element in elements]
        return [_address(element) for element in elements]


def _forwarded_for(element: str) -> str:
    """The `for=` parameter of one RFC 7239 element (empty when it has none)."""
    for pair in element.split(";"):
        name, _, value = pair.strip().partition("=")
        if name.strip().lower() == "for":
            return value.strip().strip('"')
    return ""


def _address(text: str) -> str | None:
    """An IP address in canonical form from a forwarded hop (with or without a port, IPv6 in
    brackets or bare), or None for anything else (`unknown`, an obfuscated name, garbage)."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        parsed = ip_address(text)
    except ValueError:
        return None
    return str(_unmapped(parsed))


def _unmapped(address: IPv4Address | IPv6Address) -> IPv4Address | IPv6Address:
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def limit_bucket(address: str) -> str:
    """The part of an address a limit counts by: an IPv4 address, or an IPv6 address's /64
    (one subscriber's whole allocation: rotating addresses inside it changes nothing)."""
    if ":" not in address:
        return address  # IPv4 as the server or our header parsing wrote it: already canonical
    try:
        parsed = _unmapped(ip_address(address))
    except ValueError:
        return address
    if isinstance(parsed, IPv6Address):
        return str(ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def client_address(scope: Scope) -> str:
    """The client's address under the application's trusted-proxy setting."""
    addresses: ClientAddresses = scope["app"].state.client_addresses
    return addresses.of(scope)
