"""Throw-away certificates and keys made for each test: a root CA standing for Apple's WWDR
intermediate, a Pass Type ID certificate it issued, an APNs auth key, a Google service
account, and a TLS certificate for the local APNs receiver."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

PASS_TYPE = "pass.com.example.amends"
TEAM = "A1B2C3D4E5"
KEY_ID = "K1Y2I3D4E5"


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def certificate(subject: x509.Name, key: rsa.RSAPrivateKey, *, issuer: x509.Name,
                issuer_key: rsa.RSAPrivateKey, ca: bool, days: int = 365,
                start: datetime | None = None, dns: str | None = None) -> x509.Certificate:
    begin = start or datetime.now(UTC) - timedelta(days=1)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(begin).not_valid_after(begin + timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(dns), x509.IPAddress(ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class AppleCredentials:
    wwdr: x509.Certificate
    wwdr_key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey
    apns_key: ec.EllipticCurvePrivateKey

    def body(self, **changes: object) -> dict[str, object]:
        return {"pass_type_identifier": PASS_TYPE, "team_identifier": TEAM,
                "pass_certificate": _pem(self.certificate), "pass_key": _key_pem(self.key),
                "wwdr_certificate": _pem(self.wwdr), "apns_key": _key_pem(self.apns_key),
                "apns_key_id": KEY_ID, **changes}

    @property
    def wwdr_pem(self) -> str:
        return _pem(self.wwdr)


def name(common: str, **more: str) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
    if "uid" in more:
        parts.insert(0, x509.NameAttribute(NameOID.USER_ID, more["uid"]))
    if "ou" in more:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, more["ou"]))
    return x509.Name(parts)


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def apple_credentials(*, uid: str = PASS_TYPE, days: int = 365,
                      start: datetime | None = None) -> AppleCredentials:
    wwdr_key = rsa_key()
    wwdr_name = name("Test WWDR Intermediate")
    wwdr = certificate(wwdr_name, wwdr_key, issuer=wwdr_name, issuer_key=wwdr_key, ca=True)
    key = rsa_key()
    cert = certificate(name(f"Pass Type ID: {uid}", uid=uid, ou=TEAM), key, issuer=wwdr_name,
                       issuer_key=wwdr_key, ca=False, days=days, start=start)
    return AppleCredentials(wwdr=wwdr, wwdr_key=wwdr_key, certificate=cert, key=key,
                            apns_key=ec.generate_private_key(ec.SECP256R1()))


def service_account() -> tuple[dict[str, str], rsa.RSAPrivateKey]:
    key = rsa_key()
    return {"type": "service_account", "project_id": "amends-test",
            "private_key_id": "0123456789abcdef", "private_key": _key_pem(key),
            "client_email": "wallet@amends-test.iam.gserviceaccount.com",
            "client_id": "1234567890"}, key


def tls_files(directory: object) -> tuple[str, str, str]:
    """A CA, and a certificate it issued for 127.0.0.1: (ca file, cert file, key file)."""
    from pathlib import Path

    folder = Path(str(directory))
    ca_key = rsa_key()
    ca_name = name("Test APNs CA")
    ca = certificate(ca_name, ca_key, issuer=ca_name, issuer_key=ca_key, ca=True)
    key = rsa_key()
    cert = certificate(name("127.0.0.1"), key, issuer=ca_name, issuer_key=ca_key, ca=False,
                       dns="localhost")
    (folder / "ca.pem").write_text(_pem(ca))
    (folder / "cert.pem").write_text(_pem(cert))
    (folder / "key.pem").write_text(_key_pem(key))
    return str(folder / "ca.pem"), str(folder / "cert.pem"), str(folder / "key.pem")


def dumps(value: object) -> str:
    return json.dumps(value)
