"""Pushing a coupon into a shop, carrying its changes, and reconciling what the shop holds
with what Amends says.

A shop that refuses (bad credentials, a code it rejects) marks the code `failed` with the
shop's words, shown on the case page and the admin page; the agent can still send the code.
A shop that is busy or unreachable (`ShopError.retry`) fails the job, which the job system
retries with backoff; `record_failure` (the job's failure hook) keeps the latest error on the
code meanwhile. Shopify's cost throttling and WooCommerce's 429s are waited out in the client
first (see their modules).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.integrations.shop_codes import FREE_ITEM, GIFT_CARD, CodeSpec, ShopClient, ShopError
from amends.integrations.shopify.client import API_VERSION, Shopify
from amends.integrations.woocommerce.client import WooCommerce
from amends.kit import codes
from amends.kit.clock import utcnow
from amends.kit.ids import new_id
from amends.kit.sql import get_or_insert, insert_new
from amends.models import Coupon, Customer, ShopCode, ShopConnection, ShopCustomer
from amends.shops import orders

log = logging.getLogger("amends.shops")
ERROR_CHARS = 1000
# Codes one reconciliation run looks at per connection (the least recently checked first).
RECONCILE_BATCH = 500
FREE_ITEM_REFUSED = ("A free item is not pushed into the shop (it names a product the shop "
                     "cannot be told): send the code to the customer")


def client_for(connection: ShopConnection) -> ShopClient:
    secrets = connection.secrets
    if connection.platform == "shopify":
        return Shopify(shop_url=connection.shop_url,
                       access_token=str(secrets.get("access_token") or ""),
                       api_version=str(connection.settings.get("api_version") or API_VERSION))
    return WooCommerce(shop_url=connection.shop_url,
                       consumer_key=str(secrets.get("consumer_key") or ""),
                       consumer_secret=str(secrets.get("consumer_secret") or ""))


def shop_code(platform: str, coupon: Coupon) -> str:
    """The code as the shop holds it: as the customer reads it in their message (Shopify
    matches codes in any case; WooCommerce stores them in lower case); a Shopify gift card's
    code takes letters and digits only."""
    if platform == "shopify" and coupon.kind == GIFT_CARD:
        return coupon.code
    shown = codes.display(coupon.code)
    return shown.lower() if platform == "woocommerce" else shown


def wanted(coupon: Coupon) -> bool:
    """Whether the shop should accept the code now."""
    return coupon.status in ("active", "reserved") and coupon.expires_at > utcnow()


async def _spec(session: AsyncSession, connection: ShopConnection, coupon: Coupon,
                client: ShopClient) -> CodeSpec:
    customer = await session.get(Customer, (coupon.organization_id, coupon.customer_id))
    email = customer.email if customer is not None else None
    ref = None
    if connection.platform == "shopify" and customer is not None:
        ref = await session.scalar(select(ShopCustomer.remote_id).where(
            ShopCustomer.organization_id == coupon.organization_id,
            ShopCustomer.connection_id == connection.id,
            ShopCustomer.customer_id == customer.id))
        if ref is None and email:
            ref = await client.customer_ref(email)
            if ref is not None:
                await insert_new(session, ShopCustomer, key={
                    "organization_id": coupon.organization_id,
                    "connection_id": connection.id, "customer_id": customer.id},
                    values={"id": new_id(), "remote_id": ref, "created_at": utcnow()})
    return CodeSpec(
        code=shop_code(connection.platform, coupon), title=f"Amends: {coupon.name}",
        kind=coupon.kind, value=coupon.value, currency=coupon.currency,
        min_order=coupon.min_order, starts_at=coupon.valid_from, ends_at=coupon.expires_at,
        customer_ref=ref, email=email, balance=coupon.balance,
        note=f"Amends {coupon.case_ref or 'gesture'} for {coupon.customer_external_id}")


async def _load(session: AsyncSession, organization_id: uuid.UUID, connection_id: uuid.UUID,
                coupon_id: uuid.UUID) -> tuple[ShopConnection, Coupon] | None:
    connection = await session.get(ShopConnection, (organization_id, connection_id),
                                   populate_existing=True)
    coupon = await session.get(Coupon, (organization_id, coupon_id), populate_existing=True)
    if connection is None or not connection.active or coupon is None:
        return None
    return connection, coupon


async def _code_row(session: AsyncSession, connection: ShopConnection, coupon: Coupon
                    ) -> ShopCode:
    row, _ = await get_or_insert(
        session, ShopCode,
        key={"organization_id": coupon.organization_id, "coupon_id": coupon.id,
             "connection_id": connection.id},
        values={"id": new_id(), "code": shop_code(connection.platform, coupon),
                "status": "pending", "attempts": 0, "created_at": utcnow(),
                "updated_at": utcnow()}, lock=True)
    return row


async def _mark(session: AsyncSession, row: ShopCode, **values: Any) -> None:
    values.setdefault("updated_at", utcnow())
    await session.execute(update(ShopCode).where(
        ShopCode.organization_id == row.organization_id, ShopCode.id == row.id)
        .values(**values).execution_options(synchronize_session=False))


async def note_error(session: AsyncSession, connection: ShopConnection,
                            error: str) -> None:
    await session.execute(update(ShopConnection).where(
        ShopConnection.organization_id == connection.organization_id,
        ShopConnection.id == connection.id)
        .values(last_error=error[:ERROR_CHARS], last_error_at=utcnow())
        .execution_options(synchronize_session=False))


async def _refused(session: AsyncSession, connection: ShopConnection, row: ShopCode,
                   error: str) -> None:
    await _mark(session, row, status="failed", last_error=error[:ERROR_CHARS],
                attempts=row.attempts + 1)
    await note_error(session, connection, error)


async def push(session: AsyncSession, *, organization_id: uuid.UUID,
               connection_id: uuid.UUID, coupon_id: uuid.UUID) -> None:
    """Create the coupon's code in the shop, once (a code the shop holds already is found
    rather than created twice)."""
    loaded = await _load(session, organization_id, connection_id, coupon_id)
    if loaded is None:
        return
    connection, coupon = loaded
    row = await _code_row(session, connection, coupon)
    if row.remote_id is not None and row.status in ("pushed", "deactivated"):
        return
    if not wanted(coupon):
        return  # revoked, used or expired before it reached the shop
    if coupon.kind == FREE_ITEM:
        await _refused(session, connection, row, FREE_ITEM_REFUSED)
        return
    client = client_for(connection)
    try:
        remote_id = await client.create(await _spec(session, connection, coupon, client))
    except ShopError as error:
        if error.retry:
            raise
        await _refused(session, connection, row, str(error))
        return
    await _mark(session, row, status="pushed", remote_id=remote_id, last_error=None,
                attempts=row.attempts + 1)


async def sync(session: AsyncSession, *, organization_id: uuid.UUID,
               connection_id: uuid.UUID, coupon_id: uuid.UUID) -> None:
    """Carry a coupon's change to the shop: a withdrawn coupon's code is deactivated, and so
    is a used one's (used at a till, the shop must not take it again; a gift card stays, as
    Shopify cannot enable one again), an extended, reinstated or given back one gets its
    expiry (and is active again)."""
    loaded = await _load(session, organization_id, connection_id, coupon_id)
    if loaded is None:
        return
    connection, coupon = loaded
    row = await _code_row(session, connection, coupon)
    if row.remote_id is None:
        await push(session, organization_id=organization_id, connection_id=connection_id,
                   coupon_id=coupon_id)
        return
    client = client_for(connection)
    try:
        spec = await _spec(session, connection, coupon, client)
        if coupon.status == "revoked" or (coupon.status == "redeemed"
                                          and coupon.kind != GIFT_CARD):
            if row.status == "deactivated":
                return
            await client.deactivate(row.remote_id, spec)
            await _mark(session, row, status="deactivated", last_error=None)
        elif wanted(coupon):
            await client.update(row.remote_id, spec)
            await _mark(session, row, status="pushed", last_error=None)
    except ShopError as error:
        if error.retry:
            raise
        await _refused(session, connection, row, str(error))


async def record_failure(session: AsyncSession, *, organization_id: str, connection_id: str,
                         coupon_id: str, error: str, attempts: int, dead: bool) -> None:
    """A push or sync that the shop could not take now (it is retried): its error on the code
    and on the connection; `failed` once the job has used its attempts."""
    org = uuid.UUID(organization_id)
    loaded = await _load(session, org, uuid.UUID(connection_id), uuid.UUID(coupon_id))
    if loaded is None:
        return
    connection, coupon = loaded
    text = _readable(error)
    row = await _code_row(session, connection, coupon)
    await _mark(session, row, last_error=text[:ERROR_CHARS], attempts=row.attempts + 1,
                **({"status": "failed"} if dead else {}))
    await note_error(session, connection, text)


def _readable(error: str) -> str:
    """A job's error line without the exception's module path."""
    head, sep, rest = error.partition(": ")
    return rest if sep and head.startswith("amends.") else error


@dataclass
class Reconciled:
    checked: int = 0
    repaired: dict[str, int] = field(default_factory=dict)

    def count(self, what: str) -> None:
        self.repaired[what] = self.repaired.get(what, 0) + 1


async def reconcile(session: AsyncSession, connection: ShopConnection) -> Reconciled:
    """Compare the connection's codes, least recently checked first, with the shop, and
    repair drift: a code the shop lost is created again, one Amends withdrew or that was used
    at a till is deactivated, one Amends extended gets its expiry, one that never got there
    is pushed. A code the shop counts as used while Amends has no paid order for it is
    reported on the code (its order webhook never arrived)."""
    done = Reconciled()
    client = client_for(connection)
    rows = (await session.scalars(select(ShopCode).where(
        ShopCode.organization_id == connection.organization_id,
        ShopCode.connection_id == connection.id,
        ShopCode.status.in_(("pending", "pushed", "failed", "deactivated")))
        .order_by(ShopCode.updated_at).limit(RECONCILE_BATCH))).all()
    for row in rows:
        coupon = await session.get(Coupon, (row.organization_id, row.coupon_id))
        if coupon is None or coupon.kind == FREE_ITEM:
            continue
        done.checked += 1
        try:
            await _reconcile_one(session, client, connection, coupon, row, done)
        except ShopError as error:
            if error.retry:
                raise
            await _refused(session, connection, row, str(error))
    await session.execute(update(ShopConnection).where(
        ShopConnection.organization_id == connection.organization_id,
        ShopConnection.id == connection.id).values(last_reconciled_at=utcnow())
        .execution_options(synchronize_session=False))
    return done


async def _reconcile_one(session: AsyncSession, client: ShopClient,
                         connection: ShopConnection, coupon: Coupon, row: ShopCode,
                         done: Reconciled) -> None:
    spec = await _spec(session, connection, coupon, client)
    remote = await client.find(spec, row.remote_id)
    should = wanted(coupon)
    if remote is None:
        if should:
            remote_id = await client.create(spec)
            await _mark(session, row, status="pushed", remote_id=remote_id, last_error=None)
            done.count("created")
        else:
            await _mark(session, row, status="deleted", remote_id=None)
        return
    values: dict[str, Any] = {"remote_id": remote.remote_id}
    if coupon.kind == GIFT_CARD and remote.balance is not None and \
            await orders.record_gift_card_spend(session, connection, coupon,
                                                shop_balance=remote.balance):
        done.count("gift_card_spent")
        return
    if should and remote.used and coupon.kind != GIFT_CARD:
        values["last_error"] = ("Used in the shop, but no paid order reached Amends: check the "
                                "shop's order webhooks")
        done.count("used_unseen")
    elif should and (not remote.active or _expiry_differs(remote.ends_at, coupon)):
        await client.update(remote.remote_id, spec)
        values.update(status="pushed", last_error=None)
        done.count("updated")
    elif should:
        values.update(status="pushed", last_error=None)
    elif remote.active and coupon.status in ("revoked", "redeemed"):
        await client.deactivate(remote.remote_id, spec)
        values.update(status="deactivated", last_error=None)
        done.count("deactivated")
    await _mark(session, row, **values)


def _expiry_differs(ends_at: datetime | None, coupon: Coupon) -> bool:
    if ends_at is None:
        return True
    if coupon.kind == GIFT_CARD:  # a gift card expires on a date
        return ends_at.date() != coupon.expires_at.date()
    return abs(ends_at - coupon.expires_at) > timedelta(minutes=1)
