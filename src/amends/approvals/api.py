from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Depends, Query, Response

from amends.actor import Actor
from amends.approvals import service as approvals
from amends.approvals.schemas import ApprovalOut, ApprovalPage, Decision, LimitIn, LimitOut
from amends.auth import MissingScope, SessionDep, require
from amends.errors import errors
from amends.incentives.service import IncentiveNotFound
from amends.kit.pagination import InvalidCursor
from amends.roles import Scope
from amends.routing import router as make_router

router = make_router(tags=["approvals"])
Decider = Annotated[Actor, Depends(require(Scope.APPROVALS_DECIDE))]
Reader = Annotated[Actor, Depends(require(Scope.APPROVALS_DECIDE, Scope.COUPONS_ISSUE,
                                          Scope.AUDIT_READ))]
LimitEditor = Annotated[Actor, Depends(require(Scope.CATALOGUE_WRITE))]


@router.get("/v1/approvals", responses=errors(MissingScope, InvalidCursor))
async def list_approvals(session: SessionDep, actor: Reader,
                         status: Literal["pending", "granted", "refused", "expired"] | None
                         = "pending", cursor: str | None = None,
                         limit: Annotated[int, Query(ge=1, le=200)] = 50) -> ApprovalPage:
    """The approvals queue (pending by default), newest first, with each customer's history."""
    page = await approvals.list_approvals(session, actor, status=status, cursor=cursor,
                                          limit=limit)
    return ApprovalPage(items=[ApprovalOut.model_validate(a) for a in page.items],
                        next_cursor=page.next_cursor)


@router.get("/v1/approvals/{approval_id}",
            responses=errors(MissingScope, approvals.ApprovalNotFound))
async def get_approval(approval_id: uuid.UUID, session: SessionDep, actor: Reader
                       ) -> ApprovalOut:
    """One approval request."""
    return ApprovalOut.model_validate(
        await approvals.get_approval(session, actor, approval_id=approval_id))


_DECISION_ERRORS = errors(MissingScope, approvals.ApprovalNotFound,
                          approvals.ApprovalAlreadyDecided, approvals.ApprovalExpired,
                          approvals.CannotApproveOwnRequest, approvals.ApprovalForHigherTier,
                          approvals.ApprovalChanged)


@router.post("/v1/approvals/{approval_id}/grant", responses={
    202: {"model": ApprovalOut, "description": "Beyond the approver's own limit or budget: "
          "escalated to the organisation's next tier, still pending"},
    **_DECISION_ERRORS, **errors(approvals.BeyondEveryTier)})
async def grant(approval_id: uuid.UUID, body: Decision, session: SessionDep,
                actor: Decider, response: Response) -> ApprovalOut:
    """Grant: the coupon is issued (exactly once, however many grants race), within the
    approver's own limit and budgets (which it consumes). Beyond them the request is
    escalated to the next tier (202, still pending); with no tier above, 403."""
    approval = await approvals.decide(session, actor, approval_id=approval_id, grant=True,
                                      reason=body.reason)
    if approval.status == "pending":
        response.status_code = 202
    return ApprovalOut.model_validate(approval)


@router.post("/v1/approvals/{approval_id}/refuse", responses=_DECISION_ERRORS)
async def refuse(approval_id: uuid.UUID, body: Decision, session: SessionDep,
                 actor: Decider) -> ApprovalOut:
    """Refuse, with the reason the agent will see."""
    return ApprovalOut.model_validate(await approvals.decide(
        session, actor, approval_id=approval_id, grant=False, reason=body.reason))


@router.get("/v1/authority-limits", responses=errors(MissingScope))
async def list_limits(session: SessionDep, actor: LimitEditor) -> list[LimitOut]:
    """What each role and person may give on their own."""
    return [LimitOut.model_validate(row) for row in await approvals.list_limits(session, actor)]


@router.put("/v1/authority-limits", responses=errors(
    MissingScope, approvals.LimitSubjectNotFound, IncentiveNotFound))
async def save_limit(body: LimitIn, session: SessionDep, actor: LimitEditor) -> LimitOut:
    """Set a role's or a person's maximum gesture, daily and monthly budgets and allowed
    incentives, per currency (null: no limit; for a person: as their role). The person, the
    API key and the incentives must be this organisation's."""
    row = await approvals.set_limit(
        session, actor, subject=body.subject, currency=body.currency,
        max_gesture=body.max_gesture, daily_budget=body.daily_budget,
        monthly_budget=body.monthly_budget, incentive_ids=body.incentive_ids)
    return LimitOut.model_validate(row)
