"""The statistics of Outcomes, pure and without I/O: how often a gesture wins a customer back,
by how much more than an apology alone (hold-out groups), and which gesture to recommend once
there is enough evidence for similar cases.

Choices, and why:
- Win-back of one gesture: Beta-Binomial posterior with a uniform Beta(1, 1) prior. Its
  equal-tailed credible interval needs the Beta quantile, computed to about 1e-15 by
  inverting the regularized incomplete beta function, itself evaluated with the classic
  continued fraction (modified Lentz; Press et al., Numerical Recipes, 3rd ed., section 6.4).
  A normal approximation would be wrong exactly where it matters: few cases, rates near 0 or 1.
- Uplift over a hold-out: Newcombe's hybrid score interval (method 10 of Newcombe 1998,
  "Interval estimation for the difference between independent proportions", Stat Med 17:873)
  built from the two Wilson intervals. Its coverage stays close to nominal for small groups
  and extreme rates, where the textbook Wald interval undercovers; a hold-out is small by design.
- Ranking: by posterior mean (or posterior mean per unit of cost), deterministic, ties broken
  by the organisation's rule order. No sampling, so the same evidence gives the same advice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

from amends.kit.money import minor_digits

Band = Literal["low", "medium", "high"]
RankBy = Literal["win_back", "per_cost"]

UNIFORM_PRIOR = (1.0, 1.0)



@dataclass(frozen=True, slots=True)
class WinBack:
    """Of `cases` cases, the customer bought again within the window in `won` of them."""

    won: int
    cases: int

    def __post_init__(self) -> None:
        if not 0 <= self.won <= self.cases:
            raise ValueError(f"won back {self.won} of {self.cases} cases is not a count")

    @property
    def rate(self) -> float:
        if self.cases == 0:
            raise ValueError("no cases, no win-back rate")
        return self.won / self.cases


@dataclass(frozen=True, slots=True)
class SimilarKey:
    """What makes two cases similar enough to share evidence."""

    reason: str
    tier: str
    band: Band

    @classmethod
    def of(cls, *, reason: str, tier: str, severity: int) -> SimilarKey:
        return cls(reason=reason, tier=tier, band=severity_band(severity))


def severity_band(severity: int) -> Band:
    """Severity 1-2 is low, 3 medium, 4-5 high: coarse enough that each band gathers data."""
    if not 1 <= severity <= 5:
        raise ValueError(f"severity is 1 to 5, not {severity}")
    if severity <= 2:
        return "low"
    return "medium" if severity == 3 else "high"


# --- Beta distribution ---------------------------------------------------------------------------

def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction for I_x(a, b), modified Lentz; converges fast for x < (a+1)/(a+b+2)."""
    tiny, epsilon = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 10_000):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1.0) < epsilon:
            return fraction
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def beta_cdf(x: float, a: float, b: float) -> float:
    """P(X <= x) for X ~ Beta(a, b): the regularized incomplete beta function I_x(a, b)."""
    if a <= 0 or b <= 0:
        raise ValueError("Beta parameters must be positive")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = a * math.log(x) + b * math.log1p(-x) - _log_beta(a, b)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def beta_quantile(q: float, a: float, b: float) -> float:
    """The x with beta_cdf(x, a, b) == q, to about 1e-15 absolute: Newton's method kept inside a
    shrinking bracket (bisection whenever a Newton step would leave it), so it converges for any
    a, b > 0, even where the density is unbounded (a or b below 1)."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"a quantile is of a probability in [0, 1], not {q}")
    if q in (0.0, 1.0):
        return q
    low, high, x = 0.0, 1.0, a / (a + b)
    log_norm = _log_beta(a, b)
    for _ in range(200):
        error = beta_cdf(x, a, b) - q
        if error < 0:
            low = x
        else:
            high = x
        density = math.exp((a - 1) * math.log(x) + (b - 1) * math.log1p(-x) - log_norm)
        newton = x - error / density if density > 0 else low
        if abs(newton - x) <= 1e-15 + 1e-13 * x:
            return min(max(newton, low), high)
        x = newton if low < newton < high else (low + high) / 2
        if high - low <= 1e-15:
            return x
    return x


@dataclass(frozen=True, slots=True)
class Posterior:
    """Beta(alpha, beta) belief about a win-back rate, its mean and credible interval."""

    alpha: float
    beta: float
    mean: float
    low: float
    high: float
    credibility: float


def posterior(won: int, cases: int, *, prior: tuple[float, float] = UNIFORM_PRIOR,
              credibility: float = 0.95) -> Posterior:
    """Posterior of the win-back rate after `won` of `cases`, with an equal-tailed interval."""
    WinBack(won, cases)
    if not 0.0 < credibility < 1.0:
        raise ValueError(f"credibility is between 0 and 1, not {credibility}")
    if prior[0] <= 0 or prior[1] <= 0:
        raise ValueError("a Beta prior has positive parameters")
    alpha, beta = prior[0] + won, prior[1] + cases - won
    tail = (1.0 - credibility) / 2
    return Posterior(alpha=alpha, beta=beta, mean=alpha / (alpha + beta),
                     low=beta_quantile(tail, alpha, beta),
                     high=beta_quantile(1.0 - tail, alpha, beta), credibility=credibility)


# --- Uplift over a hold-out ----------------------------------------------------------------------

def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence is between 0 and 1, not {confidence}")
    return NormalDist().inv_cdf((1.0 + confidence) / 2)


def wilson_interval(outcomes: WinBack, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a win-back rate ((0, 1) when there are no cases)."""
    z = _z(confidence)
    n = outcomes.cases
    if n == 0:
        return 0.0, 1.0
    p = outcomes.won / n
    shrink = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / shrink
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / shrink
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True)
class Uplift:
    """How many more customers in a hundred the gesture wins back than the apology alone."""

    estimate: float
    low: float
    high: float
    confidence: float

    @property
    def significant(self) -> bool:
        """The interval excludes zero: the gesture makes a difference, one way or the other."""
        return self.low > 0.0 or self.high < 0.0


def uplift(treated: WinBack, holdout: WinBack, *, confidence: float = 0.95) -> Uplift:
    """Win-back rate of the treated minus that of the hold-out, with Newcombe's hybrid score
    interval (method 10)."""
    if treated.cases == 0 or holdout.cases == 0:
        raise ValueError("an uplift needs cases both with the gesture and in the hold-out")
    p1, p2 = treated.rate, holdout.rate
    low1, high1 = wilson_interval(treated, confidence=confidence)
    low2, high2 = wilson_interval(holdout, confidence=confidence)
    estimate = p1 - p2
    return Uplift(estimate=estimate,
                  low=estimate - math.hypot(p1 - low1, high2 - p2),
                  high=estimate + math.hypot(high1 - p1, p2 - low2),
                  confidence=confidence)


# --- Learning recommendation ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Option:
    """A gesture with what it achieved in similar cases and what it cost on average."""

    key: str
    outcomes: WinBack
    average_cost: int

    def __post_init__(self) -> None:
        if self.average_cost < 0:
            raise ValueError(f"{self.key}: a cost is not negative")


@dataclass(frozen=True, slots=True)
class Ranked:
    """One gesture in the recommended order. `learned` says whether its place comes from its
    outcomes (then `posterior` and `score` are set) or from the organisation's rules."""

    key: str
    learned: bool
    outcomes: WinBack
    average_cost: int | None
    posterior: Posterior | None
    score: float | None
    why: str


def format_money(minor: int, currency: str) -> str:
    """An amount of minor units for people: 610 EUR cents -> '6.10 EUR', 610 JPY -> '610 JPY'."""
    decimals = minor_digits(currency)
    return f"{minor / 10 ** decimals:,.{decimals}f} {currency}"


def _cases(count: int) -> str:
    return f"{count} case" if count == 1 else f"{count} cases"


def _learned_why(option: Option, currency: str, by: RankBy) -> str:
    outcomes, cost = option.outcomes, format_money(option.average_cost, currency)
    why = (f"won back {outcomes.rate:.0%} of similar customers ({_cases(outcomes.cases)}), "
           f"cost {cost} each")
    if by == "per_cost" and outcomes.won:
        per_customer = round(option.average_cost * outcomes.cases / outcomes.won)
        why += f", {format_money(per_customer, currency)} per customer won back"
    return why


def rank(options: Sequence[Option], *, min_outcomes: int, fallback_order: Sequence[str],
         currency: str, by: RankBy = "win_back",
         prior: tuple[float, float] = UNIFORM_PRIOR) -> list[Ranked]:
    """Order the gestures of `fallback_order` (the organisation's rule-based recommendation,
    best first) using the outcomes of similar cases.

    Only gestures with at least `min_outcomes` outcomes are learned. They swap places among
    the positions they hold in the rule order, best first by posterior mean win-back (or, with
    `by="per_cost"`, posterior mean per minor unit of average cost; a free gesture beats any
    paid one). Every other gesture keeps the exact place the rules gave it: evidence only
    reorders what it knows about. So with no gesture past `min_outcomes` the result is the rule
    order unchanged. Ties are broken by the rule order.

    `options` for gestures absent from `fallback_order` are ignored: the rules or the caller's
    authority excluded them, and learning reorders, it never brings an excluded gesture back.
    """
    if min_outcomes < 1:
        raise ValueError("min_outcomes is at least 1")
    if by not in ("win_back", "per_cost"):
        raise ValueError(f"rank by win_back or per_cost, not {by!r}")
    if len(set(fallback_order)) != len(fallback_order):
        raise ValueError("a gesture appears twice in the fallback order")
    by_key: dict[str, Option] = {}
    for option in options:
        if option.key in by_key:
            raise ValueError(f"two sets of outcomes for gesture {option.key!r}")
        by_key[option.key] = option

    entries: list[Ranked] = []
    order: dict[int, tuple[float, float]] = {}  # position of a learned gesture -> (score, mean)
    for key in fallback_order:
        evidence = by_key.get(key)
        if evidence is None or evidence.outcomes.cases < min_outcomes:
            cases = evidence.outcomes.cases if evidence else 0
            entries.append(Ranked(
                key=key, learned=False, outcomes=evidence.outcomes if evidence else WinBack(0, 0),
                average_cost=evidence.average_cost if evidence else None, posterior=None,
                score=None, why=(f"too few similar cases to learn from ({cases} of "
                                 f"{min_outcomes}): placed by the organisation's rules")))
            continue
        belief = posterior(evidence.outcomes.won, evidence.outcomes.cases, prior=prior)
        if by == "win_back":
            score = belief.mean
        else:
            score = belief.mean / evidence.average_cost if evidence.average_cost else math.inf
        order[len(entries)] = (score, belief.mean)
        entries.append(Ranked(key=key, learned=True, outcomes=evidence.outcomes,
                              average_cost=evidence.average_cost, posterior=belief, score=score,
                              why=_learned_why(evidence, currency, by)))

    slots = list(order)
    best_first = sorted(slots, key=lambda i: (-order[i][0], -order[i][1], i))
    result = list(entries)
    for slot, source in zip(slots, best_first, strict=True):
        result[slot] = entries[source]
    return result
