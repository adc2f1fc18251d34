"""The coupon page's wallet buttons lead here: `/c/{token}/wallet/apple` answers the signed
`.pkpass`, `/c/{token}/wallet/google` sends the browser to Google's save link."""

from __future__ import annotations

from email.utils import format_datetime

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from amends.auth import SessionDep
from amends.errors import NotFound
from amends.integrations.apple_wallet.pkpass import CONTENT_TYPE
from amends.routing import router as make_router
from amends.routing import writes_on_read
from amends.wallet import passes
from amends.web.coupon_page import _coupon as coupon_of_page

router = make_router(include_in_schema=False)


class WalletNotConfigured(NotFound):
    code, title = "wallet_not_configured", "This wallet is not offered for this coupon"


def _base_url(request: Request) -> str:
    return str(request.app.state.settings.base_url)


@router.get("/c/{token}/wallet/apple", dependencies=[Depends(writes_on_read)])
async def apple_pass(token: str, request: Request, session: SessionDep) -> Response:
    """The coupon as an Apple Wallet pass (made, with its serial number, the first time)."""
    coupon = await coupon_of_page(request, session, token)
    built = await passes.apple_bundle(session, coupon, base_url=_base_url(request))
    if built is None:
        raise WalletNotConfigured("Apple Wallet passes are not offered here.")
    content, wallet_pass = built
    return Response(content, media_type=CONTENT_TYPE, headers={
        "Content-Disposition": 'attachment; filename="coupon.pkpass"',
        "Last-Modified": format_datetime(wallet_pass.updated_at, usegmt=True),
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@router.get("/c/{token}/wallet/google")
async def google_pass(token: str, request: Request, session: SessionDep) -> Response:
    """To Google Wallet, with the coupon's offer in the signed save link."""
    coupon = await coupon_of_page(request, session, token)
    link = await passes.google_offer(session, coupon, base_url=_base_url(request))
    if link is None:
        raise WalletNotConfigured("Google Wallet passes are not offered here.")
    return RedirectResponse(link, status_code=303, headers={
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
