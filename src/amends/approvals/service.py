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
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.approvals import policy
from amends.audit import service as audit
from amends.cases.service import add_event
from amends.coupons import policy as coupon_policy
from amends.coupons import service as coupons
from amends.coupons.errors import IncentiveInactive
from amends.errors import Conflict, Forbidden, NotFound
from amends.incentives.service import IncentiveNotFound
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


@dataclass(frozen=True, slots=True)
class Given:
    coupon: Coupon | None
    approval: Approval | None
    created: bool


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


async def _recent_gestures(session: AsyncSession, customer: Customer, days: int) -> int:
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
    grounds = policy.authority_grounds(
        limits, face_value=face_value, incentive_id=str(incentive.id),
        recent_gestures=await _recent_gestures(session, customer,
                                               organization.second_gesture_window_days))
    if not grounds:
        grounds = await consume_budgets(session, actor, limits, currency=incentive.currency,
                                        amount=face_value)
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
    approval = Approval(
        organization_id=actor.organization_id, status="pending", customer_id=customer.id,
        customer_external_id=customer.external_id, incentive_id=incentive.id,
        case_id=case.id if case else None, case_ref=case_ref, channel=channel,
        face_value=face_value, currency=incentive.currency, grounds=grounds,
        explanation=explanation, note=note, history=await history(session, customer),
        requested_by_type=actor.kind, requested_by_id=actor.id, requested_by_label=actor.label,
        expires_at=utcnow() + timedelta(hours=organization.approval_hours),
    )
    session.add(approval)
    await session.flush()
    await audit.record(session, actor, action="approval.requested", object_type="approval",
                       object_id=approval.id, reason=note,
                       after={"incentive": incentive.name, "customer": customer.external_id,
                              "face_value": face_value, "grounds": grounds})
    await webhooks.emit(session, actor.organization_id, "approval.requested", _public(approval))
    from amends.delivery import staff

    await staff.notify(
        session, actor.organization_id,
        to=await staff.deciders(session, actor.organization_id, besides=actor.user_id),
        note="approval_needed",
        values={"requester": actor.label, "incentive": incentive.name,
                "customer": customer.external_id, "explanation": explanation,
                "note": note or ""},
        amounts={"amount": (face_value, incentive.currency)},
        moments={"deadline": approval.expires_at}, link="/approvals")
    if case is not None:
        await add_event(session, case, actor, kind="approval_requested",
                        summary=f"Asked a supervisor for {incentive.name}: {explanation}",
                        data={"approval_id": str(approval.id)})
    return approval


def _public(approval: Approval) -> dict[str, Any]:
    return {"id": str(approval.id), "status": approval.status,
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
    concurrent grants produce one decision and one coupon."""
    approval = await get_approval(session, actor, approval_id=approval_id)
    if approval.requested_by_type == actor.kind and approval.requested_by_id == actor.id:
        raise CannotApproveOwnRequest("Another supervisor has to decide your own request.")
    now = utcnow()
    result = await session.execute(
        update(Approval)
        .where(Approval.organization_id == approval.organization_id, Approval.id == approval.id,
               Approval.status == "pending", Approval.expires_at > now)
        .values(status="granted" if grant else "refused", decided_by_id=actor.id,
                decided_by_label=actor.label, decision_reason=reason, decided_at=now)
        .execution_options(synchronize_session=False))
    if not getattr(result, "rowcount", 0):
        approval = await get_approval(session, actor, approval_id=approval_id)
        if approval.status == "pending":
            raise ApprovalExpired(f"It expired on {approval.expires_at:%d %B %Y %H:%M} UTC.")
        raise ApprovalAlreadyDecided(f"It was {approval.status} by {approval.decided_by_label}.",
                                     status=approval.status)
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
