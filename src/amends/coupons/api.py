from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from amends.actor import Actor
from amends.approvals import service as approvals
from amends.approvals.schemas import ApprovalOut
from amends.auth import MissingScope, SessionDep, require
from amends.cases import service as cases
from amends.coupons import ledger
from amends.coupons import service as coupons
from amends.coupons.errors import (
    CodePoolExhausted,
    CouponAlreadyRedeemed,
    CouponNotFound,
    CouponRevoked,
    IncentiveEnded,
    IncentiveInactive,
)
from amends.coupons.schemas import (
    CouponIssue,
    CouponOut,
    CouponPage,
    CouponReinstate,
    LedgerEntryOut,
    LedgerPage,
    Reason,
)
from amends.customers import service as customers
from amends.delivery import service as delivery
from amends.errors import ValidationFailed, errors
from amends.incentives import service as incentives
from amends.kit.csvstream import csv_line
from amends.kit.pagination import InvalidCursor
from amends.kit.streaming import ClosingStreamingResponse
from amends.roles import Scope
from amends.routing import router as make_router

router = make_router(prefix="/v1/coupons", tags=["coupons"])


class CustomerRequired(ValidationFailed):
    code, title = "customer_required", "Give customer_id or case_id"

Issuer = Annotated[Actor, Depends(require(Scope.COUPONS_ISSUE))]
Reader = Annotated[Actor, Depends(require(Scope.COUPONS_READ, Scope.COUPONS_ISSUE))]


@router.post("", status_code=201, response_model=CouponOut, responses={
    200: {"model": CouponOut, "description": "Issued before: the same coupon and code"},
    202: {"model": ApprovalOut, "description": "Above the caller's authority: an approval "
          "request for a supervisor"},
    **errors(MissingScope, customers.CustomerNotFound, incentives.IncentiveNotFound,
             IncentiveInactive, IncentiveEnded, CodePoolExhausted, cases.CaseNotFound,
             cases.CaseClosed,
             CustomerRequired, delivery.NoAddressForChannel, delivery.ChannelNotConfigured)})
async def issue_coupon(body: CouponIssue, request: Request, session: SessionDep,
                       actor: Issuer) -> Response:
    """Give a gesture in one click. The same customer + incentive + case always gets the same
    coupon and code (200 when it existed, 201 when created). Above the caller's authority,
    beyond their budget, or a second gesture for the customer within the organisation's window,
    it answers 202 with an approval request instead."""
    case = await cases.get_case(session, actor, case_id=body.case_id) if body.case_id else None
    external_id = case.customer_external_id if case is not None else body.customer_id
    if external_id is None:
        raise CustomerRequired()
    if body.customer is not None:
        customer, _ = await customers.upsert_customer(
            session, actor, external_id=external_id, data=body.customer.model_dump())
    else:
        customer = await customers.get_customer(session, actor, external_id=external_id)
    incentive = await incentives.get_incentive(session, actor, incentive_id=body.incentive_id)
    given = await approvals.give_gesture(
        session, actor, customer=customer, incentive=incentive, case=case,
        case_ref=body.case_reference, channel=body.channel.value if body.channel else None,
        note=body.note)
    if given.approval is not None:
        return JSONResponse(ApprovalOut.model_validate(given.approval).model_dump(mode="json"),
                            status_code=202)
    assert given.coupon is not None
    if given.created and body.deliver and (case is not None or body.channel is not None):
        channel = delivery.BY_CONVERSATION.get(body.channel.value) if body.channel else None
        await delivery.deliver(session, actor, coupon=given.coupon, channel=channel, case=case,
                               base_url=request.app.state.settings.base_url)
    return JSONResponse(CouponOut.of(given.coupon).model_dump(mode="json"),
                        status_code=201 if given.created else 200)


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
    """Reinstate an expired coupon, or extend one, by days or to a date; who and why audited.
    Unless `notify` is false the customer is told, with the new expiry (a customer who cannot
    be reached is noted on the case; the reinstatement stands)."""
    coupon = await coupons.reinstate_coupon(
        session, actor, coupon_id=coupon_id, reason=body.reason, days=body.days,
        expires_at=body.expires_at)
    if body.notify:
        await delivery.deliver_or_note(session, actor, what="Reinstatement",
                                       case=await cases.case_of(session, coupon), coupon=coupon,
                                       kind="reinstatement")
    return CouponOut.of(coupon)


@router.get("/{coupon_id}/ledger",
            responses=errors(MissingScope, CouponNotFound, ledger.NotAGiftCard, InvalidCursor))
async def gift_card_ledger(coupon_id: uuid.UUID, session: SessionDep, actor: Reader,
                           cursor: str | None = None,
                           limit: Annotated[int, Query(ge=1, le=200)] = 50) -> LedgerPage:
    """A gift card's ledger, newest first, with cursor pagination: its starting balance,
    each debit (the order, store, till and channel of the redemption), each void's credit
    (with its reason), and the balance after each. 409 `not_a_gift_card` for another kind
    of coupon."""
    card = await ledger.gift_card(session, actor, coupon_id=coupon_id)
    page = await ledger.entries(session, actor, coupon=card, cursor=cursor, limit=limit)
    return LedgerPage(items=[LedgerEntryOut.model_validate(e, from_attributes=True)
                             for e in page.items], next_cursor=page.next_cursor)


@router.get("/{coupon_id}/ledger.csv", response_class=StreamingResponse, responses={
    **errors(MissingScope, CouponNotFound, ledger.NotAGiftCard),
    200: {"content": {"text/csv": {}}, "description": "The CSV"}})
async def gift_card_ledger_csv(coupon_id: uuid.UUID, request: Request, session: SessionDep,
                               actor: Reader) -> StreamingResponse:
    """The whole ledger of a gift card as CSV (UTF-8, a header row; amounts in minor units,
    times in UTC, ISO 8601), newest first, streamed a page at a time. A cell that starts
    like a spreadsheet formula is written with a leading apostrophe."""
    card = await ledger.gift_card(session, actor, coupon_id=coupon_id)

    async def lines() -> AsyncIterator[str]:
        yield csv_line(list(ledger.CSV_COLUMNS))
        async for entry in ledger.every_entry(request.app.state.db, actor, coupon=card):
            yield csv_line(ledger.csv_cells(entry))

    return ClosingStreamingResponse(lines(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="gift-card-{card.id}-ledger.csv"'})
