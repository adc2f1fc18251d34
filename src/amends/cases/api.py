from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path, Query

from amends.actor import Actor
from amends.auth import MissingScope, SessionDep, require
from amends.cases import recommend
from amends.cases import service as cases
from amends.cases.schemas import (
    CaseEventOut,
    CaseOpen,
    CaseOut,
    CasePage,
    Note,
    ReasonIn,
    ReasonKey,
    ReasonOut,
    RecommendationOut,
    Reopen,
    Transition,
)
from amends.customers import service as customers
from amends.errors import errors
from amends.kit.pagination import InvalidCursor
from amends.roles import Scope
from amends.routing import router as make_router

router = make_router(tags=["cases"])
CaseWorker = Annotated[Actor, Depends(require(Scope.CASES_WRITE))]
CaseReader = Annotated[Actor, Depends(require(Scope.CASES_READ, Scope.CASES_WRITE))]
Issuer = Annotated[Actor, Depends(require(Scope.COUPONS_ISSUE))]
# Reason labels name the cases, the catalogue's gestures and the reports' rows.
ReasonReader = Annotated[Actor, Depends(require(Scope.CASES_READ, Scope.CASES_WRITE,
                                                Scope.CATALOGUE_WRITE, Scope.REPORTS_READ))]
CatalogueEditor = Annotated[Actor, Depends(require(Scope.CATALOGUE_WRITE))]


@router.post("/v1/cases", status_code=201, responses=errors(
    MissingScope, customers.CustomerNotFound, cases.UnknownReason))
async def open_case(body: CaseOpen, session: SessionDep, actor: CaseWorker) -> CaseOut:
    """Open a case for a let-down customer; they go on the marketing suppression list."""
    if body.customer is not None:
        customer, _ = await customers.upsert_customer(
            session, actor, external_id=body.customer_id, data=body.customer.model_dump())
    else:
        customer = await customers.get_customer(session, actor, external_id=body.customer_id)
    case = await cases.open_case(
        session, actor, customer=customer, reason=body.reason, severity=body.severity,
        channel=body.channel.value, conversation_ref=body.conversation_ref, summary=body.summary)
    return CaseOut.model_validate(case)


@router.get("/v1/cases", responses=errors(MissingScope, InvalidCursor))
async def list_cases(session: SessionDep, actor: CaseReader, customer_id: str | None = None,
                     state: str | None = None, cursor: str | None = None,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50) -> CasePage:
    """Cases, newest first."""
    page = await cases.list_cases(session, actor, customer_external_id=customer_id, state=state,
                                  cursor=cursor, limit=limit)
    return CasePage(items=[CaseOut.model_validate(c) for c in page.items],
                    next_cursor=page.next_cursor)


@router.get("/v1/cases/{case_id}", responses=errors(MissingScope, cases.CaseNotFound))
async def get_case(case_id: uuid.UUID, session: SessionDep, actor: CaseReader) -> CaseOut:
    """One case."""
    return CaseOut.model_validate(await cases.get_case(session, actor, case_id=case_id))


@router.post("/v1/cases/{case_id}/notes", status_code=201,
             responses=errors(MissingScope, cases.CaseNotFound))
async def add_note(case_id: uuid.UUID, body: Note, session: SessionDep,
                   actor: CaseWorker) -> CaseEventOut:
    """Add a note to the case's timeline."""
    return CaseEventOut.model_validate(
        await cases.add_note(session, actor, case_id=case_id, text=body.text))


@router.post("/v1/cases/{case_id}/transitions", responses=errors(
    MissingScope, cases.CaseNotFound, cases.InvalidCaseTransition, cases.SkipReasonRequired))
async def move_case(case_id: uuid.UUID, body: Transition, session: SessionDep,
                    actor: CaseWorker) -> CaseOut:
    """Take the case to its next step (apologised, reviewing, fixed, followed_up, closed);
    skipping steps needs `skip_reason`."""
    details = body.model_dump(exclude={"to", "skip_reason"}, exclude_none=True)
    return CaseOut.model_validate(await cases.move(
        session, actor, case_id=case_id, to=body.to, details=details,
        skip_reason=body.skip_reason))


@router.post("/v1/cases/{case_id}/reopen",
             responses=errors(MissingScope, cases.CaseNotFound, cases.CaseNotClosed))
async def reopen_case(case_id: uuid.UUID, body: Reopen, session: SessionDep,
                      actor: CaseWorker) -> CaseOut:
    """Reopen a closed case (it goes back to review)."""
    return CaseOut.model_validate(
        await cases.reopen(session, actor, case_id=case_id, reason=body.reason))


@router.get("/v1/cases/{case_id}/timeline", responses=errors(MissingScope, cases.CaseNotFound))
async def case_timeline(case_id: uuid.UUID, session: SessionDep,
                        actor: CaseReader) -> list[CaseEventOut]:
    """Everything that happened on the case, oldest first."""
    return [CaseEventOut.model_validate(e)
            for e in await cases.timeline(session, actor, case_id=case_id)]


@router.get("/v1/cases/{case_id}/recommendations",
            responses=errors(MissingScope, cases.CaseNotFound))
async def case_recommendations(case_id: uuid.UUID, session: SessionDep, actor: Issuer,
                               limit: Annotated[int, Query(ge=1, le=20)] = 5
                               ) -> list[RecommendationOut]:
    """The gestures you may give that fit this case, best first, each with its reason."""
    ranked = await recommend.recommendations(session, actor, case_id=case_id, limit=limit)
    return [RecommendationOut(incentive_id=incentive.id, name=incentive.name,
                              kind=incentive.kind, face_value=r.option.face_value,
                              currency=incentive.currency, score=r.score,
                              reason=r.explanation) for incentive, r in ranked]


@router.get("/v1/reasons", responses=errors(MissingScope))
async def list_reasons(session: SessionDep, actor: ReasonReader) -> list[ReasonOut]:
    """The organisation's reason categories for cases."""
    known = await cases.reasons(session, actor.organization_id)
    return [ReasonOut(key=k, label=v) for k, v in sorted(known.items())]


@router.put("/v1/reasons/{key}", responses=errors(MissingScope))
async def save_reason(key: Annotated[ReasonKey, Path()], body: ReasonIn, session: SessionDep,
                      actor: CatalogueEditor) -> ReasonOut:
    """Add or rename a reason category (or retire it with `active: false`)."""
    reason = await cases.set_reason(session, actor, key=key, label=body.label,
                                    active=body.active)
    return ReasonOut(key=reason.key, label=reason.label)
