"""Why a coupon cannot be used: one error, one stable code, each with the facts a till needs."""

from __future__ import annotations

from amends.errors import Conflict, NotFound


class CouponNotFound(NotFound):
    code, title = "coupon_not_found", "No coupon has this code"


class CouponExpired(Conflict):
    code, title = "coupon_expired", "The coupon has expired"


class CouponAlreadyRedeemed(Conflict):
    code, title = "coupon_already_redeemed", "The coupon has been used"


class CouponRevoked(Conflict):
    code, title = "coupon_revoked", "The coupon was withdrawn"


class CouponNotYetValid(Conflict):
    code, title = "coupon_not_yet_valid", "The coupon is not valid yet"


class WrongCustomer(Conflict):
    code, title = "wrong_customer", "The coupon belongs to another customer"


class MinimumOrderNotMet(Conflict):
    code, title = "minimum_order_not_met", "The order is below the coupon's minimum"


class CouponReserved(Conflict):
    code, title = "coupon_reserved", "Another checkout holds the coupon"


class CurrencyMismatch(Conflict):
    code, title = "currency_mismatch", "The order is in another currency than the coupon"


class CodePoolExhausted(Conflict):
    code, title = "code_pool_exhausted", "The code pool has no codes left"


class IncentiveInactive(Conflict):
    code, title = "incentive_inactive", "The incentive is withdrawn from the catalogue"


class IncentiveEnded(Conflict):
    code, title = "incentive_ended", "The incentive's validity has ended"


NOT_REDEEMABLE: tuple[type[Conflict] | type[NotFound], ...] = (
    CouponNotFound, CouponExpired, CouponAlreadyRedeemed, CouponRevoked, CouponNotYetValid,
    WrongCustomer, MinimumOrderNotMet, CouponReserved, CurrencyMismatch,
)
