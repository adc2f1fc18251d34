"""Pure rules of cases: the four steps, and which gesture to recommend."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

STATES = ("open", "apologised", "reviewing", "fixed", "followed_up", "closed")
STEPS = STATES[1:]
REOPENED_STATE = "reviewing"


class InvalidTransition(ValueError):
    """The case cannot move to that state (it only moves forward, or reopens)."""


def steps_between(current: str, target: str) -> list[str]:
    """The steps a move from `current` to `target` skips (empty when it is the next one)."""
    if current not in STATES or target not in STATES:
        raise InvalidTransition(f"unknown state {target!r}")
    here, there = STATES.index(current), STATES.index(target)
    if there <= here:
        raise InvalidTransition(
            f"a case moves forward: it is {current}; reopen it to go back")
    return list(STATES[here + 1:there])


DEFAULT_RULES: dict[str, Any] = {
    "severity_value": {"1": 500, "2": 1000, "3": 2500, "4": 5000},
    "tier_multiplier": {"standard": 1.0, "silver": 1.25, "gold": 1.5, "platinum": 2.0},
    "lifetime_value_steps": [{"min": 100_000, "multiplier": 1.25},
                             {"min": 500_000, "multiplier": 1.5}],
    "brand": {"exclude_kinds": [], "prefer_kinds": [], "note": ""},
    "reasons": {},
    # Outcomes of similar cases re-rank the gestures once each has this many.
    "learn_min_outcomes": 200,
}


@dataclass(frozen=True, slots=True)
class Option:
    """A gesture of the catalogue as the recommender sees it."""

    id: str
    name: str
    kind: str
    face_value: int
    currency: str
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Situation:
    reason: str
    severity: int
    tier: str
    lifetime_value: int
    currency: str


@dataclass(slots=True)
class Recommendation:
    option: Option
    score: float
    why: list[str] = field(default_factory=list)

    @property
    def explanation(self) -> str:
        return "; ".join(self.why) + "."


def merged_rules(rules: dict[str, Any] | None) -> dict[str, Any]:
    merged = {**DEFAULT_RULES, **(rules or {})}
    merged["brand"] = {**DEFAULT_RULES["brand"], **(rules or {}).get("brand", {})}
    return merged


def target_value(situation: Situation, rules: dict[str, Any]) -> int:
    """What the failure is worth making up for: severity, sized by the customer's value."""
    base = float(rules["severity_value"].get(str(situation.severity), 1000))
    base *= float(rules["tier_multiplier"].get(situation.tier, 1.0))
    for step in sorted(rules["lifetime_value_steps"], key=lambda s: s["min"], reverse=True):
        if situation.lifetime_value >= step["min"]:
            base *= float(step["multiplier"])
            break
    return round(base)


def recommend(options: list[Option], situation: Situation, rules: dict[str, Any] | None,
              *, limit: int = 5) -> list[Recommendation]:
    """Rank the gestures (already filtered to those the caller may give), best first."""
    rules = merged_rules(rules)
    brand = rules["brand"]
    for_reason = rules["reasons"].get(situation.reason, {})
    excluded = set(brand.get("exclude_kinds", [])) | set(for_reason.get("exclude_kinds", []))
    preferred = set(brand.get("prefer_kinds", [])) | set(for_reason.get("prefer_kinds", []))
    target = target_value(situation, rules)
    ranked = []
    for option in options:
        if option.currency != situation.currency or option.kind in excluded:
            continue
        if option.reasons and situation.reason not in option.reasons:
            continue
        distance = abs(math.log2(max(option.face_value, 1) / max(target, 1)))
        score = 100.0 - 40.0 * distance
        why = [f"worth {option.face_value / 100:.2f} {option.currency} for a target of "
               f"{target / 100:.2f} (severity {situation.severity}, {situation.tier} customer)"]
        if option.reasons:
            score += 25
            why.insert(0, f"made for {situation.reason.replace('_', ' ')}")
        if option.kind in preferred:
            score += 20
            note = brand.get("note") or f"{option.kind.replace('_', ' ')} is preferred"
            why.append(note)
        ranked.append(Recommendation(option=option, score=round(score, 1), why=why))
    ranked.sort(key=lambda r: (-r.score, r.option.face_value, r.option.name))
    return ranked[:limit]
