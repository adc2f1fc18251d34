"""The jobs that carry a coupon's change to the wallets that hold its pass.

`wallet.pass_changed` (queued with the change, see `outbox`) gives the pass a new update tag
and Last-Modified and, when devices are registered, queues `wallet.push`, which runs once that
has committed: a device woken by the push then finds the change (pushing from the first job,
before its commit, could wake it too early)."""

from __future__ import annotations

import ssl
import uuid

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.config import get_settings
from amends.integrations.apple_wallet.apns import Apns, PushClient
from amends.jobs import service as jobs
from amends.jobs.registry import job, on_shutdown
from amends.kit.clock import utcnow
from amends.models import WalletPass, WalletRegistration
from amends.wallet import service
from amends.wallet.outbox import PASS_CHANGED
from amends.wallet.passes import next_modified

PUSH = "wallet.push"
_clients: dict[tuple[str | None, str | None], Apns] = {}


def push_client() -> PushClient:
    """APNs as the settings say (`AMENDS_APNS_URL`, `AMENDS_APNS_CA_FILE`), one per setting."""
    settings = get_settings()
    key = (settings.apns_url, settings.apns_ca_file)
    client = _clients.get(key)
    if client is None:
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=settings.apns_ca_file)
            if settings.apns_ca_file else True)
        client = _clients[key] = Apns(base_url=settings.apns_url, verify=verify)
    return client


@on_shutdown
async def close_push_clients() -> None:
    for client in _clients.values():
        await client.aclose()


@job(PASS_CHANGED)
async def pass_changed(session: AsyncSession, *, organization_id: str, coupon_id: str) -> None:
    organization = uuid.UUID(organization_id)
    found = await session.scalar(select(WalletPass.id).where(
        WalletPass.organization_id == organization, WalletPass.coupon_id == uuid.UUID(coupon_id)))
    if found is None:
        return  # the customer never added the coupon to Apple Wallet
    # The counter first: its row lock orders every change of the organisation's passes, so
    # the pass read next is the latest committed one.
    tag = await service.next_update_tag(session, organization)
    wallet_pass = await session.scalar(select(WalletPass).where(
        WalletPass.organization_id == organization, WalletPass.id == found)
        .execution_options(populate_existing=True))
    assert wallet_pass is not None
    await session.execute(
        update(WalletPass)
        .where(WalletPass.organization_id == organization, WalletPass.id == found)
        .values(update_tag=tag, updated_at=next_modified(wallet_pass.updated_at, utcnow()))
        .execution_options(synchronize_session=False))
    registered = await session.scalar(select(WalletRegistration.id).where(
        WalletRegistration.organization_id == organization,
        WalletRegistration.pass_id == found).limit(1))
    if registered is not None:
        await jobs.enqueue(session, PUSH, organization_id=organization,
                           payload={"pass_id": str(found)})


@job(PUSH)
async def push(session: AsyncSession, *, organization_id: str, pass_id: str) -> None:
    organization = uuid.UUID(organization_id)
    wallet = await service.apple_wallet(session, organization)
    if wallet is None:
        return  # Apple Wallet was switched off since
    tokens = sorted(set((await session.scalars(select(WalletRegistration.push_token).where(
        WalletRegistration.organization_id == organization,
        WalletRegistration.pass_id == uuid.UUID(pass_id)))).all()))
    if not tokens:
        return
    outcome = await push_client().notify(wallet.apns, tokens)
    if outcome.gone:
        # APNs says these tokens reach no device any more: forget their registrations.
        await session.execute(
            delete(WalletRegistration)
            .where(WalletRegistration.organization_id == organization,
                   WalletRegistration.push_token.in_(outcome.gone))
            .execution_options(synchronize_session=False))
