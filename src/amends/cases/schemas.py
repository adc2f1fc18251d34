from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from amends.coupons.schemas import Channel
from amends.customers.schemas import CustomerIn
from amends.incentives.schemas import IncentiveKind
from amends.kit.schema import MAX_COUNT, Input, Money

ReasonKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,50}$")]


class CaseOpen(Input):
    customer_id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    customer: CustomerIn | None = None
    reason: ReasonKey
    severity: int = Field(ge=1, le=4)
    channel: Channel
    conversation_ref: str | None = Field(default=None, max_length=200,
                                         description="Helpdesk ticket or chat id")
    summary: str = Field(default="", max_length=5000)


class CaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    reference: str
    customer_external_id: str
    reason: str
    severity: int
    channel: str
    conversation_ref: str | None
    state: str
    summary: str
    root_cause: str | None
    responsible_party: str | None
    remedy: str | None
    skipped: dict[str, Any]
    opened_by_label: str
    opened_at: datetime
    fixed_at: datetime | None
    closed_at: datetime | None
    reopened_count: int


class CasePage(BaseModel):
    items: list[CaseOut]
    next_cursor: str | None


class Note(Input):
    text: str = Field(min_length=1, max_length=5000)


class Transition(Input):
    to: Literal["apologised", "reviewing", "fixed", "followed_up", "closed"]
    skip_reason: str | None = Field(default=None, max_length=1000)
    apology: str | None = Field(default=None, max_length=5000)
    root_cause: str | None = Field(default=None, max_length=100)
    responsible_party: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=5000)
    remedy: str | None = Field(default=None, max_length=5000)
    summary: str | None = Field(default=None, max_length=5000)


class Reopen(Input):
    reason: str = Field(min_length=1, max_length=1000)


class CaseEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    summary: str
    data: dict[str, Any]
    actor_label: str
    created_at: datetime


class RecommendationOut(BaseModel):
    incentive_id: uuid.UUID
    name: str
    kind: str
    face_value: int
    currency: str
    score: float
    reason: str = Field(description="Why, in words")


class ReasonIn(Input):
    label: str = Field(min_length=1, max_length=200)
    active: bool = True


class ReasonOut(BaseModel):
    key: str
    label: str


Multiplier = Annotated[float, Field(gt=0, le=100)]
Tier = Annotated[str, StringConstraints(min_length=1, max_length=20)]


class KindPreferences(Input):
    exclude_kinds: list[IncentiveKind] = Field(default_factory=list)
    prefer_kinds: list[IncentiveKind] = Field(default_factory=list)


class BrandRules(KindPreferences):
    note: str = Field(default="", max_length=500, description="Why the brand prefers a kind")


class LifetimeStep(Input):
    min: Money = Field(description="From this lifetime value (minor units)")
    multiplier: Multiplier


class RecommendationRules(Input):
    """The organisation's recommendation rules; anything left out keeps its default
    (`cases.policy.DEFAULT_RULES`)."""

    severity_value: dict[Literal["1", "2", "3", "4"], Money] | None = Field(
        default=None, description="What each severity is worth making up for (minor units)")
    tier_multiplier: dict[Tier, Multiplier] | None = Field(default=None, max_length=50)
    lifetime_value_steps: list[LifetimeStep] | None = Field(default=None, max_length=20)
    brand: BrandRules | None = None
    reasons: dict[ReasonKey, KindPreferences] | None = Field(default=None, max_length=200)
    learn_min_outcomes: int | None = Field(default=None, ge=1, le=MAX_COUNT)
