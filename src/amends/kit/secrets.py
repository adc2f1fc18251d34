"""Random tokens and their stored digests."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def digest(token: str) -> str:
    """SHA-256 of a high-entropy token. A slow hash buys nothing for 256 random bits."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


_ORG_CHARS = 22  # a UUID's 16 bytes in unpadded base64url


def tenant_token(organization_id: uuid.UUID, nbytes: int = 24) -> str:
    """A random token that carries its organisation in front (22 characters, then at least
    32 random ones, all URL-safe): a coupon page or a console session is found with the
    organisation in the same lookup, so on Citus it reaches one shard."""
    if nbytes < 24:
        raise ValueError("a tenant token has at least 24 random bytes")
    org = base64.urlsafe_b64encode(organization_id.bytes).decode().rstrip("=")
    return org + secrets.token_urlsafe(nbytes)


def token_tenant(token: str) -> uuid.UUID | None:
    """The organisation a `tenant_token` names; None for a shorter token (those made before
    tokens carried their organisation)."""
    if len(token) < _ORG_CHARS + 32:
        return None
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(token[:_ORG_CHARS] + "=="))
    except (binascii.Error, ValueError):
        return None


def checked_secrets(given: Mapping[str, Any], *, allowed: Sequence[str], owner: str,
                    most: int, refused: Callable[[str], Exception],
                    strip: bool = False) -> dict[str, str]:
    """The write-only secrets an integration was given: only the names it takes (`owner` is
    who takes them, for the error), each a text of 1 to `most` characters (after `strip`ping
    when asked); a null one is left out (it keeps its stored value). `refused(detail)` is the
    error raised."""
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise refused(f"{owner} takes the secrets {', '.join(allowed)}; not "
                      f"{', '.join(unknown)}.")
    out: dict[str, str] = {}
    for name, value in given.items():
        if value is None:
            continue
        text = (value.strip() if strip else value) if isinstance(value, str) else ""
        if not 0 < len(text) <= most:
            raise refused(f"{name} is a text of 1 to {most:,} characters.")
        out[name] = text
    return out
