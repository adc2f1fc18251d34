from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request, Response

from amends.actor import Actor
from amends.auth import MissingScope, SessionDep, require
from amends.coupons.errors import (
    NOT_REDEEMABLE,
    CouponAlreadyRedeemed,
    CouponExpired,
    CouponRevoked,
)
from amends.errors import TooManyAttempts, errors
from amends.redemptions import service as redemptions
from amends.redemptions.guard import CouponLocked, code_guard
from amends.redemptions.lane import RedeemRoute
from amends.redemptions.schemas import (
    RedeemRequest,
    RedemptionOut,
    ReservationOut,
    ReserveRequest,
    ValidateRequest,
    Validation,
    VoidRequest,
)
from amends.roles import Scope
from amends.routing import router as make_router

router = make_router(tags=["redemptions"])
Checker = Annotated[Actor, Depends(require(Scope.REDEMPTIONS_READ, Scope.REDEMPTIONS_WRITE))]
Redeemer = Annotated[Actor, Depends(require(Scope.REDEMPTIONS_WRITE))]


@router.post("/v1/redemptions/validate", responses=errors(
    MissingScope, TooManyAttempts, CouponLocked, *NOT_REDEEMABLE, *redemptions.ORDER_REFUSALS))
async def validate(body: ValidateRequest, request: Request, session: SessionDep,
                   actor: Checker) -> Validation:
    """Would this code work for this order? No side effects: answers what redeem would, with
    the discount it would give, or the exact reason it would not. Without `order_amount` the
    code alone is checked (the discount quoted is then 0); an amount of 0 or less is refused
    (422 `order_amount_not_positive`), as redeem and reserve refuse it."""
    order = redemptions.Order(code=body.code, order_amount=body.order_amount,
                              customer_external_id=body.customer_id, currency=body.currency,
                              shipping_amount=body.shipping_amount)
    async with code_guard(request, actor, code=body.code, customer=body.customer_id):
        quote = await redemptions.validate(
            session, actor, order, amount_known="order_amount" in body.model_fields_set)
    return Validation.of(quote.coupon, quote.discount)


async def redeem(body: RedeemRequest, request: Request, session: SessionDep,
                 actor: Redeemer) -> Response:
    """Redeem a coupon exactly once (a gift card: debit what its balance covers), in a store
    or online, for the customer it was issued to. An order of 0 or less, a shipping cost above
    the order, or an order a percentage of which rounds to nothing is refused and the coupon
    stays as it was."""
    async with code_guard(request, actor, code=body.code, customer=body.customer_id):
        redemption = await redemptions.redeem(session, actor, redemptions.order_of(body))
    # Serialised here, once: the hot path of every till skips FastAPI's re-validation.
    return Response(RedemptionOut.of(redemption).model_dump_json(), status_code=201,
                    media_type="application/json")


# The tills' route: it answers with one statement when it can, else runs `redeem` (lane.py).
router.add_api_route(
    "/v1/redemptions", redeem, methods=["POST"], status_code=201, response_model=RedemptionOut,
    responses=errors(MissingScope, TooManyAttempts, CouponLocked, *NOT_REDEEMABLE,
                     *redemptions.ORDER_REFUSALS), route_class_override=RedeemRoute)


@router.get("/v1/redemptions/{redemption_id}",
            responses=errors(MissingScope, redemptions.RedemptionNotFound))
async def get_redemption(redemption_id: uuid.UUID, session: SessionDep,
                         actor: Checker) -> RedemptionOut:
    """One redemption."""
    return RedemptionOut.of(
        await redemptions.get_redemption(session, actor, redemption_id=redemption_id))


@router.post("/v1/redemptions/{redemption_id}/void", responses=errors(
    MissingScope, redemptions.RedemptionNotFound, redemptions.RedemptionAlreadyVoided))
async def void_redemption(redemption_id: uuid.UUID, body: VoidRequest, session: SessionDep,
                          actor: Redeemer) -> RedemptionOut:
    """On a refund: the coupon can be used again (until it expires), a gift card is credited."""
    return RedemptionOut.of(await redemptions.void(session, actor, redemption_id=redemption_id,
                                                   reason=body.reason))


@router.post("/v1/reservations", status_code=201, responses=errors(
    MissingScope, TooManyAttempts, CouponLocked, redemptions.CouponNotReservable,
    *NOT_REDEEMABLE, *redemptions.ORDER_REFUSALS))
async def reserve(body: ReserveRequest, request: Request, session: SessionDep,
                  actor: Redeemer) -> ReservationOut:
    """Hold a coupon for a checkout for `hold_minutes`; confirm or release it after."""
    async with code_guard(request, actor, code=body.code, customer=body.customer_id):
        reservation, _ = await redemptions.reserve(session, actor, redemptions.order_of(body),
                                                   hold=timedelta(minutes=body.hold_minutes))
    return ReservationOut.of(reservation)


@router.post("/v1/reservations/{reservation_id}/confirm", status_code=201, responses=errors(
    MissingScope, redemptions.ReservationNotFound, redemptions.ReservationExpired,
    redemptions.ReservationReleased, CouponRevoked, CouponExpired))
async def confirm_reservation(reservation_id: uuid.UUID, session: SessionDep,
                              actor: Redeemer) -> RedemptionOut:
    """The checkout completed: the held coupon becomes the redemption. Confirming again (a
    retry, or a second confirm at the same moment) answers the same redemption; a released
    hold answers 409 `reservation_released`, a timed-out one `reservation_expired`."""
    return RedemptionOut.of(
        await redemptions.confirm(session, actor, reservation_id=reservation_id))


@router.post("/v1/reservations/{reservation_id}/release", responses=errors(
    MissingScope, redemptions.ReservationNotFound, CouponAlreadyRedeemed))
async def release_reservation(reservation_id: uuid.UUID, session: SessionDep,
                              actor: Redeemer) -> ReservationOut:
    """The checkout was abandoned: the coupon is free again. A confirmed reservation (also one
    confirmed at the same moment) answers 409 `coupon_already_redeemed`: void the redemption
    instead."""
    return ReservationOut.of(
        await redemptions.release(session, actor, reservation_id=reservation_id))
