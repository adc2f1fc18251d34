"""Intercom's signatures, and the state Amends keeps in a canvas.

Canvas Kit requests carry `X-Body-Signature`: the hex HMAC-SHA256 of the raw request body,
keyed with the app's OAuth client secret ("Signing Notifications",
https://developers.intercom.com/docs/canvas-kit). The page's example header is 40 characters
long (a SHA-1's length, copied from the webhook docs); the text says HMAC-SHA256, and only
that is accepted.

Webhook notifications carry `X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body>`, keyed
with the same client secret
(https://developers.intercom.com/docs/references/webhooks/webhook-models, "Signed
notifications").

Replays. Intercom's Canvas Kit requests carry no timestamp, nonce or request id, so a signed
body could be sent again by whoever saw it. Refusing a body seen in the last minutes would
refuse legitimate ones: the same teammate opening the same conversation twice sends the same
initialize body, and a group conversation sends one per participant. So:
- initialize is read-only (it shows, it writes nothing) and is not refused when repeated;
- every canvas Amends answers carries its own state in `stored_data` (which Intercom sends back
  with the next submit): a random nonce, when it was issued, the conversation and teammate it
  was issued for, and the step (the gesture being confirmed...), sealed with an HMAC under a
  key derived from the client secret. A submit whose state is missing, altered, issued for
  another conversation or teammate, or older than `CANVAS_HOURS` is refused with 401, and its
  nonce is used once (`helpdesk.first_use`): the same submit sent again is refused with 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from amends.helpdesk import service as helpdesk
from amends.kit.clock import utcnow
from amends.kit.secrets import random_token, same
from amends.models import HelpdeskInstallation

SECRET = "client_secret"
# How long a canvas stays usable: as long as a panel opened from a ticket does.
CANVAS_HOURS = helpdesk.PANEL_HOURS
_STATE_KEY = b"amends intercom canvas state v1"


def body_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def hub_signature(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def check_body_signature(installation: HelpdeskInstallation, body: bytes,
                         header: str | None) -> None:
    """A Canvas Kit request signed with this installation's client secret, or 401."""
    expected = body_signature(helpdesk.secret_of(installation, SECRET), body)
    if not header or not same(header.strip().lower(), expected):
        raise helpdesk.SignatureRefused(
            "The request's X-Body-Signature is not this app's: check the client secret "
            "saved in Amends against the app's Basic info page in Intercom's Developer Hub.")


def check_hub_signature(installation: HelpdeskInstallation, body: bytes,
                        header: str | None) -> None:
    """A webhook notification signed with this installation's client secret, or 401."""
    expected = hub_signature(helpdesk.secret_of(installation, SECRET), body)
    if not header or not same(header.strip().lower(), expected):
        raise helpdesk.SignatureRefused("The notification's X-Hub-Signature is not this "
                                        "app's.")


def _state_key(installation: HelpdeskInstallation) -> bytes:
    return hmac.new(helpdesk.secret_of(installation, SECRET).encode(), _STATE_KEY,
                    hashlib.sha256).digest()


def _mac(key: bytes, state: dict[str, Any]) -> str:
    canonical = json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(
        hmac.new(key, canonical.encode(), hashlib.sha256).digest()).decode().rstrip("=")


def seal(installation: HelpdeskInstallation, *, conversation_id: str, admin_id: str,
         step: dict[str, Any] | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The `stored_data` of a canvas: its step, a fresh nonce, when and for whom it was
    issued, and their MAC."""
    state: dict[str, Any] = {
        "nonce": random_token(18), "issued": int((now or utcnow()).timestamp()),
        "conversation": conversation_id, "admin": admin_id, **(step or {})}
    return {**state, "mac": _mac(_state_key(installation), state)}


def unseal(installation: HelpdeskInstallation, stored: dict[str, Any], *,
           conversation_id: str | None, admin_id: str) -> tuple[dict[str, Any], datetime]:
    """The state of the canvas a submit came from, checked (401 otherwise); returns it and
    when the canvas stops being usable (how long its nonce is remembered)."""
    given = dict(stored)
    mac = given.pop("mac", None)
    if not isinstance(mac, str) or not same(mac, _mac(_state_key(installation), given)):
        raise helpdesk.SignatureRefused("This canvas was not issued by Amends for this app.")
    if given.get("conversation") != conversation_id or given.get("admin") != admin_id:
        raise helpdesk.SignatureRefused("This canvas was issued for another conversation "
                                        "or teammate.")
    issued = given.get("issued")
    if not isinstance(issued, int) or not isinstance(given.get("nonce"), str):
        raise helpdesk.SignatureRefused("This canvas carries no state Amends can check.")
    until = datetime.fromtimestamp(issued, tz=UTC) + timedelta(hours=CANVAS_HOURS)
    if until <= utcnow():
        raise helpdesk.SignatureRefused("This view has expired: open the conversation again.")
    return given, until
