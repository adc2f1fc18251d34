"""Giving a gesture within one's authority, and asking a supervisor for the rest.

`give_gesture` is what an agent's one click does: the same customer + incentive + case gets
the coupon issued before; otherwise the gesture is checked against the person's authority
(value, allowed incentives), the customer's recent gestures and the person's budgets. Budgets
are consumed with one conditional UPDATE each (`spent + value <= budget`), so concurrent
clicks can never overspend them. What does not pass becomes an approval request, not an error.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.approvals import policy
from amends.audit import service as audit
from amends.cases.service import CaseClosed, add_event
from amends.coupons import policy as coupon_policy
from amends.coupons import service as coupons
from amends.coupons.errors import IncentiveInactive
from amends.errors import Conflict, Forbidden, NotFound
from amends.incentives.service import IncentiveNotFound
from amends.jobs import periodic
from amends.kit.cache import TtlCache
from amends.kit.clock import utcnow
from amends.kit.ids import new_id
from amends.kit.pagination import Page, newest_first
from amends.kit.sql import dialect_of, get_or_insert, insert_for
from amends.models import (
    ApiKey,
    Approval,
    AuthorityLimit,
    BudgetUsage,
    Case,
    Coupon,
    Customer,
    Incentive,
    Organization,
    User,
)
from amends.roles import Role, Scope
from amends.tenancy import require_all_owned, require_owned
from amends.webhooks import service as webhooks


class ApprovalNotFound(NotFound):
    code, title = "approval_not_found", "No such approval request"


class ApprovalAlreadyDecided(Conflict):
    code, title = "approval_already_decided", "The request was decided already"


class ApprovalExpired(Conflict):
    code, title = "approval_expired", "The request expired"


class CannotApproveOwnRequest(Forbidden):
    code, title = "cannot_approve_own_request", "A request is decided by someone else"


class ApprovalForHigherTier(Forbidden):
    code, title = "approval_for_higher_tier", "The request waits for a higher tier"


class BeyondEveryTier(Forbidden):
    code, title = "beyond_every_tier", "Beyond your authority, and no tier is above yours"


class ApprovalChanged(Conflict):
    code, title = "approval_changed", "The request changed meanwhile"


@dataclass(frozen=True, slots=True)
class Given:
    coupon: Coupon | None
    approval: Approval | None
    created: bool
    # A gesture Amends meant to give by itself but did not: why (the automation budget is
    # spent). System gestures never become approval requests nobody asked for.
    withheld: tuple[str, ...] = ()


# Limits change rarely; a change made in another process applies within seconds.
_limits_cache: TtlCache[policy.Limits] = TtlCache(5.0)


def spender(actor: Actor) -> str:
    return f"{actor.kind}:{actor.id}"


def _limits(row: AuthorityLimit | None) -> policy.Limits | None:
    if row is None:
        return None
    return policy.Limits(
        max_gesture=row.max_gesture, daily_budget=row.daily_budget,
        monthly_budget=row.monthly_budget,
        incentive_ids=frozenset(row.incentive_ids) if row.incentive_ids is not None else None)


async def limits_for(session: AsyncSession, actor: Actor, currency: str) -> policy.Limits:
    """Role limits overridden by the person's own. Amends itself (proactive rules, thank-you
    gestures) spends the organisation's automation budget per day."""
    if actor.kind == "system":
        organization = await session.get(Organization, actor.organization_id)
        budget = organization.automation_daily_budget if organization else None
        return policy.Limits(daily_budget=budget)
    role_subject = f"role:{actor.role.value}" if actor.role else "role:api_key"

    async def load() -> policy.Limits:
        rows = {row.subject: row for row in (await session.scalars(select(AuthorityLimit).where(
            AuthorityLimit.organization_id == actor.organization_id,
            AuthorityLimit.currency == currency,
            AuthorityLimit.subject.in_([role_subject, spender(actor)])))).all()}
        return policy.effective(_limits(rows.get(role_subject)),
                                _limits(rows.get(spender(actor))))

    return await _limits_cache.get((actor.organization_id, role_subject, spender(actor),
                                    currency), load)


async def _consume(session: AsyncSession, actor: Actor, *, period: str, currency: str,
                   amount: int, budget: int) -> bool:
    key = {"organization_id": actor.organization_id, "spender": spender(actor),
           "period": period, "currency": currency}
    await session.execute(
        insert_for(session, BudgetUsage.__table__).values(id=new_id(), spent=0, **key)
        .on_conflict_do_nothing(index_elements=list(key)))
    result = await session.execute(
        update(BudgetUsage)
        .where(*(getattr(BudgetUsage, k) == v for k, v in key.items()),
               BudgetUsage.spent + amount <= budget)
        .values(spent=BudgetUsage.spent + amount)
        .execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0))


async def _refund(session: AsyncSession, actor: Actor, *, period: str, currency: str,
                  amount: int) -> None:
    await session.execute(
        update(BudgetUsage)
        .where(BudgetUsage.organization_id == actor.organization_id,
               BudgetUsage.spender == spender(actor), BudgetUsage.period == period,
               BudgetUsage.currency == currency)
        .values(spent=BudgetUsage.spent - amount)
        .execution_options(synchronize_session=False))


async def consume_budgets(session: AsyncSession, actor: Actor, limits: policy.Limits, *,
                          currency: str, amount: int) -> list[str]:
    """Take `amount` from the month's and the day's budget, both or neither."""
    now = utcnow()
    month, day = f"m:{now:%Y-%m}", f"d:{now:%Y-%m-%d}"
    if limits.monthly_budget is not None and not await _consume(
            session, actor, period=month, currency=currency, amount=amount,
            budget=limits.monthly_budget):
        return [policy.BEYOND_MONTHLY_BUDGET]
    if limits.daily_budget is not None and not await _consume(
            session, actor, period=day, currency=currency, amount=amount,
            budget=limits.daily_budget):
        if limits.monthly_budget is not None:
            await _refund(session, actor, period=month, currency=currency, amount=amount)
        return [policy.BEYOND_DAILY_BUDGET]
    return []


async def recent_gestures(session: AsyncSession, customer: Customer, days: int) -> int:
    """The customer's gestures of the last `days` days, withdrawn ones aside: one or more makes
    another a second gesture (the case page asks this to offer what the click will do)."""
    if days <= 0:
        return 0
    since = utcnow() - timedelta(days=days)
    return int(await session.scalar(select(func.count()).select_from(Coupon).where(
        Coupon.organization_id == customer.organization_id, Coupon.customer_id == customer.id,
        Coupon.issued_at >= since, Coupon.status != "revoked")) or 0)


async def history(session: AsyncSession, customer: Customer) -> dict[str, Any]:
    """What a supervisor sees beside a request: the customer's gestures and cases."""
    recent = (await session.scalars(select(Coupon).where(
        Coupon.organization_id == customer.organization_id, Coupon.customer_id == customer.id)
        .order_by(Coupon.issued_at.desc()).limit(5))).all()
    cases = int(await session.scalar(select(func.count()).select_from(Case).where(
        Case.organization_id == customer.organization_id,
        Case.customer_id == customer.id)) or 0)
    return {
        "customer": {"id": customer.external_id, "name": customer.name,
                     "tier": customer.value_tier, "lifetime_value": customer.lifetime_value},
        "cases": cases,
        "recent_gestures": [{"name": c.name, "face_value": c.face_value,
                             "currency": c.currency, "status": c.status,
                             "issued_at": c.issued_at.isoformat(),
                             "issued_by": c.issued_by_label} for c in recent],
    }


async def give_gesture(
    session: AsyncSession, actor: Actor, *, customer: Customer, incentive: Incentive,
    case: Case | None = None, case_ref: str | None = None, channel: str | None = None,
    note: str | None = None,
) -> Given:
    """One click: the coupon (new or issued before), or an approval request."""
    ref = case.reference if case is not None else (case_ref or "")
    channel = channel or (case.channel if case is not None else None)
    existing = await coupons.find_issued(session, actor, customer=customer, incentive=incentive,
                                         case_ref=ref)
    if existing is not None:
        return Given(coupon=existing, approval=None, created=False)
    if case is not None and case.state == "closed":
        raise CaseClosed("The case is closed: reopen it first to give a gesture.")
    if not incentive.active:
        raise IncentiveInactive(f"{incentive.name!r} is no longer in the catalogue.")
    if dialect_of(session) == "postgresql":
        # One gesture decision per customer at a time. Whoever waited here looks again: the
        # coupon it asks for may have been issued (and committed) meanwhile.
        await session.execute(select(Customer.id).where(
            Customer.organization_id == customer.organization_id, Customer.id == customer.id)
            .with_for_update())
        existing = await coupons.find_issued(session, actor, customer=customer,
                                             incentive=incentive, case_ref=ref)
        if existing is not None:
            return Given(coupon=existing, approval=None, created=False)
    organization = await session.get(Organization, actor.organization_id)
    assert organization is not None
    face_value = coupon_policy.face_value(incentive.kind, incentive.value,
                                          average_order_value=organization.average_order_value)
    limits = await limits_for(session, actor, incentive.currency)
    if actor.kind == "system":
        # Amends' own gestures (rules, surprises) follow the automation budget alone; what it
        # does not cover is not given, and nobody is asked to approve what nobody asked for.
        withheld = await consume_budgets(session, actor, limits, currency=incentive.currency,
                                         amount=face_value)
        if withheld:
            if case is not None:
                await add_event(session, case, actor, kind="gesture_withheld",
                                summary=f"{incentive.name} not given: the automation budget "
                                        f"for today is spent", data={"grounds": withheld})
            return Given(coupon=None, approval=None, created=False, withheld=tuple(withheld))
        grounds: list[str] = []
    else:
        grounds = policy.authority_grounds(
            limits, face_value=face_value, incentive_id=str(incentive.id),
            recent_gestures=await recent_gestures(session, customer,
                                                   organization.second_gesture_window_days))
        if not grounds:
            grounds = await consume_budgets(session, actor, limits,
                                            currency=incentive.currency, amount=face_value)
    if grounds:
        approval = await request_approval(
            session, actor, organization=organization, customer=customer, incentive=incentive,
            case=case, case_ref=ref, channel=channel, face_value=face_value, grounds=grounds,
            limits=limits, note=note)
        return Given(coupon=None, approval=approval, created=True)
    coupon, created = await coupons.issue_coupon(session, actor, customer=customer,
                                                 incentive=incentive, case_ref=ref,
                                                 channel=channel, looked_up=True)
    if created:
        await _announce_coupon(session, actor, coupon, case)
    return Given(coupon=coupon, approval=None, created=created)


async def _announce_coupon(session: AsyncSession, actor: Actor, coupon: Coupon,
                           case: Case | None) -> None:
    summary = coupons.coupon_summary(coupon)
    await webhooks.emit(session, actor.organization_id, "coupon.issued",
                        {"id": str(coupon.id), **summary})
    if case is not None:
        await add_event(session, case, actor, kind="coupon_issued",
                        summary=f"{coupon.name} issued ({coupon.face_value / 100:.2f} "
                                f"{coupon.currency})", data={"coupon_id": str(coupon.id)})


async def request_approval(
    session: AsyncSession, actor: Actor, *, organization: Organization, customer: Customer,
    incentive: Incentive, case: Case | None, case_ref: str, channel: str | None,
    face_value: int, grounds: list[str], limits: policy.Limits, note: str | None,
) -> Approval:
    explanation = policy.explain(grounds, limit=limits.max_gesture, currency=incentive.currency,
                                 days=organization.second_gesture_window_days)
    tiers = organization.approval_tiers
    may_grant = {}
    for tier in tiers:
        role_limits = await limits_for(session, _role_actor(actor.organization_id, tier),
                                       incentive.currency)
        may_grant[tier] = policy.may_give(role_limits, face_value=face_value,
                                          incentive_id=str(incentive.id))
    tier = policy.first_tier(tiers, may_grant=may_grant)
    now = utcnow()
    routed_why = "" if tier == tiers[0] else (
        f"above what every {tiers[0]} may grant" if tiers.index(tier) == 1
        else f"above what every {' and '.join(tiers[:tiers.index(tier)])} may grant")
    approval = Approval(
        organization_id=actor.organization_id, status="pending", customer_id=customer.id,
        customer_external_id=customer.external_id, incentive_id=incentive.id,
        case_id=case.id if case else None, case_ref=case_ref, channel=channel,
        face_value=face_value, currency=incentive.currency, grounds=grounds,
        explanation=explanation, note=note, history=await history(session, customer),
        requested_by_type=actor.kind, requested_by_id=actor.id, requested_by_label=actor.label,
        expires_at=now + timedelta(hours=organization.approval_hours),
        tier=tier, tier_since=now,
        chain=[policy.chain_entry(tier=tier, at=now.isoformat(), why=routed_why)],
    )
    session.add(approval)
    await session.flush()
    await audit.record(session, actor, action="approval.requested", object_type="approval",
                       object_id=approval.id, reason=note,
                       after={"incentive": incentive.name, "customer": customer.external_id,
                              "face_value": face_value, "grounds": grounds})
    await webhooks.emit(session, actor.organization_id, "approval.requested", _public(approval))

    await _tell_tier(session, approval, tiers, from_tier=tier, besides=actor.user_id,
                     incentive=incentive.name, explanation=explanation)
    if case is not None:
        asked = "a supervisor" if tier == "supervisor" else f"a {tier}"
        await add_event(session, case, actor, kind="approval_requested",
                        summary=f"Asked {asked} for {incentive.name}: {explanation}",
                        data={"approval_id": str(approval.id), "tier": tier})
    return approval


def _role_actor(organization_id: uuid.UUID, role: str) -> Actor:
    """Anyone of `role`, for reading the role's own limits."""
    return Actor(organization_id=organization_id, kind="user", id=None, label=f"role:{role}",
                 role=Role(role))


async def _tell_tier(session: AsyncSession, approval: Approval, tiers: list[str], *,
                     from_tier: str, besides: uuid.UUID | None, incentive: str,
                     explanation: str) -> None:
    """E-mail the people of `from_tier` (or, when it has nobody, of the first tier above
    with somebody) that a request waits for them."""
    from amends.delivery import staff

    for tier in tiers[tiers.index(from_tier):] if from_tier in tiers else [from_tier]:
        people = await staff.deciders(session, approval.organization_id, besides=besides,
                                      roles=(tier,))
        if people:
            await staff.notify(
                session, approval.organization_id, to=people, note="approval_needed",
                values={"requester": approval.requested_by_label, "incentive": incentive,
                        "customer": approval.customer_external_id,
                        "explanation": explanation, "note": approval.note or ""},
                amounts={"amount": (approval.face_value, approval.currency)},
                moments={"deadline": approval.expires_at}, link="/approvals")
            return


def decider_rank(actor: Actor) -> int:
    """Where an approver stands among the tiers: their role's place; an API key with the
    `admin` scope stands with admins."""
    if actor.kind == "api_key":
        return policy.rank("admin") if actor.can(Scope.ADMIN) else 0
    return policy.rank(actor.role.value if actor.role else None)


def _public(approval: Approval) -> dict[str, Any]:
    return {"id": str(approval.id), "status": approval.status, "tier": approval.tier,
            "customer_id": approval.customer_external_id,
            "incentive_id": str(approval.incentive_id), "face_value": approval.face_value,
            "currency": approval.currency, "grounds": approval.grounds,
            "requested_by": approval.requested_by_label,
            "coupon_id": str(approval.coupon_id) if approval.coupon_id else None}


async def get_approval(session: AsyncSession, actor: Actor, *, approval_id: uuid.UUID
                       ) -> Approval:
    approval = await session.scalar(select(Approval).where(
        Approval.id == approval_id, Approval.organization_id == actor.organization_id)
        .execution_options(populate_existing=True))
    if approval is None:
        raise ApprovalNotFound()
    return approval


async def list_approvals(session: AsyncSession, actor: Actor, *, status: str | None,
                         cursor: str | None, limit: int) -> Page[Approval]:
    query = select(Approval).where(Approval.organization_id == actor.organization_id)
    if status:
        query = query.where(Approval.status == status)
    return await newest_first(session, query, Approval.id, cursor=cursor, limit=limit)

async def decide(session: AsyncSession, actor: Actor, *, approval_id: uuid.UUID, grant: bool,
                 reason: str) -> Approval:
    """Grant (the coupon is issued, once) or refuse. One conditional UPDATE decides, so 50
    concurrent grants produce one decision and one coupon.

    An approver decides a request at their tier or below, and grants only within their own
    limit and budgets (which the grant consumes); beyond them the request escalates to the
    next tier (returned still pending). A request escalated by someone else meanwhile is
    looked at again, at its new tier."""
    for _attempt in range(3):
        approval = await get_approval(session, actor, approval_id=approval_id)
        if approval.requested_by_type == actor.kind and approval.requested_by_id == actor.id:
            raise CannotApproveOwnRequest("Another supervisor has to decide your own request.")
        now = utcnow()
        _raise_if_closed(approval, now)
        if decider_rank(actor) < policy.rank(approval.tier):
            raise ApprovalForHigherTier(f"This request waits for a {approval.tier}.",
                                        tier=approval.tier)
        limits = await limits_for(session, actor, approval.currency)
        grounds = policy.authority_grounds(
            limits, face_value=approval.face_value, incentive_id=str(approval.incentive_id),
            recent_gestures=0) if grant else []
        if not grounds:
            try:
                async with session.begin_nested():
                    won = await _mark_decided(session, actor, approval, grant=grant,
                                              reason=reason, now=now)
                    if won and grant:
                        # The approver's own budgets pay for what they grant.
                        if over := await consume_budgets(session, actor, limits,
                                                         currency=approval.currency,
                                                         amount=approval.face_value):
                            raise _Unaffordable(over)
            except _Unaffordable as unaffordable:
                grounds, won = unaffordable.grounds, False
            if won:
                break
        if grounds:
            escalated = await _escalate(session, actor, approval, grounds=grounds,
                                        limits=limits)
            if escalated is not None:
                return escalated
        # Decided, expired or escalated meanwhile: look again.
    else:
        raise ApprovalChanged("The request kept changing while you decided: look again.")
    approval = await get_approval(session, actor, approval_id=approval_id)
    case = (await session.get(Case, (approval.organization_id, approval.case_id))
            if approval.case_id else None)
    if grant:
        customer = await session.get(Customer, (approval.organization_id, approval.customer_id))
        incentive = await session.get(Incentive, (approval.organization_id, approval.incentive_id))
        assert customer is not None
        assert incentive is not None
        requester = Actor(organization_id=approval.organization_id,
                          kind=approval.requested_by_type,  # type: ignore[arg-type]
                          id=approval.requested_by_id, label=approval.requested_by_label)
        coupon, created = await coupons.issue_coupon(
            session, requester, customer=customer, incentive=incentive,
            case_ref=approval.case_ref, channel=approval.channel)
        approval.coupon_id = coupon.id
        await session.flush()
        if created:
            await _announce_coupon(session, requester, coupon, case)
            await _deliver_granted(session, actor, coupon, case, approval.channel)
    await audit.record(session, actor, action="approval.granted" if grant else "approval.refused",
                       object_type="approval", object_id=approval.id, reason=reason,
                       after=_public(approval))
    await webhooks.emit(session, actor.organization_id, "approval.decided", _public(approval))
    if approval.requested_by_type == "user":
        from amends.delivery import staff

        await staff.notify(
            session, actor.organization_id, to=[approval.requested_by_label],
            note="approval_granted" if grant else "approval_refused",
            values={"decider": actor.label, "customer": approval.customer_external_id,
                    "reason": reason},
            link=f"/cases/{case.id}" if case is not None else "/approvals")
    if case is not None:
        await add_event(session, case, actor, kind="approval_decided",
                        summary=f"{'Granted' if grant else 'Refused'} by {actor.label}: {reason}",
                        data={"approval_id": str(approval.id)})
    return approval


class _Unaffordable(Exception):
    def __init__(self, grounds: list[str]) -> None:
        super().__init__(grounds)
        self.grounds = grounds


def _raise_if_closed(approval: Approval, now: datetime) -> None:
    if approval.status != "pending":
        raise ApprovalAlreadyDecided(f"It was {approval.status} by {approval.decided_by_label}.",
                                     status=approval.status)
    if approval.expires_at <= now:
        raise ApprovalExpired(f"It expired on {approval.expires_at:%d %B %Y %H:%M} UTC.")


async def _mark_decided(session: AsyncSession, actor: Actor, approval: Approval, *,
                        grant: bool, reason: str, now: datetime) -> bool:
    """The one conditional UPDATE that decides: whoever wins it decides, once."""
    result = await session.execute(
        update(Approval)
        .where(*_unchanged(approval), Approval.expires_at > now)
        .values(status="granted" if grant else "refused", decided_by_id=actor.id,
                decided_by_label=actor.label, decision_reason=reason, decided_at=now)
        .execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0))


async def _escalate(session: AsyncSession, actor: Actor, approval: Approval, *,
                    grounds: list[str], limits: policy.Limits) -> Approval | None:
    """An approver who may not grant it sends the request up: to the organisation's next tier
    above both the request's tier and the approver's own role. Nothing above: refused, and
    nothing changes. None: the request changed meanwhile (decided or escalated by another)."""
    organization = await session.get(Organization, approval.organization_id)
    assert organization is not None
    tiers = organization.approval_tiers
    above = policy.tier_above(tiers, max(decider_rank(actor), policy.rank(approval.tier)))
    why = policy.explain_for_approver(grounds, limit=limits.max_gesture,
                                      currency=approval.currency)
    if above is None:
        raise BeyondEveryTier(f"No tier is above yours to send it to, and you cannot grant it "
                              f"yourself ({why.replace('they', 'you').replace('their', 'your')})"
                              ". Have your limits raised, or refuse it.", grounds=grounds)
    now = utcnow()
    result = await session.execute(
        update(Approval)
        .where(*_unchanged(approval))
        .values(tier=above, tier_since=now, sla_notified_at=None,
                chain=[*approval.chain, policy.chain_entry(
                    kind="escalated", tier=above, at=now.isoformat(), why=why,
                    by=actor.label)])
        .execution_options(synchronize_session=False))
    if not getattr(result, "rowcount", 0):
        return None  # someone decided or escalated it meanwhile
    approval = await get_approval(session, actor, approval_id=approval.id)
    await audit.record(session, actor, action="approval.escalated", object_type="approval",
                       object_id=approval.id, reason=why, after=_public(approval))
    incentive = await session.get(Incentive, (approval.organization_id, approval.incentive_id))
    await _tell_tier(session, approval, tiers, from_tier=above, besides=actor.user_id,
                     incentive=incentive.name if incentive else "",
                     explanation=f"Escalated by {actor.label}: {why}.")
    if approval.case_id is not None and (case := await session.get(
            Case, (approval.organization_id, approval.case_id))) is not None:
        await add_event(session, case, actor, kind="approval_escalated",
                        summary=f"Escalated to a {above} by {actor.label}: {why}",
                        data={"approval_id": str(approval.id), "tier": above})
    return approval


def _unchanged(approval: Approval) -> list[Any]:
    """The request as it was read: still pending, at the same tier since the same moment,
    with the same last overdue notice (its chain cannot be compared in SQL: JSON)."""
    def same(column: Any, value: Any) -> Any:
        return column.is_(None) if value is None else column == value

    return [Approval.organization_id == approval.organization_id, Approval.id == approval.id,
            Approval.status == "pending", Approval.tier == approval.tier,
            same(Approval.tier_since, approval.tier_since),
            same(Approval.sla_notified_at, approval.sla_notified_at)]


async def notify_overdue(session: AsyncSession, *, organization_id: uuid.UUID | str | None = None,
                         limit: int = 500) -> int:
    """Requests waiting at their tier longer than their organisation's SLA: the next tier up is
    told (one tier further for each further SLA period), and the chain says so. Each request
    is a part of its organisation's work (`jobs.periodic`): one that cannot be handled is
    recorded for its admin and the others go on. Returns how many notices went out."""
    now = utcnow()
    query = (select(Approval, Organization.approval_sla_minutes, Organization.approval_tiers)
             .join(Organization, Organization.id == Approval.organization_id)
             .where(Approval.status == "pending", Approval.expires_at > now,
                    Organization.approval_sla_minutes.is_not(None)))
    if organization_id is not None:
        query = query.where(Approval.organization_id == uuid.UUID(str(organization_id)))
    rows = (await session.execute(query.order_by(Approval.created_at).limit(limit))).all()
    told = 0
    async with periodic.each_organization(session, "approvals.overdue",
                                          only=organization_id) as parts:
        for approval, sla_minutes, tiers in rows:
            if sla_minutes is not None and await parts.run(
                    approval.organization_id,
                    partial(_notify_one_overdue, session, approval, sla_minutes=sla_minutes,
                            tiers=tiers, now=now), label="An approval request"):
                told += 1
    return told


async def _notify_one_overdue(session: AsyncSession, approval: Approval, *, sla_minutes: int,
                              tiers: list[str], now: datetime) -> bool:
    since = approval.tier_since or approval.created_at
    notices = sum(1 for step in approval.chain if step.get("kind") == "overdue"
                  and step.get("at", "") >= since.isoformat())
    if now < since + timedelta(minutes=sla_minutes * (notices + 1)):
        return False
    place = tiers.index(approval.tier) if approval.tier in tiers else -1
    if place < 0 or place + notices + 1 >= len(tiers):
        return False  # nobody above to tell
    target = tiers[place + notices + 1]
    waited = f"waiting at the {approval.tier} tier for more than {sla_minutes} minutes"
    result = await session.execute(
        update(Approval).where(*_unchanged(approval))
        .values(sla_notified_at=now, chain=[*approval.chain, policy.chain_entry(
            kind="overdue", tier=target, at=now.isoformat(), why=waited)])
        .execution_options(synchronize_session=False))
    if not getattr(result, "rowcount", 0):
        return False  # decided or moved meanwhile
    incentive = await session.get(Incentive, (approval.organization_id, approval.incentive_id))
    await _tell_tier(session, approval, tiers, from_tier=target, besides=None,
                     incentive=incentive.name if incentive else "",
                     explanation=f"Overdue: {waited}.")
    if approval.case_id is not None and (case := await session.get(
            Case, (approval.organization_id, approval.case_id))) is not None:
        await add_event(session, case, Actor.system(approval.organization_id, "approvals"),
                        kind="approval_overdue",
                        summary=f"Still waiting for a decision: the {target}s were told "
                                f"({waited})", data={"approval_id": str(approval.id)})
    return True


async def _deliver_granted(session: AsyncSession, actor: Actor, coupon: Coupon,
                           case: Case | None, channel: str | None) -> None:
    """A granted gesture goes to the customer as the agent's click would have sent it; if it
    cannot be sent, the grant stands and the case says why."""
    from amends.delivery import service as delivery

    if case is None and channel is None:
        return
    await delivery.deliver_or_note(
        session, actor, what="Granted gesture", case=case, coupon=coupon,
        channel=delivery.BY_CONVERSATION.get(channel) if channel else None)


async def expire_pending(session: AsyncSession) -> int:
    result = await session.execute(
        update(Approval).where(Approval.status == "pending", Approval.expires_at <= utcnow())
        .values(status="expired").execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


class LimitSubjectNotFound(NotFound):
    code, title = "limit_subject_not_found", "No such person or API key in this organisation"


_SUBJECT_MODELS: dict[str, type[User] | type[ApiKey]] = {"user": User, "api_key": ApiKey}


async def _own_subject(session: AsyncSession, actor: Actor, subject: str) -> str:
    """The subject as stored: a role as given, a person or a key only of this organisation."""
    kind, _, raw_id = subject.partition(":")
    model = _SUBJECT_MODELS.get(kind)
    if model is None:
        return subject
    try:
        object_id = uuid.UUID(raw_id)
    except ValueError:
        raise LimitSubjectNotFound(field="subject", id=raw_id) from None
    await require_owned(session, model, organization_id=actor.organization_id,
                        object_id=object_id, missing=LimitSubjectNotFound, field="subject")
    return f"{kind}:{object_id}"


async def set_limit(session: AsyncSession, actor: Actor, *, subject: str, currency: str,
                    max_gesture: int | None, daily_budget: int | None,
                    monthly_budget: int | None, incentive_ids: list[uuid.UUID] | None
                    ) -> AuthorityLimit:
    """Save a role's, a person's or a key's limits; the person, the key and every allowed
    incentive must be this organisation's."""
    subject = await _own_subject(session, actor, subject)
    if incentive_ids is not None:
        await require_all_owned(session, Incentive, organization_id=actor.organization_id,
                                object_ids=incentive_ids, missing=IncentiveNotFound,
                                field="incentive_ids")
    allowed = list(dict.fromkeys(str(i) for i in incentive_ids)) \
        if incentive_ids is not None else None
    row, created = await get_or_insert(
        session, AuthorityLimit, key={"organization_id": actor.organization_id,
                                      "subject": subject, "currency": currency}, lock=True)
    before = None
    if not created:
        before = {"max_gesture": row.max_gesture, "daily_budget": row.daily_budget,
                  "monthly_budget": row.monthly_budget, "incentive_ids": row.incentive_ids}
    row.max_gesture, row.daily_budget, row.monthly_budget = (max_gesture, daily_budget,
                                                             monthly_budget)
    row.incentive_ids = allowed
    await session.flush()
    _limits_cache.forget()
    await audit.record(session, actor, action="authority_limit.saved",
                       object_type="authority_limit", object_id=f"{subject}/{currency}",
                       before=before,
                       after={"max_gesture": max_gesture, "daily_budget": daily_budget,
                              "monthly_budget": monthly_budget, "incentive_ids": allowed})
    return row


async def list_limits(session: AsyncSession, actor: Actor) -> list[AuthorityLimit]:
    return list((await session.scalars(select(AuthorityLimit).where(
        AuthorityLimit.organization_id == actor.organization_id)
        .order_by(AuthorityLimit.subject, AuthorityLimit.currency))).all())
