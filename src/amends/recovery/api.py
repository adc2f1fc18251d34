from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from amends.actor import Actor
from amends.auth import MissingScope, SessionDep, require
from amends.cases.service import UnknownReason
from amends.errors import errors
from amends.incentives.service import IncentiveNotFound
from amends.recovery import service as recovery
from amends.recovery.schemas import Candidate, RuleIn, RuleOut
from amends.roles import Scope
from amends.routing import router as make_router

router = make_router(prefix="/v1/rules", tags=["proactive recovery"])
RuleEditor = Annotated[Actor, Depends(require(Scope.CATALOGUE_WRITE))]


@router.post("", status_code=201, responses=errors(MissingScope, IncentiveNotFound,
                                                   UnknownReason, recovery.RuleNotTried))
async def create_rule(body: RuleIn, session: SessionDep, actor: RuleEditor) -> RuleOut:
    """A rule such as "a parcel not scanned for 48 h": open a case, apologise, keep the
    customer posted and give a pre-approved gesture. It is saved off: look at its dry run,
    then switch it on with PUT (`active: true`); created with `active: true`, it answers 409
    `rule_not_tried` and nothing is saved."""
    return RuleOut.model_validate(await recovery.save_rule(session, actor, data=body))


@router.get("", responses=errors(MissingScope))
async def list_rules(session: SessionDep, actor: RuleEditor) -> list[RuleOut]:
    """The organisation's proactive-recovery rules."""
    return [RuleOut.model_validate(r) for r in await recovery.list_rules(session, actor)]


@router.put("/{rule_id}", responses=errors(MissingScope, recovery.RuleNotFound,
                                           IncentiveNotFound, UnknownReason,
                                           recovery.RuleNotTried))
async def update_rule(rule_id: uuid.UUID, body: RuleIn, session: SessionDep,
                      actor: RuleEditor) -> RuleOut:
    """Replace a rule, or switch it on or off. Switching it on needs its dry run seen since
    it last changed, and changing what it does (condition, filters, actions) asks for a new
    dry run: until then `active: true` answers 409 `rule_not_tried` and nothing changes."""
    return RuleOut.model_validate(
        await recovery.save_rule(session, actor, data=body, rule_id=rule_id))


@router.post("/{rule_id}/dry-run", responses=errors(MissingScope, recovery.RuleNotFound,
                                                    recovery.RuleInvalid))
async def dry_run(rule_id: uuid.UUID, session: SessionDep, actor: RuleEditor
                  ) -> list[Candidate]:
    """What the rule would fire for now, and why; nothing is changed but that this version
    of the rule has had its dry run seen (it may now be switched on). A saved rule that no
    longer passes validation answers 409 `rule_invalid` naming the field: save it again."""
    return await recovery.dry_run(session, actor, rule_id=rule_id)
