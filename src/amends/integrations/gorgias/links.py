"""The "Make amends" link Gorgias' widget shows: it names the installation and the ticket,
expires, and is signed with the installation's `link_secret` (HMAC-SHA256), so nobody can
make one for another ticket or stretch its life. Opening it also takes an Amends login, whose
user is the agent: the link itself gives no authority."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import urlencode

from amends.kit.clock import utcnow

# How long a link works: Gorgias shows what Amends answered at the ticket's last event (a
# new message, an update), so a link lives through an agent's shift; each use is once.
LINK_LIFE = timedelta(hours=8)


def signature(secret: str, *, installation_id: str, ticket_id: str, expires: int) -> str:
    signed = f"{installation_id}.{ticket_id}.{expires}".encode()
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def make(root: str, secret: str, *, installation_id: str, ticket_id: str,
         now: datetime | None = None) -> tuple[str, datetime]:
    """The link for a ticket (`root` is the installation's Gorgias address) and its expiry."""
    until = (now or utcnow()) + LINK_LIFE
    expires = int(until.timestamp())
    query = urlencode({"ticket": ticket_id, "expires": expires,
                       "signature": signature(secret, installation_id=installation_id,
                                              ticket_id=ticket_id, expires=expires)})
    return f"{root}?{query}", until


def valid(secret: str, *, installation_id: str, ticket_id: str, expires: int,
          given: str) -> bool:
    """The signature matches (compared in constant time) and the link has not expired."""
    expected = signature(secret, installation_id=installation_id, ticket_id=ticket_id,
                         expires=expires)
    return hmac.compare_digest(expected, given) and expires > utcnow().timestamp()
