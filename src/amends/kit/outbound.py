"""Where Amends may connect: the outbound address policy.

An organisation names the peers Amends calls (webhook endpoints; the SMS, WhatsApp and helpdesk
base URLs; the chat webhook URL; the SMTP host), and the worker calls them from inside the
operator's network. Unchecked, a tenant could make it call the cloud metadata service
(169.254.169.254), the database, or an admin port on localhost (server-side request forgery).
So a peer must be public: an address literal is judged as it is, a name by every address it
resolves to, and one non-public address refuses the peer.

The check runs twice: when the setting is saved (a 422 that names the address and why) and
when connecting, on the addresses actually connected to, because a name may resolve elsewhere
by then (DNS rebinding). The connection then goes to the judged address itself, never to the
name again; TLS and the Host header still carry the name.

`AMENDS_OUTBOUND_ALLOW_PRIVATE=true` lets the operator allow every address (the tests and the
demo, whose receivers listen on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpx

from amends.config import get_settings
from amends.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

RESOLVE_SECONDS = 3.0
SCHEMES = ("http", "https")
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
_METADATA = ipaddress.ip_address("169.254.169.254")
_DESCRIPTIONS = {
    "unspecified": "the unspecified address",
    "loopback": "a loopback address",
    "link_local": "a link-local address",
    "multicast": "a multicast address",
    "shared": "a carrier-grade NAT address (100.64.0.0/10)",
    "private": "a private address",
    "reserved": "a reserved address",
    "site_local": "a site-local address",
    "not_global": "not a globally routable address",
}


class OutboundRefused(ConnectionError):
    """Amends will not connect to this host. A `ConnectionError`, so a send that meets it fails
    (and is retried) like one whose peer refused the connection."""

    def __init__(self, host: str, reason: str, *, address: str | None = None,
                 detail: str = "") -> None:
        self.host, self.reason, self.address = host, reason, address
        if address is None:
            message = f"{host} does not resolve to an address ({detail})"
        else:
            description = _DESCRIPTIONS[reason]
            carried = _carried_ipv4(ipaddress.ip_address(address))
            if carried is not None:
                description += f" (it carries the IPv4 address {carried})"
            if _METADATA in (carried, ipaddress.ip_address(address)):
                description += " (the cloud metadata service)"
            named = (f"{address} is" if _literal(host) is not None
                     else f"{host} resolves to {address},")
            message = (f"{named} {description}: Amends connects only to public addresses "
                       "unless the operator allows others (AMENDS_OUTBOUND_ALLOW_PRIVATE)")
        super().__init__(message)


class OutboundAddressRefused(ValidationFailed):
    code, title = "outbound_address_refused", "Amends does not connect to that address"


class InvalidOutboundUrl(ValidationFailed):
    code, title = "invalid_outbound_url", "Not an http or https URL with a host"


def why_not_public(address: IPAddress) -> str | None:
    """Why Amends may not connect to `address` (a reason code), or None when it may.
    An IPv6 address that carries an IPv4 one (mapped, NAT64, 6to4) is judged by the IPv4 one:
    ::ffff:127.0.0.1 reaches loopback."""
    carried = _carried_ipv4(address)
    if carried is not None:
        return why_not_public(carried)
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link_local"
    if address.is_multicast:
        return "multicast"
    if address in _SHARED:
        return "shared"
    if address.is_reserved:  # before private: Python counts 240.0.0.0/4 as both
        return "reserved"
    if address.is_private:
        return "private"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site_local"
    if not address.is_global:
        return "not_global"
    return None


def _carried_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


async def resolve(host: str, *, timeout: float) -> list[IPAddress]:
    """Every address of `host`, in the resolver's order (an address literal is its own).
    Raises `OutboundRefused` (reason `unresolvable`) when it has none."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        async with asyncio.timeout(timeout):
            found = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise OutboundRefused(host, "unresolvable",
                              detail=f"no answer within {timeout:g} s") from None
    except (OSError, UnicodeError, ValueError) as exc:
        raise OutboundRefused(host, "unresolvable", detail=str(exc)) from None
    addresses = dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found)
    if not addresses:
        raise OutboundRefused(host, "unresolvable", detail="no address")
    return list(addresses)


async def allowed_addresses(host: str, *, timeout: float,
                            allow_private: bool) -> list[IPAddress]:
    """The addresses to connect to for `host`; raises `OutboundRefused` if the policy applies
    and any of them is not public."""
    addresses = await resolve(host, timeout=timeout)
    if not allow_private:
        for address in addresses:
            reason = why_not_public(address)
            if reason is not None:
                raise OutboundRefused(host, reason, address=str(address))
    return addresses


async def open_socket(host: str, port: int, *, timeout: float,
                      allow_private: bool) -> socket.socket:
    """A TCP socket connected to an allowed address of `host`, each tried in turn."""
    loop = asyncio.get_running_loop()
    last: OSError | None = None
    for address in await allowed_addresses(host, timeout=timeout,
                                           allow_private=allow_private):
        sock = socket.socket(socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                             socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            async with asyncio.timeout(timeout):
                await loop.sock_connect(sock, (str(address), port))
        except OSError as exc:  # TimeoutError is one too
            sock.close()
            last = exc
            continue
        return sock
    raise ConnectionError(f"could not connect to {host} on port {port}: "
                          f"{last or 'timed out'}")


_allow_private: ContextVar[bool | None] = ContextVar("outbound_allow_private", default=None)


@contextmanager
def policy(*, allow_private: bool) -> Iterator[None]:
    """Connections made inside follow this policy: a worker runs each job under its own
    settings, which are not necessarily the process's environment."""
    token = _allow_private.set(allow_private)
    try:
        yield
    finally:
        _allow_private.reset(token)


def allows_private() -> bool:
    """The policy of connections made now: the enclosing `policy`, else the settings."""
    chosen = _allow_private.get()
    return get_settings().outbound_allow_private if chosen is None else chosen


async def check_host(host: object, *, field: str, allow_private: bool) -> None:
    """Refuse (422) a host that is, or resolves to, an address Amends may not connect to."""
    if not isinstance(host, str) or not host:
        raise ValidationFailed(f"{field} must be a host name or address.", field=field)
    if allow_private:
        return
    try:
        await allowed_addresses(host, timeout=RESOLVE_SECONDS, allow_private=False)
    except OutboundRefused as refused:
        raise OutboundAddressRefused(str(refused), field=field, host=host,
                                     address=refused.address,
                                     reason=refused.reason) from None


async def check_url(url: object, *, field: str, allow_private: bool) -> None:
    """Refuse (422) a URL Amends may not call: not http(s), without a host, or with a host that
    is or resolves to a non-public address. The URL is read as the HTTP client reads it."""
    try:
        parsed = httpx.URL(url) if isinstance(url, str) else None
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in SCHEMES or not parsed.raw_host:
        raise InvalidOutboundUrl(f"{field} must be an http:// or https:// URL with a host.",
                                 field=field)
    await check_host(parsed.raw_host.decode("ascii"), field=field, allow_private=allow_private)
