"""An organisation's Apple Wallet credentials, checked before they are saved.

A pass is signed with the organisation's Pass Type ID certificate and its private key, and
the signature carries Apple's WWDR intermediate certificate ("Building a pass",
https://developer.apple.com/documentation/walletpasses/building-a-pass). Updates are announced
through APNs with a token signed by an APNs auth key (`.p8`, an EC P-256 key) and its key id
(https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from amends.errors import ValidationFailed

SignerKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class InvalidPassCertificate(ValidationFailed):
    code, title = "invalid_pass_certificate", "The pass certificate is not a PEM certificate"


class InvalidPassKey(ValidationFailed):
    code, title = "invalid_pass_key", ("The pass certificate's private key cannot be read "
                                       "(not a PEM RSA or EC key, or a wrong password)")


class PassKeyMismatch(ValidationFailed):
    code, title = "pass_key_mismatch", "The private key is not the pass certificate's key"


class PassCertificateExpired(ValidationFailed):
    code, title = "pass_certificate_expired", "The pass certificate is expired or not yet valid"


class InvalidWwdrCertificate(ValidationFailed):
    code, title = "invalid_wwdr_certificate", ("The WWDR certificate is not a PEM certificate "
                                               "of a certificate authority")


class PassCertificateNotFromWwdr(ValidationFailed):
    code, title = "pass_certificate_not_from_wwdr", ("The pass certificate was not issued by "
                                                     "the WWDR certificate given")


class PassTypeIdentifierMismatch(ValidationFailed):
    code, title = "pass_type_identifier_mismatch", ("The pass type identifier is not the one "
                                                    "the certificate was issued for")


class InvalidApnsKey(ValidationFailed):
    code, title = "invalid_apns_key", "The APNs auth key is not a PEM EC P-256 private key"


CREDENTIAL_ERRORS = (InvalidPassCertificate, InvalidPassKey, PassKeyMismatch,
                     PassCertificateExpired, InvalidWwdrCertificate, PassCertificateNotFromWwdr,
                     PassTypeIdentifierMismatch, InvalidApnsKey)


@dataclass(frozen=True, slots=True)
class PassSigner:
    """What signs a pass: the Pass Type ID certificate, its key and Apple's intermediate."""

    certificate: x509.Certificate
    key: SignerKey
    wwdr: x509.Certificate


def _certificate(pem: str, error: type[ValidationFailed], field: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise error(f"{field} must be one PEM certificate (-----BEGIN CERTIFICATE-----).",
                    field=field) from None


def load_key(pem: str, password: str | None) -> SignerKey:
    try:
        key = serialization.load_pem_private_key(
            pem.encode(), password.encode() if password else None)
    except (ValueError, TypeError):
        raise InvalidPassKey("pass_key must be the certificate's PEM private key; if it is "
                             "encrypted, give its pass_key_password.", field="pass_key") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise InvalidPassKey("pass_key must be an RSA or EC key.", field="pass_key")
    return key


def load_signer(*, certificate: str, key: str, key_password: str | None, wwdr: str,
                pass_type_identifier: str, now: datetime) -> PassSigner:
    """The signer, once every check passes: the certificate parses and is valid now, the key
    is its key, the WWDR certificate is a CA that issued it, and the certificate's UID (where
    it has one, as Apple's do) is the pass type identifier."""
    cert = _certificate(certificate, InvalidPassCertificate, "pass_certificate")
    private = load_key(key, key_password)
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if private.public_key().public_bytes(serialization.Encoding.DER, public) != \
            cert.public_key().public_bytes(serialization.Encoding.DER, public):
        raise PassKeyMismatch("pass_key does not belong to pass_certificate.", field="pass_key")
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise PassCertificateExpired(
            f"The pass certificate is valid from {cert.not_valid_before_utc:%Y-%m-%d} to "
            f"{cert.not_valid_after_utc:%Y-%m-%d}; renew it in your Apple developer account.",
            field="pass_certificate")
    intermediate = _certificate(wwdr, InvalidWwdrCertificate, "wwdr_certificate")
    try:
        constraints = intermediate.extensions.get_extension_for_class(x509.BasicConstraints)
        is_ca = constraints.value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise InvalidWwdrCertificate("wwdr_certificate is not a certificate authority's: give "
                                     "Apple's WWDR intermediate certificate.",
                                     field="wwdr_certificate")
    try:
        cert.verify_directly_issued_by(intermediate)
    except (ValueError, TypeError, InvalidSignature):
        raise PassCertificateNotFromWwdr(
            "pass_certificate was not issued by wwdr_certificate; give the WWDR intermediate "
            "named in the certificate's issuer.", field="wwdr_certificate") from None
    uids = cert.subject.get_attributes_for_oid(NameOID.USER_ID)
    if uids and uids[0].value != pass_type_identifier:
        raise PassTypeIdentifierMismatch(
            f"The certificate is for {uids[0].value!s}, not {pass_type_identifier}.",
            field="pass_type_identifier")
    return PassSigner(certificate=cert, key=private, wwdr=intermediate)


def load_apns_key(pem: str) -> ec.EllipticCurvePrivateKey:
    """APNs provider tokens are ES256: the `.p8` key is an EC key on P-256."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or \
            not isinstance(key.curve, ec.SECP256R1):
        raise InvalidApnsKey("apns_key must be the .p8 file's text (-----BEGIN PRIVATE "
                             "KEY-----), an EC P-256 key.", field="apns_key")
    return key
