"""The customer's coupon page `/c/{token}`: the gesture, the code in large type, a QR code and a
Code 128 barcode for tills, the expiry written out and counted down, the terms, the live
status, and once the case is fixed a short feedback form; under the organisation's brand and in
the customer's language (the `customer` gettext domain), dates in their zone."""

from __future__ import annotations

import io
import re
from typing import Annotated

import barcode
import segno
from barcode.charsets.code128 import START_CODES
from barcode.writer import SVGWriter
from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from amends.auth import SessionDep
from amends.cases.service import add_event, case_of
from amends.coupons import policy
from amends.delivery import service as delivery
from amends.delivery import templates
from amends.errors import CsrfFailed, NotFound, TooManyAttempts, ValidationFailed
from amends.kit import codes, locale, translations
from amends.kit.client import client_address, limit_bucket
from amends.kit.clock import utcnow
from amends.kit.ratelimit import RateLimiter
from amends.kit.secrets import random_token, same, token_tenant
from amends.models import Coupon, Customer, Incentive, Organization, Redemption
from amends.organizations.brand import brand_of
from amends.routing import router as make_router
from amends.routing import writes_on_read
from amends.wallet.passes import wallet_links
from amends.web.templating import render

router = make_router(include_in_schema=False)
FEEDBACK_COOKIE = "amends_feedback"
FEEDBACK_STATES = ("fixed", "followed_up", "closed")


class CouponPageNotFound(NotFound):
    code, title = "coupon_page_not_found", "This link does not lead to a coupon"


async def _coupon(request: Request, session: SessionDep, token: str) -> Coupon:
    """The coupon a page link leads to. Links that lead nowhere are counted per address: past
    the limit every link from there answers 429, found or not, so that guessing tokens tells
    nothing more."""
    limiter: RateLimiter = request.app.state.limiter
    misses = ("coupon_page_misses", f"page:miss:{limit_bucket(client_address(request.scope))}")
    if not await limiter.allowed(*misses):
        raise TooManyAttempts("Too many links that lead nowhere were opened from your network; "
                              "wait a minute and open the link in your message again.",
                              retry_after=await limiter.retry_after(*misses))
    owner = token_tenant(token)
    # Links sent before tokens carried their organisation are found by the token alone.
    coupon = await session.scalar(select(Coupon).where(
        Coupon.page_token == token,
        *((Coupon.organization_id == owner,) if owner is not None else ())))
    if coupon is None:
        await limiter.hit(*misses)
        raise CouponPageNotFound("Check the link in your message.")
    return coupon


START_C = START_CODES["C"]


def qr_svg(text: str) -> str:
    # Always a standard QR code: for short texts `segno.make` picks a Micro QR, which many
    # phone cameras and till scanners cannot read.
    return str(segno.make_qr(text, error="m").svg_inline(scale=6, border=4, dark="#111",
                                                           omitsize=True))


class Code128(barcode.codex.Code128):  # type: ignore[misc]
    """python-barcode 0.16.1 drops a leading "99" pair: in code set C the pair's value 99 is
    taken for a switch to set C and folded into the start code, so a code like 9959HV... scans
    as 59HV... (WhyNotHugo/python-barcode#251, fixed by #263, not yet released)."""

    def _try_to_optimize(self, encoded: list[int]) -> list[int]:
        if encoded[0] == START_C:
            return encoded  # what follows a start in set C is data, never a switch
        folded: list[int] = super()._try_to_optimize(encoded)
        return folded


def barcode_svg(text: str) -> str:
    out = io.BytesIO()
    Code128(text, writer=SVGWriter()).write(
        out, options={"module_height": 14.0, "write_text": False, "quiet_zone": 4.0})
    svg = out.getvalue().decode()
    svg = svg[svg.index("<svg"):]
    # python-barcode sizes the drawing in millimetres; a viewBox lets CSS scale it instead.
    size = re.search(r'width="([\d.]+)mm" height="([\d.]+)mm"', svg)
    if size:
        width, height = size.groups()
        svg = svg.replace(size.group(0), f'viewBox="0 0 {width} {height}"', 1)
    svg = re.sub(r'="(-?[\d.]+)mm"', r'="\1"', svg)
    # Colours as attributes, not `style`: the page's Content-Security-Policy refuses inline
    # styles, and without them Chromium draws the white background black.
    return re.sub(r'style="fill:([#\w]+);?"', r'fill="\1"', svg)


def page_locale(reader: delivery.Reader) -> str:
    """The catalogue the page is written from, which is also its `lang`: along the reader's
    chain (the same as their messages': `fr-CA` -> `fr` -> the organisation's default among
    the locales it supports -> English), the first tag with a `customer` catalogue of its own
    or of its language (`fr-FR` reads `fr`). Dates and amounts still follow the reader's own
    region (`formatting_locale`)."""
    catalogued = set(translations.available("customer"))
    for tag in reader.chain:
        if tag in catalogued:
            return tag
        if locale.language_of(tag) in catalogued:
            return locale.language_of(tag)
    return locale.DEFAULT


@router.get("/c/{token}", response_class=HTMLResponse, dependencies=[Depends(writes_on_read)])
async def coupon_page(token: str, request: Request, session: SessionDep) -> Response:
    coupon = await _coupon(request, session, token)
    now = utcnow()
    await delivery.page_opened(session, coupon)
    customer = await session.get(Customer, (coupon.organization_id, coupon.customer_id))
    organization = await session.get(Organization, coupon.organization_id)
    assert organization is not None
    incentive = await session.get(Incentive, (coupon.organization_id, coupon.incentive_id))
    case = await case_of(session, coupon)
    used = await session.scalar(select(Redemption).where(
        Redemption.organization_id == coupon.organization_id,
        Redemption.coupon_id == coupon.id, Redemption.status == "completed")
        .order_by(Redemption.created_at.desc()).limit(1))
    status = policy.display_status(coupon.status, coupon.expires_at, now, coupon.reserved_until)
    reader = delivery.reader_of(organization, locale=customer.locale if customer else None,
                                time_zone=customer.time_zone if customer else None)
    lang = page_locale(reader)
    tag, zone = delivery.formatting_locale(reader, lang), reader.time_zone
    brand = brand_of(organization)
    shown = codes.display(coupon.code)
    csrf = request.cookies.get(FEEDBACK_COOKIE) or random_token(16)
    gesture = templates.gesture_in_words(
        coupon.kind, coupon.value, coupon.currency, sku=coupon.sku,
        days=incentive.validity_days if incentive else None, balance=coupon.balance, locale=tag)
    response = render(request, "coupon/page.html", {
        "lang": lang, "coupon": coupon, "customer": customer, "case": case, "status": status,
        "used": used, "used_at": templates.expiry(used.created_at, tag, zone).full
        if used else None,
        "code": shown, "qr": qr_svg(shown), "barcode": barcode_svg(coupon.code),
        "gesture": gesture[:1].upper() + gesture[1:],
        "balance": locale.money(coupon.balance, coupon.currency, tag)
        if coupon.balance is not None else None,
        "expires": templates.expiry(coupon.expires_at, tag, zone).full,
        "expires_iso": coupon.expires_at.isoformat(),
        "brand": brand, "logo_url": brand.logo_path(organization.slug),
        "theme_url": brand.theme_path(organization.slug),
        "ask_feedback": case is not None and case.state in FEEDBACK_STATES
        and case.feedback_at is None,
        "thanks": request.query_params.get("thanks") == "1", "feedback_csrf": csrf,
        # Only the wallets the organisation set up, and only for a gesture still to be used.
        "wallet": await wallet_links(session, coupon, request.app.state.settings.base_url)
        if status in ("active", "reserved") else None,
    }, translations=translations.translations("customer", lang))
    response.set_cookie(FEEDBACK_COOKIE, csrf, httponly=True, samesite="strict",
                        secure=request.app.state.settings.cookie_secure, path="/c/")
    # The address holds the coupon's secret token: no request from this page may carry it.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Language"] = lang
    return response


@router.post("/c/{token}/feedback")
async def give_feedback(
    token: str, request: Request, session: SessionDep,
    score: Annotated[int, Form(ge=1, le=5)], comment: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    cookie = request.cookies.get(FEEDBACK_COOKIE, "")
    if not cookie or not same(cookie, csrf_token):
        raise CsrfFailed()
    coupon = await _coupon(request, session, token)
    case = await case_of(session, coupon)
    if case is None or case.state not in FEEDBACK_STATES:
        raise ValidationFailed("Feedback opens once your case is resolved.")
    if case.feedback_at is None:
        case.feedback_score, case.feedback_comment, case.feedback_at = (
            score, comment.strip() or None, utcnow())
        await session.flush()
        await add_event(session, case, None, kind="feedback",
                        summary=f"Customer feedback: {score}/5"
                                + (f" — {comment.strip()[:200]}" if comment.strip() else ""),
                        data={"score": score})
    return RedirectResponse(f"/c/{token}?thanks=1", status_code=303)
