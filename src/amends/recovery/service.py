"""Proactive recovery: rules over shipments, swept with indexed queries, fired once per
shipment; then follow-ups (a feedback request after the fix, thanks on the next purchase)."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from functools import partial

from pydantic import ValidationError
from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from amends.actor import Actor
from amends.approvals import service as approvals
from amends.audit import service as audit
from amends.cases import service as cases
from amends.delivery import service as delivery
from amends.delivery import staff
from amends.delivery.wording import Phrase
from amends.errors import Conflict, NotFound
from amends.incentives.service import get_incentive
from amends.jobs import periodic
from amends.jobs import service as jobs
from amends.kit.clock import utcnow
from amends.kit.ids import new_id
from amends.kit.sql import insert_for
from amends.models import (
    Case,
    Customer,
    Incentive,
    Order,
    Organization,
    RecoveryRule,
    RuleFiring,
    Shipment,
)
from amends.recovery.schemas import Candidate, RuleIn

OPEN_PARCEL = ("created", "in_transit", "exception")
BATCH = 500


class RuleNotFound(NotFound):
    code, title = "rule_not_found", "No such rule"


class RuleInvalid(Conflict):
    code, title = "rule_invalid", "The saved rule cannot be evaluated; save it again"


class RuleNotTried(Conflict):
    code, title = "rule_not_tried", "Look at what the rule would do before switching it on"


# What a rule does: a change to any of these is a new version, whose dry run nobody has seen.
WHAT_IT_DOES = ("condition", "filters", "actions")


def may_go_live(*, wanted: bool, was_active: bool, changed: bool,
                dry_run_seen: bool) -> bool:
    """A rule may be on only once someone has seen its dry run for the version that will run:
    switching it on, or changing what an active rule does, needs that dry run (a rule that was
    already on and is not changed stays as it is, even one from before this rule existed)."""
    if not wanted or dry_run_seen:
        return True
    return was_active and not changed


async def save_rule(session: AsyncSession, actor: Actor, *, data: RuleIn,
                    rule_id: uuid.UUID | None = None) -> RecoveryRule:
    """Create or replace a rule. A changed rule's dry run is to be seen again (`dry_run_at`
    cleared), and a rule is switched on only after its dry run (`RuleNotTried`): a new rule is
    saved off, looked at (`dry_run`), then switched on."""
    if data.actions.incentive_id is not None:
        await get_incentive(session, actor, incentive_id=data.actions.incentive_id,
                            field="actions.incentive_id")
    known = await cases.reasons(session, actor.organization_id)
    if data.actions.open_case.reason not in known:
        raise cases.UnknownReason(f"Use one of: {', '.join(sorted(known))}.")
    values = data.model_dump(mode="json")
    rule = None if rule_id is None else await get_rule(session, actor, rule_id=rule_id)
    changed = rule is None or any(getattr(rule, key) != values[key] for key in WHAT_IT_DOES)
    if not may_go_live(wanted=data.active, was_active=rule is not None and rule.active,
                       changed=changed,
                       dry_run_seen=rule is not None and rule.dry_run_at is not None
                       and not changed):
        raise RuleNotTried(
            f"Look at what '{data.name}' would do first: "
            + ("save it switched off, look at its dry run, then switch it on."
               if changed else "look at its dry run, then switch it on."))
    if rule is None:
        rule = RecoveryRule(organization_id=actor.organization_id, **values)
        session.add(rule)
    else:
        for key, value in values.items():
            setattr(rule, key, value)
        if changed:
            rule.dry_run_at = None
    await session.flush()
    await audit.record(session, actor, action="rule.saved", object_type="rule",
                       object_id=rule.id, after=values)
    return rule


async def get_rule(session: AsyncSession, actor: Actor, *, rule_id: uuid.UUID) -> RecoveryRule:
    rule = await session.scalar(select(RecoveryRule).where(
        RecoveryRule.id == rule_id, RecoveryRule.organization_id == actor.organization_id))
    if rule is None:
        raise RuleNotFound()
    return rule


async def list_rules(session: AsyncSession, actor: Actor) -> list[RecoveryRule]:
    return list((await session.scalars(select(RecoveryRule).where(
        RecoveryRule.organization_id == actor.organization_id)
        .order_by(RecoveryRule.created_at))).all())


def _why(rule: RecoveryRule, shipment: Shipment) -> str:
    condition = rule.condition
    hours = condition.get("hours", 0)
    kind = condition["type"]
    if kind == "not_scanned_for":
        return (f"not scanned for over {hours} h (last scan {shipment.last_scan_at:%d %b %H:%M}"
                + (f" at {shipment.last_location}" if shipment.last_location else "") + ")")
    if kind == "past_promised":
        return f"over {hours} h past its promised date and not delivered"
    if kind == "split_late":
        return f"one part of the order delivered, this one over {hours} h late"
    return f"carrier exception: {shipment.exception_reason}"


async def candidates(session: AsyncSession, rule: RecoveryRule, *, limit: int = BATCH
                     ) -> list[Shipment]:
    """Shipments the rule would fire for now: one indexed query, never a scan in Python."""
    now = utcnow()
    condition = rule.condition
    threshold = now - timedelta(hours=int(condition.get("hours", 0)))
    query = select(Shipment).where(Shipment.organization_id == rule.organization_id)
    kind = condition["type"]
    if kind == "not_scanned_for":
        query = query.where(Shipment.status.in_(OPEN_PARCEL), Shipment.last_scan_at < threshold)
    elif kind in ("past_promised", "split_late"):
        query = query.where(Shipment.status.in_(OPEN_PARCEL), Shipment.promised_at < threshold)
        if kind == "split_late":
            sibling = aliased(Shipment)
            query = query.where(exists().where(
                sibling.organization_id == Shipment.organization_id,
                sibling.order_external_id == Shipment.order_external_id,
                sibling.id != Shipment.id, sibling.status == "delivered"))
    else:
        query = query.where(Shipment.status == "exception")
        if condition.get("reasons"):
            query = query.where(Shipment.exception_reason.in_(condition["reasons"]))
    filters = rule.filters or {}
    if filters.get("carriers"):
        query = query.where(Shipment.carrier.in_(filters["carriers"]))
    if filters.get("tiers"):
        query = query.join(Customer, and_(Customer.organization_id == Shipment.organization_id,
                                          Customer.id == Shipment.customer_id)).where(
            Customer.value_tier.in_(filters["tiers"]))
    if filters.get("min_order_value") is not None:
        query = query.join(Order, and_(Order.organization_id == Shipment.organization_id,
                                       Order.external_id == Shipment.order_external_id)
                           ).where(Order.amount >= filters["min_order_value"])
    query = query.where(~exists().where(RuleFiring.organization_id == Shipment.organization_id,
                                        RuleFiring.rule_id == rule.id,
                                        RuleFiring.shipment_id == Shipment.id))
    return list((await session.scalars(query.order_by(Shipment.id).limit(limit))).all())


def check_saved(rule: RecoveryRule) -> None:
    """The rule as stored still passes the rules it was saved under (`RuleIn`), or
    `RuleInvalid` says which field does not: a rule written by an older version or straight
    into the database is never evaluated with values the database cannot take."""
    try:
        RuleIn.model_validate({"name": rule.name, "active": rule.active,
                               "condition": rule.condition, "filters": rule.filters or {},
                               "actions": rule.actions})
    except ValidationError as invalid:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'rule'}: {error['msg']}"
            for error in invalid.errors())
        raise RuleInvalid(f"Rule '{rule.name}': {problems}.", rule_id=str(rule.id)) from invalid


async def dry_run(session: AsyncSession, actor: Actor, *, rule_id: uuid.UUID
                  ) -> list[Candidate]:
    """What the rule would fire for now, and why; nothing but the rule's `dry_run_at` changes
    (someone has now seen what this version of it does, so it may be switched on)."""
    rule = await get_rule(session, actor, rule_id=rule_id)
    check_saved(rule)
    rule.dry_run_at = utcnow()
    await session.flush()
    return [Candidate(shipment_id=s.external_id, order_id=s.order_external_id,
                      customer_id=str(s.customer_id) if s.customer_id else None,
                      carrier=s.carrier, why=_why(rule, s))
            for s in await candidates(session, rule)]


async def fire(session: AsyncSession, rule: RecoveryRule, shipment: Shipment) -> Case | None:
    """Open the case, apologise, schedule progress updates and give the gesture — once: the
    firing row is inserted first, and a second sweeper's insert does nothing."""
    why = _why(rule, shipment)
    firing_id = (await session.execute(
        insert_for(session, RuleFiring.__table__).values(
            id=new_id(), organization_id=rule.organization_id, rule_id=rule.id,
            shipment_id=shipment.id, why=why[:500], fired_at=utcnow())
        .on_conflict_do_nothing().returning(RuleFiring.__table__.c.id))).scalar_one_or_none()
    if firing_id is None or shipment.customer_id is None:
        return None
    customer = await session.get(Customer, (shipment.organization_id, shipment.customer_id))
    assert customer is not None
    actor = Actor.system(rule.organization_id, f"rule: {rule.name}")
    actions = rule.actions
    channel = delivery.preferred_channel(customer)
    held_out = bool(actions.get("incentive_id")) and secrets.randbelow(100) < int(
        actions.get("holdout_percent", 0))
    case = await cases.open_case(
        session, actor, customer=customer, reason=actions["open_case"]["reason"],
        severity=actions["open_case"]["severity"], channel=channel,
        conversation_ref=shipment.external_id, held_out=held_out,
        summary=f"Parcel {shipment.external_id} ({shipment.carrier or 'carrier'}): {why}.")
    firing = await session.get(RuleFiring, (rule.organization_id, firing_id))
    assert firing is not None
    firing.case_id = case.id
    if actions.get("notify", True):
        await staff.notify(
            session, rule.organization_id,
            to=await staff.deciders(session, rule.organization_id, roles=staff.FRONT_LINE),
            note="case_opened",
            values={"case_reference": case.reference, "rule": rule.name,
                    "customer": customer.external_id, "parcel": shipment.external_id,
                    "why": why},
            moments={"opened": case.opened_at}, link=f"/cases/{case.id}")
    # The order, its items and the parcel, written in each customer's language when the
    # message is rendered. The first apology sent moves the case to apologised.
    detail = await cases.case_subject(session, case) or ""
    for wanted in actions.get("apologise", []):
        target = channel if wanted == "preferred" else wanted
        await delivery.deliver_or_note(session, actor, what="Apology", case=case, coupon=None,
                                       customer=customer, channel=target, kind="apology",
                                       detail=detail)
    if actions.get("progress_every_days"):
        days = int(actions["progress_every_days"])
        await jobs.enqueue(session, "recovery.progress", organization_id=rule.organization_id,
                           run_at=utcnow() + timedelta(days=days),
                           payload={"case_id": str(case.id), "every_days": days})
    if actions.get("incentive_id") and not held_out:
        incentive = await session.get(
            Incentive, (rule.organization_id, uuid.UUID(actions["incentive_id"])))
        if incentive is not None and incentive.active:
            given = await approvals.give_gesture(session, actor, customer=customer,
                                                 incentive=incentive, case=case)
            if given.coupon is not None and given.created:
                await delivery.deliver_or_note(session, actor, what="Gesture", case=case,
                                               coupon=given.coupon, channel=channel)
    return case


async def sweep(session: AsyncSession, *, limit: int = BATCH,
                organization_id: uuid.UUID | str | None = None) -> int:
    """Evaluate every active rule (of one organisation, when given); fire for what matches.
    Returns how many fired.

    Each rule is a part of its organisation's work (`jobs.periodic`): a rule that cannot be
    evaluated, or whose firing fails, is rolled back alone and recorded for its
    organisation's admin, and every other rule still fires."""
    query = select(RecoveryRule.id, RecoveryRule.organization_id, RecoveryRule.name).where(
        RecoveryRule.active.is_(True))
    if organization_id is not None:
        query = query.where(RecoveryRule.organization_id == uuid.UUID(str(organization_id)))
    rules = (await session.execute(query.order_by(RecoveryRule.id))).all()
    fired = 0
    async with periodic.each_organization(session, "recovery.sweep",
                                          only=organization_id) as parts:
        for rule_id, owner, name in rules:
            fired += await parts.run(owner, partial(_sweep_rule, session, owner, rule_id,
                                                    limit=limit),
                                     label=f"Rule '{name}'") or 0
    return fired


async def _sweep_rule(session: AsyncSession, organization_id: uuid.UUID, rule_id: uuid.UUID, *,
                      limit: int) -> int:
    rule = await session.get(RecoveryRule, (organization_id, rule_id))
    if rule is None:
        return 0
    check_saved(rule)
    fired = 0
    for shipment in await candidates(session, rule, limit=limit):
        if await fire(session, rule, shipment) is not None:
            fired += 1
    return fired


async def send_progress(session: AsyncSession, *, organization_id: uuid.UUID | str,
                        case_id: str, every_days: int) -> None:
    """A progress update while the case is open; the next one is scheduled with it."""
    org = uuid.UUID(str(organization_id))
    case = await session.get(Case, (org, uuid.UUID(case_id)))
    if case is None or case.state in ("fixed", "followed_up", "closed"):
        return
    customer = await session.get(Customer, (case.organization_id, case.customer_id))
    assert customer is not None
    actor = Actor.system(case.organization_id, "progress updates")
    parcel = await session.scalar(select(Shipment).where(
        Shipment.organization_id == case.organization_id,
        Shipment.external_id == case.conversation_ref,
        Shipment.customer_id == case.customer_id)) if case.conversation_ref else None
    await delivery.deliver(session, actor, coupon=None, customer=customer, case=case,
                           channel=delivery.preferred_channel(customer), kind="progress",
                           detail=Phrase("still_chasing_parcel",
                                         {"parcel": cases.parcel_words(parcel)})
                           if parcel is not None else Phrase("still_chasing"))
    await jobs.enqueue(session, "recovery.progress", organization_id=org,
                       run_at=utcnow() + timedelta(days=every_days),
                       payload={"case_id": case_id, "every_days": every_days})


async def parcel_delivered(session: AsyncSession, shipment: Shipment) -> None:
    """The late parcel arrived: the cases its rules opened are fixed."""
    opened = (await session.scalars(select(Case).join(
        RuleFiring, and_(RuleFiring.organization_id == Case.organization_id,
                         RuleFiring.case_id == Case.id)).where(
        RuleFiring.organization_id == shipment.organization_id,
        RuleFiring.shipment_id == shipment.id,
        Case.state.in_(("open", "apologised", "reviewing"))))).all()
    for case in opened:
        actor = Actor.system(case.organization_id, "shipment events")
        await cases.move(session, actor, case_id=case.id, to="fixed",
                         details={"remedy": f"Parcel {shipment.external_id} delivered"},
                         skip_reason=None if case.state == "reviewing"
                         else "fixed by the delivery")


async def request_feedback(session: AsyncSession, *, organization_id: uuid.UUID | str,
                           case_id: str) -> None:
    org = uuid.UUID(str(organization_id))
    case = await session.get(Case, (org, uuid.UUID(case_id)))
    if case is None or case.feedback_at is not None or case.state == "closed":
        return
    customer = await session.get(Customer, (case.organization_id, case.customer_id))
    assert customer is not None
    from amends.models import Coupon

    coupon = await session.scalar(select(Coupon).where(
        Coupon.organization_id == org, Coupon.customer_id == customer.id,
        Coupon.case_ref == case.reference).limit(1))
    actor = Actor.system(case.organization_id, "follow-up")
    await delivery.deliver(session, actor, coupon=coupon, customer=customer, case=case,
                           channel=delivery.preferred_channel(customer), kind="feedback")
    if case.state == "fixed":
        await cases.move(session, actor, case_id=case.id, to="followed_up",
                         details={"notes": "Feedback requested"}, skip_reason=None)


async def _hold_thank_you(session: AsyncSession, actor: Actor, case: Case,
                          customer: Customer) -> None:
    """The thank-you goes out with its surprise gesture or not yet: when today's automation
    budget cannot pay for the gesture, both wait for tomorrow's budget (while the thank-you
    window lasts), and the case says so."""
    case.thanked_at = None
    await session.flush()
    tomorrow = (utcnow() + timedelta(days=1)).replace(hour=0, minute=1, second=0,
                                                      microsecond=0)
    await cases.add_event(session, case, actor, kind="thank_you_held",
                          summary="Thank-you held back with its surprise gesture: the "
                                  "automation budget for today is spent; tried again "
                                  "tomorrow")
    await jobs.enqueue(session, "recovery.thank_you", organization_id=case.organization_id,
                       payload={"customer_id": str(customer.id)}, run_at=tomorrow,
                       dedupe_key=f"thank-you:{case.organization_id}:{customer.id}")


async def retry_thank_you(session: AsyncSession, *, organization_id: str,
                          customer_id: str) -> None:
    """A thank-you held back for its gesture, tried again."""
    customer = await session.get(Customer, (uuid.UUID(organization_id),
                                            uuid.UUID(customer_id)))
    if customer is not None:
        await thank_returning_customer(session, customer)


async def thank_returning_customer(session: AsyncSession, customer: Customer) -> None:
    """On a purchase after a recovery: a thank-you (and the organisation's surprise gesture),
    once per case, and the case is closed as documented."""
    organization = await session.get(Organization, customer.organization_id)
    assert organization is not None
    since = utcnow() - timedelta(days=organization.thank_you_window_days)
    recovered = (await session.scalars(select(Case).where(
        Case.organization_id == customer.organization_id, Case.customer_id == customer.id,
        Case.fixed_at >= since, Case.thanked_at.is_(None)).order_by(Case.fixed_at))).all()
    for case in recovered:
        actor = Actor.system(case.organization_id, "thank-you")
        case.thanked_at = utcnow()
        await session.flush()
        coupon = None
        if organization.surprise_incentive_id:
            incentive = await session.get(
                Incentive, (organization.id, uuid.UUID(organization.surprise_incentive_id)))
            if incentive is not None and incentive.active:
                given = await approvals.give_gesture(
                    session, actor, customer=customer, incentive=incentive,
                    case_ref=f"{case.reference}-thanks")
                coupon = given.coupon
                if given.withheld:
                    await _hold_thank_you(session, actor, case, customer)
                    continue
        await delivery.deliver_or_note(session, actor, what="Thank-you", case=case,
                                       coupon=coupon, customer=customer, kind="thank_you",
                                       channel=delivery.preferred_channel(customer))
        await cases.add_event(session, case, actor, kind="thanked",
                              summary="The customer bought again; thanked"
                              + (" with a surprise gesture" if coupon else ""))
        if case.state != "closed":
            await cases.move(session, actor, case_id=case.id, to="closed",
                             details={"summary": "Recovered: the customer bought again"},
                             skip_reason="closed on the next purchase"
                             if case.state != "followed_up" else None)
