"""A random history written through the services: staff in teams and stores, gestures of
four kinds with most cases and some without, then redemptions (gift cards in part), voids,
withdrawals, cases reviewed and fixed, purchases, at random moments over SPAN_DAYS days."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from amends.actor import Actor
from amends.cases import service as cases
from amends.coupons import service as coupons
from amends.db import Database
from amends.errors import AmendsError
from amends.events import service as events
from amends.kit.clock import clock
from amends.models import Case, Coupon, Customer, Incentive
from amends.redemptions import service as redemptions
from amends.roles import Role
from amends.users.service import create_user
from tests.factories import make_customer, make_incentive, make_org

T0 = datetime(2026, 10, 1, tzinfo=UTC)
SPAN_DAYS = 20
REASONS = ("late_delivery", "lost_parcel", "damaged_item", "billing_error")
CHANNELS = ("email", "phone", "in_store", "chat")
CAUSES = ("carrier delay", "packaging", "till configuration")
STAFF = (("ann@shop.example", "Team A", None), ("bob@shop.example", "Team A", "Lyon"),
         ("cat@shop.example", "Team B", "Paris"), ("dan@shop.example", None, None))


@dataclass
class History:
    organization_id: uuid.UUID
    staff: list[Actor]
    customers: list[Customer]
    incentives: list[Incentive]
    cases: list[Case] = field(default_factory=list)
    coupons: list[Coupon] = field(default_factory=list)
    used: list[uuid.UUID] = field(default_factory=list)


async def random_history(db: Database, rng: random.Random) -> History:
    tenant = await make_org(db)
    staff = []
    async with db.transaction() as session:
        for email, team, store in STAFF:
            user = await create_user(session, None, organization_id=tenant.id, email=email,
                                     name=email.split("@")[0].title(), role=Role.AGENT,
                                     password="correct horse battery", team=team, store=store)
            staff.append(Actor.for_user(organization_id=tenant.id, user_id=user.id,
                                        email=user.email, role=Role.AGENT))
    staff.append(Actor(organization_id=tenant.id, kind="api_key", id=uuid.uuid4(),
                       label="api key helpdesk"))
    incentives = [await make_incentive(db, tenant, kind="amount_off", value=500),
                  await make_incentive(db, tenant, kind="percent_off", value=10),
                  await make_incentive(db, tenant, kind="gift_card", value=3000,
                                       validity_days=90),
                  await make_incentive(db, tenant, kind="free_shipping", value=495,
                                       validity_days=60)]
    customers = [await make_customer(db, tenant, external_id=f"C-{n}") for n in range(10)]
    history = History(tenant.id, staff, customers, incentives)
    for _ in range(36):
        await _give(db, rng, history, T0 + timedelta(minutes=rng.randrange(SPAN_DAYS * 1440)))
    return history


async def _give(db: Database, rng: random.Random, history: History, at: datetime) -> None:
    """A case (most often) and a gesture (most often, sometimes of no case), at `at`."""
    clock.freeze(at)
    actor = rng.choice(history.staff)
    customer = rng.choice(history.customers)
    async with db.transaction() as session:
        case = None
        if rng.random() < 0.85:
            case = await cases.open_case(session, actor, customer=customer,
                                         reason=rng.choice(REASONS), severity=2,
                                         channel=rng.choice(CHANNELS), conversation_ref=None)
            history.cases.append(case)
        if rng.random() < 0.9:
            coupon, created = await coupons.issue_coupon(
                session, actor, customer=customer, incentive=rng.choice(history.incentives),
                case_ref=case.reference if case else None,
                channel=case.channel if case else rng.choice((None, *CHANNELS)))
            if created:
                history.coupons.append(coupon)


async def something_happens(db: Database, rng: random.Random, history: History,
                           at: datetime) -> None:
    """One thing that changes figures of earlier days: a gesture used (a gift card in part),
    a use voided, a gesture withdrawn, a case reviewed or fixed, a purchase."""
    clock.freeze(at)
    actor = rng.choice(history.staff)
    what = rng.random()
    try:
        async with db.transaction() as session:
            if what < 0.4 and history.coupons:
                coupon = rng.choice(history.coupons)
                used = await redemptions.redeem(session, actor, redemptions.Order(
                    code=coupon.code, order_amount=rng.randrange(800, 6000),
                    customer_external_id=coupon.customer_external_id,
                    order_id=f"O-{rng.randrange(10**9)}", store_id=rng.choice(
                        (None, "Lyon", "Paris")), channel=rng.choice(("in_store", "online"))))
                history.used.append(used.id)
            elif what < 0.5 and history.used:
                await redemptions.void(session, actor, redemption_id=rng.choice(history.used),
                                       reason="refund")
            elif what < 0.58 and history.coupons:
                await coupons.revoke_coupon(session, actor,
                                            coupon_id=rng.choice(history.coupons).id,
                                            reason="given twice")
            elif what < 0.85 and history.cases:
                case = rng.choice(history.cases)
                to = rng.choice(("reviewing", "fixed"))
                await cases.move(session, actor, case_id=case.id, to=to,
                                 details={"root_cause": rng.choice(CAUSES)},
                                 skip_reason="straight there")
            else:
                customer = rng.choice(history.customers)
                await events.ingest(session, Actor.system(history.organization_id), [{
                    "id": f"p-{rng.randrange(10**9)}", "type": "purchase.completed",
                    "occurred_at": at.isoformat(),
                    "data": {"order_id": f"P-{rng.randrange(10**9)}",
                             "customer_id": customer.external_id, "amount": 4200,
                             "currency": "EUR"}}])
    except AmendsError:
        pass  # used already, expired, a case that cannot move there: nothing happened




async def things_happen(db: Database, rng: random.Random, history: History, count: int, *,
                        from_day: int, to_day: int) -> None:
    """`count` things happen (`something_happens`), each at a random minute from day
    `from_day` to day `to_day` after T0."""
    for _ in range(count):
        await something_happens(db, rng, history, T0 + timedelta(
            minutes=rng.randrange(from_day * 1440, to_day * 1440)))
