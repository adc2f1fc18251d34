"""An organisation's wallet settings: Apple Wallet (pass certificate and key, Apple's WWDR
intermediate, APNs auth key) and Google Wallet (issuer id, service-account key).

Credentials are checked before they are saved, kept like a channel's settings (secrets in
the row's `settings`, never shown by the API) and audited without their secrets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.audit import service as audit
from amends.integrations.apple_wallet.apns import ApnsCredentials
from amends.integrations.apple_wallet.certificates import (
    PassSigner,
    load_apns_key,
    load_key,
    load_signer,
)
from amends.integrations.google_wallet.save_link import ServiceAccount, load_service_account
from amends.kit.clock import utcnow
from amends.kit.sql import get_or_insert
from amends.models import WalletConfig
from amends.wallet import outbox
from amends.wallet.schemas import (
    AppleWalletIn,
    AppleWalletOut,
    GoogleWalletIn,
    GoogleWalletOut,
    WalletOut,
)

APPLE, GOOGLE = "apple", "google"


@dataclass(frozen=True, slots=True)
class AppleWallet:
    pass_type_identifier: str
    team_identifier: str
    signer: PassSigner
    apns: ApnsCredentials


@dataclass(frozen=True, slots=True)
class GoogleWallet:
    issuer_id: str
    account: ServiceAccount


async def _row(session: AsyncSession, organization_id: uuid.UUID, platform: str
               ) -> WalletConfig | None:
    row: WalletConfig | None = await session.scalar(select(WalletConfig).where(
        WalletConfig.organization_id == organization_id, WalletConfig.platform == platform))
    return row


async def _store(session: AsyncSession, actor: Actor, platform: str,
                 settings: dict[str, Any]) -> WalletConfig:
    row, _ = await get_or_insert(
        session, WalletConfig,
        key={"organization_id": actor.organization_id, "platform": platform},
        values={"settings": settings, "update_counter": 0})
    row.settings = settings
    await session.flush()
    outbox.forget()
    return row


async def save_apple(session: AsyncSession, actor: Actor, *, body: AppleWalletIn
                     ) -> WalletConfig:
    """Check and save the Apple Wallet credentials (422 with the failing check's code)."""
    signer = load_signer(certificate=body.pass_certificate, key=body.pass_key,
                         key_password=body.pass_key_password, wwdr=body.wwdr_certificate,
                         pass_type_identifier=body.pass_type_identifier, now=utcnow())
    load_apns_key(body.apns_key)
    settings = body.model_dump(mode="json")
    settings["certificate_subject"] = signer.certificate.subject.rfc4514_string()
    settings["certificate_expires_at"] = signer.certificate.not_valid_after_utc.isoformat()
    row = await _store(session, actor, APPLE, settings)
    await audit.record(session, actor, action="wallet.apple_configured",
                       object_type="wallet", object_id=APPLE, after={
                           "pass_type_identifier": body.pass_type_identifier,
                           "team_identifier": body.team_identifier,
                           "certificate_subject": settings["certificate_subject"],
                           "certificate_expires_at": settings["certificate_expires_at"],
                           "apns_key_id": body.apns_key_id, "apns_sandbox": body.apns_sandbox})
    return row


async def save_google(session: AsyncSession, actor: Actor, *, body: GoogleWalletIn
                      ) -> WalletConfig:
    """Check and save the Google Wallet issuer and service-account key."""
    account = load_service_account(body.service_account_key)
    settings = {"issuer_id": body.issuer_id, "service_account_key": body.service_account_key,
                "client_email": account.client_email}
    row = await _store(session, actor, GOOGLE, settings)
    await audit.record(session, actor, action="wallet.google_configured",
                       object_type="wallet", object_id=GOOGLE,
                       after={"issuer_id": body.issuer_id, "client_email": account.client_email})
    return row


async def remove(session: AsyncSession, actor: Actor, *, platform: str) -> None:
    """Forget a platform's credentials: its buttons disappear and passes are no longer served.
    The row stays, emptied, so the Apple update counter never goes back."""
    await session.execute(
        update(WalletConfig)
        .where(WalletConfig.organization_id == actor.organization_id,
               WalletConfig.platform == platform)
        .values(settings={}, updated_at=utcnow())
        .execution_options(synchronize_session=False))
    outbox.forget()
    await audit.record(session, actor, action=f"wallet.{platform}_removed",
                       object_type="wallet", object_id=platform)


async def overview(session: AsyncSession, actor: Actor) -> WalletOut:
    apple = await _row(session, actor.organization_id, APPLE)
    google = await _row(session, actor.organization_id, GOOGLE)
    return WalletOut(
        apple=AppleWalletOut(
            pass_type_identifier=apple.settings["pass_type_identifier"],
            team_identifier=apple.settings["team_identifier"],
            certificate_subject=apple.settings["certificate_subject"],
            certificate_expires_at=datetime.fromisoformat(
                apple.settings["certificate_expires_at"]),
            apns_key_id=apple.settings["apns_key_id"],
            apns_sandbox=apple.settings["apns_sandbox"], updated_at=apple.updated_at,
        ) if apple is not None and apple.settings else None,
        google=GoogleWalletOut(
            issuer_id=google.settings["issuer_id"],
            client_email=google.settings["client_email"], updated_at=google.updated_at,
        ) if google is not None and google.settings else None)


def _apple(settings: dict[str, Any]) -> AppleWallet:
    # Checked when saved; an expired certificate is not refused here (the pass it signs is
    # refused by the device, which is what the organisation will hear about).
    signer = PassSigner(
        certificate=x509.load_pem_x509_certificate(settings["pass_certificate"].encode()),
        key=load_key(settings["pass_key"], settings.get("pass_key_password")),
        wwdr=x509.load_pem_x509_certificate(settings["wwdr_certificate"].encode()))
    return AppleWallet(
        pass_type_identifier=settings["pass_type_identifier"],
        team_identifier=settings["team_identifier"], signer=signer,
        apns=ApnsCredentials(team_id=settings["team_identifier"],
                             key_id=settings["apns_key_id"], key_pem=settings["apns_key"],
                             topic=settings["pass_type_identifier"],
                             sandbox=bool(settings.get("apns_sandbox"))))


async def apple_wallet(session: AsyncSession, organization_id: uuid.UUID) -> AppleWallet | None:
    row = await _row(session, organization_id, APPLE)
    return _apple(row.settings) if row is not None and row.settings else None


async def google_wallet(session: AsyncSession, organization_id: uuid.UUID
                        ) -> GoogleWallet | None:
    row = await _row(session, organization_id, GOOGLE)
    if row is None or not row.settings:
        return None
    return GoogleWallet(issuer_id=row.settings["issuer_id"],
                        account=load_service_account(row.settings["service_account_key"]))


async def configured(session: AsyncSession, organization_id: uuid.UUID) -> set[str]:
    """The platforms the organisation has set up."""
    rows = await session.execute(select(WalletConfig.platform, WalletConfig.settings).where(
        WalletConfig.organization_id == organization_id))
    return {platform for platform, settings in rows if settings}


async def next_update_tag(session: AsyncSession, organization_id: uuid.UUID) -> int:
    """The organisation's next pass update number. The UPDATE locks the counter's row until
    the caller's transaction ends, so numbers commit in the order they are given: a device
    told "up to n" has seen every change numbered n or less."""
    tag = (await session.execute(
        update(WalletConfig)
        .where(WalletConfig.organization_id == organization_id,
               WalletConfig.platform == APPLE)
        # updated_at says when the settings changed, not the passes.
        .values(update_counter=WalletConfig.update_counter + 1,
                updated_at=WalletConfig.updated_at)
        .returning(WalletConfig.update_counter)
        .execution_options(synchronize_session=False))).scalar_one()
    return int(tag)
