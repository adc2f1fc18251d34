"""The reports read the daily roll-ups for whole days and the tables for the rest, and give
the same figures whichever way each day is read: before any fold (every day read from the
tables), after a fold, with some days written to again since, after the hourly rebuild, and
with every day forced to the tables. On random histories written through the services, for
every report, dimension and filter, over periods that start and end at midnight UTC or in the
middle of a day."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from amends.actor import Actor
from amends.config import Settings
from amends.coupons import service as coupons
from amends.db import Database
from amends.errors import AmendsError
from amends.jobs.worker import Worker
from amends.kit.clock import clock
from amends.models import Coupon, GestureDay, Redemption, RollupChange
from amends.outcomes import service as outcomes
from amends.redemptions import service as redemptions
from amends.reports import service as reports
from amends.rollups import changes, days
from amends.rollups.tasks import fold_all
from tests.reports.history import SPAN_DAYS, T0, History, random_history, things_happen


def _periods(rng: random.Random) -> list[tuple[datetime | None, datetime | None]]:
    day = timedelta(days=1)
    odd = T0 + rng.randrange(2, 6) * day + timedelta(hours=7, minutes=13)
    return [(None, None), (T0 + 3 * day, T0 + 15 * day), (odd, odd + 9 * day + timedelta(
        hours=rng.randrange(1, 20))), (None, T0 + 10 * day + timedelta(hours=5)),
        (T0 + 5 * day, None), (odd, odd + timedelta(hours=3)),
        # A day of the dashboard in Paris (UTC+1 in winter, +2 in summer).
        (T0 + 4 * day - timedelta(hours=2), T0 + 12 * day - timedelta(hours=1))]


REPORTS = ("breakdown", "summary", "over_time", "time_to_fix", "came_back", "redeemed_by",
           "root_causes")
ASKED = 120


async def _answers(db: Database, history: History, rng: random.Random) -> dict[str, Any]:
    """Reports for ASKED combinations of report, dimension, filters and period, drawn from
    `rng` (the same draws give the same questions)."""
    actor = Actor.system(history.organization_id)
    agents = [a.label for a in history.staff]
    filters = [{}, {"reason": "late_delivery"}, {"channel": "in_store"}, {"agent": agents[1]},
               {"store": "Lyon"}, {"reason": "lost_parcel", "agent": agents[0]},
               {"channel": "email", "store": "Paris"},
               {"reason": "damaged_item", "channel": "phone"}]
    periods = _periods(random.Random(rng.random()))
    questions = [(report, by, chosen, period) for report in REPORTS
                 for by in (reports.DIMENSIONS if report == "breakdown" else ("-",))
                 for chosen in range(len(filters)) for period in range(len(periods))]
    asked = [questions[0], *rng.sample(questions[1:], ASKED)]
    answers: dict[str, Any] = {}
    async with db.transaction(write=False) as session:
        answers["givers"] = await reports.givers(session, actor)
        for report, by, chosen, period in asked:
            since, until = periods[period]
            f = reports.Filters(since=since, until=until, **filters[chosen])
            name = f"{report} {by} {since}..{until} {filters[chosen]}"
            if report == "breakdown":
                answers[name] = await reports.breakdown(session, actor, by=by, filters=f)
            elif report == "root_causes":
                answers[name] = await reports.root_causes(
                    session, actor, now=until or T0 + timedelta(days=SPAN_DAYS), filters=f)
            else:
                answers[name] = await getattr(reports, report)(session, actor, filters=f)
        everything = reports.Filters()
        answers["summary"] = await reports.summary(session, actor, filters=everything)
        answers["by reason"] = await reports.breakdown(session, actor, by="reason",
                                                       filters=everything)
        answers["tills"] = await reports.redeemed_by(session, actor, filters=everything)
    return answers


def _same(left: dict[str, Any], right: dict[str, Any]) -> None:
    differ = [name for name in left if left[name] != right[name]]
    assert not differ, f"{len(differ)} answers differ, e.g. {differ[0]}: " \
                       f"{left[differ[0]]} != {right[differ[0]]}"


async def _every_day_changed(db: Database, organization_id: uuid.UUID) -> None:
    """Every day of the history recorded as changed: every report reads the tables alone."""
    moments = [T0 + timedelta(days=n) for n in range(-1, SPAN_DAYS + 25)]
    async with db.transaction() as session:
        await changes.changed(session, organization_id, gestures=moments,
                              redemptions=moments, cases=moments)


async def _stale(db: Database, organization_id: uuid.UUID) -> dict[str, list[str]]:
    async with db.transaction(write=False) as session:
        return {kind: await days.stale_days(session, organization_id, kind)
                for kind in changes.ROLLUPS}


@pytest.mark.parametrize("seed", [11, 29])
async def test_the_reports_give_the_same_figures_from_the_rollups_as_from_the_tables(
        db: Database, seed: int) -> None:
    rng = random.Random(seed)
    history = await random_history(db, rng)
    await things_happen(db, rng, history, 50, from_day=3, to_day=SPAN_DAYS)
    clock.freeze(T0 + timedelta(days=SPAN_DAYS + 1))
    state = rng.random()

    from_tables = await _answers(db, history, random.Random(state))
    assert from_tables["summary"]["gestures_issued"] > 20
    assert any(row["redeemed"] for row in from_tables["by reason"])
    async with db.transaction() as session:
        assert await fold_all(session) > 0
    assert await _stale(db, history.organization_id) == {k: [] for k in changes.ROLLUPS}
    async with db.transaction(write=False) as session:
        rolled = await session.scalar(select(func.count()).select_from(GestureDay).where(
            GestureDay.organization_id == history.organization_id))
    assert rolled
    _same(from_tables, await _answers(db, history, random.Random(state)))

    # Later writes change earlier days: those days are read from the tables until folded.
    await things_happen(db, rng, history, 15, from_day=SPAN_DAYS, to_day=SPAN_DAYS + 1)
    clock.freeze(T0 + timedelta(days=SPAN_DAYS + 2))
    stale = await _stale(db, history.organization_id)
    # Gestures' changes are deltas added to the roll-up: no day of gestures is read from the
    # tables for them; the days of redemptions and cases they changed are.
    assert stale[changes.GESTURES] == []
    assert stale[changes.REDEMPTIONS] or stale[changes.CASES]
    partly = await _answers(db, history, random.Random(state))
    async with db.transaction() as session:
        await fold_all(session)
    _same(partly, await _answers(db, history, random.Random(state)))
    async with db.transaction() as session:
        await outcomes.refresh(session, history.organization_id)
    _same(partly, await _answers(db, history, random.Random(state)))
    await _every_day_changed(db, history.organization_id)
    _same(partly, await _answers(db, history, random.Random(state)))


@pytest.mark.postgres_only
async def test_folds_running_while_tills_redeem_and_agents_give_lose_and_double_nothing(
        db: Database) -> None:
    """Concurrent writers and concurrent folds: every change is folded once, whichever
    transaction commits first."""
    rng = random.Random(5)
    history = await random_history(db, rng)
    clock.freeze(T0 + timedelta(days=SPAN_DAYS, hours=1))
    stop = asyncio.Event()

    async def folding() -> None:
        while not stop.is_set():
            async with db.transaction() as session:
                await fold_all(session)

    async def writing(worker: int) -> None:
        local = random.Random(worker)
        for _ in range(12):
            customer = local.choice(history.customers)
            async with db.transaction() as session:
                coupon, _ = await coupons.issue_coupon(
                    session, history.staff[0], customer=customer,
                    incentive=history.incentives[0], case_ref=f"X-{uuid.uuid4().hex[:8]}")
            async with db.transaction() as session:
                await redemptions.redeem(session, history.staff[1], redemptions.Order(
                    code=coupon.code, order_amount=2000,
                    customer_external_id=customer.external_id, order_id=uuid.uuid4().hex))
            old = local.choice(history.coupons)
            try:
                async with db.transaction() as session:
                    await redemptions.redeem(session, history.staff[2], redemptions.Order(
                        code=old.code, order_amount=5000,
                        customer_external_id=old.customer_external_id,
                        order_id=uuid.uuid4().hex))
            except AmendsError:
                pass

    folders = [asyncio.create_task(folding()) for _ in range(2)]
    await asyncio.gather(*(writing(n) for n in range(4)))
    stop.set()
    await asyncio.gather(*folders)
    async with db.transaction() as session:
        await fold_all(session)
    state = rng.random()
    folded = await _answers(db, history, random.Random(state))
    await _every_day_changed(db, history.organization_id)
    _same(folded, await _answers(db, history, random.Random(state)))
    async with db.transaction(write=False) as session:
        given = await session.scalar(select(func.count()).select_from(Coupon).where(
            Coupon.organization_id == history.organization_id, Coupon.status != "revoked"))
        used = await session.scalar(select(func.count()).select_from(Redemption).where(
            Redemption.organization_id == history.organization_id,
            Redemption.status == "completed"))
    assert folded["summary"]["gestures_issued"] == given
    assert sum(row["redemptions"] for row in folded["tills"]) == used


async def test_the_worker_takes_in_what_gestures_redemptions_and_cases_changed(
        db: Database, settings: Settings) -> None:
    rng = random.Random(17)
    history = await random_history(db, rng)
    await things_happen(db, rng, history, 10, from_day=3, to_day=SPAN_DAYS)
    clock.freeze(T0 + timedelta(days=SPAN_DAYS + 1))
    before = await _answers(db, history, random.Random(1))
    async with db.transaction(write=False) as session:
        waiting = await session.scalar(select(func.count()).select_from(RollupChange).where(
            RollupChange.organization_id == history.organization_id))
    assert waiting

    worker = Worker(db, settings)
    await worker.ensure_periodic()
    assert await worker.run_until_idle() > 0

    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(RollupChange).where(
            RollupChange.organization_id == history.organization_id)) == 0
    _same(before, await _answers(db, history, random.Random(1)))
