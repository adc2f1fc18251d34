"""A gift card's ledger: every movement of its balance (issued, each debit with its order,
store and till, and each void that credited a debit back), newest first."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.coupons import policy
from amends.coupons.service import get_coupon
from amends.db import Database
from amends.errors import Conflict
from amends.kit.pagination import Page, decode_cursor, encode_cursor
from amends.models import Coupon, GiftCardEntry, Redemption

CSV_COLUMNS = ("created_at", "kind", "amount", "currency", "balance_after", "order_id",
               "store_id", "till_id", "channel", "voided_at", "reason", "redemption_id")


class NotAGiftCard(Conflict):
    code, title = "not_a_gift_card", "Only a gift card has a ledger"


@dataclass(frozen=True, slots=True)
class Entry:
    """One movement of the balance. `kind`: issue (the starting balance), debit (a
    redemption: `amount` is negative) or credit (a void gave a debit back, `reason` says
    why). A debit that was voided later carries `voided_at`."""

    id: uuid.UUID
    kind: str
    amount: int
    currency: str
    balance_after: int
    created_at: datetime
    redemption_id: uuid.UUID | None
    order_id: str | None
    store_id: str | None
    till_id: str | None
    channel: str | None
    voided_at: datetime | None
    reason: str | None


async def gift_card(session: AsyncSession, actor: Actor, *, coupon_id: uuid.UUID) -> Coupon:
    """The coupon, which must be a gift card (`NotAGiftCard` otherwise)."""
    coupon = await get_coupon(session, actor, coupon_id=coupon_id)
    if coupon.kind != policy.GIFT_CARD:
        raise NotAGiftCard(f"{coupon.name} is not a gift card: it has no balance to account "
                           "for.", kind=coupon.kind)
    return coupon


async def entries(session: AsyncSession, actor: Actor, *, coupon: Coupon,
                  cursor: str | None, limit: int) -> Page[Entry]:
    """One page of the card's ledger, newest first (entry ids are time-ordered), each entry
    with the redemption it records read alongside."""
    query = select(GiftCardEntry, Redemption).outerjoin(Redemption, and_(
        Redemption.organization_id == GiftCardEntry.organization_id,
        Redemption.id == GiftCardEntry.redemption_id)).where(
        GiftCardEntry.organization_id == actor.organization_id,
        GiftCardEntry.coupon_id == coupon.id)
    if cursor:
        query = query.where(GiftCardEntry.id < decode_cursor(cursor))
    rows = (await session.execute(
        query.order_by(GiftCardEntry.id.desc()).limit(limit + 1))).all()
    more = len(rows) > limit
    found = [_entry(entry, redemption, coupon.currency) for entry, redemption in rows[:limit]]
    return Page(items=found, next_cursor=encode_cursor(found[-1].id) if more else None)


def _entry(entry: GiftCardEntry, redemption: Redemption | None, currency: str) -> Entry:
    voided = redemption is not None and redemption.status == "voided"
    return Entry(
        id=entry.id, kind=entry.kind, amount=entry.amount, currency=currency,
        balance_after=entry.balance_after, created_at=entry.created_at,
        redemption_id=entry.redemption_id,
        order_id=redemption.order_id if redemption else None,
        store_id=redemption.store_id if redemption else None,
        till_id=redemption.till_id if redemption else None,
        channel=redemption.channel if redemption else None,
        voided_at=redemption.voided_at if voided and entry.kind == "debit" and redemption
        else None,
        reason=redemption.void_reason if entry.kind == "credit" and redemption else None)


async def every_entry(db: Database, actor: Actor, *, coupon: Coupon, page_size: int = 500
                      ) -> AsyncIterator[Entry]:
    """The whole ledger, newest first, a page at a time in short read transactions of their
    own (for the CSV: nothing is held open while the client downloads)."""
    cursor: str | None = None
    while True:
        async with db.transaction(write=False) as session:
            page = await entries(session, actor, coupon=coupon, cursor=cursor,
                                 limit=page_size)
        for entry in page.items:
            yield entry
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def csv_cells(entry: Entry) -> list[object]:
    """An entry as a row of the CSV: amounts in minor units, times in UTC (ISO 8601)."""
    values: dict[str, object] = {
        "created_at": entry.created_at.isoformat(), "kind": entry.kind,
        "amount": entry.amount, "currency": entry.currency,
        "balance_after": entry.balance_after, "order_id": entry.order_id,
        "store_id": entry.store_id, "till_id": entry.till_id, "channel": entry.channel,
        "voided_at": entry.voided_at.isoformat() if entry.voided_at else None,
        "reason": entry.reason, "redemption_id": entry.redemption_id}
    return [values[column] for column in CSV_COLUMNS]


# The latest movements a console page shows of each card (the API and its CSV have them all).
PAGE_ROWS = 20


async def of_cards(session: AsyncSession, actor: Actor, cards: Sequence[Coupon], *,
                   rows: int = PAGE_ROWS) -> list[tuple[Coupon, Page[Entry]]]:
    """The latest movements of each gift card among `cards` (other coupons have none)."""
    return [(card, await entries(session, actor, coupon=card, cursor=None, limit=rows))
            for card in cards if card.kind == policy.GIFT_CARD]


async def customer_cards(session: AsyncSession, actor: Actor, *, customer_id: uuid.UUID,
                         limit: int = 10) -> list[Coupon]:
    """The customer's latest gift cards, newest first."""
    return list((await session.scalars(select(Coupon).where(
        Coupon.organization_id == actor.organization_id, Coupon.customer_id == customer_id,
        Coupon.kind == policy.GIFT_CARD).order_by(Coupon.issued_at.desc()).limit(limit))).all())
