"""How long `amends demo` takes to seed its organisation on SQLite, phase by phase: generating
the history in memory, inserting its rows, and refreshing the outcome roll-ups (with ANALYZE).

    .venv/bin/python -m bench.demo_seed [--repeat 3] [--cases N --days D]
        [--baseline-cases 3000 --baseline-days 90 | --no-baseline]

Each run seeds a fresh SQLite file (migrated first, not timed) with `seed_demo`, exactly as
`amends demo` does. The baseline is the previous default (3,000 cases over 90 days), measured
in the same run so that both see the same machine load. Target: the whole `seed_demo` of the
default history under 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from amends.config import Settings
from amends.db import Database
from amends.demo import DEFAULT_HISTORY_CASES, DEFAULT_HISTORY_DAYS, seed_demo
from amends.migrate import upgrade

TARGET_SECONDS = 30.0
PHASES = ("generate", "insert", "refresh")


async def _seed(url: str, cases: int, days: int) -> dict[str, float]:
    db = Database(Settings(database_url=url, _env_file=None))
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    try:
        await seed_demo(db, history_cases=cases, history_days=days, seconds=seconds)
    finally:
        await db.dispose()
    seconds["total"] = time.perf_counter() - started
    return seconds


def measure(label: str, cases: int, days: int, repeat: int) -> None:
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'demo.db'}"
            upgrade(url)
            runs.append(asyncio.run(_seed(url, cases, days)))
    print(f"{label}: {cases:,} cases over {days} days, {repeat} run(s), seconds "
          "(median; each run)")
    for phase in (*PHASES, "total"):
        values = [run.get(phase, 0.0) for run in runs]
        print(f"  {phase:<9} {statistics.median(values):6.1f}   "
              + " ".join(f"{v:5.1f}" for v in values))
    if label == "default":
        total = statistics.median(run["total"] for run in runs)
        verdict = "meets" if total < TARGET_SECONDS else "MISSES"
        print(f"  {verdict} the target of {TARGET_SECONDS:.0f} s for the whole seed_demo")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", type=int, default=DEFAULT_HISTORY_CASES)
    parser.add_argument("--days", type=int, default=DEFAULT_HISTORY_DAYS)
    parser.add_argument("--baseline-cases", type=int, default=3000)
    parser.add_argument("--baseline-days", type=int, default=90)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    if not args.no_baseline:
        measure("baseline (previous default)", args.baseline_cases, args.baseline_days,
                args.repeat)
    measure("default", args.cases, args.days, args.repeat)


if __name__ == "__main__":
    main()
