"""SMTP connections kept open between messages, per server and login.

An incident sends thousands of messages to one server; opening a connection for each (TCP,
greeting, EHLO, STARTTLS, AUTH, QUIT) costs more than the message. A worker sends at most
`per_server` messages at once to one server (or the channel's `max_connections`, when the
provider allows fewer), each over a connection kept open between
messages; one idle for longer than `idle_seconds` is closed. A reused connection the server
has meanwhile dropped fails at once (at MAIL FROM), so the send is tried once more on a new
connection; the message keeps its Message-ID, so in the rare case the server took it before
dropping, the copy is recognisable.

Connections belong to the event loop that opened them; each loop has its own pool. A connection
goes to an address the outbound policy allows (`kit/outbound.py`), judged when it is opened, and
is kept for later messages under that same policy only.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import aiosmtplib

from amends.kit import outbound


@dataclass(frozen=True, slots=True)
class Server:
    host: str
    port: int
    security: str  # "starttls", "tls" or "none"
    username: str | None
    password: str | None
    timeout: float
    connections: int | None  # the most at once (the provider's limit); None: the pool's

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Server:
        limit = settings.get("max_connections")
        return cls(host=settings["host"], port=int(settings.get("port", 587)),
                   security=settings.get("security", "starttls"),
                   username=settings.get("username") or None,
                   password=settings.get("password") or None,
                   timeout=float(settings.get("timeout", 15)),
                   connections=max(1, int(limit)) if limit else None)


class SmtpPool:
    def __init__(self, *, per_server: int = 8, idle_seconds: float = 30.0) -> None:
        self.per_server = per_server
        self.idle_seconds = idle_seconds
        self._loops: dict[asyncio.AbstractEventLoop, dict[tuple[Server, bool], _Slots]] = {}
        self.opened = 0  # connections opened by this pool (for tests and benches)

    def _slots(self, server: Server, allow_private: bool) -> _Slots:
        for loop in [loop for loop in self._loops if loop.is_closed()]:
            self._forget(loop)  # a finished loop's connections cannot be used any more
        pools = self._loops.setdefault(asyncio.get_running_loop(), {})
        slots = pools.get((server, allow_private))
        if slots is None:
            slots = pools[(server, allow_private)] = _Slots(
                asyncio.Semaphore(server.connections or self.per_server), deque())
        return slots

    async def _connect(self, server: Server, allow_private: bool) -> aiosmtplib.SMTP:
        """Connect to an address of the host the policy allows (raises `OutboundRefused`,
        an OSError, otherwise). TLS still checks the certificate against the host name."""
        sock = await outbound.open_socket(server.host, server.port, timeout=server.timeout,
                                          allow_private=allow_private)
        client = aiosmtplib.SMTP(
            hostname=server.host, sock=sock, username=server.username,
            password=server.password, use_tls=server.security == "tls",
            start_tls=server.security == "starttls", timeout=server.timeout)
        try:
            await client.connect()
        except BaseException:
            sock.close()  # not always closed by aiosmtplib when the connection never started
            raise
        self.opened += 1
        return client

    def _take(self, slots: _Slots) -> aiosmtplib.SMTP | None:
        now = time.monotonic()
        while slots.idle:
            client, since = slots.idle.pop()  # the most recently used is the likeliest alive
            if client.is_connected and now - since < self.idle_seconds:
                return client
            client.close()
        return None

    @staticmethod
    def _give_back(slots: _Slots, client: aiosmtplib.SMTP) -> None:
        if client.is_connected:
            slots.idle.append((client, time.monotonic()))
        else:
            client.close()

    async def send(self, server: Server, *, sender: str, recipient: str, data: bytes,
                   smtputf8: bool = False) -> None:
        """Send one message (its bytes, from `sender` to `recipient`); raises
        aiosmtplib.SMTPException or OSError if it did not go. At most `per_server` messages
        are in flight to one server; others wait their turn."""
        options = ["SMTPUTF8"] if smtputf8 else []

        async def deliver(client: aiosmtplib.SMTP) -> None:
            await client.sendmail(sender, [recipient], data, mail_options=options)

        allow_private = outbound.allows_private()
        slots = self._slots(server, allow_private)
        async with slots.turns:
            client = self._take(slots)
            if client is not None:
                try:
                    await deliver(client)
                except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                    client.close()  # dropped while idle: try once on a new connection
                except BaseException:
                    client.close()
                    raise
                else:
                    self._give_back(slots, client)
                    return
            client = await self._connect(server, allow_private)
            try:
                await deliver(client)
            except BaseException:
                client.close()
                raise
            self._give_back(slots, client)

    def _forget(self, loop: asyncio.AbstractEventLoop) -> None:
        for slots in self._loops.pop(loop, {}).values():
            for client, _ in slots.idle:
                with contextlib.suppress(RuntimeError, OSError):
                    client.close()

    async def close(self) -> None:
        """Say goodbye on this loop's idle connections."""
        pools = self._loops.pop(asyncio.get_running_loop(), {})
        for slots in pools.values():
            for client, _ in slots.idle:
                with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                    await client.quit()
                client.close()


@dataclass(slots=True)
class _Slots:
    turns: asyncio.Semaphore
    idle: deque[tuple[aiosmtplib.SMTP, float]]
