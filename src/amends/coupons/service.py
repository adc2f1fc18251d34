"""Issuing coupons: idempotent per customer + incentive + case, even under concurrency."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.audit import service as audit
from amends.codepools import service as codepools
from amends.coupons import policy
from amends.coupons.errors import (
    CouponAlreadyRedeemed,
    CouponNotFound,
    CouponRevoked,
    IncentiveEnded,
    IncentiveInactive,
)
from amends.errors import ValidationFailed
from amends.kit import codes
from amends.kit.clock import utcnow
from amends.kit.ids import new_id
from amends.kit.pagination import Page, newest_first
from amends.kit.secrets import tenant_token
from amends.kit.sql import insert_for
from amends.models import (
    AuditEvent,
    CodePool,
    Coupon,
    Customer,
    GiftCardEntry,
    Incentive,
    Organization,
)
from amends.rollups import changes
from amends.shops import outbox as shops_outbox
from amends.wallet import outbox as wallet_outbox

CODE_ATTEMPTS = 5


class InvalidExtension(ValidationFailed):
    code, title = "invalid_extension", "Give a number of days or a later expiry"


def coupon_summary(coupon: Coupon) -> dict[str, Any]:
    return {"code": coupon.code, "customer": coupon.customer_external_id, "kind": coupon.kind,
            "value": coupon.value, "currency": coupon.currency,
            "face_value": coupon.face_value, "case_ref": coupon.case_ref or None,
            "expires_at": coupon.expires_at.isoformat(), "channel": coupon.channel}


async def _existing(session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID,
                    incentive_id: uuid.UUID, case_ref: str) -> Coupon | None:
    return await session.scalar(
        select(Coupon)
        .where(Coupon.organization_id == organization_id, Coupon.customer_id == customer_id,
               Coupon.incentive_id == incentive_id, Coupon.case_ref == case_ref)
        .execution_options(populate_existing=True)
    )


async def find_issued(session: AsyncSession, actor: Actor, *, customer: Customer,
                      incentive: Incentive, case_ref: str | None) -> Coupon | None:
    return await _existing(session, actor.organization_id, customer.id, incentive.id,
                           case_ref or "")


def coupon_values(actor: Actor, *, customer: Customer, incentive: Incentive, case_ref: str,
                  channel: str | None, code: str, face_value: int, now: datetime,
                  expires_at: datetime, coupon_id: uuid.UUID | None = None
                  ) -> dict[str, Any]:
    """The row of a new coupon: the incentive's terms as they are now (a snapshot)."""
    return {
        "id": coupon_id or new_id(), "organization_id": actor.organization_id,
        "customer_id": customer.id, "customer_external_id": customer.external_id,
        "incentive_id": incentive.id, "case_ref": case_ref, "code": code,
        "page_token": tenant_token(actor.organization_id), "name": incentive.name,
        "kind": incentive.kind,
        "value": incentive.value, "currency": incentive.currency,
        "min_order": incentive.min_order, "sku": incentive.sku, "terms": incentive.terms,
        "bound_to_customer": incentive.bound_to_customer, "face_value": face_value,
        "status": "active",
        "balance": incentive.value if incentive.kind == policy.GIFT_CARD else None,
        "redemption_count": 0, "reinstated_count": 0, "valid_from": now,
        "expires_at": expires_at, "channel": channel, "issued_by_type": actor.kind,
        "issued_by_id": actor.id, "issued_by_label": actor.label, "issued_at": now,
    }


async def issue_coupon(
    session: AsyncSession,
    actor: Actor,
    *,
    customer: Customer,
    incentive: Incentive,
    case_ref: str | None = None,
    channel: str | None = None,
    looked_up: bool = False,
) -> tuple[Coupon, bool]:
    """Issue the incentive to the customer, or return the coupon issued before
    (`looked_up`: the caller has just looked for it in this transaction).

    Idempotency rests on the unique constraint (organisation, customer, incentive, case):
    the INSERT is `ON CONFLICT DO NOTHING`; a request that loses the race (on PostgreSQL it
    waits on the unique index until the winner commits) then reads the winner's coupon. A
    code taken from a pool for a losing insert goes back to the pool in the same transaction.
    Returns (coupon, created).
    """
    org_id = actor.organization_id
    ref = case_ref or ""
    found = None if looked_up else await _existing(session, org_id, customer.id, incentive.id,
                                                   ref)
    if found is not None:
        return found, False
    if not incentive.active:
        raise IncentiveInactive(f"{incentive.name!r} is no longer in the catalogue.")
    organization = await session.get(Organization, org_id)
    assert organization is not None
    now = utcnow()
    expires_at = policy.expiry(now, validity_days=incentive.validity_days,
                               valid_until=incentive.valid_until)
    if expires_at <= now:
        raise IncentiveEnded(f"{incentive.name!r} ended on {expires_at:%Y-%m-%d}.")
    pool = (await session.get(CodePool, (incentive.organization_id, incentive.code_pool_id))
            if incentive.code_pool_id else None)
    face_value = policy.face_value(incentive.kind, incentive.value,
                                   average_order_value=organization.average_order_value)
    for _ in range(CODE_ATTEMPTS):
        coupon_id = new_id()
        if pool is not None:
            code = await codepools.allocate(session, organization_id=org_id, pool=pool,
                                            coupon_id=coupon_id)
        else:
            code = codes.generate(organization.code_prefix or "")
        values = coupon_values(actor, customer=customer, incentive=incentive, case_ref=ref,
                               channel=channel, code=code, face_value=face_value, now=now,
                               expires_at=expires_at, coupon_id=coupon_id)
        coupon = (await session.scalars(
            insert_for(session, Coupon).values(**values).on_conflict_do_nothing()
            .returning(Coupon)
        )).one_or_none()
        if coupon is not None:
            break
        if pool is not None:
            await codepools.give_back(session, code=code, organization_id=org_id)
        found = await _existing(session, org_id, customer.id, incentive.id, ref)
        if found is not None:
            return found, False
        # Otherwise the random code collided with another coupon's: draw again.
    else:
        raise RuntimeError("could not draw a unique coupon code")
    entry, card = issued_rows(actor, coupon)
    if card is not None:
        session.add(GiftCardEntry(**card))
    session.add(AuditEvent(**entry))
    await session.flush()
    await changes.given(session, [coupon])
    await shops_outbox.coupons_issued(session, organization_id=org_id, coupon_ids=[coupon.id])
    return coupon, True


def issued_rows(actor: Actor, coupon: Coupon) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """What issuing writes beside the coupon, as rows: the audit event and, for a gift card,
    the first entry of its balance ledger."""
    entry = audit.entry_row(actor, action="coupon.issued", object_type="coupon",
                            object_id=coupon.id, after=coupon_summary(coupon))
    card = None
    if coupon.kind == policy.GIFT_CARD:
        card = {"id": new_id(), "organization_id": coupon.organization_id,
                "coupon_id": coupon.id, "kind": "issue", "amount": coupon.value,
                "balance_after": coupon.value, "created_at": utcnow()}
    return entry, card


async def get_coupon(session: AsyncSession, actor: Actor, *, coupon_id: uuid.UUID) -> Coupon:
    coupon = await session.scalar(select(Coupon).where(
        Coupon.id == coupon_id, Coupon.organization_id == actor.organization_id
    ).execution_options(populate_existing=True))
    if coupon is None:
        raise CouponNotFound()
    return coupon


async def list_coupons(session: AsyncSession, actor: Actor, *, customer_external_id: str | None,
                       case_ref: str | None, cursor: str | None, limit: int) -> Page[Coupon]:
    query = select(Coupon).where(Coupon.organization_id == actor.organization_id)
    if customer_external_id:
        query = query.where(Coupon.customer_external_id == customer_external_id)
    if case_ref:
        query = query.where(Coupon.case_ref == case_ref)
    return await newest_first(session, query, Coupon.id, cursor=cursor, limit=limit)

async def revoke_coupon(session: AsyncSession, actor: Actor, *, coupon_id: uuid.UUID,
                        reason: str) -> Coupon:
    """Withdraw a coupon that has not been used (a held reservation is dropped with it)."""
    coupon = await get_coupon(session, actor, coupon_id=coupon_id)
    result = await session.execute(
        update(Coupon)
        .where(Coupon.organization_id == coupon.organization_id, Coupon.id == coupon.id,
               Coupon.status.in_(("active", "reserved")))
        .values(status="revoked", revoked_at=utcnow(), revoked_reason=reason,
                reservation_id=None, reserved_until=None)
        .execution_options(synchronize_session=False))
    coupon = await get_coupon(session, actor, coupon_id=coupon_id)
    if not getattr(result, "rowcount", 0):
        if coupon.status == "revoked":
            return coupon
        raise CouponAlreadyRedeemed("A used coupon cannot be withdrawn; void the redemption.")
    await audit.record(session, actor, action="coupon.revoked", object_type="coupon",
                       object_id=coupon.id, reason=reason, after={"status": "revoked"})
    await changes.withdrawn(session, coupon)
    await wallet_outbox.coupon_changed(session, organization_id=coupon.organization_id,
                                       coupon_id=coupon.id)
    await shops_outbox.coupon_changed(session, organization_id=coupon.organization_id,
                                      coupon_id=coupon.id)
    return coupon


async def reinstate_coupon(session: AsyncSession, actor: Actor, *, coupon_id: uuid.UUID,
                           reason: str, days: int | None = None,
                           expires_at: datetime | None = None) -> Coupon:
    """Give an expired (or expiring) coupon a new expiry, in one call; who and why audited."""
    coupon = await get_coupon(session, actor, coupon_id=coupon_id)
    now = utcnow()
    if expires_at is None:
        if days is None or days <= 0:
            raise InvalidExtension()
        expires_at = max(now, coupon.expires_at) + timedelta(days=days)
    if expires_at <= now or expires_at <= coupon.expires_at:
        raise InvalidExtension("The new expiry must be later than now and than the old one.")
    before = coupon.expires_at
    result = await session.execute(
        update(Coupon)
        .where(Coupon.organization_id == coupon.organization_id, Coupon.id == coupon.id,
               Coupon.status.in_(("active", "reserved")))
        .values(expires_at=expires_at, reinstated_count=Coupon.reinstated_count + 1)
        .execution_options(synchronize_session=False))
    coupon = await get_coupon(session, actor, coupon_id=coupon_id)
    if not getattr(result, "rowcount", 0):
        if coupon.status == "revoked":
            raise CouponRevoked("A withdrawn coupon cannot be reinstated; issue a new one.")
        raise CouponAlreadyRedeemed("The coupon has been used; there is nothing to reinstate.")
    await audit.record(
        session, actor, action="coupon.reinstated" if before <= now else "coupon.extended",
        object_type="coupon", object_id=coupon.id, reason=reason,
        before={"expires_at": before.isoformat()}, after={"expires_at": expires_at.isoformat()})
    await wallet_outbox.coupon_changed(session, organization_id=coupon.organization_id,
                                       coupon_id=coupon.id)
    await shops_outbox.coupon_changed(session, organization_id=coupon.organization_id,
                                      coupon_id=coupon.id)
    return coupon
