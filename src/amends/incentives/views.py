"""The catalogue page: the pre-approved gestures agents may give, added and switched on or
off by supervisors. Editing an entry never changes coupons already issued."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from amends.actor import Actor
from amends.auth import SessionDep, require
from amends.cases import service as cases
from amends.errors import AmendsError
from amends.incentives import service as incentives
from amends.incentives.schemas import IncentiveCreate, IncentiveKind
from amends.kit.money import parse_major
from amends.models import Organization
from amends.roles import Scope
from amends.routing import router as make_router
from amends.web.templating import back, gettext_for, render

router = make_router(include_in_schema=False)
Editor = Annotated[Actor, Depends(require(Scope.CATALOGUE_WRITE))]


@router.get("/catalogue", response_class=HTMLResponse)
async def catalogue(request: Request, session: SessionDep, actor: Editor) -> Response:
    org = await session.get(Organization, actor.organization_id)
    return render(request, "incentives/catalogue.html", {
        "incentives": await incentives.list_incentives(session, actor),
        "kinds": [k.value for k in IncentiveKind],
        "reasons": await cases.reasons(session, actor.organization_id),
        "currency": org.default_currency if org else "EUR"})


def _problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "__root__")
    return f"{where}: {first['msg']}" if where else str(first["msg"])


@router.post("/catalogue")
async def add(request: Request, session: SessionDep, actor: Editor,
              name: Annotated[str, Form(max_length=200)],
              kind: Annotated[str, Form(max_length=20)],
              value: Annotated[str, Form(max_length=20)],
              currency: Annotated[str, Form(max_length=3)],
              validity_days: Annotated[str, Form(max_length=5)] = "",
              min_order: Annotated[str, Form(max_length=20)] = "",
              sku: Annotated[str, Form(max_length=100)] = "",
              terms: Annotated[str, Form(max_length=5000)] = "",
              reasons: Annotated[list[str] | None, Form()] = None) -> Response:
    _ = gettext_for(request)
    try:
        amount = parse_major(value)
        minimum = parse_major(min_order)
    except ValueError:
        return back("/catalogue", problem=_("Value and minimum order are amounts such as 10 "
                                            "or 9.50 (a percentage for percent off)."))
    if kind == IncentiveKind.PERCENT_OFF and amount is not None:
        if amount % 100:
            return back("/catalogue", problem=_("A percentage is a whole number, 1 to 100."))
        amount //= 100  # typed as a percentage, not money
    try:
        data = IncentiveCreate.model_validate({
            "name": name, "kind": kind, "value": amount, "currency": currency.upper(),
            "validity_days": validity_days or None, "min_order": minimum,
            "sku": sku or None, "terms": terms, "reasons": reasons or []})
        created = await incentives.create_incentive(session, actor, data=data)
    except ValidationError as error:
        return back("/catalogue", problem=_problem(error))
    except AmendsError as error:
        await session.rollback()
        return back("/catalogue", problem=error.detail)
    return back("/catalogue", notice=_("“%(name)s” is in the catalogue.")
                % {"name": created.name})


@router.post("/catalogue/{incentive_id}/active")
async def switch(incentive_id: uuid.UUID, request: Request, session: SessionDep,
                 actor: Editor,
                 active: Annotated[bool, Form()]) -> Response:
    incentive = await incentives.update_incentive(session, actor, incentive_id=incentive_id,
                                                  changes={"active": active})
    _ = gettext_for(request)
    said = (_("“%(name)s” can be given again.") if active
            else _("“%(name)s” is withdrawn: agents no longer see it."))
    return back("/catalogue", notice=said % {"name": incentive.name})
