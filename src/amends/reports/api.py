from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from fastapi.responses import Response

from amends.actor import Actor
from amends.auth import MissingScope, SessionDep, require
from amends.errors import errors
from amends.kit.clock import utcnow
from amends.reports import service as reports
from amends.roles import Scope
from amends.routing import router as make_router

router = make_router(prefix="/v1/reports", tags=["reports"])
Reader = Annotated[Actor, Depends(require(Scope.REPORTS_READ))]
Refresher = Annotated[Actor, Depends(require(Scope.REPORTS_REFRESH))]
Dimension = Literal["reason", "agent", "team", "store", "channel", "day"]
Format = Annotated[Literal["json", "csv"], Query()]


def _utc(moment: datetime | None) -> datetime | None:
    """A date, or a time without a zone, is UTC (the dashboard's CSV links give a date)."""
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


def _filters(since: datetime | None = None, until: datetime | None = None,
             reason: str | None = None, channel: str | None = None, store: str | None = None,
             agent: str | None = None) -> reports.Filters:
    return reports.Filters(since=_utc(since), until=_utc(until), reason=reason,
                           channel=channel, store=store, agent=agent)


FiltersDep = Annotated[reports.Filters, Depends(_filters)]


def as_csv(rows: list[dict[str, Any]], filename: str) -> Response:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/redeemed-by", responses=errors(MissingScope))
async def redeemed_by(session: SessionDep, actor: Reader, filters: FiltersDep,
                      format: Format = "json") -> Any:
    """Redemptions in the period by store and by the person at the till (a clerk's name; none
    for a till's API key or online): how many, and the value redeemed."""
    rows = await reports.redeemed_by(session, actor, filters=filters)
    return as_csv(rows, "redeemed-by.csv") if format == "csv" else rows


@router.get("/summary", responses=errors(MissingScope))
async def summary(session: SessionDep, actor: Reader, filters: FiltersDep) -> dict[str, Any]:
    """Gestures issued and redeemed, redemption rate, face value vs value redeemed, cases
    opened and fixed, average hours to fix, and customers who bought again after the fix."""
    return await reports.summary(session, actor, filters=filters)


@router.get("/gestures", responses=errors(MissingScope))
async def gestures(session: SessionDep, actor: Reader, filters: FiltersDep,
                   by: Dimension = "reason", format: Format = "json") -> Any:
    """Cost of appeasement by reason, agent, team, store, channel or day: gestures issued and
    redeemed, face value issued and value redeemed (minor units). `format=csv` downloads it."""
    return _maybe_csv(await reports.breakdown(session, actor, by=by, filters=filters), format,
                      f"gestures-by-{by}.csv")


def _maybe_csv(rows: list[dict[str, Any]], format: str, filename: str) -> Any:
    return as_csv(rows, filename) if format == "csv" else rows



@router.get("/over-time", responses=errors(MissingScope))
async def over_time(session: SessionDep, actor: Reader, filters: FiltersDep,
                    format: Format = "json") -> Any:
    """Per day: gestures issued and redeemed, face value issued and value redeemed."""
    return _maybe_csv(await reports.over_time(session, actor, filters=filters), format,
                      "gestures-over-time.csv")


@router.get("/time-to-fix", responses=errors(MissingScope))
async def time_to_fix(session: SessionDep, actor: Reader, filters: FiltersDep,
                      format: Format = "json") -> Any:
    """Per reason: cases opened and fixed, average and longest hours from opened to fixed."""
    return _maybe_csv(await reports.time_to_fix(session, actor, filters=filters), format,
                      "time-to-fix.csv")


@router.get("/came-back", responses=errors(MissingScope))
async def came_back(session: SessionDep, actor: Reader, filters: FiltersDep,
                    format: Format = "json") -> Any:
    """Per reason: customers who bought again after their case was fixed, and those who did
    not (yet)."""
    return _maybe_csv(await reports.came_back(session, actor, filters=filters), format,
                      "came-back.csv")


@router.get("/root-causes", responses=errors(MissingScope))
async def root_causes(session: SessionDep, actor: Reader, filters: FiltersDep,
                      format: Format = "json") -> Any:
    """The most frequent root causes of the last seven days beside the seven days before
    (the week ends at `until`, default now)."""
    rows = await reports.root_causes(session, actor, now=filters.until or utcnow(),
                                     filters=filters)
    return _maybe_csv(rows, format, "root-causes.csv")


LedgerBy = Literal["period", "reason", "agent", "team", "store", "channel", "incident"]


@router.get("/ledger", responses=errors(MissingScope))
async def ledger(session: SessionDep, actor: Reader, filters: FiltersDep,
                 by: LedgerBy = "period", format: Format = "json") -> Any:
    """The cost ledger: per group, the liability issued and where it went (redeemed, variance
    from face value, breakage on expiry, reversed on revocation, still outstanding; voided
    redemptions apart). Each row balances: issued = the sum of the five. As of the last
    roll-up (hourly, or `POST /v1/reports/refresh`); periods are days the gestures were
    given."""
    from amends.outcomes import service as outcomes

    return _maybe_csv(await outcomes.ledger(session, actor, by=by, filters=filters), format,
                      f"ledger-by-{by}.csv")


@router.get("/effectiveness", responses=errors(MissingScope))
async def effectiveness(session: SessionDep, actor: Reader, reason: str | None = None,
                        format: Format = "json") -> Any:
    """Per reason and gesture: cases with a known outcome, customers won back within 90 days,
    cost per case and the uplift over the hold-out (apology only) with its 95% interval. As
    of the last roll-up."""
    from amends.outcomes import service as outcomes

    return _maybe_csv(await outcomes.effectiveness(session, actor, reason=reason), format,
                      "effectiveness.csv")


@router.post("/refresh", responses=errors(MissingScope))
async def refresh(session: SessionDep, actor: Refresher) -> dict[str, Any]:
    """Rebuild the ledger and outcome roll-ups now (a job does it every hour); the ledger,
    effectiveness and the learned recommendation read them. Every day of the daily roll-ups
    the other reports read is built again too (they are kept up to date as they are written;
    this repairs them). Needs `reports:refresh`: it is work for the database, not a read."""
    from amends.outcomes import service as outcomes

    run = await outcomes.refresh(session, actor.organization_id)
    return {"refreshed_at": run.refreshed_at, "seconds": run.seconds}
