"""Which gesture fits this case: the catalogue, filtered to what the caller may give, ranked by
the organisation's rules (data it edits, see `cases.policy.DEFAULT_RULES`)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.approvals import policy as authority
from amends.approvals.service import limits_for
from amends.cases import policy
from amends.cases.service import get_case
from amends.coupons import policy as coupon_policy
from amends.models import Customer, Incentive, Organization
from amends.outcomes import service as outcomes
from amends.outcomes import stats


async def recommendations(session: AsyncSession, actor: Actor, *, case_id: uuid.UUID,
                          limit: int = 5) -> list[tuple[Incentive, policy.Recommendation]]:
    case = await get_case(session, actor, case_id=case_id)
    customer = await session.get(Customer, (case.organization_id, case.customer_id))
    assert customer is not None
    return await recommend_for(session, actor, customer=customer, reason=case.reason,
                               severity=case.severity, limit=limit)


async def recommend_for(session: AsyncSession, actor: Actor, *, customer: Customer,
                        reason: str, severity: int, limit: int = 5
                        ) -> list[tuple[Incentive, policy.Recommendation]]:
    """The gestures the caller may give for this reason and severity, best first (a case's,
    or a ticket's before its case is opened)."""
    organization = await session.get(Organization, actor.organization_id)
    assert organization is not None
    currency = customer.currency or organization.default_currency
    incentives = (await session.scalars(select(Incentive).where(
        Incentive.organization_id == actor.organization_id, Incentive.active.is_(True),
        Incentive.currency == currency))).all()
    limits = await limits_for(session, actor, currency)
    options, by_id = [], {}
    for incentive in incentives:
        face_value = coupon_policy.face_value(
            incentive.kind, incentive.value, average_order_value=organization.average_order_value)
        if not authority.may_give(limits, face_value=face_value, incentive_id=str(incentive.id)):
            continue
        options.append(policy.Option(id=str(incentive.id), name=incentive.name,
                                     kind=incentive.kind, face_value=face_value,
                                     currency=incentive.currency,
                                     reasons=tuple(incentive.reasons)))
        by_id[str(incentive.id)] = incentive
    situation = policy.Situation(reason=reason, severity=severity,
                                 tier=customer.value_tier, lifetime_value=customer.lifetime_value,
                                 currency=currency)
    by_rules = policy.recommend(options, situation, organization.recommendation_rules,
                                limit=len(options))
    ranked = await _learned(session, organization, reason, customer.value_tier,
                            severity, currency, by_rules)
    return [(by_id[r.option.id], r) for r in ranked[:limit]]


async def _learned(session: AsyncSession, organization: Organization, reason: str, tier: str,
                   severity: int, currency: str, by_rules: list[policy.Recommendation]
                   ) -> list[policy.Recommendation]:
    """The rule order, re-ranked by the observed win-back of each gesture in similar cases
    where there are enough outcomes (`learn_min_outcomes`, default 200); otherwise exactly the
    rule order."""
    if not by_rules:
        return by_rules
    min_outcomes = int(policy.merged_rules(organization.recommendation_rules)
                       ["learn_min_outcomes"])
    order = [r.option.id for r in by_rules]
    evidence = await outcomes.similar(session, organization_id=organization.id, reason=reason,
                                      tier=tier, severity=severity, incentive_ids=order)
    learned = stats.rank(evidence, min_outcomes=min_outcomes, fallback_order=order,
                         currency=currency)
    by_id = {r.option.id: r for r in by_rules}
    result = []
    for entry in learned:
        original = by_id[entry.key]
        if entry.learned:
            original = policy.Recommendation(option=original.option, score=original.score,
                                             why=[entry.why, *original.why])
        result.append(original)
    return result
