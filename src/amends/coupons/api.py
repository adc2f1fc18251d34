from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Response

from amends.actor import Actor
from amends.auth import MissingScope, SessionDep, require
from amends.coupons import service as coupons
from amends.coupons.errors import (
    CodePoolExhausted,
    CouponAlreadyRedeemed,
    CouponNotFound,
    CouponRevoked,
    IncentiveEnded,
    IncentiveInactive,
)
from amends.coupons.schemas import CouponIssue, CouponOut, CouponPage, CouponReinstate, Reason
from amends.customers import service as customers
from amends.errors import errors
from amends.incentives import service as incentives
from amends.kit.pagination import InvalidCursor
from amends.roles import Scope
from amends.routing import router as make_router

router = make_router(prefix="/v1/coupons", tags=["coupons"])
Issuer = Annotated[Actor, Depends(require(Scope.COUPONS_ISSUE))]
Reader = Annotated[Actor, Depends(require(Scope.COUPONS_ISSUE, Scope.REDEMPTIONS_READ,
                                          Scope.REPORTS_READ))]


@router.post("", status_code=201, responses=errors(
    MissingScope, customers.CustomerNotFound, incentives.IncentiveNotFound, IncentiveInactive,
    IncentiveEnded, CodePoolExhausted))
async def issue_coupon(body: CouponIssue, session: SessionDep, actor: Issuer,
                       response: Response) -> CouponOut:
    """Issue a gesture to a customer. The same customer + incentive + case always gets the
    same coupon and code (200 when it existed already, 201 when created)."""
    if body.customer is not None:
        customer, _ = await customers.upsert_customer(
            session, actor, external_id=body.customer_id, data=body.customer.model_dump())
    else:
        customer = await customers.get_customer(session, actor, external_id=body.customer_id)
    incentive = await incentives.get_incentive(session, actor, incentive_id=body.incentive_id)
    coupon, created = await coupons.issue_coupon(
        session, actor, customer=customer, incentive=incentive, case_ref=body.case_reference,
        channel=body.channel.value if body.channel else None)
    if not created:
        response.status_code = 200
    return CouponOut.of(coupon)


@router.get("", responses=errors(MissingScope, InvalidCursor))
async def list_coupons(session: SessionDep, actor: Reader, customer_id: str | None = None,
                       case_reference: str | None = None, cursor: str | None = None,
                       limit: Annotated[int, Query(ge=1, le=200)] = 50) -> CouponPage:
    """Coupons, newest first, by customer or case."""
    page = await coupons.list_coupons(session, actor, customer_external_id=customer_id,
                                      case_ref=case_reference, cursor=cursor, limit=limit)
    return CouponPage(items=[CouponOut.of(c) for c in page.items], next_cursor=page.next_cursor)


@router.get("/{coupon_id}", responses=errors(MissingScope, CouponNotFound))
async def get_coupon(coupon_id: uuid.UUID, session: SessionDep, actor: Reader) -> CouponOut:
    """One coupon with its live status."""
    return CouponOut.of(await coupons.get_coupon(session, actor, coupon_id=coupon_id))


@router.post("/{coupon_id}/revoke",
             responses=errors(MissingScope, CouponNotFound, CouponAlreadyRedeemed))
async def revoke_coupon(coupon_id: uuid.UUID, body: Reason, session: SessionDep,
                        actor: Issuer) -> CouponOut:
    """Withdraw an unused coupon; the reason is audited."""
    return CouponOut.of(await coupons.revoke_coupon(session, actor, coupon_id=coupon_id,
                                                    reason=body.reason))


@router.post("/{coupon_id}/reinstate", responses=errors(
    MissingScope, CouponNotFound, CouponAlreadyRedeemed, CouponRevoked,
    coupons.InvalidExtension))
async def reinstate_coupon(coupon_id: uuid.UUID, body: CouponReinstate, session: SessionDep,
                           actor: Issuer) -> CouponOut:
    """Reinstate an expired coupon, or extend one, by days or to a date; who and why audited."""
    return CouponOut.of(await coupons.reinstate_coupon(
        session, actor, coupon_id=coupon_id, reason=body.reason, days=body.days,
        expires_at=body.expires_at))
