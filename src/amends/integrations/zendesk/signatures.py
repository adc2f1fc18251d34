"""The two ways Zendesk signs what it sends Amends.

1. The panel's load (ZAF signed URLs, `"signedUrls": true` in the manifest): Zendesk POSTs the
   sidebar's URL with a form field `token`, a JWT signed RS256 with the app's private key; the
   app's public key is `GET /api/v2/apps/{app_id}/public_key.pem`. Its `aud` is the app's
   installation, `https://{subdomain}.zendesk.com/api/v2/apps/installations/{id}.json`, its
   `iss` the account, `{subdomain}.zendesk.com`, and `sub` the Zendesk user (the agent)
   (https://developer.zendesk.com/documentation/apps/build-an-app/building-a-server-side-app/part-5-secure-the-app/,
   https://developer.zendesk.com/documentation/apps/app-developer-guide/manifest/#signedurls,
   https://developer.zendesk.com/api-reference/ticketing/apps/apps/#get-app-public-key).
   Only RS256 is accepted: a token that names HS256 (signed with the public key as a shared
   secret, the classic confusion) or `none` is refused.

2. Webhooks: `X-Zendesk-Webhook-Signature` is `base64(HMAC-SHA256(secret, TIMESTAMP + BODY))`,
   the timestamp being `X-Zendesk-Webhook-Signature-Timestamp` (ISO 8601, UTC) and the body the
   raw bytes; the secret is the webhook's signing secret as text
   (https://developer.zendesk.com/documentation/webhooks/verifying/). Zendesk sets no replay
   window: Amends refuses a timestamp more than five minutes away and a signature seen before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from amends.helpdesk.service import SignatureRefused

LEEWAY_SECONDS = 30
WEBHOOK_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class PanelLoad:
    """A checked signed load: who the agent is in Zendesk, and the token's id and expiry
    (remembered so that the same token cannot open a second panel)."""

    user_id: str
    token_id: str
    expires_at: datetime


def audience(account: str, zendesk_installation_id: str) -> str:
    return f"https://{account}.zendesk.com/api/v2/apps/installations/{zendesk_installation_id}.json"


def issuer(account: str) -> str:
    return f"{account}.zendesk.com"


def check_panel_token(token: str | None, *, account: str, zendesk_installation_id: str,
                      public_key: str) -> PanelLoad:
    """The signed load's JWT checked: RS256 with the app's public key, this installation's
    `aud`, this account's `iss`, `exp` and `iat` present and current (30 s of leeway for
    clocks), and a `sub`. Raises `SignatureRefused` (401) with the reason in words."""
    if not token:
        raise SignatureRefused("Zendesk sent no signed token: open the app from a ticket.")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, public_key, algorithms=["RS256"],
            audience=audience(account, zendesk_installation_id), issuer=issuer(account),
            leeway=LEEWAY_SECONDS,
            # Zendesk's `sub` may be a number: read below, not by PyJWT's string-only check.
            options={"require": ["exp", "iat", "sub"], "verify_sub": False})
    except jwt.ExpiredSignatureError:
        raise SignatureRefused("Zendesk's signed token has expired: reload the app.") from None
    except jwt.InvalidAudienceError:
        raise SignatureRefused("The token was signed for another installation of the app "
                               "(check zendesk_installation_id).") from None
    except jwt.InvalidIssuerError:
        raise SignatureRefused(f"The token was not issued by {issuer(account)}.") from None
    except jwt.InvalidKeyError:
        raise SignatureRefused("The installation's app_public_key is not the PEM of an RSA "
                               "public key.") from None
    except jwt.PyJWTError as error:
        raise SignatureRefused(f"Zendesk's signed token is not valid ({error}).") from None
    subject = claims["sub"]
    if not isinstance(subject, str | int) or not str(subject).strip():
        raise SignatureRefused("Zendesk's signed token names no user.")
    token_id = str(claims.get("jti") or hashlib.sha256(token.encode()).hexdigest())
    expires_at = datetime.fromtimestamp(int(claims["exp"]) + LEEWAY_SECONDS, tz=UTC)
    return PanelLoad(user_id=str(subject).strip(), token_id=f"zaf:{token_id}",
                     expires_at=expires_at)


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def _timestamp(value: str) -> datetime:
    when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def check_webhook(body: bytes, *, signature: str | None, timestamp: str | None, secret: str,
                  now: datetime) -> datetime:
    """A webhook delivery's signature checked, and its timestamp within five minutes of now;
    returns the timestamp. Raises `SignatureRefused` (401)."""
    if not signature or not timestamp:
        raise SignatureRefused("The request carries no Zendesk webhook signature.")
    expected = webhook_signature(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise SignatureRefused("The Zendesk webhook signature does not match this "
                               "installation's webhook_secret.")
    try:
        when = _timestamp(timestamp)
    except ValueError:
        raise SignatureRefused("The webhook's signature timestamp is not a date.") from None
    if abs(now - when) > WEBHOOK_WINDOW:
        raise SignatureRefused("The webhook was signed more than five minutes ago (or its "
                               "clock is wrong); Zendesk sends a fresh one when it retries.")
    return when
