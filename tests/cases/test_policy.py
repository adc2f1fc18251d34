from __future__ import annotations

import pytest

from amends.approvals import policy as authority
from amends.cases import policy

SHIPPING = policy.Option("s", "Free shipping 6 months", "free_shipping", 2400, "EUR")
TEN_OFF = policy.Option("a", "10 EUR off", "amount_off", 1000, "EUR")
FORTY_OFF = policy.Option("b", "40 EUR off", "amount_off", 4000, "EUR")
PCT = policy.Option("p", "15% off", "percent_off", 750, "EUR")
LATE_ONLY = policy.Option("l", "Sorry it was late", "amount_off", 1500, "EUR",
                          reasons=("late_delivery",))
CATALOGUE = [SHIPPING, TEN_OFF, FORTY_OFF, PCT, LATE_ONLY]
NO_MONEY_OFF = {"brand": {"exclude_kinds": ["amount_off", "percent_off"],
                          "prefer_kinds": ["free_shipping"],
                          "note": "no money-off for this brand"}}


def situation(**over: object) -> policy.Situation:
    base = {"reason": "damaged_item", "severity": 2, "tier": "standard", "lifetime_value": 0,
            "currency": "EUR"}
    return policy.Situation(**{**base, **over})  # type: ignore[arg-type]


@pytest.mark.parametrize(("case", "rules", "first", "absent"), [
    (situation(severity=1), None, "p", None),                     # small failure, small gesture
    (situation(severity=2), None, "a", None),
    (situation(severity=4), None, "b", None),                     # severe: the big one
    (situation(severity=2, tier="platinum"), None, "s", None),    # 20.00 target: shipping 24.00
    (situation(severity=2, lifetime_value=600_000), None, "a", None),
    (situation(severity=2), NO_MONEY_OFF, "s", "a"),              # brand rule wins
    (situation(severity=4), NO_MONEY_OFF, "s", "b"),
    (situation(reason="late_delivery", severity=2), None, "l", None),  # made for the reason
    (situation(reason="damaged_item", severity=3), None, "s", "l"),    # not for this reason
])
def test_recommendations_follow_severity_tier_and_brand_rules(
    case: policy.Situation, rules: dict[str, object] | None, first: str, absent: str | None
) -> None:
    ranked = policy.recommend(CATALOGUE, case, rules)
    assert ranked[0].option.id == first, [(r.option.id, r.score) for r in ranked]
    if absent:
        assert absent not in {r.option.id for r in ranked}
    assert all(r.explanation.endswith(".") and "target" in r.explanation for r in ranked)


def test_the_brand_note_is_given_as_the_reason() -> None:
    ranked = policy.recommend(CATALOGUE, situation(), NO_MONEY_OFF)
    assert "no money-off for this brand" in ranked[0].explanation


def test_target_value_grows_with_severity_tier_and_lifetime_value() -> None:
    rules = policy.merged_rules(None)
    assert policy.target_value(situation(severity=1), rules) == 500
    assert policy.target_value(situation(severity=3, tier="gold"), rules) == 3750
    assert policy.target_value(situation(severity=2, lifetime_value=150_000), rules) == 1250


def test_cases_move_forward_and_skipping_is_explicit() -> None:
    assert policy.steps_between("open", "apologised") == []
    assert policy.steps_between("open", "fixed") == ["apologised", "reviewing"]
    with pytest.raises(policy.InvalidTransition):
        policy.steps_between("fixed", "reviewing")
    with pytest.raises(policy.InvalidTransition):
        policy.steps_between("open", "nowhere")


@pytest.mark.parametrize(("role", "person", "expected"), [
    (authority.Limits(max_gesture=1000, daily_budget=5000), None,
     authority.Limits(max_gesture=1000, daily_budget=5000)),
    (authority.Limits(max_gesture=1000, daily_budget=5000), authority.Limits(max_gesture=3000),
     authority.Limits(max_gesture=3000, daily_budget=5000)),
    (None, authority.Limits(monthly_budget=100), authority.Limits(monthly_budget=100)),
])
def test_a_persons_limits_override_their_roles(role: authority.Limits | None,
                                               person: authority.Limits | None,
                                               expected: authority.Limits) -> None:
    assert authority.effective(role, person) == expected


def test_authority_grounds() -> None:
    limits = authority.Limits(max_gesture=1000, incentive_ids=frozenset({"x"}))
    assert authority.authority_grounds(limits, face_value=1000, incentive_id="x",
                                       recent_gestures=0) == []
    assert authority.authority_grounds(limits, face_value=1001, incentive_id="y",
                                       recent_gestures=1) == [
        authority.INCENTIVE_NOT_ALLOWED, authority.ABOVE_AUTHORITY, authority.SECOND_GESTURE]
    text = authority.explain([authority.ABOVE_AUTHORITY], limit=1000, currency="EUR", days=30)
    assert "10.00 EUR" in text
