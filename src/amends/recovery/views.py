"""The rules of proactive recovery, as a supervisor sees them: what each rule does, a new rule
in one form, and a dry run that lists the shipments it would act on now, without acting."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from amends.actor import Actor
from amends.auth import SessionDep, require
from amends.cases import service as cases
from amends.errors import AmendsError
from amends.incentives import service as incentives
from amends.recovery import service as recovery
from amends.recovery.schemas import RuleIn
from amends.roles import Scope
from amends.routing import router as make_router
from amends.routing import writes_on_read
from amends.web.templating import N_, back, gettext_for, render

router = make_router(include_in_schema=False)
Editor = Annotated[Actor, Depends(require(Scope.CATALOGUE_WRITE))]
CONDITIONS = {
    "not_scanned_for": N_("Parcel not scanned for"),
    "past_promised": N_("Not delivered by the promised date, plus"),
    "split_late": N_("Part of a split order late by"),
    "carrier_exception": N_("The carrier reports an exception"),
}


@router.get("/rules", response_class=HTMLResponse, dependencies=[Depends(writes_on_read)])
async def rules(request: Request, session: SessionDep, actor: Editor,
                dry_run: uuid.UUID | None = None) -> Response:
    """The rules; with `dry_run`, what that rule would act on now (which records that its
    dry run was seen, so it may be switched on: this GET writes)."""
    catalogue = await incentives.list_incentives(session, actor, active=True)
    tried = None
    if dry_run is not None:
        tried = {"rule": await recovery.get_rule(session, actor, rule_id=dry_run),
                 "candidates": await recovery.dry_run(session, actor, rule_id=dry_run)}
    return render(request, "recovery/rules.html", {
        "rules": await recovery.list_rules(session, actor), "conditions": CONDITIONS,
        "incentives": {str(i.id): i.name for i in catalogue},
        "reasons": await cases.reasons(session, actor.organization_id), "tried": tried})


@router.post("/rules")
async def add_rule(request: Request, session: SessionDep, actor: Editor,
                   name: Annotated[str, Form(max_length=200)],
                   condition: Annotated[str, Form(max_length=40)],
                   hours: Annotated[int, Form(ge=0, le=24 * 60)] = 48,
                   reason: Annotated[str, Form(max_length=50)] = "late_delivery",
                   severity: Annotated[int, Form(ge=1, le=4)] = 2,
                   incentive_id: Annotated[str, Form()] = "",
                   progress_every_days: Annotated[str, Form(max_length=3)] = "") -> Response:
    try:
        data = RuleIn.model_validate({
            "name": name, "condition": {"type": condition, "hours": hours},
            "actions": {"open_case": {"reason": reason, "severity": severity},
                        "incentive_id": incentive_id or None,
                        "progress_every_days": progress_every_days or None}})
        rule = await recovery.save_rule(session, actor, data=data)
    except ValidationError as error:
        first = error.errors()[0]
        return back("/rules", problem=str(first["msg"]).removeprefix("Value error, "))
    except AmendsError as error:
        await session.rollback()
        return back("/rules", problem=error.detail)
    _ = gettext_for(request)
    # Saved off; its dry run is the next thing to look at (and what allows switching it on).
    notice = _("Rule “%(name)s” is saved, and off. Here is what it would do now; turn it on "
               "when that is right.") % {"name": rule.name}
    return RedirectResponse("/rules?" + urlencode({"dry_run": str(rule.id), "notice": notice})
                            + "#dry-run", status_code=303)


@router.post("/rules/{rule_id}/active")
async def switch(rule_id: uuid.UUID, request: Request, session: SessionDep, actor: Editor,
                 active: Annotated[bool, Form()]) -> Response:
    rule = await recovery.get_rule(session, actor, rule_id=rule_id)
    data = RuleIn.model_validate({"name": rule.name, "active": active,
                                  "condition": rule.condition, "filters": rule.filters,
                                  "actions": rule.actions})
    _ = gettext_for(request)
    try:
        await recovery.save_rule(session, actor, data=data, rule_id=rule_id)
    except recovery.RuleNotTried:  # refused before anything changed
        return back("/rules", problem=_(
            "Look at what “%(name)s” would do before turning it on: open its dry run, then "
            "turn it on from there.") % {"name": rule.name})
    said = _("Rule “%(name)s” is on.") if active else _("Rule “%(name)s” is off.")
    return back("/rules", notice=said % {"name": rule.name})
