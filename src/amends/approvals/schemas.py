from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from amends.kit.schema import Currency, Input, Money


class ChainStep(BaseModel):
    kind: str = Field(description="routed (where the request started), escalated (an approver "
                      "could not grant it and sent it up) or overdue (it waited longer than "
                      "the SLA and the tier above was told)")
    tier: str = Field(description="The tier it went to, or that was told")
    at: datetime
    why: str
    by: str | None = Field(default=None, description="Who escalated it")


class ApprovalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: str = Field(description="pending, granted, refused or expired")
    tier: str = Field(description="Who decides it now: supervisor, manager or admin (a higher "
                      "role may decide it too)")
    tier_since: datetime | None
    chain: list[ChainStep] = Field(description="How it got to its tier, oldest first")
    customer_external_id: str
    incentive_id: uuid.UUID
    case_id: uuid.UUID | None
    face_value: int
    currency: str
    grounds: list[str]
    explanation: str
    note: str | None
    history: dict[str, Any]
    requested_by_label: str
    decided_by_label: str | None
    decision_reason: str | None
    decided_at: datetime | None
    coupon_id: uuid.UUID | None
    expires_at: datetime
    created_at: datetime


class ApprovalPage(BaseModel):
    items: list[ApprovalOut]
    next_cursor: str | None


class Decision(Input):
    reason: str = Field(min_length=1, max_length=1000)


Subject = Annotated[str, StringConstraints(
    pattern=r"^(role:(agent|supervisor|manager|admin|auditor|api_key)|(user|api_key):[0-9a-f-]{36})$")]


class LimitIn(Input):
    subject: Subject = Field(description="role:agent, role:api_key, user:<id> or api_key:<id>")
    currency: Currency
    max_gesture: Money | None = None
    daily_budget: Money | None = None
    monthly_budget: Money | None = None
    incentive_ids: list[uuid.UUID] | None = Field(default=None, max_length=1000)


class LimitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    subject: str
    currency: str
    max_gesture: int | None
    daily_budget: int | None
    monthly_budget: int | None
    incentive_ids: list[str] | None
