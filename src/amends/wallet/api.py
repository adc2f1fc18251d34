"""The organisation's wallet settings, for admins: `/v1/wallet`."""

from __future__ import annotations

from fastapi import Response

from amends.auth import AdminCaller, MissingScope, SessionDep
from amends.errors import errors
from amends.integrations.apple_wallet.certificates import CREDENTIAL_ERRORS
from amends.integrations.google_wallet.save_link import InvalidServiceAccountKey
from amends.routing import router as make_router
from amends.wallet import service
from amends.wallet.schemas import AppleWalletIn, GoogleWalletIn, WalletOut

router = make_router(prefix="/v1/wallet", tags=["wallet"])


@router.get("", responses=errors(MissingScope))
async def get_wallet(session: SessionDep, actor: AdminCaller) -> WalletOut:
    """Which wallets are set up, and with what (never the keys or passwords)."""
    return await service.overview(session, actor)


@router.put("/apple", responses=errors(MissingScope, *CREDENTIAL_ERRORS))
async def save_apple(body: AppleWalletIn, session: SessionDep, actor: AdminCaller) -> WalletOut:
    """Set up Apple Wallet passes: the Pass Type ID certificate and its private key (PEM,
    with its password if encrypted), Apple's WWDR intermediate that issued it, and an APNs
    auth key (.p8) with its key id for update notifications. Each is checked: 422
    `invalid_pass_certificate`, `invalid_pass_key` (or a wrong password), `pass_key_mismatch`,
    `pass_certificate_expired`, `invalid_wwdr_certificate` (not a CA),
    `pass_certificate_not_from_wwdr`, `pass_type_identifier_mismatch` (the certificate's UID
    names another pass type), `invalid_apns_key`. The coupon page then shows "Add to Apple
    Wallet"."""
    await service.save_apple(session, actor, body=body)
    return await service.overview(session, actor)


@router.put("/google", responses=errors(MissingScope, InvalidServiceAccountKey))
async def save_google(body: GoogleWalletIn, session: SessionDep, actor: AdminCaller
                      ) -> WalletOut:
    """Set up Google Wallet offers: the issuer id and the JSON key of the service account the
    Google Wallet console authorised (422 `invalid_service_account_key` when it is not one).
    The coupon page then shows "Save to Google Wallet"."""
    await service.save_google(session, actor, body=body)
    return await service.overview(session, actor)


@router.delete("/apple", status_code=204, responses=errors(MissingScope))
async def remove_apple(session: SessionDep, actor: AdminCaller) -> Response:
    """Stop offering Apple Wallet passes; the credentials are forgotten."""
    await service.remove(session, actor, platform=service.APPLE)
    return Response(status_code=204)


@router.delete("/google", status_code=204, responses=errors(MissingScope))
async def remove_google(session: SessionDep, actor: AdminCaller) -> Response:
    """Stop offering Google Wallet passes; the credentials are forgotten."""
    await service.remove(session, actor, platform=service.GOOGLE)
    return Response(status_code=204)
