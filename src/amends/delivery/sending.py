"""Sending queued messages, many at once (the `delivery.send` jobs, run in batches).

A worker claims up to `BATCH` due message jobs together. Their deliveries are read in one
statement per organisation, in a short read transaction (on SQLite no write lock is held
while the messages travel); every message still `queued` goes out at once, over the
adapters' kept connections (each adapter bounds how many are in flight to one peer); and as
they are taken, every `FLUSH_SECONDS`, the ones that left are recorded `sent` in one
statement, in the same transaction as their jobs' completion.

Exactly once: a delivery is sent only while it reads `queued`, and it is recorded `sent`
moments after its provider took it. A job retried after a crash (its worker killed) finds its
delivery recorded and sends nothing; only a message taken in the last moments before the
crash, not yet recorded, goes again, with the same delivery id as its Message-ID,
idempotency token or webhook-id, so the provider (and the tests) can drop the copy. A message
the provider refuses fails alone: its job is retried with its own attempts and backoff
(`record_failure` keeps its error), never the batch's other messages.

Pacing is the jobs' own: an incident's message jobs are due one after another at the
channel's `rate_per_second`, and a claim takes only due jobs.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.delivery import channels
from amends.delivery.service import channel_settings, sender_of
from amends.jobs.registry import Batch
from amends.kit.clock import utcnow
from amends.models import Case, Delivery, HelpdeskInstallation, Incident, Job, Organization

BATCH = 200
FLUSH_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class _Queued:
    job: Job
    message: channels.Outgoing
    settings: dict[str, Any]


async def send_batch(batch: Batch, *, base_url: str) -> None:
    """Send the messages of a batch of `delivery.send` jobs, one organisation after the
    other (every statement names its organisation: one shard on Citus)."""
    by_organization: dict[uuid.UUID, list[Job]] = {}
    for job in batch.jobs:
        organization_id = uuid.UUID(str(job.payload.get("organization_id")
                                        or job.organization_id))
        by_organization.setdefault(organization_id, []).append(job)
    for organization_id, claimed in by_organization.items():
        await _send_organization(batch, organization_id, claimed, base_url=base_url)


async def _send_organization(batch: Batch, organization_id: uuid.UUID, claimed: list[Job], *,
                             base_url: str) -> None:
    wanted = {uuid.UUID(job.payload["delivery_id"]): job for job in claimed}
    queued: list[_Queued] = []
    stopped: dict[str, list[Job]] = {"held": [], "cancelled": []}
    async with batch.reading() as reader:
        # By primary key alone: with `status = 'queued'` in the WHERE, PostgreSQL (its
        # statistics behind an incident's million new rows) read every queued delivery of
        # the organisation to find the batch's, seconds a batch.
        found = (await reader.execute(
            select(Delivery.id, Delivery.status, Delivery.channel, Delivery.address,
                   Delivery.subject, Delivery.body_text, Delivery.body_html, Delivery.case_id,
                   Incident.status)
            .outerjoin(Incident, and_(Incident.organization_id == Delivery.organization_id,
                                      Incident.id == Delivery.incident_id))
            .where(Delivery.organization_id == organization_id,
                   Delivery.id.in_(list(wanted))))).all()
        rows = [row for row in found if row[1] == "queued"]
        organization = await reader.get(Organization, organization_id) if rows else None
        for delivery_id, _, channel, address, subject, text, html, case_id, incident in rows:
            job = wanted[delivery_id]
            if incident in ("paused", "cancelled"):
                # Paused: held until the incident resumes; cancelled: never sent.
                stopped["held" if incident == "paused" else "cancelled"].append(job)
                continue
            try:
                settings = (await _installation_settings(
                    reader, organization_id, case_id, address) if channel == "helpdesk"
                    else None) or await channel_settings(reader, organization_id, channel)
            except channels.DeliveryFailed as problem:
                await batch.fail(job, problem)
                continue
            if settings is None:
                await batch.fail(job, channels.DeliveryFailed(f"{channel} is not configured"))
                continue
            extra: dict[str, Any] = {}
            if channel in ("sms", "whatsapp"):
                extra["status_callback"] = (f"{base_url.rstrip('/')}/v1/delivery-callbacks/"
                                            f"twilio/{delivery_id}")
            if channel == "email" and organization is not None:
                extra.update(sender_of(organization))
            queued.append(_Queued(job, channels.Outgoing(
                id=str(delivery_id), channel=channel, address=address, subject=subject,
                text=text, html=html, extra=extra), settings))
    # Sent already (a retry after a crash), cancelled, or not there: nothing to send.
    read = {row[0] for row in rows}
    await batch.succeed([job for delivery_id, job in wanted.items() if delivery_id not in read])
    for status, jobs in stopped.items():
        if jobs:
            await batch.succeed(jobs, _set_status(organization_id, jobs, status))
    if queued:
        # Most urgent first (an agent's message before an incident's), each in its turn.
        queued.sort(key=lambda q: (q.job.priority, q.job.run_at))
        await _send_all(batch, organization_id, queued)


def _set_status(organization_id: uuid.UUID, jobs: Sequence[Job], status: str) -> Any:
    """Held or cancelled, each still queued (a statement run for each row, by primary key)."""
    table = Delivery.__table__
    assert isinstance(table, Table)
    statement = (update(table).where(table.c.organization_id == organization_id,
                                     table.c.id == bindparam("stopped_id"),
                                     table.c.status == "queued")
                 .values(status=status))

    async def record(session: AsyncSession) -> None:
        await session.execute(statement, [{"stopped_id": uuid.UUID(job.payload["delivery_id"])}
                                          for job in jobs])

    return record


async def _send_all(batch: Batch, organization_id: uuid.UUID, queued: list[_Queued]) -> None:
    """Every message at once; those taken are recorded as they come, every FLUSH_SECONDS."""
    sending: dict[asyncio.Future[channels.Sent], _Queued] = {asyncio.ensure_future(
        channels.ADAPTERS[q.message.channel].send(q.message, q.settings)): q for q in queued}
    pending: set[asyncio.Future[channels.Sent]] = set(sending)
    while pending:
        done, pending = await asyncio.wait(pending, timeout=FLUSH_SECONDS)
        sent: list[tuple[_Queued, channels.Sent]] = []
        for future in done:
            item = sending[future]
            problem = future.exception()
            if problem is None:
                sent.append((item, future.result()))
            elif isinstance(problem, Exception):
                await batch.fail(item.job, problem)
            else:
                raise problem
        if sent:
            await batch.succeed([item.job for item, _ in sent],
                                _record_sent(organization_id, sent))


def _record_sent(organization_id: uuid.UUID, sent: list[tuple[_Queued, channels.Sent]]
                 ) -> Any:
    """The messages the providers took, recorded in one statement (run for each row)."""
    table = Delivery.__table__
    assert isinstance(table, Table)
    statement = (
        update(table)
        .where(table.c.organization_id == organization_id, table.c.id == bindparam("sent_id"),
               table.c.status == "queued")
        .values(status=bindparam("sent_status"), provider_id=bindparam("sent_provider"),
                sent_at=bindparam("sent_at"), delivered_at=bindparam("sent_delivered"),
                attempts=table.c.attempts + 1, error=None))

    async def record(session: AsyncSession) -> None:
        now = utcnow()
        await session.execute(statement, [
            {"sent_id": uuid.UUID(item.message.id), "sent_status": result.status,
             "sent_provider": result.provider_id, "sent_at": now,
             "sent_delivered": now if result.status == "delivered" else None}
            for item, result in sent])

    return record


async def _installation_settings(session: AsyncSession, organization_id: uuid.UUID,
                                 case_id: uuid.UUID | None, address: str
                                 ) -> dict[str, Any] | None:
    """The settings of the helpdesk app installed where the case's ticket is (its platform,
    account, settings and secrets), or None for a case without one. A case whose app was
    uninstalled since fails: its ticket belongs to that helpdesk, not to the `helpdesk`
    channel's."""
    if case_id is None:
        return None
    found = (await session.execute(
        select(Case.helpdesk_installation_id, HelpdeskInstallation).outerjoin(
            HelpdeskInstallation, and_(
                HelpdeskInstallation.organization_id == Case.organization_id,
                HelpdeskInstallation.id == Case.helpdesk_installation_id))
        .where(Case.organization_id == organization_id, Case.id == case_id))).first()
    if found is None or found[0] is None:
        return None
    installation = found[1]
    if installation is None:
        raise channels.DeliveryFailed(
            f"the helpdesk app of ticket {address} was uninstalled: install it again "
            "to post into the ticket")
    return {**installation.settings, **installation.secrets, "platform": installation.platform,
            "account": installation.account, "installation_id": str(installation.id)}
