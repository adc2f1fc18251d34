"""The manager's dashboard: the same figures as `/v1/reports/...`, drawn and tabled, with
filters, and every table downloadable as CSV from the report API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from amends.actor import Actor
from amends.auth import SessionDep, require
from amends.cases import service as cases
from amends.delivery.service import DELIVERY_CHANNELS
from amends.errors import NotFound, ValidationFailed
from amends.exports import service as exports
from amends.exports.api import download
from amends.kit.clock import utcnow
from amends.kit.locale import zone
from amends.models import Organization, User
from amends.reports import service as reports
from amends.roles import Scope
from amends.routing import router as make_router
from amends.routing import writes_on_read
from amends.web.charts import Series, bar_chart, line_chart
from amends.web.labels import N_, label
from amends.web.templating import console_locale, console_zone, gettext_for, render

router = make_router(include_in_schema=False)
Reader = Annotated[Actor, Depends(require(Scope.REPORTS_READ))]
DIMENSIONS = {"reason": N_("Reason"), "agent": N_("Agent"), "team": N_("Team"),
              "store": N_("Store"), "channel": N_("Channel")}
DEFAULT_DAYS = 90


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _start(day: date, time_zone: str | None) -> datetime:
    """The first moment of a day in the reader's zone: the dates they pick are their days."""
    return datetime.combine(day, time.min, tzinfo=zone(time_zone))


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request, session: SessionDep, actor: Reader,
                    since: str | None = None, until: str | None = None, reason: str = "",
                    channel: str = "", store: str = "", agent: str = "",
                    by: str = "reason") -> Response:
    return await _dashboard(request, session, actor, since=since, until=until, reason=reason,
                            channel=channel, store=store, agent=agent, by=by)


EXPORTS = {"gestures": exports.GESTURES, "redemptions": exports.REDEMPTIONS}


@router.get("/dashboard/export", response_model=None, dependencies=[Depends(writes_on_read)])
async def export(request: Request, session: SessionDep, actor: Reader, what: str = "",
                 first: Annotated[str, Query(alias="from")] = "", last: Annotated[
                     str, Query(alias="to")] = "") -> Response:
    """The dashboard's Export form: every gesture or every redemption from the first to the
    last day (both included, days of the reader's zone), as the API's CSV download; a period
    that cannot be exported is said on the dashboard, beside the form."""
    chosen = EXPORTS.get(what)
    if chosen is None:
        raise NotFound("There is no such export; choose one on the dashboard.")
    try:
        period = exports.period(first, last, zone=zone(console_zone(request)))
    except ValidationFailed as problem:
        _ = gettext_for(request)
        if isinstance(problem, exports.PeriodReversed):
            message = _("The last day is before the first: swap them.")
        elif isinstance(problem, exports.PeriodTooLong):
            message = _("An export covers at most %(days)s days: export the period in "
                        "parts.") % {"days": exports.MAX_DAYS}
        else:
            message = _("Choose the first and the last day of the period.")
        return await _dashboard(request, session, actor, export_form={
            "from": first, "to": last, "error": message}, status_code=422)
    return await download(request, session, actor, export=chosen, period=period)


async def _dashboard(request: Request, session: SessionDep, actor: Actor, *,
                     since: str | None = None, until: str | None = None, reason: str = "",
                     channel: str = "", store: str = "", agent: str = "", by: str = "reason",
                     export_form: dict[str, str] | None = None, status_code: int = 200
                     ) -> Response:
    time_zone = console_zone(request)
    today = utcnow().astimezone(zone(time_zone)).date()
    last = _day(until) or today
    first = _day(since) or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        first, last = last, first
    by = by if by in DIMENSIONS else "reason"
    filters = reports.Filters(since=_start(first, time_zone),
                              until=_start(last + timedelta(days=1), time_zone),
                              reason=reason or None, channel=channel or None,
                              store=store or None, agent=agent or None)
    org = await session.get(Organization, actor.organization_id)
    currency = org.default_currency if org else ""
    cost = await reports.breakdown(session, actor, by=by, filters=filters)
    summary = await reports.summary(session, actor, filters=filters, totals=cost)
    days = await reports.over_time(session, actor, filters=filters)
    fix = await reports.time_to_fix(session, actor, filters=filters)
    back = await reports.came_back(session, actor, filters=filters)
    tills = await reports.redeemed_by(session, actor, filters=filters)
    causes = await reports.root_causes(session, actor, now=filters.until or utcnow(),
                                       filters=filters)
    query = {"since": first.isoformat(), "until": filters.until.isoformat()
             if filters.until else "", "reason": reason, "channel": channel, "store": store,
             "agent": agent}
    params = {k: v for k, v in query.items() if v}
    form = {"since": first.isoformat(), "until": last.isoformat(), "reason": reason,
            "channel": channel, "store": store, "agent": agent}
    return render(request, "reports/dashboard.html", {
        "summary": summary, "days": days, "cost": cost, "fix": fix, "back": back,
        "tills": tills, "export": export_form or {"from": form["since"], "to": form["until"]},
        "causes": causes, "by": by, "dimensions": DIMENSIONS, "currency": currency,
        "form": form, "tabs": {key: "?" + urlencode({**form, "by": key})
                               for key in DIMENSIONS},
        "choices": await _choices(session, actor),
        "csv": lambda path, **extra: f"/v1/reports/{path}?"
        + urlencode({**params, **extra, "format": "csv"}),
        "charts": _charts(days, cost, back, by, currency, tag=console_locale(request),
                          translate=gettext_for(request)),
    }, status_code=status_code)


def _charts(days: list[dict[str, Any]], cost: list[dict[str, Any]],
            back: list[dict[str, Any]], by: str, currency: str, *, tag: str,
            translate: Callable[[str], str]) -> dict[str, Any]:
    _ = translate
    labels = [d["day"] for d in days]
    top = sorted(cost, key=lambda r: -r["face_value"])[:12]
    return {
        "over_time": line_chart(labels, [
            Series(_("Issued"), [d["issued"] for d in days]),
            Series(_("Redeemed"), [d["redeemed"] for d in days])],
            title=_("Gestures issued and redeemed per day"), tag=tag, translate=_),
        "cost": bar_chart([_(label(str(r["key"]))) if by in ("reason", "channel")
                           else str(r["key"]) for r in top], [
            Series(_("Face value issued (%(currency)s)") % {"currency": currency},
                   [r["face_value"] / 100 for r in top]),
            Series(_("Value redeemed (%(currency)s)") % {"currency": currency},
                   [r["redeemed_value"] / 100 for r in top])],
            title=_("Cost of appeasement by %(dimension)s")
            % {"dimension": _(DIMENSIONS[by]).lower()}, tag=tag),
        "came_back": bar_chart([_(label(str(r["key"]))) for r in back], [
            Series(_("Bought again"), [r["bought_again"] for r in back]),
            Series(_("Not (yet) back"), [r["not_yet_back"] for r in back])],
            title=_("Customers who bought again after their case was fixed"), tag=tag),
    }


async def _choices(session: SessionDep, actor: Actor) -> dict[str, list[str]]:
    org = actor.organization_id
    staff = (await session.execute(select(User.email, User.store).where(
        User.organization_id == org))).all()
    givers = await reports.givers(session, actor)
    return {
        "reasons": sorted(await cases.reasons(session, org)),
        "channels": list(DELIVERY_CHANNELS),
        "stores": sorted({s for _, s in staff if s}),
        "agents": sorted(set(givers) | {e for e, _ in staff}),
    }
