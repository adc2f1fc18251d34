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
    SECOND_GESTURE: "the customer had a gesture in the last {days} days",
}
# The roles that decide requests, lowest first; an organisation's tiers are some of them, in
# this order. An approver of a higher role may decide what waits for a lower one.
TIERS = ("supervisor", "manager", "admin")
_RANK = {tier: n for n, tier in enumerate(TIERS, start=1)}


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
    """Why a request waits for a supervisor, in the words the agent reads: a second gesture
    is named as such, not as a matter of the agent's authority."""
    if grounds == [SECOND_GESTURE]:
        return (f"A second gesture for this customer needs a supervisor: they had one in the "
                f"last {days} days.")
    parts = [EXPLANATIONS[g].format(limit=_money(limit), currency=currency, days=days)
             for g in grounds]
    return "Needs a supervisor: " + "; ".join(parts) + "." if parts else ""


def explain_for_approver(grounds: list[str], *, limit: int | None, currency: str) -> str:
    """Why an approver could not grant a request, for the chain (which names them) and the
    tier above."""
    words = {
        ABOVE_AUTHORITY: f"worth more than the {_money(limit)} {currency} they may grant",
        INCENTIVE_NOT_ALLOWED: "not among the gestures they may grant",
        BEYOND_DAILY_BUDGET: "beyond their budget for today",
        BEYOND_MONTHLY_BUDGET: "beyond their budget for this month",
    }
    return "; ".join(words.get(g, g) for g in grounds)


def rank(role: str | None) -> int:
    """0 for a role that decides nothing, else the role's place among the tiers."""
    return _RANK.get(role or "", 0)


def valid_tiers(tiers: list[str]) -> bool:
    """An organisation's tiers: at least one, each a deciding role, lowest first, once."""
    ranks = [_RANK.get(t, 0) for t in tiers]
    return bool(tiers) and all(ranks) and ranks == sorted(set(ranks))


def first_tier(tiers: list[str], *, may_grant: dict[str, bool]) -> str:
    """Where a request starts: the lowest tier whose role may grant it (by the roles' own
    limits), else the highest."""
    return next((tier for tier in tiers if may_grant.get(tier, True)), tiers[-1])


def tier_above(tiers: list[str], decider_rank: int) -> str | None:
    """The organisation's next tier above an approver of `decider_rank`; None past the top."""
    return next((tier for tier in tiers if rank(tier) > decider_rank), None)


def chain_entry(*, tier: str, at: str, why: str, by: str | None = None,
                kind: str = "routed") -> dict[str, str | None]:
    """One step of a request's way: `routed` (where it started), `escalated` (an approver
    could not grant it), `overdue` (the SLA passed and the tier above was told)."""
    return {"kind": kind, "tier": tier, "at": at, "why": why, "by": by}


def _money(minor: int | None) -> str:
    return f"{(minor or 0) / 100:.2f}"
