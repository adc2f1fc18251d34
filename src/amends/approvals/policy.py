"""Empowerment: what one person may give on their own. Pure rules, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

ABOVE_AUTHORITY = "above_authority"
INCENTIVE_NOT_ALLOWED = "incentive_not_allowed"
BEYOND_DAILY_BUDGET = "beyond_daily_budget"
BEYOND_MONTHLY_BUDGET = "beyond_monthly_budget"
SECOND_GESTURE = "second_gesture"

EXPLANATIONS = {
    ABOVE_AUTHORITY: "worth more than the {limit} {currency} you may give on your own",
    INCENTIVE_NOT_ALLOWED: "not among the gestures you may give",
    BEYOND_DAILY_BUDGET: "beyond your budget for today",
    BEYOND_MONTHLY_BUDGET: "beyond your budget for this month",
    SECOND_GESTURE: "a second gesture for this customer within {days} days",
}


@dataclass(frozen=True, slots=True)
class Limits:
    """None means no limit for that measure; `incentive_ids` None means every incentive."""

    max_gesture: int | None = None
    daily_budget: int | None = None
    monthly_budget: int | None = None
    incentive_ids: frozenset[str] | None = None


UNLIMITED = Limits()


def effective(role: Limits | None, person: Limits | None) -> Limits:
    """A person's own limits override their role's, measure by measure."""
    base = role or UNLIMITED
    if person is None:
        return base
    return Limits(
        max_gesture=person.max_gesture if person.max_gesture is not None else base.max_gesture,
        daily_budget=person.daily_budget if person.daily_budget is not None
        else base.daily_budget,
        monthly_budget=person.monthly_budget if person.monthly_budget is not None
        else base.monthly_budget,
        incentive_ids=person.incentive_ids if person.incentive_ids is not None
        else base.incentive_ids,
    )


def authority_grounds(limits: Limits, *, face_value: int, incentive_id: str,
                      recent_gestures: int) -> list[str]:
    """Why this gesture needs a supervisor, budgets aside (those are consumed atomically)."""
    grounds = []
    if limits.incentive_ids is not None and incentive_id not in limits.incentive_ids:
        grounds.append(INCENTIVE_NOT_ALLOWED)
    if limits.max_gesture is not None and face_value > limits.max_gesture:
        grounds.append(ABOVE_AUTHORITY)
    if recent_gestures > 0:
        grounds.append(SECOND_GESTURE)
    return grounds


def may_give(limits: Limits, *, face_value: int, incentive_id: str) -> bool:
    """Within authority for one gesture (budgets and history not considered)."""
    return not authority_grounds(limits, face_value=face_value, incentive_id=incentive_id,
                                 recent_gestures=0)


def explain(grounds: list[str], *, limit: int | None, currency: str, days: int) -> str:
    parts = [EXPLANATIONS[g].format(limit=_money(limit), currency=currency, days=days)
             for g in grounds]
    return "Needs a supervisor: " + "; ".join(parts) + "." if parts else ""


def _money(minor: int | None) -> str:
    return f"{(minor or 0) / 100:.2f}"
