"""The ledger and the effectiveness report read the coarsest grain of their roll-ups that
keeps what they group and filter by, and give the figures the rows by every dimension give."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from amends.actor import Actor
from amends.db import Database
from amends.kit.clock import clock
from amends.models import LedgerRollup, OutcomeRollup
from amends.outcomes import service as outcomes
from amends.reports.service import Filters
from tests.reports.history import SPAN_DAYS, T0, random_history, things_happen

KEYS = {"period": lambda r: r.day[:7], "reason": lambda r: r.reason or "no case",
        "agent": lambda r: r.agent, "team": lambda r: r.team or "—",
        "store": lambda r: r.store or "—", "channel": lambda r: r.channel or "—",
        "incident": lambda r: r.incident_id}


def _ledger_of(rows: list[LedgerRollup], by: str, filters: Filters) -> dict[str, Any]:
    """The ledger summed in Python from the rows by every dimension."""
    ledger: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(
        outcomes.LEDGER_COLUMNS, 0))
    for row in rows:
        if (filters.since and row.day < f"{filters.since:%Y-%m-%d}") or (
                filters.until and row.day >= f"{filters.until:%Y-%m-%d}"):
            continue
        if any(value and getattr(row, name) != value for name, value in (
                ("reason", filters.reason), ("channel", filters.channel),
                ("store", filters.store), ("agent", filters.agent))):
            continue
        key = KEYS[by](row)
        for column in outcomes.LEDGER_COLUMNS:
            ledger[str(key) if key is not None else "—"][column] += getattr(row, column)
    return dict(ledger)


async def test_the_ledger_and_effectiveness_from_coarser_grains_match_the_full_rows(
        db: Database) -> None:
    rng = random.Random(3)
    history = await random_history(db, rng)
    await things_happen(db, rng, history, 40, from_day=3, to_day=SPAN_DAYS)
    clock.freeze(T0 + timedelta(days=SPAN_DAYS + 1))
    async with db.transaction() as session:
        await outcomes.refresh(session, history.organization_id)
    actor = Actor.system(history.organization_id)
    agent, middle = history.staff[1].label, T0 + timedelta(days=9)
    choices = [Filters(), Filters(reason="late_delivery"), Filters(channel="in_store"),
               Filters(agent=agent), Filters(store="Lyon"), Filters(since=middle),
               Filters(until=middle, reason="lost_parcel", agent=agent),
               Filters(channel="email", store="Paris")]
    async with db.transaction(write=False) as session:
        full = list((await session.scalars(select(LedgerRollup).where(
            LedgerRollup.organization_id == history.organization_id,
            LedgerRollup.grain == "all"))).all())
        grains = set((await session.scalars(select(LedgerRollup.grain).distinct().where(
            LedgerRollup.organization_id == history.organization_id))).all())
        assert grains == {"all", *outcomes.LEDGER_GRAINS}
        for by in outcomes.LEDGER_DIMENSIONS:
            for filters in choices:
                read = await outcomes.ledger(session, actor, by=by, filters=filters)
                assert all(row["balanced"] for row in read)
                assert {row["key"]: {c: row[c] for c in outcomes.LEDGER_COLUMNS}
                        for row in read} == _ledger_of(full, by, filters), (by, filters)
        later = T0 + timedelta(days=200)  # every case's outcome is known by then
        effective = await outcomes.effectiveness(session, actor, now=later)
        outcome_rows = (await session.scalars(select(OutcomeRollup).where(
            OutcomeRollup.organization_id == history.organization_id,
            OutcomeRollup.grain == "all"))).all()
    assert effective
    treated: dict[tuple[str, str | None, str | None], list[int]] = defaultdict(lambda: [0, 0])
    held: dict[str, int] = defaultdict(int)
    for row in outcome_rows:
        if row.held_out:
            held[row.reason] += row.cases
        elif row.incentive_id is not None:
            treated[(row.reason, row.gesture, row.currency)][0] += row.cases
            treated[(row.reason, row.gesture, row.currency)][1] += row.won
    assert {(r["reason"], r["gesture"], r["currency"]): [r["cases"], r["won_back"]]
            for r in effective} == dict(treated)
    assert all(r["holdout_cases"] == held.get(r["reason"], 0) for r in effective)
