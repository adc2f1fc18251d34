"""Validate, redeem, reserve, confirm, release and void: each state change is one conditional
UPDATE, and a zero-row answer is explained by a follow-up read, never decided in Python first.

Single-use coupons (percent_off, amount_off, free_item) go from active to redeemed once. Gift
cards are debited (never below zero) until their balance is used up. Free shipping is a perk
for a period: it can be used on every order until it expires.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from amends.actor import Actor
from amends.audit import service as audit
from amends.coupons import policy
from amends.coupons.errors import (
    CouponAlreadyRedeemed,
    CouponExpired,
    CouponNotFound,
    CouponNotYetValid,
    CouponReserved,
    CouponRevoked,
    CurrencyMismatch,
    MinimumOrderNotMet,
    WrongCustomer,
)
from amends.db import driver_connection
from amends.errors import AmendsError, Conflict, NotFound, ValidationFailed
from amends.kit import codes
from amends.kit.clock import utcnow
from amends.kit.ids import new_id
from amends.kit.sql import dialect_of
from amends.models import Coupon, GiftCardEntry, Redemption, Reservation
from amends.redemptions import fastpath
from amends.redemptions import sqlite as sqlite_path
from amends.redemptions.schemas import RedeemRequest
from amends.rollups import changes
from amends.shops import outbox as shops_outbox
from amends.wallet import outbox as wallet_outbox
from amends.webhooks import service as webhooks


class RedemptionNotFound(NotFound):
    code, title = "redemption_not_found", "No such redemption"


class RedemptionAlreadyVoided(Conflict):
    code, title = "redemption_already_voided", "The redemption was voided already"


class ReservationNotFound(NotFound):
    code, title = "reservation_not_found", "No such reservation"


class ReservationExpired(Conflict):
    code, title = "reservation_expired", "The reservation timed out"


class ReservationReleased(Conflict):
    code, title = "reservation_released", "The reservation was released"


class CouponNotReservable(Conflict):
    code, title = "coupon_not_reservable", "Only single-use coupons can be reserved"


class OrderAmountNotPositive(ValidationFailed):
    code, title = "order_amount_not_positive", "A coupon is used on an order of more than 0"


class ShippingExceedsOrder(ValidationFailed):
    code, title = "shipping_exceeds_order", "The shipping cost is part of the order amount"


class CustomerRequired(Conflict):
    code, title = "customer_required", "The coupon is bound to a customer: name them"


class NothingToTakeOff(Conflict):
    code, title = "nothing_to_take_off", "The coupon takes nothing off this order"


# Refusals for the order's amounts, or its missing customer, rather than the coupon's state.
ORDER_REFUSALS = (OrderAmountNotPositive, ShippingExceedsOrder, NothingToTakeOff,
                  CustomerRequired)


@dataclass(frozen=True, slots=True)
class Order:
    """The checkout a code is presented at."""

    code: str
    order_amount: int
    customer_external_id: str | None = None
    currency: str | None = None
    order_id: str = ""
    channel: str = "in_store"
    store_id: str | None = None
    till_id: str | None = None
    shipping_amount: int | None = None
    # What the checkout already took off (an online shop's own discount engine applied the
    # code): recorded as it is instead of Amends' quote, never more than the order.
    discount: int | None = None


def order_of(body: RedeemRequest) -> Order:
    """The checkout a redeem or reserve request describes."""
    return Order(code=body.code, order_amount=body.order_amount,
                 customer_external_id=body.customer_id, currency=body.currency,
                 order_id=body.order_id, channel=body.channel.value, store_id=body.store_id,
                 till_id=body.till_id, shipping_amount=body.shipping_amount)


@dataclass(frozen=True, slots=True)
class Quote:
    coupon: Coupon
    discount: int


def order_refusal(order_amount: int, shipping_amount: int | None) -> AmendsError | None:
    """Why no coupon may be used on this order, or None: an amount of 0 or less (a single-use
    coupon would be used up for nothing), or a shipping cost above the order it is part of.
    The tills' lane asks too, so both paths refuse alike."""
    if order_amount <= 0:
        return OrderAmountNotPositive(
            "Send the order's amount in minor units, more than 0; the coupon is unchanged.",
            field="order_amount")
    if shipping_amount is not None and shipping_amount > order_amount:
        return ShippingExceedsOrder(
            f"The shipping cost ({shipping_amount}) is part of the order amount "
            f"({order_amount}) and cannot be more.", field="shipping_amount")
    return None


def check_order(order: Order) -> None:
    error = order_refusal(order.order_amount, order.shipping_amount)
    if error is not None:
        raise error


def code_candidates(text: str) -> list[str]:
    """The stored forms a typed code may have: ours (O->0, I/L->1) and a pool's (as typed)."""
    ours, theirs = codes.normalise(text), codes.external_form(text)
    return [ours] if ours == theirs else [ours, theirs]


async def find_by_code(session: AsyncSession, actor: Actor, text: str) -> Coupon | None:
    return await session.scalar(
        select(Coupon)
        .where(Coupon.organization_id == actor.organization_id,
               Coupon.code.in_(code_candidates(text)))
        .execution_options(populate_existing=True))


async def _last_redemption(session: AsyncSession, coupon: Coupon) -> Redemption | None:
    return await session.scalar(
        select(Redemption)
        .where(Redemption.organization_id == coupon.organization_id,
               Redemption.coupon_id == coupon.id, Redemption.status == "completed")
        .order_by(Redemption.created_at.desc()).limit(1))


async def explain(session: AsyncSession, coupon: Coupon | None, order: Order, now: datetime,
                  *, reservation_id: uuid.UUID | None = None) -> AmendsError | None:
    """Why this coupon cannot be used for this order now, or None when it can: the one
    account of the rules that validate answers with and redeem and reserve explain their
    refusals with, so that a check never passes what a redeem of the same order refuses."""
    if coupon is None:
        typed = codes.normalise(order.code)
        return CouponNotFound(
            "No coupon has this code." if codes.is_valid(typed) else
            "The code does not check out: a character is probably mistyped.")
    if coupon.bound_to_customer and not order.customer_external_id:
        return CustomerRequired(
            "This coupon is bound to the customer it was issued to: send the customer's id "
            "(`customer_id`) to check or use it.")
    if coupon.bound_to_customer and order.customer_external_id != coupon.customer_external_id:
        return WrongCustomer("This coupon can only be used by the customer it was issued to.")
    if coupon.status == "revoked":
        return CouponRevoked(coupon.revoked_reason or None,
                             revoked_at=_iso(coupon.revoked_at))
    if coupon.status == "redeemed":
        last = await _last_redemption(session, coupon)
        used_at = last.created_at if last else coupon.redeemed_at
        where = (last.store_id or last.channel) if last else None
        detail = "The gift card's balance is used up." if coupon.kind == policy.GIFT_CARD \
            else f"Used on {used_at:%d %B %Y at %H:%M} UTC" + (f" at {where}." if where else ".")
        return CouponAlreadyRedeemed(detail, redeemed_at=_iso(used_at),
                                     store_id=last.store_id if last else None,
                                     channel=last.channel if last else None)
    if now < coupon.valid_from:
        return CouponNotYetValid(f"Valid from {coupon.valid_from:%d %B %Y}.",
                                 valid_from=_iso(coupon.valid_from))
    if coupon.expires_at <= now:
        return CouponExpired(f"Expired on {coupon.expires_at:%d %B %Y}.",
                             expires_at=_iso(coupon.expires_at))
    if coupon.status == "reserved" and coupon.reserved_until is not None and \
            coupon.reserved_until > now and coupon.reservation_id != reservation_id:
        return CouponReserved("Another checkout holds this coupon.",
                              reserved_until=_iso(coupon.reserved_until))
    if order.currency and order.currency != coupon.currency:
        return CurrencyMismatch(f"The coupon is in {coupon.currency}.", currency=coupon.currency)
    if coupon.min_order is not None and order.order_amount < coupon.min_order:
        return MinimumOrderNotMet(f"The order must be at least {coupon.min_order} "
                                  f"(minor units of {coupon.currency}).",
                                  min_order=coupon.min_order, currency=coupon.currency)
    if order.order_amount > 0 and coupon.kind in policy.SINGLE_USE_KINDS and \
            _quote(coupon, order) == 0:
        return _nothing_off(coupon)
    return None


def _nothing_off(coupon: Coupon) -> NothingToTakeOff:
    return NothingToTakeOff("On an order this small the coupon takes nothing off (a "
                            "percentage rounds to 0); it is kept for a larger order.")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _quote(coupon: Coupon, order: Order) -> int:
    if order.discount is not None:
        return max(0, min(order.discount, order.order_amount))
    return policy.discount(coupon.kind, coupon.value, order.order_amount,
                           balance=coupon.balance, shipping_amount=order.shipping_amount)


async def validate(session: AsyncSession, actor: Actor, order: Order, *,
                   amount_known: bool = True) -> Quote:
    """What redeem would answer for the same order, without changing anything: the same
    rules (`check_order`, then `explain`), the customer's binding included (a coupon bound
    to its customer answers `customer_required` when none is named, as redeem does). Only the
    order's amount may be left out: then the code alone is checked (a minimum order against
    0) and the discount quoted is 0."""
    if amount_known:
        check_order(order)
    coupon = await find_by_code(session, actor, order.code)
    error = await explain(session, coupon, order, utcnow())
    if error is not None:
        raise error
    assert coupon is not None
    return Quote(coupon=coupon, discount=_quote(coupon, order))


def _usable(order: Order, now: datetime, actor: Actor) -> list[ColumnElement[bool]]:
    """The conditions under which a coupon may be used now, as SQL."""
    return [
        Coupon.organization_id == actor.organization_id,
        Coupon.code.in_(code_candidates(order.code)),
        Coupon.valid_from <= now,
        Coupon.expires_at > now,
        or_(Coupon.bound_to_customer.is_(False),
            Coupon.customer_external_id == order.customer_external_id
            if order.customer_external_id else false()),
        or_(Coupon.min_order.is_(None), Coupon.min_order <= order.order_amount),
        *([Coupon.currency == order.currency] if order.currency else []),
    ]


def _free(now: datetime) -> ColumnElement[bool]:
    """Active, or held by a reservation that has timed out."""
    return or_(Coupon.status == "active",
               and_(Coupon.status == "reserved", Coupon.reserved_until <= now))


async def _record(session: AsyncSession, actor: Actor, coupon: Coupon, order: Order,
                  discount: int, now: datetime, *, uses: int,
                  reservation_id: uuid.UUID | None = None,
                  balance_after: int | None = None) -> Redemption:
    """The redemption and what it leaves behind; `uses` is the coupon's number of completed
    uses with this one."""
    redemption = Redemption(
        organization_id=actor.organization_id, coupon_id=coupon.id,
        reservation_id=reservation_id, order_id=order.order_id,
        order_amount=order.order_amount, discount=discount, currency=coupon.currency,
        channel=order.channel, store_id=order.store_id, till_id=order.till_id,
        status="completed", actor_id=actor.id, created_at=now,
    )
    session.add(redemption)
    await session.flush()
    if coupon.kind == policy.GIFT_CARD:
        assert balance_after is not None
        session.add(GiftCardEntry(organization_id=actor.organization_id, coupon_id=coupon.id,
                                  redemption_id=redemption.id, kind="debit", amount=-discount,
                                  balance_after=balance_after, created_at=now))
    after = _after(coupon.code, order, discount)
    if balance_after is not None:
        after["balance_after"] = balance_after
    await audit.record(session, actor, action="coupon.redeemed", object_type="coupon",
                       object_id=coupon.id, after=after)
    await changes.changed(session, actor.organization_id, redemptions=[now])
    await changes.used(session, coupon, uses=uses, discount=discount)
    await _announce(session, actor, redemption_id=redemption.id, coupon_id=coupon.id,
                    customer_external_id=coupon.customer_external_id,
                    case_ref=coupon.case_ref, after=after)
    return redemption


def _after(code: str, order: Order, discount: int) -> dict[str, Any]:
    """The audit event's record of a redemption (the webhook's data after its ids)."""
    return {"code": code, "order_id": order.order_id, "order_amount": order.order_amount,
            "discount": discount, "channel": order.channel, "store_id": order.store_id}


async def _announce(session: AsyncSession, actor: Actor, *, redemption_id: uuid.UUID,
                    coupon_id: uuid.UUID, customer_external_id: str, case_ref: str,
                    after: dict[str, Any]) -> None:
    """The outbox of a redemption, in its transaction: the webhook deliveries, the wallet
    pass's update and the shops' sync (PostgreSQL's one statement writes the same rows)."""
    await webhooks.emit(session, actor.organization_id, "coupon.redeemed",
                        {"redemption_id": str(redemption_id), "coupon_id": str(coupon_id),
                         "customer_id": customer_external_id,
                         "case_reference": case_ref or None, **after})
    await wallet_outbox.coupon_changed(session, organization_id=actor.organization_id,
                                       coupon_id=coupon_id)
    await shops_outbox.coupon_changed(session, organization_id=actor.organization_id,
                                      coupon_id=coupon_id)


def statement_values(actor: Actor, order: Order, now: datetime, *, outbox: fastpath.Outbox,
                     record: fastpath.KeyRecord | None = None) -> dict[str, Any]:
    """The parameters of PostgreSQL's one statement (or Citus's two) for this order."""
    return fastpath.arguments(
        actor, codes=code_candidates(order.code), now=now,
        customer_external_id=order.customer_external_id, order_id=order.order_id,
        order_amount=order.order_amount, currency=order.currency, channel=order.channel,
        store_id=order.store_id, till_id=order.till_id, given=order.discount, outbox=outbox,
        record=record)


async def outbox_of(session: AsyncSession, organization_id: uuid.UUID) -> fastpath.Outbox:
    """What a redemption in the organisation writes besides its own rows (cached per
    process for a few seconds; see `webhooks.wants`)."""
    return fastpath.Outbox(
        webhooks=await webhooks.wants(session, organization_id, "coupon.redeemed"),
        wallet=await wallet_outbox.apple_configured(session, organization_id),
        shops=await shops_outbox.active_connections(session, organization_id))


async def _redeem_on_postgres(session: AsyncSession, actor: Actor, order: Order,
                              now: datetime) -> Redemption | None:
    """PostgreSQL's redeem of a single-use coupon (`fastpath`), in the session's transaction
    when it has one (it read the API key, or holds an Idempotency-Key), else on its own on
    an autocommit connection; None when no coupon matched (the caller explains why). On
    Citus the claim and the record, then the outbox's rows, in the session's transaction."""
    outbox = await outbox_of(session, actor.organization_id)
    values = statement_values(actor, order, now, outbox=outbox)
    if not session.in_transaction():
        engine = session.bind
        assert isinstance(engine, AsyncEngine)
        async with driver_connection(engine) as connection:
            if not await fastpath.on_citus(connection):
                return _redeemed(session, await fastpath.redeem_row(
                    connection, values, outbox=outbox), values)
    raw = await (await session.connection()).get_raw_connection()
    connection = raw.driver_connection
    if not await fastpath.on_citus(connection):
        return _redeemed(session, await fastpath.redeem_row(connection, values, outbox=outbox),
                         values)
    row = await fastpath.claim_and_record(connection, values)
    if row is None:
        return None
    await _announce(session, actor, redemption_id=row["id"], coupon_id=row["coupon_id"],
                    customer_external_id=row["customer_external_id"], case_ref=row["case_ref"],
                    after=_after(row["code"], order, int(row["discount"])))
    return fastpath.redemption_of(row, values)


def _redeemed(session: AsyncSession, row: Mapping[str, Any] | None, values: dict[str, Any]
              ) -> Redemption | None:
    if row is None:
        return None
    if row.get("jobs"):
        session.info["jobs_enqueued"] = True  # the worker of this process wakes
    return fastpath.redemption_of(row, values)


async def redeem(session: AsyncSession, actor: Actor, order: Order) -> Redemption:
    """Use a coupon once for an order, atomically: a single-use coupon in one statement on
    PostgreSQL (two on Citus), in the transactional path on SQLite; a gift card is debited,
    a free-shipping perk used."""
    check_order(order)
    now = utcnow()
    claim = _redeem_on_postgres if dialect_of(session) == "postgresql" else _redeem_on_sqlite
    redemption = await claim(session, actor, order, now)
    if redemption is not None:
        return redemption
    coupon = await find_by_code(session, actor, order.code)
    error = await explain(session, coupon, order, now)
    if error is not None:
        raise error
    assert coupon is not None
    if coupon.kind == policy.GIFT_CARD:
        return await _debit_gift_card(session, actor, coupon, order, now)
    if coupon.kind == policy.FREE_SHIPPING:
        return await _use_perk(session, actor, coupon, order, now)
    # Usable when read, not when updated: another checkout took it in between.
    raise CouponAlreadyRedeemed("The coupon was used a moment ago.")


async def _redeem_on_sqlite(session: AsyncSession, actor: Actor, order: Order,
                            now: datetime) -> Redemption | None:
    """SQLite's redeem of a single-use coupon (`redemptions.sqlite`), in the request's
    transaction (which holds the write lock from its start); None when no coupon matched."""
    outbox = await outbox_of(session, actor.organization_id)
    values = statement_values(actor, order, now, outbox=outbox)
    row = await sqlite_path.run_async(await session.connection(),
                                      sqlite_path.steps(values, outbox))
    if row is not None:
        # The session may hold the coupon as it was: it is given what the UPDATE wrote.
        held = session.identity_map.get(identity_key(Coupon, (actor.organization_id,
                                                              row["coupon_id"])))
        if held is not None:
            for name, value in (("status", "redeemed"), ("redeemed_at", now),
                                ("redemption_count", row["uses"]), ("reservation_id", None),
                                ("reserved_until", None)):
                set_committed_value(held, name, value)
    return _redeemed(session, row, values)


async def _debit_gift_card(session: AsyncSession, actor: Actor, coupon: Coupon, order: Order,
                           now: datetime) -> Redemption:
    """Debit as much of the order as the balance covers; the balance never goes below zero.

    In an UPDATE every right-hand side reads the row's old values, so `last_debit` and the new
    `balance` are computed from the same balance, under the row lock.
    """
    amount = order.order_amount if order.discount is None else order.discount
    covered = case((Coupon.balance >= amount, amount), else_=Coupon.balance)
    row = (await session.execute(
        update(Coupon)
        .where(Coupon.id == coupon.id, *_usable(order, now, actor), Coupon.status == "active",
               Coupon.balance > 0)
        .values(last_debit=covered,
                balance=case((Coupon.balance >= amount, Coupon.balance - amount), else_=0),
                status=case((Coupon.balance <= amount, "redeemed"), else_="active"),
                redeemed_at=now, redemption_count=Coupon.redemption_count + 1)
        .returning(Coupon.last_debit, Coupon.balance, Coupon.redemption_count)
        .execution_options(synchronize_session=False)
    )).one_or_none()
    if row is None:
        fresh = await find_by_code(session, actor, order.code)
        error = await explain(session, fresh, order, now)
        raise error or CouponAlreadyRedeemed("The gift card's balance is used up.")
    debit, balance = int(row[0] or 0), int(row[1] or 0)
    return await _record(session, actor, coupon, order, debit, now, uses=int(row[2]),
                         balance_after=balance)


async def _use_perk(session: AsyncSession, actor: Actor, coupon: Coupon, order: Order,
                    now: datetime) -> Redemption:
    uses = (await session.scalars(
        update(Coupon)
        .where(Coupon.id == coupon.id, *_usable(order, now, actor), Coupon.status == "active")
        .values(redeemed_at=now, redemption_count=Coupon.redemption_count + 1)
        .returning(Coupon.redemption_count)
        .execution_options(synchronize_session=False))).one_or_none()
    if uses is None:
        fresh = await find_by_code(session, actor, order.code)
        raise await explain(session, fresh, order, now) or CouponAlreadyRedeemed()
    return await _record(session, actor, coupon, order, _quote(coupon, order), now, uses=uses)


async def get_redemption(session: AsyncSession, actor: Actor, *, redemption_id: uuid.UUID
                         ) -> Redemption:
    redemption = await session.scalar(select(Redemption).where(
        Redemption.id == redemption_id, Redemption.organization_id == actor.organization_id
    ).execution_options(populate_existing=True))
    if redemption is None:
        raise RedemptionNotFound()
    return redemption


async def void(session: AsyncSession, actor: Actor, *, redemption_id: uuid.UUID,
               reason: str) -> Redemption:
    """Undo a redemption on a refund: the coupon is usable again (until it expires), a gift
    card gets the amount back. Each redemption is voided at most once."""
    redemption = await get_redemption(session, actor, redemption_id=redemption_id)
    now = utcnow()
    result = await session.execute(
        update(Redemption)
        .where(Redemption.organization_id == redemption.organization_id,
               Redemption.id == redemption.id, Redemption.status == "completed")
        .values(status="voided", voided_at=now, void_reason=reason)
        .execution_options(synchronize_session=False))
    if not getattr(result, "rowcount", 0):
        raise RedemptionAlreadyVoided()
    coupon = await session.get(Coupon, (redemption.organization_id, redemption.coupon_id),
                               populate_existing=True)
    assert coupon is not None
    after: dict[str, Any] = {"redemption_id": str(redemption.id), "discount": redemption.discount}
    if coupon.kind == policy.GIFT_CARD:
        balance, uses = (await session.execute(
            update(Coupon).where(Coupon.organization_id == coupon.organization_id,
                                 Coupon.id == coupon.id)
            .values(balance=Coupon.balance + redemption.discount,
                    status=case((Coupon.status == "redeemed", "active"), else_=Coupon.status),
                    redemption_count=Coupon.redemption_count - 1)
            .returning(Coupon.balance, Coupon.redemption_count)
            .execution_options(synchronize_session=False)
        )).one()
        session.add(GiftCardEntry(organization_id=actor.organization_id, coupon_id=coupon.id,
                                  redemption_id=redemption.id, kind="credit",
                                  amount=redemption.discount, balance_after=int(balance or 0),
                                  created_at=now))
        after["balance_after"] = int(balance or 0)
    else:
        uses = (await session.scalars(
            update(Coupon).where(Coupon.organization_id == coupon.organization_id,
                                 Coupon.id == coupon.id)
            .values(status=case((Coupon.status == "redeemed", "active"), else_=Coupon.status),
                    redemption_count=Coupon.redemption_count - 1,
                    redeemed_at=None)
            .returning(Coupon.redemption_count)
            .execution_options(synchronize_session=False))).one()
    await audit.record(session, actor, action="redemption.voided", object_type="coupon",
                       object_id=coupon.id, reason=reason, after=after)
    await changes.changed(session, actor.organization_id, redemptions=[redemption.created_at])
    await changes.use_voided(session, coupon, uses=int(uses), discount=redemption.discount)
    await wallet_outbox.coupon_changed(session, organization_id=coupon.organization_id,
                                       coupon_id=coupon.id)
    await shops_outbox.coupon_changed(session, organization_id=coupon.organization_id,
                                      coupon_id=coupon.id)
    return await get_redemption(session, actor, redemption_id=redemption.id)


async def reserve(session: AsyncSession, actor: Actor, order: Order, *,
                  hold: timedelta) -> tuple[Reservation, Coupon]:
    """Hold a single-use coupon for a checkout; another checkout gets `coupon_reserved`."""
    check_order(order)
    now = utcnow()
    reservation = Reservation(
        id=new_id(), organization_id=actor.organization_id, coupon_id=uuid.UUID(int=0),
        order_id=order.order_id, order_amount=order.order_amount, channel=order.channel,
        store_id=order.store_id, till_id=order.till_id, status="held",
        expires_at=now + hold, created_at=now,
    )
    coupon = (await session.scalars(
        update(Coupon)
        .where(*_usable(order, now, actor), _free(now),
               Coupon.kind.in_(policy.SINGLE_USE_KINDS))
        .values(status="reserved", reserved_until=now + hold, reservation_id=reservation.id)
        .returning(Coupon)
        .execution_options(synchronize_session=False, populate_existing=True)
    )).one_or_none()
    if coupon is None:
        found = await find_by_code(session, actor, order.code)
        error = await explain(session, found, order, now)
        if error is not None:
            raise error
        assert found is not None
        if found.kind not in policy.SINGLE_USE_KINDS:
            raise CouponNotReservable("Gift cards and free shipping are used, not reserved.")
        raise CouponReserved("Another checkout took the coupon a moment ago.")
    if _quote(coupon, order) == 0:
        raise _nothing_off(coupon)  # the request rolls back: the coupon stays as it was
    reservation.coupon_id = coupon.id
    session.add(reservation)
    await session.flush()
    await audit.record(session, actor, action="coupon.reserved", object_type="coupon",
                       object_id=coupon.id,
                       after={"reservation_id": str(reservation.id), "order_id": order.order_id,
                              "until": reservation.expires_at.isoformat()})
    return reservation, coupon


async def get_reservation(session: AsyncSession, actor: Actor, *, reservation_id: uuid.UUID
                          ) -> Reservation:
    reservation = await session.scalar(select(Reservation).where(
        Reservation.id == reservation_id, Reservation.organization_id == actor.organization_id
    ).execution_options(populate_existing=True))
    if reservation is None:
        raise ReservationNotFound()
    return reservation


async def _reservation_gone(session: AsyncSession, reservation: Reservation,
                            now: datetime) -> AmendsError:
    """Why a reservation read after its confirm found nothing to confirm cannot be confirmed."""
    if reservation.status == "released":
        return ReservationReleased("The checkout released the coupon; reserve or redeem again.")
    coupon = await session.get(Coupon, (reservation.organization_id, reservation.coupon_id),
                               populate_existing=True)
    if coupon is not None and coupon.status == "revoked":
        return CouponRevoked(coupon.revoked_reason or None, revoked_at=_iso(coupon.revoked_at))
    if coupon is not None and coupon.expires_at <= now:
        return CouponExpired(f"Expired on {coupon.expires_at:%d %B %Y}.",
                             expires_at=_iso(coupon.expires_at))
    return ReservationExpired(
        f"The hold ended at {reservation.expires_at:%H:%M:%S} UTC; reserve or redeem again.")


async def _redemption_of(session: AsyncSession, reservation: Reservation) -> Redemption:
    return (await session.scalars(select(Redemption).where(
        Redemption.organization_id == reservation.organization_id,
        Redemption.reservation_id == reservation.id))).one()


async def confirm(session: AsyncSession, actor: Actor, *, reservation_id: uuid.UUID
                  ) -> Redemption:
    """Turn a held reservation into the redemption. Idempotent: confirming a confirmed
    reservation answers its redemption, also when two confirms arrive at the same moment.

    When the conditional UPDATE finds nothing, the reservation is read again to say why: on
    PostgreSQL the UPDATE waited for a concurrent confirm or release to commit, and a new
    statement (READ COMMITTED) sees what it did; the first read may predate it."""
    reservation = await get_reservation(session, actor, reservation_id=reservation_id)
    if reservation.status == "confirmed":
        return await _redemption_of(session, reservation)
    now = utcnow()
    coupon = (await session.scalars(
        update(Coupon)
        .where(Coupon.organization_id == reservation.organization_id,
               Coupon.id == reservation.coupon_id, Coupon.status == "reserved",
               Coupon.reservation_id == reservation.id, Coupon.reserved_until > now,
               Coupon.expires_at > now)
        .values(status="redeemed", redeemed_at=now, reservation_id=None, reserved_until=None,
                redemption_count=Coupon.redemption_count + 1)
        .returning(Coupon)
        .execution_options(synchronize_session=False, populate_existing=True)
    )).one_or_none()
    if coupon is None:
        fresh = await get_reservation(session, actor, reservation_id=reservation.id)
        if fresh.status == "confirmed":
            return await _redemption_of(session, fresh)
        raise await _reservation_gone(session, fresh, now)
    await session.execute(
        update(Reservation).where(Reservation.organization_id == reservation.organization_id,
                                  Reservation.id == reservation.id)
        .values(status="confirmed", finished_at=now).execution_options(synchronize_session=False))
    order = Order(code=coupon.code, order_amount=reservation.order_amount,
                  customer_external_id=coupon.customer_external_id, order_id=reservation.order_id,
                  channel=reservation.channel, store_id=reservation.store_id,
                  till_id=reservation.till_id)
    return await _record(session, actor, coupon, order, _quote(coupon, order), now,
                         uses=coupon.redemption_count, reservation_id=reservation.id)


async def release(session: AsyncSession, actor: Actor, *, reservation_id: uuid.UUID
                  ) -> Reservation:
    """Give the coupon back to the customer (checkout abandoned). Releasing again answers the
    released reservation; a confirmed one is refused, also when the confirm arrived at the
    same moment (the reservation is read again to tell)."""
    reservation = await get_reservation(session, actor, reservation_id=reservation_id)
    now = utcnow()
    await session.execute(
        update(Coupon)
        .where(Coupon.organization_id == reservation.organization_id,
               Coupon.id == reservation.coupon_id, Coupon.status == "reserved",
               Coupon.reservation_id == reservation.id)
        .values(status="active", reservation_id=None, reserved_until=None)
        .execution_options(synchronize_session=False))
    result = await session.execute(
        update(Reservation).where(Reservation.organization_id == reservation.organization_id,
                                  Reservation.id == reservation.id,
                                  Reservation.status == "held")
        .values(status="released", finished_at=now).execution_options(synchronize_session=False))
    if getattr(result, "rowcount", 0):
        await audit.record(session, actor, action="coupon.released", object_type="coupon",
                           object_id=reservation.coupon_id,
                           after={"reservation_id": str(reservation.id)})
    fresh = await get_reservation(session, actor, reservation_id=reservation.id)
    if fresh.status == "confirmed":
        raise CouponAlreadyRedeemed("The reservation was confirmed; void the redemption.")
    return fresh


async def expire_holds(session: AsyncSession) -> int:
    """Release the holds that timed out (redeem and reserve already ignore them)."""
    now = utcnow()
    await session.execute(
        update(Coupon)
        .where(Coupon.status == "reserved", Coupon.reserved_until <= now)
        .values(status="active", reservation_id=None, reserved_until=None)
        .execution_options(synchronize_session=False))
    result = await session.execute(
        update(Reservation).where(Reservation.status == "held", Reservation.expires_at <= now)
        .values(status="expired", finished_at=now).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
