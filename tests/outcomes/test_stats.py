"""The statistics of Outcomes: published values for the intervals, and the truth of seeded
synthetic histories for the learned ranking and the hold-out uplift. No database: these tests
use no `database_url` fixture, so they run once, not once per backend."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from amends.outcomes.stats import (
    Option,
    Ranked,
    SimilarKey,
    WinBack,
    beta_cdf,
    beta_quantile,
    format_money,
    posterior,
    rank,
    severity_band,
    uplift,
    wilson_interval,
)
from tests.outcomes.synthetic import gesture_history, holdout_history, tally

SIMILAR = SimilarKey.of(reason="late_delivery", tier="standard", severity=3)
SEEDS = range(100)


def binomial_tail(n: int, p: float, k: int) -> float:
    """P(Binomial(n, p) >= k), summed term by term: an independent check of the Beta CDF."""
    return math.fsum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k, n + 1))


# --- Intervals: published values -----------------------------------------------------------------

@pytest.mark.parametrize(("won", "cases", "low", "high"), [
    # Newcombe 1998, "Two-sided confidence intervals for the single proportion", method 3.
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_wilson_interval_matches_newcombes_published_examples(
    won: int, cases: int, low: float, high: float
) -> None:
    interval = wilson_interval(WinBack(won, cases))
    assert interval == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize(("treated", "holdout", "low", "high", "significant"), [
    # Newcombe 1998, "Interval estimation for the difference between independent proportions",
    # method 10 (hybrid score, from Wilson intervals).
    ((56, 70), (48, 80), 0.0524, 0.3339, True),
    ((9, 10), (3, 10), 0.1705, 0.8090, True),
    ((5, 56), (0, 29), -0.0381, 0.1926, False),
    ((0, 10), (0, 20), -0.1611, 0.2775, False),
    ((0, 10), (0, 10), -0.2775, 0.2775, False),
    ((10, 10), (0, 20), 0.6791, 1.0, True),
    ((10, 10), (0, 10), 0.6075, 1.0, True),
])
def test_uplift_interval_matches_newcombes_published_examples(
    treated: tuple[int, int], holdout: tuple[int, int], low: float, high: float,
    significant: bool,
) -> None:
    result = uplift(WinBack(*treated), WinBack(*holdout))
    assert result.estimate == pytest.approx(treated[0] / treated[1] - holdout[0] / holdout[1])
    assert (result.low, result.high) == pytest.approx((low, high), abs=5e-5)
    assert result.significant is significant


def test_uplift_is_negative_and_significant_when_the_gesture_does_worse_than_the_apology() -> None:
    result = uplift(WinBack(48, 80), WinBack(56, 70))
    assert result.estimate == pytest.approx(-0.2)
    assert (result.low, result.high) == pytest.approx((-0.3339, -0.0524), abs=5e-5)
    assert result.significant


def test_a_wider_confidence_gives_a_wider_uplift_interval() -> None:
    narrow = uplift(WinBack(56, 70), WinBack(48, 80), confidence=0.90)
    wide = uplift(WinBack(56, 70), WinBack(48, 80), confidence=0.99)
    assert wide.low < narrow.low < narrow.high < wide.high


def test_uplift_needs_cases_on_both_sides() -> None:
    with pytest.raises(ValueError, match="hold-out"):
        uplift(WinBack(5, 10), WinBack(0, 0))


# --- Beta posterior ------------------------------------------------------------------------------

@pytest.mark.parametrize(("a", "b"), [(1, 1), (3, 5), (43, 277), (200, 3), (120, 180)])
@pytest.mark.parametrize("x", [0.01, 0.2, 0.4, 0.5, 0.9])
def test_beta_cdf_equals_the_binomial_tail_for_whole_parameters(a: int, b: int, x: float) -> None:
    expected = binomial_tail(a + b - 1, x, a)
    assert beta_cdf(x, a, b) == pytest.approx(expected, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("x", [0.001, 0.2, 0.5, 0.77, 0.999])
def test_beta_cdf_of_the_jeffreys_prior_is_the_arcsine_law(x: float) -> None:
    assert beta_cdf(x, 0.5, 0.5) == pytest.approx(2 / math.pi * math.asin(math.sqrt(x)))


@pytest.mark.parametrize(("a", "b"), [(1, 1), (0.5, 0.5), (1, 11), (11, 1), (43, 59),
                                      (91, 111), (100_000, 200_000), (1, 100_000)])
@pytest.mark.parametrize("q", [0.001, 0.025, 0.5, 0.975, 0.999])
def test_beta_quantile_inverts_the_cdf(a: float, b: float, q: float) -> None:
    x = beta_quantile(q, a, b)
    assert 0.0 <= x <= 1.0
    assert beta_cdf(x, a, b) == pytest.approx(q, rel=1e-9)


def test_posterior_adds_the_outcomes_to_the_prior() -> None:
    belief = posterior(42, 100)
    assert (belief.alpha, belief.beta) == (43.0, 59.0)
    assert belief.mean == pytest.approx(43 / 102)
    # Endpoints of Beta(43, 59) are where the equivalent binomial tail is 2.5% / 97.5%.
    assert binomial_tail(101, belief.low, 43) == pytest.approx(0.025)
    assert binomial_tail(101, belief.high, 43) == pytest.approx(0.975)
    assert belief.low < 0.42 < belief.high


def test_posterior_with_no_cases_is_the_prior() -> None:
    belief = posterior(0, 0)
    assert (belief.mean, belief.low, belief.high) == pytest.approx((0.5, 0.025, 0.975))


def test_posterior_when_every_customer_came_back_has_a_closed_form() -> None:
    # Beta(11, 1) has CDF x**11, so its quantile of q is q ** (1 / 11).
    belief = posterior(10, 10, credibility=0.90)
    assert (belief.low, belief.high) == pytest.approx((0.05 ** (1 / 11), 0.95 ** (1 / 11)))


def test_posterior_takes_another_prior() -> None:
    belief = posterior(3, 10, prior=(0.5, 0.5))
    assert (belief.alpha, belief.beta) == (3.5, 7.5)


@pytest.mark.parametrize(("won", "cases"), [(-1, 5), (6, 5)])
def test_win_back_counts_cannot_be_impossible(won: int, cases: int) -> None:
    with pytest.raises(ValueError, match="not a count"):
        WinBack(won, cases)


# --- Similar cases -------------------------------------------------------------------------------

@pytest.mark.parametrize(("severity", "band"), [(1, "low"), (2, "low"), (3, "medium"),
                                                (4, "high"), (5, "high")])
def test_severity_falls_in_a_band(severity: int, band: str) -> None:
    assert severity_band(severity) == band


@pytest.mark.parametrize("severity", [0, 6])
def test_severity_outside_one_to_five_is_refused(severity: int) -> None:
    with pytest.raises(ValueError, match="severity"):
        severity_band(severity)


def test_cases_of_the_same_reason_tier_and_band_are_similar() -> None:
    assert SimilarKey.of(reason="late_delivery", tier="gold", severity=4) == SimilarKey.of(
        reason="late_delivery", tier="gold", severity=5)
    assert SimilarKey.of(reason="late_delivery", tier="gold", severity=3) != SimilarKey.of(
        reason="late_delivery", tier="gold", severity=4)


# --- Learning recommendation ---------------------------------------------------------------------

def keys(ranked: Sequence[Ranked]) -> list[str]:
    return [entry.key for entry in ranked]


def test_the_why_says_how_many_came_back_of_how_many_and_at_what_cost() -> None:
    [ranked] = rank([Option("amount_off", WinBack(134, 318), 610)], min_outcomes=200,
                    fallback_order=["amount_off"], currency="EUR")
    assert ranked.learned
    assert ranked.why == "won back 42% of similar customers (318 cases), cost 6.10 EUR each"


def test_money_in_the_why_follows_the_currencys_minor_unit() -> None:
    assert format_money(123_456, "EUR") == "1,234.56 EUR"
    assert format_money(610, "JPY") == "610 JPY"
    assert format_money(6_105, "KWD") == "6.105 KWD"


@pytest.mark.parametrize("min_outcomes", [1, 50, 200])
def test_with_fewer_outcomes_than_needed_the_recommendation_is_exactly_the_rules_one(
    min_outcomes: int,
) -> None:
    # The evidence shouts that the last gesture is best, but none has enough of it.
    options = [Option("percent_off", WinBack(0, min_outcomes - 1), 500),
               Option("free_shipping", WinBack(0, max(min_outcomes - 5, 0)), 2400),
               Option("amount_off", WinBack(min_outcomes - 1, min_outcomes - 1), 1000)]
    fallback = ["free_shipping", "percent_off", "gift_card", "amount_off"]
    ranked = rank(options, min_outcomes=min_outcomes, fallback_order=fallback, currency="EUR")
    assert keys(ranked) == fallback
    assert not any(entry.learned for entry in ranked)
    assert ranked[0].why == (f"too few similar cases to learn from ({max(min_outcomes - 5, 0)} "
                             f"of {min_outcomes}): placed by the organisation's rules")
    assert ranked[2].outcomes == WinBack(0, 0)


def test_synthetic_history_just_short_of_the_threshold_keeps_the_rules_order() -> None:
    for seed in range(10):
        history = tally(gesture_history(seed, true_rates={"free_shipping": 0.30,
                                                          "amount_off": 0.45},
                                        cases_each=199), similar=SIMILAR)
        options = [Option(g, outcomes, 800) for g, outcomes in history.items() if g]
        ranked = rank(options, min_outcomes=200, fallback_order=["free_shipping", "amount_off"],
                      currency="EUR")
        assert keys(ranked) == ["free_shipping", "amount_off"]


def test_with_200_outcomes_each_the_truly_better_gesture_comes_first() -> None:
    """True rates 0.45 and 0.30, 200 cases each: the observed better one is the true better one
    with probability 0.9989 (exact binomial sum), so about 0.1 of 100 seeds should fail. The
    threshold of 95 leaves a chance below 1e-9 of failing by bad luck, yet ranking by the rules
    (which put the worse gesture first) would score 0 and ranking at random about 50."""
    firsts = 0
    for seed in SEEDS:
        history = tally(gesture_history(seed, true_rates={"free_shipping": 0.30,
                                                          "amount_off": 0.45},
                                        cases_each=200), similar=SIMILAR)
        options = [Option(g, outcomes, 800) for g, outcomes in history.items() if g]
        ranked = rank(options, min_outcomes=200, fallback_order=["free_shipping", "amount_off"],
                      currency="EUR")
        assert all(entry.learned for entry in ranked)
        firsts += ranked[0].key == "amount_off"
    assert firsts >= 95


def test_evidence_is_shared_within_a_severity_band_and_not_across_bands() -> None:
    high_4 = SimilarKey.of(reason="damaged_item", tier="gold", severity=4)
    high_5 = SimilarKey.of(reason="damaged_item", tier="gold", severity=5)
    low = SimilarKey.of(reason="damaged_item", tier="gold", severity=1)
    history = [*gesture_history(1, true_rates={"gift_card": 0.6, "percent_off": 0.2},
                                cases_each=150, similar=high_4),
               *gesture_history(2, true_rates={"gift_card": 0.6, "percent_off": 0.2},
                                cases_each=150, similar=high_5),
               *gesture_history(3, true_rates={"gift_card": 0.2, "percent_off": 0.6},
                                cases_each=300, similar=low)]
    fallback = ["percent_off", "gift_card"]
    for similar, best in [(high_4, "gift_card"), (low, "percent_off")]:
        options = [Option(g, outcomes, 1000) for g, outcomes in tally(history, similar=similar)
                   .items() if g]
        ranked = rank(options, min_outcomes=200, fallback_order=fallback, currency="EUR")
        assert all(entry.learned for entry in ranked)
        assert ranked[0].key == best


def test_learned_gestures_swap_places_among_themselves_and_the_others_keep_theirs() -> None:
    options = [Option("a", WinBack(60, 300), 500),      # 20%
               Option("c", WinBack(150, 300), 500),     # 50%
               Option("e", WinBack(90, 300), 500),      # 30%
               Option("b", WinBack(9, 10), 500)]        # 90%, but of only 10 cases
    ranked = rank(options, min_outcomes=200, fallback_order=["a", "b", "c", "d", "e"],
                  currency="EUR")
    assert keys(ranked) == ["c", "b", "e", "d", "a"]
    assert [entry.learned for entry in ranked] == [True, False, True, False, True]
    assert ranked[0].score == pytest.approx(151 / 302)
    assert ranked[0].posterior is not None
    assert ranked[0].posterior.low < 0.5 < ranked[0].posterior.high


def test_equal_evidence_keeps_the_rules_order() -> None:
    options = [Option("a", WinBack(100, 250), 500), Option("b", WinBack(100, 250), 500)]
    assert keys(rank(options, min_outcomes=200, fallback_order=["b", "a"],
                     currency="EUR")) == ["b", "a"]


def test_per_cost_prefers_the_gesture_that_wins_customers_back_more_cheaply() -> None:
    options = [Option("gift_card", WinBack(135, 300), 2000),   # 45% for 20.00
               Option("percent_off", WinBack(90, 300), 500),   # 30% for 5.00
               Option("free_item", WinBack(30, 300), 0)]       # 10%, costs nothing
    fallback = ["gift_card", "percent_off", "free_item"]
    assert keys(rank(options, min_outcomes=200, fallback_order=fallback,
                     currency="EUR")) == ["gift_card", "percent_off", "free_item"]
    ranked = rank(options, min_outcomes=200, fallback_order=fallback, currency="EUR",
                  by="per_cost")
    assert keys(ranked) == ["free_item", "percent_off", "gift_card"]
    assert ranked[1].why == ("won back 30% of similar customers (300 cases), cost 5.00 EUR each, "
                             "16.67 EUR per customer won back")


def test_evidence_for_a_gesture_the_rules_excluded_does_not_bring_it_back() -> None:
    options = [Option("amount_off", WinBack(290, 300), 1000),
               Option("free_shipping", WinBack(60, 300), 2400)]
    ranked = rank(options, min_outcomes=200, fallback_order=["free_shipping"], currency="EUR")
    assert keys(ranked) == ["free_shipping"]


def test_ranking_refuses_ambiguous_input() -> None:
    with pytest.raises(ValueError, match="twice"):
        rank([], min_outcomes=200, fallback_order=["a", "a"], currency="EUR")
    with pytest.raises(ValueError, match="two sets"):
        rank([Option("a", WinBack(1, 2), 0), Option("a", WinBack(1, 2), 0)],
             min_outcomes=200, fallback_order=["a"], currency="EUR")
    with pytest.raises(ValueError, match="at least 1"):
        rank([], min_outcomes=0, fallback_order=["a"], currency="EUR")


# --- Hold-out uplift -----------------------------------------------------------------------------

def holdout_uplifts(*, treated_rate: float, holdout_rate: float) -> list[tuple[float, float]]:
    """The 95% uplift interval of 100 seeded runs: 2000 customers, 10% held out at random."""
    intervals = []
    for seed in SEEDS:
        counts = tally(holdout_history(seed, customers=2000, holdout_share=0.10,
                                       treated_rate=treated_rate, holdout_rate=holdout_rate),
                       similar=SIMILAR)
        result = uplift(counts["amount_off"], counts[None])
        intervals.append((result.low, result.high))
    return intervals


def test_the_holdout_uplift_interval_contains_the_true_effect_in_at_least_90_of_100_runs() -> None:
    """Newcombe's interval covers about 95% here (94.8% over 20,000 simulated runs); 90 of 100
    is the acceptance criterion. So that a uselessly wide interval cannot pass, the same
    intervals must almost never contain zero, which is 0.15 away from the truth (about 1% of
    runs expected, at most 10 allowed)."""
    intervals = holdout_uplifts(treated_rate=0.40, holdout_rate=0.25)
    assert sum(low <= 0.15 <= high for low, high in intervals) >= 90
    assert sum(low <= 0.0 <= high for low, high in intervals) <= 10


def test_without_a_true_effect_the_uplift_is_rarely_called_significant() -> None:
    """About 5 of 100 runs are expected to exclude zero by chance; an interval that is too
    narrow (overconfident) would exceed 12 (the chance of that by bad luck is about 0.1%)."""
    intervals = holdout_uplifts(treated_rate=0.30, holdout_rate=0.30)
    assert sum(not low <= 0.0 <= high for low, high in intervals) <= 12
