from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, insert, select

import tests.jobkinds  # noqa: F401  (registers test.record and test.fail)
from amends.config import Settings
from amends.db import Database
from amends.jobs import service as jobs
from amends.jobs.worker import Worker
from amends.kit.clock import clock
from amends.models import Job
from tests.factories import bearer, make_org


async def _job(db: Database, job_id: object) -> Job:
    async with db.transaction(write=False) as session:
        job = await session.scalar(select(Job).where(Job.id == job_id))
    assert job is not None
    return job


async def test_a_job_enqueued_with_a_change_runs_once(db: Database, settings: Settings,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "runs.log"
    async with db.transaction() as session:
        job_id = await jobs.enqueue(session, "test.record",
                                    payload={"path": str(out), "tag": "one"})
    ran = await Worker(db, settings).run_until_idle()
    assert ran == 1
    job = await _job(db, job_id)
    assert job.status == "succeeded"
    assert job.attempts == 1
    assert [line.split()[0] for line in out.read_text().splitlines()] == ["start", "end"]
    assert await Worker(db, settings).run_until_idle() == 0


async def test_a_scheduled_job_waits_for_its_time(db: Database, settings: Settings,
                                                  tmp_path: Path) -> None:
    out = tmp_path / "runs.log"
    async with db.transaction() as session:
        await jobs.enqueue(session, "test.record", payload={"path": str(out), "tag": "later"},
                           run_at=clock.now() + timedelta(days=3))
    assert await Worker(db, settings).run_until_idle() == 0
    clock.advance(timedelta(days=3, seconds=1))
    assert await Worker(db, settings).run_until_idle() == 1
    assert "later" in out.read_text()


async def test_a_failing_job_backs_off_then_dies_and_can_be_retried(
    db: Database, settings: Settings, client: httpx.AsyncClient
) -> None:
    tenant = await make_org(db)
    async with db.transaction() as session:
        job_id = await jobs.enqueue(session, "test.fail", organization_id=tenant.id,
                                    payload={"message": "provider said no"})
    worker = Worker(db, settings)
    before = clock.now()
    assert await worker.run_until_idle() == 1
    clock.freeze(before)  # however slow the machine, the backoff has not passed yet
    first = await _job(db, job_id)
    assert first.status == "queued"
    assert first.attempts == 1
    # backing off (base 1 s, jitter down to 0.8x), not retried at once
    assert first.run_at >= before + timedelta(seconds=0.8)
    assert await worker.run_until_idle() == 0
    for _ in range(2):
        clock.advance(timedelta(hours=1))
        await worker.run_until_idle()
    dead = await _job(db, job_id)
    assert dead.status == "dead"
    assert dead.attempts == 3
    assert "provider said no" in (dead.last_error or "")

    listed = await client.get("/v1/jobs", params={"status": "dead"},
                              headers=bearer(tenant.admin_token))
    assert [j["id"] for j in listed.json()["items"]] == [str(job_id)]
    assert listed.json()["items"][0]["priority"] == 5
    other = await make_org(db)
    hidden = await client.post(f"/v1/jobs/{job_id}/retry", headers=bearer(other.admin_token))
    assert hidden.status_code == 404
    retried = await client.post(f"/v1/jobs/{job_id}/retry", headers=bearer(tenant.admin_token))
    assert retried.status_code == 200
    assert retried.json()["status"] == "queued"
    assert retried.json()["attempts"] == 0
    again = await client.post(f"/v1/jobs/{job_id}/retry", headers=bearer(tenant.admin_token))
    assert again.status_code == 409
    assert again.json()["code"] == "job_not_dead"
    assert await worker.run_until_idle() == 1


async def test_backoff_grows_exponentially_up_to_a_maximum() -> None:
    delays = [jobs.backoff(n, base=2, maximum=60).total_seconds() for n in (1, 2, 3, 4, 10)]
    assert 1.6 <= delays[0] <= 2.4
    assert 3.2 <= delays[1] <= 4.8
    assert 6.4 <= delays[2] <= 9.6
    assert 12.8 <= delays[3] <= 19.2
    assert 48 <= delays[4] <= 72


async def test_periodic_jobs_keep_exactly_one_run_scheduled(db: Database,
                                                            settings: Settings) -> None:
    worker = Worker(db, settings)
    await worker.ensure_periodic()
    await worker.ensure_periodic()
    async with db.transaction(write=False) as session:
        queued = (await session.scalars(
            select(Job).where(Job.kind == "maintenance.purge", Job.status == "queued"))).all()
    assert len(queued) == 1
    await worker.run_until_idle()
    async with db.transaction(write=False) as session:
        following = (await session.scalars(
            select(Job).where(Job.kind == "maintenance.purge", Job.status == "queued"))).all()
    assert len(following) == 1
    assert following[0].run_at > clock.now() + timedelta(minutes=59)


async def test_a_claim_takes_no_more_jobs_than_asked_for(db: Database, settings: Settings,
                                                         tmp_path: Path) -> None:
    """A worker runs at most its concurrency, even with a thousand jobs due at the same
    instant (a plan that re-ran the claim's subquery once took them all)."""
    due = clock.now()
    async with db.transaction() as session:
        await session.execute(insert(Job), [
            jobs.job_values("test.record", run_at=due,
                            payload={"path": str(tmp_path / "runs.log"), "tag": str(n)})
            for n in range(1000)])
    async with db.transaction() as session:
        claimed = await jobs.claim(session, limit=8, lease=timedelta(seconds=60))
    assert len(claimed) == 8
    async with db.transaction(write=False) as session:
        running = await session.scalar(
            select(func.count()).select_from(Job).where(Job.status == "running"))
    assert running == 8


async def test_due_jobs_run_by_priority_then_by_due_time(db: Database, settings: Settings,
                                                          tmp_path: Path) -> None:
    """A bulk message due long ago waits for a person's message due now; urgent work comes
    first; jobs of one priority run in the order they fell due."""
    now = clock.now()
    path = str(tmp_path / "runs.log")
    async with db.transaction() as session:
        for tag, due, priority in [("bulk-old", 30, 8), ("bulk-new", 20, 8),
                                   ("person", 1, None), ("urgent", 0, 1)]:
            await jobs.enqueue(session, "test.record", payload={"path": path, "tag": tag},
                               run_at=now - timedelta(seconds=due), priority=priority)
    order = []
    for _ in range(4):
        async with db.transaction() as session:
            (job,) = await jobs.claim(session, limit=1, lease=timedelta(seconds=60))
        order.append(job.payload["tag"])
    assert order == ["urgent", "person", "bulk-old", "bulk-new"]
