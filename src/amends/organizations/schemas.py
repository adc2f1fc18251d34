"""The organisation's settings in and out (the API and the settings page read the same)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from amends.approvals import policy as approval_policy
from amends.cases.schemas import RecommendationRules
from amends.kit.locale import LocaleTag, TimeZoneName
from amends.kit.schema import MAX_MINOR, Patch


class OrganizationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    slug: str
    name: str
    default_currency: str
    default_locale: str
    time_zone: str
    supported_locales: list[str]
    sms_max_segments: int
    code_prefix: str | None
    average_order_value: int
    second_gesture_window_days: int
    approval_hours: int
    approval_tiers: list[str]
    approval_sla_minutes: int | None
    reminder_days: int
    feedback_delay_days: int
    thank_you_window_days: int
    automation_daily_budget: int | None
    surprise_incentive_id: uuid.UUID | None
    incident_approval_threshold: int
    holdout_percent_default: int
    recommendation_rules: dict[str, Any]


class OrganizationUpdate(Patch):
    clearable = frozenset({"code_prefix", "automation_daily_budget", "surprise_incentive_id",
                           "approval_sla_minutes"})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    code_prefix: Annotated[str, StringConstraints(pattern=r"^[0-9A-HJKMNP-TV-Z]{1,6}$")] | None = (
        Field(default=None, description="Crockford base32, 1-6 characters, put before codes"))
    average_order_value: int | None = Field(default=None, gt=0, le=MAX_MINOR,
                                            description="Values a percent-off gesture")
    second_gesture_window_days: int | None = Field(default=None, ge=0, le=3650)
    approval_hours: int | None = Field(default=None, ge=1, le=24 * 90)
    approval_tiers: list[Literal["supervisor", "manager", "admin"]] | None = Field(
        default=None, min_length=1, max_length=3, description="Who decides a gesture above "
        "an agent's authority, lowest first (e.g. [\"supervisor\", \"manager\", \"admin\"]): a "
        "request starts at the first tier whose role may grant it and escalates to the next "
        "when its approver cannot (above their own limit or budget)")
    approval_sla_minutes: int | None = Field(
        default=None, ge=5, le=7 * 24 * 60, description="Minutes a request may wait at its "
        "tier before the next tier is told (null: never)")
    reminder_days: int | None = Field(
        default=None, ge=0, le=30, description="Days before a gesture expires that the "
        "customer is reminded of it (0: no reminder)")
    feedback_delay_days: int | None = Field(
        default=None, ge=0, le=365, description="Days after a case is fixed that the customer "
        "is asked how it went")
    thank_you_window_days: int | None = Field(
        default=None, ge=0, le=3650, description="A purchase this many days after a recovery "
        "is thanked (with the surprise gesture, if any)")
    automation_daily_budget: int | None = Field(
        default=None, ge=0, le=MAX_MINOR, description="Face value the system may give by "
        "itself a day (proactive rules, surprises), in minor units; null: no limit")
    surprise_incentive_id: uuid.UUID | None = Field(
        default=None, description="The gesture given with the thank-you on a purchase after "
        "a recovery; null: a thank-you only")
    incident_approval_threshold: int | None = Field(
        default=None, ge=0, le=MAX_MINOR, description="An incident's total face value above "
        "which it needs a manager's approval, in minor units")
    holdout_percent_default: int | None = Field(
        default=None, ge=0, le=50, description="The share of an incident's customers held "
        "out (apology without the gesture, to measure what it adds) when the incident does "
        "not say")
    default_locale: LocaleTag | None = Field(
        default=None, description="What customers without a locale of their own, or in a "
        "locale the organisation does not support, read")
    time_zone: TimeZoneName | None = Field(
        default=None, description="IANA zone for customers and staff without their own")
    supported_locales: list[LocaleTag] | None = Field(
        default=None, min_length=1, max_length=50,
        description="The locales customers are written to in; the default must be one")
    sms_max_segments: int | None = Field(
        default=None, ge=1, le=10, description="An SMS is kept to this many segments")
    @field_validator("approval_tiers")
    @classmethod
    def _tiers_in_order(cls, tiers: list[str] | None) -> list[str] | None:
        if tiers is not None and not approval_policy.valid_tiers(tiers):
            raise PydanticCustomError(
                "tiers_out_of_order", "Name each tier once, lowest first: supervisor, "
                "manager, admin")
        return tiers

    recommendation_rules: RecommendationRules | None = Field(
        default=None, description="Replaces the rules; what is left out keeps its default "
        "(learn_min_outcomes: outcomes per gesture before they re-rank it, default 200)")
