from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import StreamingResponse

from amends.actor import Actor
from amends.audit import service as audit
from amends.auth import MissingScope, SessionDep, require
from amends.errors import errors
from amends.exports import service as exports
from amends.exports.service import InvalidDate, Period, PeriodReversed, PeriodTooLong
from amends.kit.streaming import ClosingStreamingResponse
from amends.roles import Scope
from amends.routing import router as make_router
from amends.routing import writes_on_read

router = make_router(prefix="/v1/exports", tags=["exports"])
Reader = Annotated[Actor, Depends(require(Scope.REPORTS_READ))]


def _period(
    first: Annotated[str | None, Query(alias="from", description=(
        "First day (2027-01-01, included) or instant (2027-01-01T00:00:00Z, included)"))] = None,
    last: Annotated[str | None, Query(alias="to", description=(
        "Last day (2027-01-31, included) or instant (2027-02-01T00:00:00Z, excluded)"))] = None,
) -> Period:
    return exports.period(first, last)


PeriodDep = Annotated[Period, Depends(_period)]
CSV_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "The CSV, streamed"}}
REFUSALS = errors(MissingScope, InvalidDate, PeriodReversed, PeriodTooLong)


async def download(request: Request, session: SessionDep, actor: Actor, *,
                   export: exports.Export, period: Period) -> StreamingResponse:
    """The export as a streamed CSV download; who downloaded which period is audited (in the
    request's transaction, committed before the first byte is sent)."""
    await audit.record(session, actor, action="export.downloaded", object_type="export",
                       object_id=export.name, after={"from": period.start.isoformat(),
                                                     "to": period.end.isoformat()})
    filename = f"{export.name}-{period.first_day}-{period.last_day}.csv"
    return ClosingStreamingResponse(
        exports.csv_chunks(request.app.state.db, actor, export, period),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# Paths of their own: a CSV download holds every row, with no cursor, and a link to it reads
# plainly (as /v1/audit-events.csv).
@router.get("/gestures.csv", response_class=StreamingResponse,
            responses={**REFUSALS, **CSV_ANSWER}, dependencies=[Depends(writes_on_read)])
async def export_gestures(request: Request, session: SessionDep, actor: Reader,
                          period: PeriodDep) -> StreamingResponse:
    """Every gesture given in the period (`from`, `to`: dates, both days included, in UTC; or
    instants, `to` excluded), revoked ones too, oldest first, as CSV: `issued_at`,
    `coupon_id`, `code` (empty unless the caller may read coupons), `gesture`, `kind`,
    `currency`, `face_value`, `cost` (the discounts of its completed redemptions so far),
    `status` (active, reserved, redeemed, revoked, expired), `expires_at`, `redemptions`,
    `redeemed_at`, `order_id` and `store` (of its last completed redemption), `channel`,
    `agent`, `reason`, `case_reference`, `customer_id`. Times are ISO 8601 UTC, amounts in
    major units of `currency`. A period is at most 366 days. A cell that starts like a
    spreadsheet formula gets a leading apostrophe. Streamed from the database, however many
    rows."""
    return await download(request, session, actor, export=exports.GESTURES, period=period)


@router.get("/redemptions.csv", response_class=StreamingResponse,
            responses={**REFUSALS, **CSV_ANSWER}, dependencies=[Depends(writes_on_read)])
async def export_redemptions(request: Request, session: SessionDep, actor: Reader,
                             period: PeriodDep) -> StreamingResponse:
    """Every redemption made in the period (`from`, `to` as for gestures), voided ones too,
    oldest first, as CSV: `redeemed_at`, `redemption_id`, `coupon_id`, `code`, `gesture`,
    `currency`, `amount` (the discount given), `order_id`, `order_amount`, `channel`,
    `store`, `till`, `redeemed_by` (the member of staff at the till; empty for a till's API key
    or a shop), `status` (completed or voided), `voided_at`, `void_reason`, `customer_id`,
    `case_reference`. Same formats and limits as the gestures' file."""
    return await download(request, session, actor, export=exports.REDEMPTIONS, period=period)
