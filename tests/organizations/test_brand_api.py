"""The brand through the API: fields checked with stable codes, a colour white text can be read
on, the logo checked and re-encoded by Pillow, served publicly with a year's caching, and every
change audited; a refused change changes nothing."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zlib

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from amends.db import Database
from amends.models import AuditEvent, BrandLogo
from tests.factories import bearer, make_api_key, make_org

BRAND = {"display_name": "Maison Lumière", "sender_name": "Maison Lumière — Service client",
         "sender_email": "service@maison-lumiere.fr", "reply_to": "aide@maison-lumiere.fr",
         "brand_color": "#1F3A5F", "support_email": "aide@maison-lumiere.fr",
         "support_phone": "+33 1 42 68 00 00", "support_url": "https://maison-lumiere.fr/aide"}


def image_bytes(fmt: str, size: tuple[int, int] = (64, 32), *, mode: str = "RGB",
                **save: object) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 60) if mode == "RGB" else (200, 30, 60, 128)).save(
        out, format=fmt, **save)
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge canvas: decoding it would allocate the canvas."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + chunk(b"IEND", b""))


async def audit_actions(db: Database) -> list[str]:
    async with db.transaction() as session:
        return list(await session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("organization.%"))
            .order_by(AuditEvent.created_at, AuditEvent.id)))


async def test_an_admin_sets_the_brand_and_reads_it_back_with_what_customers_see(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    fresh = await client.get("/v1/organization/brand", headers=admin)
    assert fresh.json()["shown"] == {"name": "Test Retail", "sender_name": "Test Retail",
                                     "color": "#1f3a5f"}
    saved = await client.put("/v1/organization/brand", headers=admin, json=BRAND)
    assert saved.status_code == 200, saved.text
    body = saved.json()
    # Stored canonical: the colour in lower case, the phone in E.164.
    assert (body["brand_color"], body["support_phone"]) == ("#1f3a5f", "+33142680000")
    assert body["shown"] == {"name": "Maison Lumière",
                             "sender_name": "Maison Lumière — Service client",
                             "color": "#1f3a5f"}
    assert (await client.get("/v1/organization/brand", headers=admin)).json() == body
    # A full replacement: what is left out is cleared and falls back to its default.
    cleared = await client.put("/v1/organization/brand", headers=admin,
                               json={"display_name": "Lumière"})
    assert cleared.json()["sender_email"] is None
    assert cleared.json()["shown"]["sender_name"] == "Lumière"
    assert await audit_actions(db) == ["organization.brand_updated"] * 2


@pytest.mark.parametrize(("field", "value", "error_type"), [
    ("brand_color", "blue", "invalid_color"),
    ("brand_color", "#12345", "invalid_color"),
    ("support_phone", "01 42 68 00 00", "invalid_phone"),
    ("support_url", "http://maison-lumiere.fr/aide", "insecure_url"),
    ("support_url", "javascript:alert(1)", "invalid_url"),
    # 397 characters as sent, over 400 once the domain is written in punycode.
    ("support_url", "https://" + "é" * 30 + ".fr/" + "a" * 355, "url_too_long"),
    ("sender_email", "service at maison-lumiere.fr", "value_error"),
    ("sender_name", "Maison\r\nBcc: everyone@example.com", "control_character"),
    ("display_name", "   ", "empty_text"),
    ("favourite_colour", "#000000", "extra_forbidden"),
])
async def test_a_malformed_brand_field_is_refused_by_name_and_nothing_changes(
        client: httpx.AsyncClient, db: Database, field: str, value: str,
        error_type: str) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    await client.put("/v1/organization/brand", headers=admin, json=BRAND)
    refused = await client.put("/v1/organization/brand", headers=admin,
                               json={**BRAND, field: value})
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "validation_failed"
    assert [(e["field"], e["type"]) for e in refused.json()["errors"]] == [(field, error_type)]
    assert (await client.get("/v1/organization/brand", headers=admin)).json()[
        "display_name"] == "Maison Lumière"
    assert await audit_actions(db) == ["organization.brand_updated"]


@pytest.mark.parametrize("color", ["#ffd700", "#777777", "#ff0000"])
async def test_a_colour_too_light_for_white_text_is_refused_with_its_contrast(
        client: httpx.AsyncClient, db: Database, color: str) -> None:
    tenant = await make_org(db)
    refused = await client.put("/v1/organization/brand", headers=bearer(tenant.admin_token),
                               json={"brand_color": color})
    assert refused.status_code == 422
    problem = refused.json()
    assert (problem["code"], problem["field"], problem["minimum"]) == (
        "brand_color_too_light", "brand_color", 4.5)
    assert problem["contrast"] < 4.5
    assert "contrast" in problem["detail"]
    assert "darker" in problem["detail"]
    assert await audit_actions(db) == []


async def test_a_darker_shade_passes_the_contrast_check(client: httpx.AsyncClient,
                                                        db: Database) -> None:
    tenant = await make_org(db)
    # #767676 is the lightest grey with 4.5:1 against white.
    saved = await client.put("/v1/organization/brand", headers=bearer(tenant.admin_token),
                             json={"brand_color": "#767676"})
    assert saved.status_code == 200, saved.text


async def test_only_an_admin_changes_the_brand(client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    agent = bearer(await make_api_key(db, tenant, scopes=["coupons:issue"]))
    assert (await client.get("/v1/organization/brand", headers=agent)).status_code == 200
    refused = await client.put("/v1/organization/brand", headers=agent, json=BRAND)
    assert refused.status_code == 403
    logo = await client.put("/v1/organization/brand/logo", content=image_bytes("PNG"),
                            headers={**agent, "Content-Type": "image/png"})
    assert logo.status_code == 403


@pytest.mark.parametrize(("fmt", "content_type"), [
    ("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
async def test_a_logo_is_re_encoded_as_png_and_served_with_a_years_caching(
        client: httpx.AsyncClient, db: Database, fmt: str, content_type: str) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    upload = image_bytes(fmt, (1200, 600), exif=Image.Exif(), **(
        {"pnginfo": None} if fmt == "PNG" else {}))
    saved = await client.put("/v1/organization/brand/logo", content=upload,
                             headers={**admin, "Content-Type": content_type})
    assert saved.status_code == 200, saved.text
    logo = saved.json()["logo"]
    # Bounded to 512 px on its longer side, the proportions kept.
    assert (logo["width"], logo["height"], logo["content_type"]) == (512, 256, "image/png")
    assert logo["url"] == f"/brand/{tenant.slug}/{logo['sha256']}.png"
    served = await client.get(logo["url"])
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert served.headers["etag"] == f'"{logo["sha256"]}"'
    assert served.headers["x-content-type-options"] == "nosniff"
    assert hashlib.sha256(served.content).hexdigest() == logo["sha256"]
    shown = Image.open(io.BytesIO(served.content))
    assert (shown.format, shown.size) == ("PNG", (512, 256))
    # No metadata survives: no text chunks, EXIF or colour profile.
    assert not {"exif", "icc_profile", "dpi", "Software", "Comment"} & set(shown.info)
    again = await client.get(logo["url"], headers={"If-None-Match": served.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")
    assert (await client.get("/v1/organization/brand", headers=admin)).json()["logo"] == logo
    assert await audit_actions(db) == ["organization.logo_set"]


async def test_the_same_logo_sent_twice_is_stored_once(client: httpx.AsyncClient,
                                                       db: Database) -> None:
    tenant = await make_org(db)
    headers = {**bearer(tenant.admin_token), "Content-Type": "image/png"}
    first = await client.put("/v1/organization/brand/logo", content=image_bytes("PNG"),
                             headers=headers)
    second = await client.put("/v1/organization/brand/logo", content=image_bytes("PNG"),
                              headers=headers)
    assert first.json()["logo"] == second.json()["logo"]
    async with db.transaction() as session:
        assert len((await session.scalars(select(BrandLogo))).all()) == 1
    assert await audit_actions(db) == ["organization.logo_set"]


async def test_a_deleted_logo_is_no_longer_shown_or_served(client: httpx.AsyncClient,
                                                           db: Database) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    saved = await client.put("/v1/organization/brand/logo", content=image_bytes("PNG"),
                             headers={**admin, "Content-Type": "image/png"})
    url = saved.json()["logo"]["url"]
    removed = await client.delete("/v1/organization/brand/logo", headers=admin)
    assert removed.status_code == 200
    assert removed.json()["logo"] is None
    assert (await client.get(url)).status_code == 404
    assert await audit_actions(db) == ["organization.logo_set", "organization.logo_removed"]


def _truncated_png() -> bytes:
    whole = image_bytes("PNG", (300, 300), mode="RGBA")
    return whole[: len(whole) // 2]


def _noisy_jpeg() -> bytes:
    # Random pixels do not compress: a picture well within the pixel limit, over 512 KB (and
    # under the 1 MB every request body is held to).
    out = io.BytesIO()
    Image.frombytes("RGB", (850, 850), os.urandom(850 * 850 * 3)).save(
        out, format="JPEG", quality=90)
    assert 512 * 1024 < len(out.getvalue()) < 1_000_000
    return out.getvalue()


SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b'<script>alert(1)</script><rect width="10" height="10"/></svg>')


@pytest.mark.parametrize(("body", "content_type", "status", "code"), [
    (SVG, "image/svg+xml", 415, "logo_type_not_supported"),
    (SVG, "image/png", 422, "logo_unreadable"),
    (b"GIF89a", "image/gif", 415, "logo_type_not_supported"),
    (image_bytes("PNG"), "application/octet-stream", 415, "logo_type_not_supported"),
    (image_bytes("PNG"), "", 415, "logo_type_not_supported"),
    (image_bytes("JPEG"), "image/png", 422, "logo_unreadable"),
    (_truncated_png(), "image/png", 422, "logo_unreadable"),
    (b"", "image/png", 422, "logo_unreadable"),
    (image_bytes("PNG", (2049, 10)), "image/png", 422, "logo_too_many_pixels"),
    (png_declaring(60000, 60000), "image/png", 422, "logo_too_many_pixels"),
    (_noisy_jpeg(), "image/jpeg", 413, "logo_too_large"),
], ids=["svg", "svg-as-png", "gif", "octet-stream", "no-type", "jpeg-as-png", "truncated",
        "empty", "too-wide", "decompression-bomb", "over-512-kb"])
async def test_a_logo_that_is_not_a_small_complete_image_is_refused_and_nothing_changes(
        client: httpx.AsyncClient, db: Database, body: bytes, content_type: str, status: int,
        code: str) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    kept = await client.put("/v1/organization/brand/logo", content=image_bytes("PNG"),
                            headers={**admin, "Content-Type": "image/png"})
    refused = await client.put("/v1/organization/brand/logo", content=body,
                               headers={**admin, "Content-Type": content_type})
    assert (refused.status_code, refused.json()["code"]) == (status, code), refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    after = await client.get("/v1/organization/brand", headers=admin)
    assert after.json()["logo"] == kept.json()["logo"]
    async with db.transaction() as session:
        assert len((await session.scalars(select(BrandLogo))).all()) == 1
    assert await audit_actions(db) == ["organization.logo_set"]


async def test_a_logo_is_not_found_under_another_organisation_or_hash(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    other = await make_org(db)
    saved = await client.put("/v1/organization/brand/logo", content=image_bytes("PNG"),
                             headers={**bearer(tenant.admin_token), "Content-Type": "image/png"})
    sha = saved.json()["logo"]["sha256"]
    for path in (f"/brand/{other.slug}/{sha}.png", f"/brand/{tenant.slug}/{'0' * 64}.png",
                 f"/brand/nobody/{sha}.png", f"/brand/{tenant.slug}/not-a-hash.png"):
        missing = await client.get(path)
        assert missing.status_code == 404, path
    assert (await client.get(f"/brand/{tenant.slug}/{sha}.png")).status_code == 200


async def test_the_brand_colour_is_served_as_a_style_sheet_for_the_pages(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)
    await client.put("/v1/organization/brand", headers=bearer(tenant.admin_token),
                     json={"brand_color": "#7a1f3d"})
    sheet = await client.get(f"/brand/{tenant.slug}/7a1f3d.css")
    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith("text/css")
    assert sheet.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "--brand: #7a1f3d;" in sheet.text
    # Only the organisation's own colour: the address is not a generator of style sheets.
    assert (await client.get(f"/brand/{tenant.slug}/000000.css")).status_code == 404
