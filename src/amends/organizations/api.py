from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from amends.actor import Actor
from amends.audit import service as audit
from amends.auth import AdminCaller, Authenticated, MissingScope, SessionDep
from amends.cases.schemas import RecommendationRules
from amends.errors import ValidationFailed, errors
from amends.incentives.service import IncentiveNotFound
from amends.kit.locale import LocaleTag, TimeZoneName
from amends.kit.schema import MAX_MINOR, Patch
from amends.models import Incentive, Organization
from amends.routing import router as make_router
from amends.tenancy import require_owned

router = make_router(prefix="/v1/organization", tags=["organisation"])


class DefaultLocaleNotSupported(ValidationFailed):
    code, title = "default_locale_not_supported", "The default locale is not a supported one"


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
    reminder_days: int
    feedback_delay_days: int
    thank_you_window_days: int
    automation_daily_budget: int | None
    surprise_incentive_id: uuid.UUID | None
    incident_approval_threshold: int
    recommendation_rules: dict[str, Any]


class OrganizationUpdate(Patch):
    clearable = frozenset({"code_prefix", "automation_daily_budget", "surprise_incentive_id"})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    code_prefix: Annotated[str, StringConstraints(pattern=r"^[0-9A-HJKMNP-TV-Z]{1,6}$")] | None = (
        Field(default=None, description="Crockford base32, 1-6 characters, put before codes"))
    average_order_value: int | None = Field(default=None, gt=0, le=MAX_MINOR,
                                            description="Values a percent-off gesture")
    second_gesture_window_days: int | None = Field(default=None, ge=0, le=3650)
    approval_hours: int | None = Field(default=None, ge=1, le=24 * 90)
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
    recommendation_rules: RecommendationRules | None = Field(
        default=None, description="Replaces the rules; what is left out keeps its default "
        "(learn_min_outcomes: outcomes per gesture before they re-rank it, default 200)")


async def _load(session: SessionDep, actor: Actor) -> Organization:
    organization = await session.get(Organization, actor.organization_id)
    assert organization is not None
    return organization


@router.get("", responses=errors())
async def get_organization(session: SessionDep, actor: Authenticated) -> OrganizationOut:
    """The caller's organisation and its settings."""
    return OrganizationOut.model_validate(await _load(session, actor))


@router.patch("", responses=errors(MissingScope, DefaultLocaleNotSupported, IncentiveNotFound))
async def update_organization(body: OrganizationUpdate, session: SessionDep,
                              actor: AdminCaller) -> OrganizationOut:
    """Change settings: every setting the product reads (code prefix, average order, second-
    gesture window, approval expiry, reminder and feedback timing, thank-you window, surprise
    gesture, automation budget, incident approval threshold, locales and time zone, SMS
    segment budget, and the recommendation rules). The brand has its own route."""
    organization = await _load(session, actor)
    changes = body.model_dump(exclude_unset=True, exclude_none=False)
    if body.surprise_incentive_id is not None:
        await require_owned(session, Incentive, organization_id=organization.id,
                            object_id=body.surprise_incentive_id, missing=IncentiveNotFound,
                            field="surprise_incentive_id")
        changes["surprise_incentive_id"] = str(body.surprise_incentive_id)
    if body.supported_locales is not None:
        changes["supported_locales"] = list(dict.fromkeys(body.supported_locales))
    default = changes.get("default_locale", organization.default_locale)
    offered = changes.get("supported_locales", organization.supported_locales)
    if default not in offered:
        raise DefaultLocaleNotSupported(
            f"The default locale {default} must be one of the supported locales "
            f"({', '.join(offered)}).", field="default_locale")
    if body.recommendation_rules is not None:
        changes["recommendation_rules"] = body.recommendation_rules.model_dump(
            mode="json", exclude_none=True)
    before = {k: getattr(organization, k) for k in changes}
    for key, value in changes.items():
        setattr(organization, key, value)
    await session.flush()
    await audit.record(session, actor, action="organization.updated",
                       object_type="organization", object_id=organization.id,
                       before=before, after=changes)
    return OrganizationOut.model_validate(organization)
