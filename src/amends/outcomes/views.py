"""The manager's view of outcomes: for each reason, the gestures ranked by customers won back
per unit of cost, with the uplift over the hold-out and its interval."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from amends.actor import Actor
from amends.auth import SessionDep, require
from amends.outcomes import service as outcomes
from amends.roles import Scope
from amends.routing import router as make_router
from amends.web.charts import interval_chart
from amends.web.labels import label
from amends.web.templating import console_locale, gettext_for, render

router = make_router(include_in_schema=False)
Reader = Annotated[Actor, Depends(require(Scope.REPORTS_READ))]


@router.get("/outcomes", response_class=HTMLResponse)
async def outcomes_page(request: Request, session: SessionDep, actor: Reader) -> Response:
    rows = await outcomes.effectiveness(session, actor)
    reasons: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        reasons.setdefault(row["reason"], []).append(row)
    _ = gettext_for(request)
    charts = {}
    for reason, entries in reasons.items():
        measured = [r for r in entries if r["uplift"] is not None]
        if measured:
            charts[reason] = interval_chart(
                [r["gesture"] for r in measured], [r["uplift"] * 100 for r in measured],
                [r["uplift_low"] * 100 for r in measured],
                [r["uplift_high"] * 100 for r in measured],
                title=_("Win-back uplift over the apology alone: %(reason)s")
                % {"reason": _(label(reason)).lower()},
                unit=" " + _("pts"), tag=console_locale(request), translate=_)
    return render(request, "outcomes/page.html", {
        "reasons": reasons, "charts": charts, "days": outcomes.WIN_BACK_DAYS})
