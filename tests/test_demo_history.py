"""The demo's history: weeks of cases, gestures and redemptions that the reports stand on."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from amends.actor import Actor
from amends.cases import service as cases
from amends.cases.recommend import recommendations
from amends.db import Database
from amends.delivery.service import remind_expiring, save_channel
from amends.demo import DEMO_PASSWORD, DEMO_SLUG, seed_catalogue, seed_demo
from amends.demo_history import seed_history
from amends.kit import codes
from amends.kit.clock import clock, utcnow
from amends.models import Case, Coupon, Customer, Job, Order, Organization, Redemption, User
from amends.redemptions import service as redemptions
from amends.reports import service as reports
from amends.roles import Role
from tests.factories import make_org, staff_headers

NOW = datetime(2026, 11, 20, 16, 30, tzinfo=UTC)


async def seeded(db: Database, *, seed: int = 3, days: int = 30, cases: int = 120
                 ) -> uuid.UUID:
    tenant = await make_org(db)
    async with db.transaction() as session:
        await seed_catalogue(session, Actor.system(tenant.id, "tests"))
    assert await seed_history(db, organization_id=tenant.id, days=days, cases=cases,
                              seed=seed) == cases
    return tenant.id


async def figures(db: Database, organization_id: uuid.UUID) -> dict[str, Counter[Any]]:
    """How many cases by state, coupons by kind and status, redemptions by channel, ..."""
    wanted = {"cases": (Case, Case.state), "coupons": (Coupon, Coupon.kind, Coupon.status),
              "redemptions": (Redemption, Redemption.channel), "orders": (Order, Order.status),
              "feedback": (Case, Case.feedback_score)}
    found = {}
    async with db.transaction(write=False) as session:
        for name, (model, *columns) in wanted.items():
            rows = await session.execute(select(*columns).where(
                model.organization_id == organization_id))
            found[name] = Counter(row[0] if len(columns) == 1 else tuple(row) for row in rows)
    return found


async def test_the_history_spreads_cases_over_the_days_and_gestures_over_several_agents(
    db: Database,
) -> None:
    clock.freeze(NOW)
    organization_id = await seeded(db)
    async with db.transaction(write=False) as session:
        opened = (await session.scalars(select(Case.opened_at).where(
            Case.organization_id == organization_id))).all()
        givers = (await session.scalars(select(Coupon.issued_by_label).where(
            Coupon.organization_id == organization_id))).all()
        in_store = (await session.scalars(select(Redemption.store_id).where(
            Redemption.organization_id == organization_id, Redemption.channel == "in_store"))
            ).all()
        queued = await session.scalar(select(func.count()).select_from(Job).where(
            Job.organization_id == organization_id))
    assert len(opened) == 120
    assert all(NOW - timedelta(days=31) < at < NOW for at in opened)
    assert len({at.date() for at in opened}) >= 20
    assert len(set(givers)) >= 4
    assert len(givers) >= 80  # most cases got a gesture
    assert in_store
    assert all(in_store)
    assert queued == 0  # history sends nothing when the worker runs
    assert utcnow() == NOW  # the clock is given back as the test froze it
    states = (await figures(db, organization_id))["cases"]
    assert states["closed"] > 60
    assert sum(n for state, n in states.items() if state != "closed") > 0


async def test_the_reports_summary_counts_the_gestures_and_redemptions_of_the_history(
    db: Database,
) -> None:
    clock.freeze(NOW)
    organization_id = await seeded(db)
    async with db.transaction(write=False) as session:
        summary = await reports.summary(session, Actor.system(organization_id),
                                        filters=reports.Filters())
        given = await session.scalar(select(func.count()).select_from(Coupon).where(
            Coupon.organization_id == organization_id, Coupon.status != "revoked"))
        used = await session.scalar(select(func.count(func.distinct(Redemption.coupon_id)))
                                    .where(Redemption.organization_id == organization_id,
                                           Redemption.status == "completed"))
        fixed = await session.scalar(select(func.count()).select_from(Case).where(
            Case.organization_id == organization_id, Case.fixed_at.is_not(None)))
    assert summary["gestures_issued"] == given
    assert summary["gestures_redeemed"] == used
    assert summary["cases_opened"] == 120
    assert summary["cases_fixed"] == fixed
    assert 0.2 <= summary["redemption_rate"] <= 0.6
    assert summary["customers_bought_again"] > 0
    assert summary["average_hours_to_fix"] is not None


async def test_the_same_seed_gives_the_same_history(db: Database) -> None:
    clock.freeze(NOW)
    first = await figures(db, await seeded(db, seed=11))
    again = await figures(db, await seeded(db, seed=11))
    other = await figures(db, await seeded(db, seed=12))
    assert first == again
    assert first != other


async def test_the_history_owes_no_reminder_once_e_mail_is_set_up(db: Database) -> None:
    clock.freeze(NOW)
    # Gestures of 60 days, some about to expire.
    organization_id = await seeded(db, days=75, cases=300)
    async with db.transaction() as session:
        await save_channel(session, Actor.system(organization_id, "tests"), channel="email",
                           active=True, allow_private=True,
                           settings={"host": "127.0.0.1", "port": 2525,
                                     "from_address": "care@shop.example"})
        expiring = await session.scalar(select(func.count()).select_from(Coupon).where(
            Coupon.organization_id == organization_id, Coupon.status == "active",
            Coupon.expires_at > NOW, Coupon.expires_at <= NOW + timedelta(days=3)))
        sent = await remind_expiring(session, base_url="https://amends.test")
        queued = await session.scalar(select(func.count()).select_from(Job).where(
            Job.organization_id == organization_id))
    assert expiring
    assert sent == 0
    assert queued == 0


async def test_history_rows_are_what_the_services_read_and_write(db: Database) -> None:
    clock.freeze(NOW)
    organization_id = await seeded(db)
    actor = Actor.system(organization_id, "tests")
    async with db.transaction() as session:
        closed = (await session.scalars(select(Case).where(
            Case.organization_id == organization_id, Case.state == "closed")
            .order_by(Case.id.desc()).limit(1))).one()
        events = await cases.timeline(session, actor, case_id=closed.id)
        coupon = (await session.scalars(select(Coupon).where(
            Coupon.organization_id == organization_id, Coupon.status == "active",
            Coupon.kind == "amount_off", Coupon.expires_at > NOW).limit(1))).one()
        redemption = await redemptions.redeem(session, actor, redemptions.Order(
            code=coupon.code, order_amount=5000, customer_external_id=coupon.customer_external_id,
            order_id="O-LIVE-1", channel="in_store", store_id="Store 12 Lyon"))
    assert events[0].kind == "opened"
    assert [e.data["to"] for e in events if e.kind == "state_changed"][-1] == "closed"
    assert codes.is_valid(coupon.code)
    assert redemption.discount == coupon.value


@pytest.mark.sqlite_only  # `make demo` runs on SQLite; the default history, seeded once here
async def test_the_demo_history_teaches_the_recommendation_and_measures_a_hold_out(
    db: Database, client: httpx.AsyncClient,
) -> None:
    seeded = await seed_demo(db)  # the default history, as `amends demo` seeds it
    assert seeded is not None
    async with db.transaction() as session:
        organization = await session.scalar(select(Organization).where(
            Organization.slug == DEMO_SLUG))
        assert organization is not None
        agent = await session.scalar(select(User).where(
            User.organization_id == organization.id, User.email == "agent@demo.example"))
        manager = await session.scalar(select(User).where(
            User.organization_id == organization.id, User.email == "manager@demo.example"))
        assert agent is not None
        assert manager is not None
        actor = Actor.for_user(organization_id=organization.id, user_id=agent.id,
                               email=agent.email, role=Role(agent.role))
        advice = {}
        for reason, external_id in (("late_delivery", "C-1002"), ("poor_service", "C-1005")):
            customer = await session.scalar(select(Customer).where(
                Customer.organization_id == organization.id,
                Customer.external_id == external_id))
            assert customer is not None
            assert customer.value_tier == "standard"
            case = await cases.open_case(session, actor, customer=customer, reason=reason,
                                         severity=2, channel="email", conversation_ref=None)
            advice[reason] = await recommendations(session, actor, case_id=case.id)
    for reason, ranked in advice.items():
        _incentive, best = ranked[0]
        # The agent reads why: the outcomes of similar cases, not only the rules.
        learned = re.match(r"won back (\d+)% of similar customers \((\d+) cases\)",
                           best.why[0])
        assert learned, (reason, best.why)
        assert int(learned[2]) >= 200
        assert 50 <= int(learned[1]) < 100
    page = await client.get("/outcomes", headers=await staff_headers(db, manager,
                                                                        password=DEMO_PASSWORD))
    assert page.status_code == 200
    sections = dict(re.findall(r'aria-labelledby="r-(\w+)">(.*?)</section>', page.text,
                               flags=re.S))
    for reason in ("late_delivery", "poor_service"):
        # Each gesture against the apology alone, over the same (sizeable) hold-out group.
        held = re.findall(r"pts \([^;]+; (\d+) held out\)", sections[reason])
        assert held, reason
        assert all(int(count) >= 50 for count in held)
