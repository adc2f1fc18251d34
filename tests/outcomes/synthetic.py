"""Seeded synthetic case histories drawn from known true win-back rates, so that the statistics of
Outcomes are tested against the truth that generated the data, not against fixed numbers."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from amends.outcomes.stats import SimilarKey, WinBack

LATE_STANDARD_MEDIUM = SimilarKey.of(reason="late_delivery", tier="standard", severity=3)


@dataclass(frozen=True, slots=True)
class SyntheticCase:
    similar: SimilarKey
    gesture: str | None  # None: held out, the customer got an apology without a gesture
    won_back: bool


def gesture_history(seed: int, *, true_rates: Mapping[str, float], cases_each: int,
                    similar: SimilarKey = LATE_STANDARD_MEDIUM) -> list[SyntheticCase]:
    """`cases_each` cases per gesture; each customer comes back with the gesture's true rate."""
    rng = random.Random(seed)
    return [SyntheticCase(similar, gesture, rng.random() < rate)
            for gesture, rate in true_rates.items() for _ in range(cases_each)]


def holdout_history(seed: int, *, customers: int, holdout_share: float, treated_rate: float,
                    holdout_rate: float, gesture: str = "amount_off",
                    similar: SimilarKey = LATE_STANDARD_MEDIUM) -> list[SyntheticCase]:
    """A rule that holds out a random share of its customers: each customer is drawn into the
    hold-out independently, as the feature does, so the hold-out's size varies from run to run."""
    rng = random.Random(seed)
    cases = []
    for _ in range(customers):
        held_out = rng.random() < holdout_share
        rate = holdout_rate if held_out else treated_rate
        cases.append(SyntheticCase(similar, None if held_out else gesture, rng.random() < rate))
    return cases


def tally(cases: Iterable[SyntheticCase], *, similar: SimilarKey) -> dict[str | None, WinBack]:
    """Win-backs per gesture among the cases similar to `similar` (None: the hold-out)."""
    won: dict[str | None, int] = {}
    total: dict[str | None, int] = {}
    for case in cases:
        if case.similar != similar:
            continue
        total[case.gesture] = total.get(case.gesture, 0) + 1
        won[case.gesture] = won.get(case.gesture, 0) + case.won_back
    return {gesture: WinBack(won[gesture], total[gesture]) for gesture in total}
