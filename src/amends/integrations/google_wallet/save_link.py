"""The "Add to Google Wallet" link: a JWT signed (RS256) with the organisation's service-account
key, carrying the offer class and the offer object, at https://pay.google.com/gp/v/save/<jwt>.

Shapes from Google's documentation:
- the JWT (iss = the service account's client_email, aud "google", typ "savetowallet",
  origins, payload.offerClasses / payload.offerObjects):
  https://developers.google.com/wallet/retail/offers/use-cases/jwt and
  https://developers.google.com/wallet/reference/rest/v1/Jwt
- the offer class (id "<issuer id>.<suffix>", issuerName, title, provider, redemptionChannel,
  reviewStatus): https://developers.google.com/wallet/reference/rest/v1/offerclass
- the offer object (id, classId, state ACTIVE | COMPLETED | EXPIRED | INACTIVE, barcode
  QR_CODE with alternateText, validTimeInterval): https://developers.google.com/wallet/reference/rest/v1/offerobject
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from amends.errors import ValidationFailed

SAVE_URL = "https://pay.google.com/gp/v/save/"
# Object and class suffixes: letters, digits, '.', '_' or '-'.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class InvalidServiceAccountKey(ValidationFailed):
    code, title = "invalid_service_account_key", ("The Google service-account key is not a "
                                                  "service account's JSON key")


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    client_email: str
    private_key_id: str
    private_key: str


def load_service_account(key: dict[str, Any]) -> ServiceAccount:
    """The JSON key file Google Cloud gives for a service account: `type` "service_account",
    `client_email`, `private_key_id` and an RSA `private_key` in PEM."""
    if key.get("type") != "service_account" or not isinstance(key.get("client_email"), str) \
            or not isinstance(key.get("private_key"), str):
        raise InvalidServiceAccountKey(
            "Give the service account's JSON key file as it was downloaded (type "
            "service_account, client_email, private_key).", field="service_account_key")
    try:
        private = serialization.load_pem_private_key(key["private_key"].encode(), None)
    except (ValueError, TypeError):
        private = None
    if not isinstance(private, rsa.RSAPrivateKey):
        raise InvalidServiceAccountKey("private_key is not an RSA key in PEM.",
                                       field="service_account_key.private_key")
    return ServiceAccount(client_email=key["client_email"],
                          private_key_id=str(key.get("private_key_id") or ""),
                          private_key=key["private_key"])


def identifier(issuer_id: str, suffix: str) -> str:
    return f"{issuer_id}.{_UNSAFE.sub('_', suffix)}"


@dataclass(frozen=True, slots=True)
class Offer:
    class_suffix: str
    object_suffix: str
    issuer_name: str
    title: str
    details: str
    color: str  # "#rrggbb"
    logo_url: str | None
    code: str
    code_text: str
    state: str
    valid_from: datetime
    expires_at: datetime


def _date(moment: datetime) -> dict[str, str]:
    return {"date": moment.astimezone(UTC).replace(microsecond=0).isoformat()}


def offer_class(issuer_id: str, offer: Offer) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": identifier(issuer_id, offer.class_suffix), "issuerName": offer.issuer_name,
        "title": offer.title, "provider": offer.issuer_name, "redemptionChannel": "BOTH",
        "reviewStatus": "UNDER_REVIEW", "hexBackgroundColor": offer.color,
    }
    if offer.details:
        shown["details"] = offer.details
    if offer.logo_url:
        shown["titleImage"] = {"sourceUri": {"uri": offer.logo_url}}
    return shown


def offer_object(issuer_id: str, offer: Offer) -> dict[str, Any]:
    return {
        "id": identifier(issuer_id, offer.object_suffix),
        "classId": identifier(issuer_id, offer.class_suffix),
        "state": offer.state,
        "barcode": {"type": "QR_CODE", "value": offer.code, "alternateText": offer.code_text},
        "validTimeInterval": {"start": _date(offer.valid_from), "end": _date(offer.expires_at)},
    }


def save_link(account: ServiceAccount, issuer_id: str, offer: Offer, *, origins: list[str],
              now: float | None = None) -> str:
    claims = {
        "iss": account.client_email, "aud": "google", "typ": "savetowallet",
        "iat": int(time.time() if now is None else now), "origins": origins,
        "payload": {"offerClasses": [offer_class(issuer_id, offer)],
                    "offerObjects": [offer_object(issuer_id, offer)]},
    }
    headers = {"kid": account.private_key_id} if account.private_key_id else None
    token = jwt.encode(claims, account.private_key, algorithm="RS256", headers=headers)
    return SAVE_URL + token
