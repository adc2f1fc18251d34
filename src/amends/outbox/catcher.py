"""The demo's mail catcher: an SMTP server (aiosmtpd) on loopback that accepts every message
and keeps it in the outbox, so the demo's e-mail channel works with no mail server."""

from __future__ import annotations

from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from amends.outbox.store import Outbox


class _Keep:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content: Any = envelope.original_content or envelope.content
        self.outbox.keep_mail(content if isinstance(content, bytes) else str(content).encode())
        return "250 Message accepted for delivery"


def start_catcher(outbox: Outbox, *, port: int) -> Controller:
    """Listen on 127.0.0.1:`port` (its own thread) until `stop()`."""
    controller = Controller(_Keep(outbox), hostname="127.0.0.1", port=port)
    controller.start()
    return controller
