"""A coupon as a wallet pass: the Apple pass (its row, content, images and bundle), the
Google Wallet offer and its save link, and `wallet_links` for the coupon page."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.coupons import policy
from amends.delivery import templates
from amends.integrations.apple_wallet import pkpass
from amends.integrations.apple_wallet.pkpass import Field, PassData
from amends.integrations.google_wallet import save_link
from amends.kit import codes
from amends.kit.clock import utcnow
from amends.kit.secrets import random_token, tenant_token
from amends.kit.sql import get_or_insert
from amends.kit.translations import translations
from amends.models import Coupon, Customer, Incentive, Organization, WalletPass
from amends.organizations.brand import Brand, brand_of
from amends.organizations.brand_service import current_logo
from amends.wallet import service

# What a device shows for a coupon that can no longer be used: greyed out, "voided".
VOID_STATUSES = ("redeemed", "revoked")
WHITE = (255, 255, 255)


@dataclass(frozen=True, slots=True)
class WalletLinks:
    """Where the coupon page's wallet buttons lead; None for a wallet not set up."""

    apple: str | None
    google: str | None


def web_service_url(base_url: str, organization_id: uuid.UUID) -> str:
    """The pass web service of one organisation: every request a device makes then names
    the organisation, and reaches one shard."""
    return f"{base_url.rstrip('/')}/wallet/apple/{organization_id}"


async def wallet_links(session: AsyncSession, coupon: Coupon, base_url: str
                       ) -> WalletLinks | None:
    """The wallet buttons of a coupon's page; None when the organisation has set up no wallet
    (the page then shows no buttons)."""
    platforms = await service.configured(session, coupon.organization_id)
    if not platforms:
        return None
    page = f"{base_url.rstrip('/')}/c/{coupon.page_token}/wallet"
    return WalletLinks(apple=f"{page}/apple" if service.APPLE in platforms else None,
                       google=f"{page}/google" if service.GOOGLE in platforms else None)


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


async def pass_of(session: AsyncSession, coupon: Coupon) -> WalletPass:
    """The coupon's Apple pass row, made the first time it is asked for."""
    row, _ = await get_or_insert(
        session, WalletPass,
        key={"organization_id": coupon.organization_id, "coupon_id": coupon.id},
        values={"serial_number": tenant_token(coupon.organization_id),
                "authentication_token": random_token(24), "update_tag": 0,
                "updated_at": _second(utcnow())})
    return row


def next_modified(previous: datetime, now: datetime) -> datetime:
    """A pass's new Last-Modified: whole seconds (HTTP dates have no finer ones), and always
    later than the previous one, so a device that fetched the pass in the same second as a
    change is not told "not modified"."""
    return max(_second(now), _second(previous) + timedelta(seconds=1))


def _rgb(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def images(brand: Brand, logo: bytes | None) -> dict[str, bytes]:
    """icon.png (required; the notification and lock-screen image) and logo.png, at 1x, 2x
    and 3x: the brand's logo fitted on its colour, or a plain square of the colour with the
    brand's initial. Sizes from https://developer.apple.com/documentation/walletpasses/building-a-pass"""
    color = _rgb(brand.color)
    files: dict[str, bytes] = {}
    source = Image.open(io.BytesIO(logo)).convert("RGBA") if logo else None
    for scale, suffix in ((1, ""), (2, "@2x"), (3, "@3x")):
        side = 29 * scale
        icon = Image.new("RGB", (side, side), color)
        if source is not None:
            fitted = source.copy()
            fitted.thumbnail((side - 4 * scale, side - 4 * scale))
            icon.paste(fitted, ((side - fitted.width) // 2, (side - fitted.height) // 2), fitted)
        else:
            draw = ImageDraw.Draw(icon)
            draw.text((side / 2, side / 2), brand.name[:1].upper() or "A", fill=WHITE,
                      anchor="mm", font_size=18 * scale)
        files[f"icon{suffix}.png"] = _png(icon)
        if source is not None:
            wide = source.copy()
            wide.thumbnail((160 * scale, 50 * scale))
            files[f"logo{suffix}.png"] = _png(wide)
    return files


async def _context(session: AsyncSession, coupon: Coupon
                   ) -> tuple[Organization, Customer | None, Brand, str]:
    organization = await session.get(Organization, coupon.organization_id)
    assert organization is not None
    customer = await session.get(Customer, (coupon.organization_id, coupon.customer_id))
    locale = (customer.locale if customer is not None and customer.locale
              else organization.default_locale)
    return organization, customer, brand_of(organization), locale


async def _gesture(session: AsyncSession, coupon: Coupon, locale: str) -> str:
    incentive = await session.get(Incentive, (coupon.organization_id, coupon.incentive_id))
    words = templates.gesture_in_words(
        coupon.kind, coupon.value, coupon.currency, sku=coupon.sku,
        days=incentive.validity_days if incentive else None, balance=coupon.balance,
        locale=locale)
    return words[:1].upper() + words[1:]


async def apple_bundle(session: AsyncSession, coupon: Coupon, *, base_url: str
                       ) -> tuple[bytes, WalletPass] | None:
    """The coupon's signed `.pkpass` and its pass row; None when the organisation has not set
    up Apple Wallet."""
    wallet = await service.apple_wallet(session, coupon.organization_id)
    if wallet is None:
        return None
    row = await pass_of(session, coupon)
    organization, _, brand, locale = await _context(session, coupon)
    _ = translations("customer", locale, organization.default_locale).gettext
    shown = codes.display(coupon.code)
    status = policy.display_status(coupon.status, coupon.expires_at, utcnow(),
                                   coupon.reserved_until)
    back = [Field("terms", _("Terms"), coupon.terms)] if coupon.terms else []
    if brand.support_url or brand.support_email or brand.support_phone:
        back.append(Field("support", _("Help"), " · ".join(
            part for part in (brand.support_url, brand.support_email, brand.support_phone)
            if part)))
    back.append(Field("page", _("Your coupon online"),
                      f"{base_url.rstrip('/')}/c/{coupon.page_token}"))
    data = PassData(
        pass_type_identifier=wallet.pass_type_identifier,
        team_identifier=wallet.team_identifier, serial_number=row.serial_number,
        authentication_token=row.authentication_token,
        web_service_url=web_service_url(base_url, coupon.organization_id),
        organization_name=brand.name, description=f"{brand.name}: {coupon.name}",
        barcode_message=coupon.code, barcode_text=shown, expires_at=coupon.expires_at,
        voided=coupon.status in VOID_STATUSES,
        background=_rgb(brand.color), foreground=WHITE, label=WHITE,
        primary=[Field("gesture", _("Your gesture"), await _gesture(session, coupon, locale))],
        secondary=[Field("code", _("Code"), shown)],
        auxiliary=[Field("expires", _("Valid until"), pkpass.w3c(coupon.expires_at), date=True),
                   Field("status", _("Status"), _status_words(_)[status])],
        back=back)
    logo = await current_logo(session, organization)
    return pkpass.bundle(data, images(brand, logo.data if logo else None),
                         wallet.signer), row


def _status_words(_: Callable[[str], str]) -> dict[str, str]:
    # Each literal inside its gettext call, so that extraction finds them.
    return {"active": _("Ready to use"), "reserved": _("Ready to use"), "redeemed": _("Used"),
            "expired": _("Expired"), "revoked": _("Withdrawn")}


GOOGLE_STATES = {"active": "ACTIVE", "reserved": "ACTIVE", "redeemed": "COMPLETED",
                 "expired": "EXPIRED", "revoked": "INACTIVE"}


async def google_offer(session: AsyncSession, coupon: Coupon, *, base_url: str
                       ) -> str | None:
    """The coupon's "Add to Google Wallet" link; None when Google Wallet is not set up."""
    wallet = await service.google_wallet(session, coupon.organization_id)
    if wallet is None:
        return None
    organization, _, brand, locale = await _context(session, coupon)
    status = policy.display_status(coupon.status, coupon.expires_at, utcnow(),
                                   coupon.reserved_until)
    logo = brand.logo_path(organization.slug)
    offer = save_link.Offer(
        # One class per incentive (its title and terms), one object per coupon; both ids name
        # the organisation, as the issuer may serve several.
        class_suffix=f"amends_{coupon.organization_id.hex}_{coupon.incentive_id.hex}",
        object_suffix=f"amends_{coupon.organization_id.hex}_{coupon.id.hex}",
        issuer_name=brand.name, title=await _gesture(session, coupon, locale),
        details=coupon.terms, color=brand.color,
        logo_url=f"{base_url.rstrip('/')}{logo}" if logo else None,
        code=coupon.code, code_text=codes.display(coupon.code),
        state=GOOGLE_STATES[status], valid_from=coupon.valid_from,
        expires_at=coupon.expires_at)
    return save_link.save_link(wallet.account, wallet.issuer_id, offer,
                               origins=[base_url.rstrip("/")])


async def coupon_of_pass(session: AsyncSession, wallet_pass: WalletPass) -> Coupon:
    coupon = await session.scalar(select(Coupon).where(
        Coupon.organization_id == wallet_pass.organization_id,
        Coupon.id == wallet_pass.coupon_id).execution_options(populate_existing=True))
    assert coupon is not None  # the pass's key to its coupon
    return coupon
