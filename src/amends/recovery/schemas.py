from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from amends.kit.schema import Input, Money

Label = Annotated[str, StringConstraints(min_length=1, max_length=100)]

ConditionType = Literal["not_scanned_for", "past_promised", "split_late", "carrier_exception"]


class Condition(Input):
    type: ConditionType
    hours: int = Field(default=48, ge=0, le=24 * 60)
    reasons: list[Label] = Field(default_factory=list, max_length=100,
                               description="carrier_exception: the carrier's reason codes")


class Filters(Input):
    tiers: list[Label] = Field(default_factory=list, max_length=100)
    min_order_value: Money | None = None
    carriers: list[Label] = Field(default_factory=list, max_length=100)


class OpenCase(Input):
    reason: str = Field(default="late_delivery", pattern=r"^[a-z0-9_]{1,50}$")
    severity: int = Field(default=2, ge=1, le=4)


ApologyChannel = Literal["email", "sms", "whatsapp", "preferred"]


def _preferred_only() -> list[ApologyChannel]:
    return ["preferred"]


class Actions(Input):
    open_case: OpenCase = Field(default_factory=OpenCase)
    apologise: list[ApologyChannel] = Field(default_factory=_preferred_only, max_length=4)
    progress_every_days: int | None = Field(default=None, ge=1, le=60)
    incentive_id: uuid.UUID | None = Field(default=None,
                                           description="A pre-approved gesture to issue")
    notify: bool = Field(default=True, description="Emit case.opened to the webhooks")
    holdout_percent: int = Field(default=0, ge=0, le=50, description=(
        "Share of customers (at random) who get the apology without the gesture, so that "
        "what the gesture adds is measured"))


class RuleIn(Input):
    name: str = Field(min_length=1, max_length=200)
    active: bool = Field(default=False, description=(
        "A rule starts off: look at its dry run (POST /v1/rules/{id}/dry-run), then switch it "
        "on (PUT with active true). Switching on before, or changing what an active rule "
        "does, answers 409 rule_not_tried"))
    condition: Condition
    filters: Filters = Field(default_factory=Filters)
    actions: Actions = Field(default_factory=Actions)

    @model_validator(mode="after")
    def _sensible(self) -> Self:
        if self.condition.type != "carrier_exception" and self.condition.hours < 1:
            raise ValueError("give the number of hours after which the rule fires")
        return self


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    active: bool
    condition: dict[str, Any]
    filters: dict[str, Any]
    actions: dict[str, Any]
    dry_run_at: datetime | None = Field(description=(
        "When the dry run of this version of the rule was last seen; null: not since it "
        "was last changed"))
    created_at: datetime


class Candidate(BaseModel):
    shipment_id: str
    order_id: str | None
    customer_id: str | None
    carrier: str | None
    why: str
