"""`.pkpass` bundles: pass.json, images, manifest.json and the detached signature.

Shapes from Apple's documentation:
- pass.json keys: https://developer.apple.com/documentation/walletpasses/pass (formatVersion,
  passTypeIdentifier, serialNumber, teamIdentifier, organizationName, description, the
  `coupon` style's field groups, `barcodes`, expirationDate, relevantDate, voided, the
  colours as "rgb(r, g, b)", webServiceURL and authenticationToken);
- the bundle: https://developer.apple.com/documentation/walletpasses/building-a-pass
  (manifest.json maps every other file to its SHA-1 in hex; `signature` is a detached PKCS #7
  signature of manifest.json, DER, by the Pass Type ID certificate, with Apple's WWDR
  intermediate certificate included).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from amends.integrations.apple_wallet.certificates import PassSigner

CONTENT_TYPE = "application/vnd.apple.pkpass"
QR = "PKBarcodeFormatQR"
CODE128 = "PKBarcodeFormatCode128"


@dataclass(frozen=True, slots=True)
class Field:
    key: str
    label: str
    value: str
    date: bool = False  # an ISO 8601 value the device writes out in its own locale and zone

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"key": self.key, "label": self.label, "value": self.value}
        if self.date:
            shown |= {"dateStyle": "PKDateStyleLong", "timeStyle": "PKDateStyleShort"}
        return shown


@dataclass(frozen=True, slots=True)
class PassData:
    pass_type_identifier: str
    team_identifier: str
    serial_number: str
    authentication_token: str
    web_service_url: str
    organization_name: str
    description: str
    barcode_message: str
    barcode_text: str
    expires_at: datetime
    voided: bool
    background: tuple[int, int, int]
    foreground: tuple[int, int, int]
    label: tuple[int, int, int]
    primary: list[Field] = field(default_factory=list)
    secondary: list[Field] = field(default_factory=list)
    auxiliary: list[Field] = field(default_factory=list)
    back: list[Field] = field(default_factory=list)


def _rgb(color: tuple[int, int, int]) -> str:
    return "rgb({}, {}, {})".format(*color)


def w3c(moment: datetime) -> str:
    # W3C date with seconds and an offset, as the Pass reference asks for dates.
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def pass_json(data: PassData) -> dict[str, Any]:
    when = w3c(data.expires_at)
    return {
        "formatVersion": 1,
        "passTypeIdentifier": data.pass_type_identifier,
        "serialNumber": data.serial_number,
        "teamIdentifier": data.team_identifier,
        "organizationName": data.organization_name,
        "description": data.description,
        "logoText": data.organization_name,
        "backgroundColor": _rgb(data.background),
        "foregroundColor": _rgb(data.foreground),
        "labelColor": _rgb(data.label),
        "coupon": {
            "primaryFields": [f.as_json() for f in data.primary],
            "secondaryFields": [f.as_json() for f in data.secondary],
            "auxiliaryFields": [f.as_json() for f in data.auxiliary],
            "backFields": [f.as_json() for f in data.back],
        },
        # The QR first: the device shows the first format it supports (Code 128 needs iOS 9).
        "barcodes": [
            {"format": fmt, "message": data.barcode_message, "messageEncoding": "iso-8859-1",
             "altText": data.barcode_text} for fmt in (QR, CODE128)],
        "expirationDate": when,
        "relevantDate": when,
        "voided": data.voided,
        "webServiceURL": data.web_service_url,
        "authenticationToken": data.authentication_token,
    }


def sign(manifest: bytes, signer: PassSigner) -> bytes:
    """The detached PKCS #7 signature of manifest.json (DER), the WWDR certificate with it."""
    return (pkcs7.PKCS7SignatureBuilder()
            .set_data(manifest)
            .add_signer(signer.certificate, signer.key, hashes.SHA256())
            .add_certificate(signer.wwdr)
            .sign(serialization.Encoding.DER,
                  [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]))


def bundle(data: PassData, images: dict[str, bytes], signer: PassSigner) -> bytes:
    """The zipped `.pkpass`: pass.json, the images (icon.png is required), the manifest of
    their SHA-1 hashes and its signature."""
    files = {"pass.json": json.dumps(pass_json(data), ensure_ascii=False,
                                     separators=(",", ":")).encode(), **images}
    manifest = json.dumps({name: hashlib.sha1(content).hexdigest()  # SHA-1: the manifest format
                           for name, content in files.items()}, sort_keys=True).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        archive.writestr("manifest.json", manifest)
        archive.writestr("signature", sign(manifest, signer))
    return out.getvalue()
