"""Apple passes and Google save links, as a customer adding their coupon to a wallet gets
them, and the organisation's wallet settings."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.serialization import pkcs7

from amends.db import Database
from amends.kit import codes
from amends.wallet.passes import wallet_links
from tests.factories import bearer, make_coupon, make_customer, make_org
from tests.wallet.credentials import PASS_TYPE, TEAM, apple_credentials, service_account


def _files(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def verify_signature(files: dict[str, bytes], wwdr_pem: str, folder: Path) -> None:
    """openssl checks the detached PKCS #7 signature of manifest.json up to the WWDR root."""
    (folder / "manifest.json").write_bytes(files["manifest.json"])
    (folder / "signature").write_bytes(files["signature"])
    (folder / "wwdr.pem").write_text(wwdr_pem)
    done = subprocess.run(
        ["openssl", "smime", "-verify", "-binary", "-inform", "DER", "-in",
         str(folder / "signature"), "-content", str(folder / "manifest.json"), "-CAfile",
         str(folder / "wwdr.pem"), "-purpose", "any", "-out", "/dev/null"],
        capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


async def test_a_coupon_becomes_a_signed_pass_with_its_code_expiry_and_brand(
        client: httpx.AsyncClient, db: Database, tmp_path: Path) -> None:
    tenant = await make_org(db)
    credentials = apple_credentials()
    saved = await client.put("/v1/wallet/apple", headers=bearer(tenant.admin_token),
                             json=credentials.body())
    assert saved.status_code == 200, saved.text
    assert "pass_key" not in saved.text
    assert "PRIVATE KEY" not in saved.text
    assert saved.json()["apple"]["pass_type_identifier"] == PASS_TYPE
    customer = await make_customer(db, tenant, locale="fr-FR")
    coupon = await make_coupon(db, tenant, customer=customer)

    answer = await client.get(f"/c/{coupon.page_token}/wallet/apple")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/vnd.apple.pkpass"
    files = _files(answer.content)
    manifest = json.loads(files["manifest.json"])
    assert set(manifest) == set(files) - {"manifest.json", "signature"}
    assert "icon.png" in manifest
    for name, digest in manifest.items():
        assert hashlib.sha1(files[name]).hexdigest() == digest
    verify_signature(files, credentials.wwdr_pem, tmp_path)
    carried = pkcs7.load_der_pkcs7_certificates(files["signature"])
    assert {c.subject for c in carried} == {credentials.certificate.subject,
                                            credentials.wwdr.subject}

    shown = json.loads(files["pass.json"])
    assert shown["passTypeIdentifier"] == PASS_TYPE
    assert shown["teamIdentifier"] == TEAM
    assert shown["organizationName"] == "Test Retail"
    assert [b["format"] for b in shown["barcodes"]] == ["PKBarcodeFormatQR",
                                                        "PKBarcodeFormatCode128"]
    assert {b["message"] for b in shown["barcodes"]} == {coupon.code}
    assert shown["barcodes"][0]["altText"] == codes.display(coupon.code)
    expires = datetime.fromisoformat(shown["expirationDate"])
    assert expires == coupon.expires_at.replace(microsecond=0)
    assert shown["relevantDate"] == shown["expirationDate"]
    assert shown["voided"] is False
    assert shown["backgroundColor"].startswith("rgb(")
    assert shown["webServiceURL"].endswith(f"/wallet/apple/{tenant.id}")
    assert len(shown["authenticationToken"]) >= 16
    assert "€" in shown["coupon"]["primaryFields"][0]["value"]  # "10,00 € de réduction ..."

    again = _files((await client.get(f"/c/{coupon.page_token}/wallet/apple")).content)
    assert json.loads(again["pass.json"])["serialNumber"] == shown["serialNumber"]

    async with db.transaction() as session:
        links = await wallet_links(session, coupon, "https://amends.example")
    assert links is not None
    assert links.google is None
    assert links.apple == f"https://amends.example/c/{coupon.page_token}/wallet/apple"
    # The customer's page offers the pass, in their language, and only that wallet.
    page = (await client.get(f"/c/{coupon.page_token}")).text
    assert f"/c/{coupon.page_token}/wallet/apple" in page
    assert "Ajouter à Apple Wallet" in page
    assert "/wallet/google" not in page


async def test_without_wallets_set_up_there_are_no_buttons_and_no_passes(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    coupon = await make_coupon(db, tenant)
    async with db.transaction() as session:
        assert await wallet_links(session, coupon, "https://amends.example") is None
    page = (await client.get(f"/c/{coupon.page_token}")).text
    assert "/wallet/" not in page
    assert "wallet-button" not in page
    for wallet in ("apple", "google"):
        answer = await client.get(f"/c/{coupon.page_token}/wallet/{wallet}")
        assert answer.status_code == 404
        assert answer.json()["code"] == "wallet_not_configured"
    listed = await client.get("/v1/wallet", headers=bearer(tenant.admin_token))
    assert listed.json() == {"apple": None, "google": None}


async def test_bad_credentials_are_refused_with_a_code_that_says_which(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    good = apple_credentials()
    other = apple_credentials()
    expired = apple_credentials(start=datetime.now(UTC) - timedelta(days=400), days=30)
    wrong_uid = apple_credentials(uid="pass.com.example.other")
    cases: list[tuple[dict[str, Any], str]] = [
        (good.body(pass_certificate="not a certificate"), "invalid_pass_certificate"),
        (good.body(pass_key=other.body()["pass_key"]), "pass_key_mismatch"),
        (good.body(pass_key="-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
         "invalid_pass_key"),
        (expired.body(), "pass_certificate_expired"),
        (good.body(wwdr_certificate=good.body()["pass_certificate"]),
         "invalid_wwdr_certificate"),
        (good.body(wwdr_certificate=other.wwdr_pem), "pass_certificate_not_from_wwdr"),
        (wrong_uid.body(), "pass_type_identifier_mismatch"),
        (good.body(apns_key=good.body()["pass_key"]), "invalid_apns_key"),
    ]
    for body, code in cases:
        answer = await client.put("/v1/wallet/apple", headers=bearer(tenant.admin_token),
                                  json=body)
        assert answer.status_code == 422, (code, answer.text)
        assert answer.json()["code"] == code
    account, _ = service_account()
    refused = await client.put("/v1/wallet/google", headers=bearer(tenant.admin_token), json={
        "issuer_id": "3388000000012345678", "service_account_key": {**account,
                                                                    "private_key": "x"}})
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_service_account_key"
    listed = await client.get("/v1/wallet", headers=bearer(tenant.admin_token))
    assert listed.json() == {"apple": None, "google": None}


async def test_save_to_google_wallet_is_a_link_signed_by_the_service_account(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    account, key = service_account()
    saved = await client.put("/v1/wallet/google", headers=bearer(tenant.admin_token),
                             json={"issuer_id": "3388000000012345678",
                                   "service_account_key": account})
    assert saved.status_code == 200, saved.text
    assert saved.json()["google"]["client_email"] == account["client_email"]
    assert "private_key" not in saved.text
    coupon = await make_coupon(db, tenant)

    answer = await client.get(f"/c/{coupon.page_token}/wallet/google")
    assert answer.status_code == 303
    prefix = "https://pay.google.com/gp/v/save/"
    assert answer.headers["location"].startswith(prefix)
    token = answer.headers["location"][len(prefix):]
    claims = jwt.decode(token, key.public_key(), algorithms=["RS256"], audience="google")
    assert claims["iss"] == account["client_email"]
    assert claims["typ"] == "savetowallet"
    assert jwt.get_unverified_header(token)["kid"] == account["private_key_id"]
    offer = claims["payload"]["offerObjects"][0]
    assert offer["barcode"] == {"type": "QR_CODE", "value": coupon.code,
                                "alternateText": codes.display(coupon.code)}
    assert offer["state"] == "ACTIVE"
    assert offer["classId"] == claims["payload"]["offerClasses"][0]["id"]
    assert offer["id"].startswith("3388000000012345678.")

    removed = await client.delete("/v1/wallet/google", headers=bearer(tenant.admin_token))
    assert removed.status_code == 204
    assert (await client.get(f"/c/{coupon.page_token}/wallet/google")).status_code == 404
