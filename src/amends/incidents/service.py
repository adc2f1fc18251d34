"""Mass incidents: one failure, thousands of customers, the same amends for each of them.

The affected customers are numbered (`seq`) as they are added; the run works through them in
chunks of `CHUNK` consecutive numbers, one job per chunk and one transaction per job, so a
crash or a re-run never makes amends twice (the row's state, the case, the coupon and the
message are written together, and the database allows one incident case per customer).
Messages are paced per channel from the customer's number; a paused incident holds them."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.audit import service as audit
from amends.cases import service as cases
from amends.config import get_settings
from amends.coupons import policy as coupon_policy
from amends.coupons import service as coupons
from amends.delivery import service as delivery
from amends.errors import Conflict, Forbidden, NotFound, ValidationFailed
from amends.incidents import policy
from amends.incidents.schemas import IncidentIn
from amends.jobs import service as jobs
from amends.kit import codes
from amends.kit.clock import utcnow
from amends.kit.csvstream import BadRows, first_column
from amends.kit.ids import new_id
from amends.kit.sql import insert_for
from amends.models import (
    AuditEvent,
    Case,
    CaseEvent,
    ChannelConfig,
    Coupon,
    Customer,
    Delivery,
    Event,
    GiftCardEntry,
    Incentive,
    Incident,
    IncidentCustomer,
    Job,
    Order,
    Organization,
    Redemption,
    Shipment,
)
from amends.rollups import changes
from amends.shops import outbox as shops_outbox
from amends.suppressions import service as suppressions
from amends.suppressions.service import OPEN_STATES
from amends.webhooks import service as webhooks

CHUNK = 100
# An incident's messages yield to those an agent sends while it runs.
BULK_PRIORITY = 8
IMPORT_BATCH = 1000
CUSTOMER_HEADERS = ("customer_id", "customer", "id")
MAX_CUSTOMER_ID = 100
# Messages per second a provider accepts when the organisation has not said
# (`rate_per_second` in the channel's settings).
DEFAULT_RATES = {"email": 100.0, "sms": 10.0, "whatsapp": 10.0, "helpdesk": 5.0,
                 "webhook": 50.0}
# Below this many gestures of a kind, the organisation's own redemption rate is not known well
# enough: the expected cost is then the face value.
MIN_HISTORY = 30


class IncidentNotFound(NotFound):
    code, title = "incident_not_found", "No such incident"


class IncidentNotDraft(Conflict):
    code, title = "incident_not_draft", "Customers can only be added before the run"


class IncidentNeedsApproval(Conflict):
    code, title = "incident_needs_approval", "A manager has to approve this incident first"


class IncidentStateConflict(Conflict):
    code, title = "incident_state_conflict", "The incident is not in a state that allows this"


class CannotApproveOwnIncident(Forbidden):
    code, title = "cannot_approve_own_incident", "Another manager has to approve it"


class NotAManager(Forbidden):
    code, title = "manager_required", "Only a manager can approve an incident"


class CustomerImportRejected(ValidationFailed):
    code, title = ("customer_import_rejected",
                   "Rows of the file are not customer ids; nothing was added")


class CustomerImportEmpty(ValidationFailed):
    code, title = "customer_import_empty", "The file has no customer ids"


def _customers_of(incident: Incident) -> ColumnElement[bool]:
    """The incident's affected customers (by organisation too: one shard on Citus)."""
    return and_(IncidentCustomer.organization_id == incident.organization_id,
                IncidentCustomer.incident_id == incident.id)


def _deliveries_of(incident: Incident) -> ColumnElement[bool]:
    return and_(Delivery.organization_id == incident.organization_id,
                Delivery.incident_id == incident.id)


def _public(incident: Incident) -> dict[str, Any]:
    return {"id": str(incident.id), "title": incident.title, "status": incident.status,
            "affected": incident.affected, "reason": incident.reason}


async def create(session: AsyncSession, actor: Actor, *, data: IncidentIn) -> Incident:
    known = await cases.reasons(session, actor.organization_id)
    if data.reason not in known:
        raise cases.UnknownReason(f"Use one of: {', '.join(sorted(known))}.")
    if data.incentive_id is not None:
        from amends.incentives.service import get_incentive

        await get_incentive(session, actor, incentive_id=data.incentive_id)
    holdout = data.holdout_percent
    if holdout is None:
        organization = await session.get(Organization, actor.organization_id)
        holdout = organization.holdout_percent_default if organization is not None else 0
    incident = Incident(
        organization_id=actor.organization_id, title=data.title, reason=data.reason,
        severity=data.severity, window_start=data.window_start, window_end=data.window_end,
        incentive_id=data.incentive_id, message=data.message,
        channel_policy=data.channel_policy, holdout_percent=holdout,
        status="draft", affected=0, face_value_total=0, created_by_type=actor.kind,
        created_by_id=actor.id, created_by_label=actor.label, settings={})
    session.add(incident)
    await session.flush()
    await audit.record(session, actor, action="incident.created", object_type="incident",
                       object_id=incident.id, after=_public(incident))
    return incident


async def get(session: AsyncSession, actor: Actor, *, incident_id: uuid.UUID) -> Incident:
    incident = await session.scalar(
        select(Incident).where(Incident.id == incident_id,
                               Incident.organization_id == actor.organization_id)
        .execution_options(populate_existing=True))
    if incident is None:
        raise IncidentNotFound()
    return incident


async def list_incidents(session: AsyncSession, actor: Actor) -> list[Incident]:
    return list((await session.scalars(select(Incident).where(
        Incident.organization_id == actor.organization_id)
        .order_by(Incident.id.desc()).limit(200))).all())


# --- Who was affected ------------------------------------------------------------------------

@dataclass
class Added:
    read: int = 0
    added: int = 0
    duplicates: int = 0
    unknown: int = 0


async def _lock_draft(session: AsyncSession, actor: Actor, incident_id: uuid.UUID) -> Incident:
    """The draft incident, locked against a concurrent import (numbers stay unique)."""
    await session.execute(update(Incident).where(
        Incident.id == incident_id, Incident.organization_id == actor.organization_id)
        .values(updated_at=utcnow()).execution_options(synchronize_session=False))
    incident = await get(session, actor, incident_id=incident_id)
    if incident.status != "draft":
        raise IncidentNotDraft(f"The incident is {incident.status}.")
    return incident


def _id_problem(value: str) -> str | None:
    if not value:
        return "has no customer id in the first column"
    if len(value) > MAX_CUSTOMER_ID:
        return f"the customer id is longer than {MAX_CUSTOMER_ID} characters"
    return None


async def import_customers(session: AsyncSession, actor: Actor, *, incident_id: uuid.UUID,
                           chunks: AsyncIterable[bytes],
                           progress: Callable[[int], None] | None = None) -> Added:
    """Add the affected customers of a CSV file (their ids in the first column, an optional
    `customer_id` header), streamed.

    All or nothing: if any row is not a customer id or cannot be read (not UTF-8, a NUL byte,
    too long, not CSV), `CustomerImportRejected` lists the bad rows and what was added before
    the first of them rolls back with the caller's transaction; after it no id is added, but
    the file is read to the end so that one answer lists every bad row."""
    bad = BadRows()
    rows = 0

    async def ids() -> AsyncIterator[str]:
        nonlocal rows
        async for line in first_column(chunks, headers=CUSTOMER_HEADERS):
            rows += 1
            problem = line.error or _id_problem(line.first)
            if problem is not None:
                bad.add(line, problem)
            elif not bad:
                yield line.first

    added = await add_customers(session, actor, incident_id=incident_id, ids=ids(),
                                progress=progress)
    if bad:
        raise CustomerImportRejected(bad.summary(rows=rows), **bad.problem(rows=rows))
    if rows == 0:
        raise CustomerImportEmpty("The file has no customer ids: it is empty or holds only a "
                                  "header.")
    return added


async def add_customers(session: AsyncSession, actor: Actor, *, incident_id: uuid.UUID,
                        ids: AsyncIterable[str],
                        progress: Callable[[int], None] | None = None) -> Added:
    """Add affected customers by their ids (each 1 to 100 characters), streamed in batches:
    unknown ids are kept (and counted apart from those added) so nothing is silently dropped;
    the same id twice is added once. `read` = `added` + `duplicates` + `unknown`."""
    incident = await _lock_draft(session, actor, incident_id)
    seq = int(await session.scalar(select(func.coalesce(func.max(IncidentCustomer.seq), 0))
                                   .where(_customers_of(incident))) or 0)
    rng = random.Random(f"{incident.id}")  # the hold-out draw is repeatable per incident
    result = Added()
    batch: list[str] = []

    async def flush() -> None:
        nonlocal seq
        known = dict((await session.execute(select(Customer.external_id, Customer.id).where(
            Customer.organization_id == actor.organization_id,
            Customer.external_id.in_(batch)))).all())
        rows = []
        for external_id in dict.fromkeys(batch):
            seq += 1
            customer_id = known.get(external_id)
            rows.append({
                "id": new_id(), "organization_id": actor.organization_id,
                "incident_id": incident.id, "seq": seq, "customer_external_id": external_id,
                "customer_id": customer_id, "state": "pending" if customer_id else "unknown",
                "held_out": customer_id is not None
                and rng.random() * 100 < incident.holdout_percent})
        inserted = await session.execute(
            insert_for(session, IncidentCustomer).values(rows)
            .on_conflict_do_nothing(
                index_elements=["organization_id", "incident_id", "customer_external_id"])
            .returning(IncidentCustomer.state))
        states = list(inserted.scalars())
        # An unknown id is kept (and counted apart) but is not an affected customer: what is
        # "added" is what the incident's count of customers grows by.
        result.unknown += sum(1 for s in states if s == "unknown")
        result.added += len(states) - sum(1 for s in states if s == "unknown")
        result.duplicates += len(batch) - len(states)
        if progress is not None:
            progress(len(batch))
        batch.clear()

    async for external_id in ids:
        result.read += 1
        batch.append(external_id)
        if len(batch) >= IMPORT_BATCH:
            await flush()
    if batch:
        await flush()
    await _recount(session, incident)
    await audit.record(session, actor, action="incident.customers_added",
                       object_type="incident", object_id=incident.id,
                       after={"added": result.added, "duplicates": result.duplicates,
                              "unknown": result.unknown})
    return result


async def _recount(session: AsyncSession, incident: Incident) -> None:
    count = int(await session.scalar(select(func.count()).select_from(IncidentCustomer).where(
        _customers_of(incident), IncidentCustomer.state != "unknown")) or 0)
    face = 0
    if incident.incentive_id is not None:
        incentive = await session.get(Incentive, (incident.organization_id, incident.incentive_id))
        if incentive is not None:
            face = count * _face_value(incentive, session_aov=None)
    await session.execute(update(Incident).where(
        Incident.organization_id == incident.organization_id, Incident.id == incident.id)
        .values(affected=count, face_value_total=face)
        .execution_options(synchronize_session=False))
    incident.affected, incident.face_value_total = count, face


def _face_value(incentive: Incentive, *, session_aov: int | None) -> int:
    if incentive.kind == "percent_off":
        return round((session_aov or 5000) * incentive.value / 100)
    return incentive.value


async def customers_from_query(session: AsyncSession, actor: Actor, *, kind: str,
                               since: datetime, until: datetime, location: str | None
                               ) -> list[str]:
    """The customers a query over stored events and orders finds, in a stable order.

    `shipments_at_location`: parcels scanned at `location` between the two times and not
    delivered (now); `orders_placed`: orders placed between the two times."""
    org = actor.organization_id
    if kind == "orders_placed":
        query = (select(Order.customer_external_id).distinct().where(
            Order.organization_id == org, Order.placed_at >= since, Order.placed_at < until))
    else:
        scanned = (select(Event.data["shipment_id"].as_string()).where(
            Event.organization_id == org, Event.type == "shipment.scanned",
            Event.occurred_at >= since, Event.occurred_at < until,
            Event.data["location"].as_string() == location))
        query = (select(Customer.external_id).distinct()
                 .join(Shipment, and_(Shipment.organization_id == Customer.organization_id,
                                      Shipment.customer_id == Customer.id))
                 .where(Customer.organization_id == org,
                        Shipment.external_id.in_(scanned), Shipment.status != "delivered"))
    return sorted((await session.scalars(query)).all())


async def _as_stream(ids: Sequence[str]) -> AsyncIterable[str]:
    for value in ids:
        yield value


async def add_from_query(session: AsyncSession, actor: Actor, *, incident_id: uuid.UUID,
                         kind: str, since: datetime, until: datetime,
                         location: str | None) -> Added:
    found = await customers_from_query(session, actor, kind=kind, since=since, until=until,
                                       location=location)
    return await add_customers(session, actor, incident_id=incident_id, ids=_as_stream(found))


# --- Preview and cost ------------------------------------------------------------------------

async def redemption_rate(session: AsyncSession, organization_id: uuid.UUID, kind: str
                          ) -> tuple[float | None, int]:
    """The share of this kind of gesture the organisation's customers redeemed (over gestures
    already expired or used), and how many gestures that is based on."""
    now = utcnow()
    settled = (Coupon.organization_id == organization_id, Coupon.kind == kind,
               Coupon.status != "revoked",
               (Coupon.expires_at <= now) | (Coupon.redemption_count > 0))
    total = int(await session.scalar(select(func.count()).select_from(Coupon).where(
        *settled)) or 0)
    used = int(await session.scalar(select(func.count()).select_from(Coupon).where(
        *settled, Coupon.redemption_count > 0)) or 0)
    return (used / total if total else None), total


async def preview(session: AsyncSession, actor: Actor, *, incident_id: uuid.UUID,
                  sample: int = 10) -> dict[str, Any]:
    """Before anything is sent: how many, who (a sample), who is already in an open case, who
    cannot be reached, and what it costs (face value, and expected from the organisation's own
    redemption rate for this kind of gesture)."""
    incident = await get(session, actor, incident_id=incident_id)
    rows = _customers_of(incident)
    counts = dict((await session.execute(
        select(IncidentCustomer.state, func.count()).where(rows)
        .group_by(IncidentCustomer.state))).all())
    held_out = int(await session.scalar(select(func.count()).select_from(IncidentCustomer)
                                        .where(rows, IncidentCustomer.held_out.is_(True))) or 0)
    in_open_case = int(await session.scalar(
        select(func.count(func.distinct(IncidentCustomer.id)))
        .join(Case, and_(Case.customer_id == IncidentCustomer.customer_id,
                         Case.organization_id == IncidentCustomer.organization_id))
        .where(rows, Case.state.in_(OPEN_STATES),
               (Case.incident_id.is_(None)) | (Case.incident_id != incident.id))) or 0)
    unreachable = await _unreachable(session, incident)
    sample_rows = (await session.execute(
        select(IncidentCustomer.customer_external_id, Customer.name, Customer.email)
        .outerjoin(Customer, and_(Customer.organization_id == IncidentCustomer.organization_id,
                                  Customer.id == IncidentCustomer.customer_id))
        .where(rows).order_by(IncidentCustomer.seq).limit(sample))).all()
    incentive = await session.get(Incentive, (incident.organization_id, incident.incentive_id)) \
        if incident.incentive_id else None
    organization = await session.get(Organization, actor.organization_id)
    assert organization is not None
    affected = sum(int(v) for k, v in counts.items() if k != "unknown")
    gifted = affected - held_out
    face_each = _face_value(incentive, session_aov=organization.average_order_value) \
        if incentive else 0
    rate, basis = await redemption_rate(session, actor.organization_id, incentive.kind) \
        if incentive else (None, 0)
    expected_rate = rate if rate is not None and basis >= MIN_HISTORY else 1.0
    face_total = gifted * face_each
    return {
        "incident": incident, "affected": affected, "unknown": int(counts.get("unknown", 0)),
        "states": {k: int(v) for k, v in counts.items()}, "held_out": held_out,
        "already_in_open_case": in_open_case, "unreachable": unreachable,
        "sample": [{"customer_id": r[0], "name": r[1], "email": r[2]} for r in sample_rows],
        "currency": incentive.currency if incentive else organization.default_currency,
        "face_value_each": face_each, "face_value_total": face_total,
        "redemption_rate": round(rate, 4) if rate is not None else None,
        "redemption_rate_basis": basis,
        "expected_cost": round(face_total * expected_rate),
        "approval_threshold": organization.incident_approval_threshold,
        "needs_approval": face_total > organization.incident_approval_threshold
        and incident.approved_at is None,
    }


async def _unreachable(session: AsyncSession, incident: Incident) -> int:
    """Customers with no address on the incident's channel (or on their own channel)."""
    customers = (select(Customer.email, Customer.phone, Customer.opted_out_channels)
                 .join(IncidentCustomer, and_(
                     IncidentCustomer.organization_id == Customer.organization_id,
                     IncidentCustomer.customer_id == Customer.id))
                 .where(_customers_of(incident), IncidentCustomer.state == "pending"))
    missing = 0
    result = await session.stream(customers.execution_options(yield_per=2000))
    async for email, phone, opted_out in result:
        probe = Customer(email=email, phone=phone, opted_out_channels=opted_out or [])
        channel = (delivery.preferred_channel(probe) if incident.channel_policy == "preferred"
                   else incident.channel_policy)
        if not delivery.address_for(probe, channel, None):
            missing += 1
    return missing


# --- Approve, run, pause, resume, cancel --------------------------------------------------------

def situation(actor: Actor, incident: Incident, *, needs_approval: bool) -> policy.Situation:
    """What the rules of `policy` look at, for this person and incident."""
    return policy.Situation(
        status=incident.status, needs_approval=needs_approval, actor_kind=actor.kind,
        actor_role=actor.role,
        is_author=incident.created_by_type == actor.kind and incident.created_by_id == actor.id)


def _refuse(action: policy.Action, situation: policy.Situation) -> None:
    """Raise the error that says why the rules refuse `action`, if they do."""
    why = policy.refusal(action, situation)
    if why == "not_a_manager":
        raise NotAManager()
    if why == "own_incident":
        raise CannotApproveOwnIncident()
    if why == "state":
        raise IncidentStateConflict(f"The incident is {situation.status}.")
    if why == "needs_approval":
        raise IncidentNeedsApproval()


async def approve(session: AsyncSession, actor: Actor, *, incident_id: uuid.UUID,
                  note: str) -> Incident:
    incident = await get(session, actor, incident_id=incident_id)
    # Whether approval is needed does not matter here: approving ahead of time is allowed.
    _refuse("approve", situation(actor, incident, needs_approval=False))
    incident.approved_by_label, incident.approved_at = actor.label, utcnow()
    await session.flush()
    await audit.record(session, actor, action="incident.approved", object_type="incident",
                       object_id=incident.id, reason=note, after=_public(incident))
    await webhooks.emit(session, actor.organization_id, "approval.decided",
                        {"incident_id": str(incident.id), "status": "granted",
                         "decided_by": actor.label})
    return incident


async def _transition(session: AsyncSession, incident: Incident, *, to: str,
                      allowed: tuple[str, ...], **values: Any) -> None:
    """One conditional UPDATE moves the incident out of the states the rules allow
    (`policy.FROM`), so two clicks cannot both start it."""
    result = await session.execute(
        update(Incident).where(Incident.organization_id == incident.organization_id,
                               Incident.id == incident.id, Incident.status.in_(allowed))
        .values(status=to, **values).execution_options(synchronize_session=False))
    if not getattr(result, "rowcount", 0):
        await session.refresh(incident)
        raise IncidentStateConflict(f"The incident is {incident.status}.")
    await session.refresh(incident)


async def start(session: AsyncSession, actor: Actor, *, incident_id: uuid.UUID) -> Incident:
    incident = await get(session, actor, incident_id=incident_id)
    summary = await preview(session, actor, incident_id=incident_id, sample=0)
    if policy.refusal("run", situation(actor, incident, needs_approval=summary[
            "needs_approval"])) == "needs_approval":
        raise IncidentNeedsApproval(
            f"The gestures are worth {summary['face_value_total'] / 100:,.2f} "
            f"{summary['currency']}, above the organisation's threshold of "
            f"{summary['approval_threshold'] / 100:,.2f}.")
    await _transition(session, incident, to="running", allowed=policy.FROM["run"],
                      started_at=utcnow())
    await _enqueue_chunks(session, incident)
    await audit.record(session, actor, action="incident.started", object_type="incident",
                       object_id=incident.id, after=_public(incident))
    return incident


async def _enqueue_chunks(session: AsyncSession, incident: Incident) -> int:
    chunk_of = (IncidentCustomer.seq - 1) / CHUNK
    chunks = sorted({int(c) for c in (await session.scalars(
        select(func.distinct(func.floor(chunk_of))).where(
            _customers_of(incident), IncidentCustomer.state == "pending"))).all()})
    for chunk in chunks:
        await jobs.enqueue(session, "incidents.run_chunk",
                           organization_id=incident.organization_id,
                           payload={"incident_id": str(incident.id), "chunk": chunk})
    await jobs.enqueue(session, "incidents.finish", organization_id=incident.organization_id,
                       payload={"incident_id": str(incident.id)},
                       run_at=utcnow() + timedelta(seconds=1))
    return len(chunks)


async def pause(session: AsyncSession, actor: Actor, *, incident_id: uuid.UUID) -> Incident:
    """Stop new messages at once (a message job about to send holds it instead) and new
    gestures at the next chunk."""
    incident = await get(session, actor, incident_id=incident_id)
    await _transition(session, incident, to="paused", allowed=policy.FROM["pause"],
                      paused_at=utcnow())
    await audit.record(session, actor, action="incident.paused", object_type="incident",
                       object_id=incident.id)
    return incident


async def resume(session: AsyncSession, actor: Actor, *, incident_id: uuid.UUID) -> Incident:
    """Carry on where it stopped: held messages are queued again (paced from now) and the
    customers not yet reached are worked through."""
    incident = await get(session, actor, incident_id=incident_id)
    await _transition(session, incident, to="running", allowed=policy.FROM["resume"],
                      paused_at=None)
    now = utcnow()
    held = (await session.execute(
        update(Delivery).where(_deliveries_of(incident), Delivery.status == "held")
        .values(status="queued").returning(Delivery.id, Delivery.channel)
        .execution_options(synchronize_session=False))).all()
    rates = await _rates(session, incident.organization_id)
    sent_by_channel: dict[str, int] = {}
    job_rows = []
    for delivery_id, channel in sorted(held, key=lambda r: str(r[0])):
        n = sent_by_channel.get(channel, 0)
        sent_by_channel[channel] = n + 1
        job_rows.append(jobs.job_values(
            "delivery.send", organization_id=incident.organization_id,
            payload={"delivery_id": str(delivery_id)},
            run_at=now + timedelta(seconds=n / rates.get(channel, 10.0)),
            priority=BULK_PRIORITY))
    await _insert(session, Job, job_rows)
    session.info["jobs_enqueued"] = True
    await _enqueue_chunks(session, incident)
    await audit.record(session, actor, action="incident.resumed", object_type="incident",
                       object_id=incident.id, after={"messages_released": len(held)})
    return incident


async def cancel(session: AsyncSession, actor: Actor, *, incident_id: uuid.UUID,
                 reason: str) -> Incident:
    """Stop for good: customers not yet reached get nothing, messages not yet sent are not
    sent, and the gestures in them are revoked (they were never delivered)."""
    incident = await get(session, actor, incident_id=incident_id)
    await _transition(session, incident, to="cancelled", allowed=policy.FROM["cancel"],
                      finished_at=utcnow())
    await session.execute(update(IncidentCustomer).where(
        _customers_of(incident), IncidentCustomer.state == "pending")
        .values(state="cancelled").execution_options(synchronize_session=False))
    stopped = (await session.execute(
        update(Delivery).where(_deliveries_of(incident),
                               Delivery.status.in_(("queued", "held")))
        .values(status="cancelled").returning(Delivery.coupon_id)
        .execution_options(synchronize_session=False))).scalars().all()
    coupon_ids = [c for c in stopped if c is not None]
    now = utcnow()
    revoked = 0
    for start_at in range(0, len(coupon_ids), 1000):
        result = await session.execute(
            update(Coupon).where(Coupon.organization_id == incident.organization_id,
                                 Coupon.id.in_(coupon_ids[start_at:start_at + 1000]),
                                 Coupon.status == "active")
            .values(status="revoked", revoked_at=now,
                    revoked_reason=f"Incident cancelled: {reason}"[:1000])
            .execution_options(synchronize_session=False))
        revoked += int(getattr(result, "rowcount", 0) or 0)
    await changes.gestures_changed(session, incident.organization_id, coupon_ids)
    await audit.record(session, actor, action="incident.cancelled", object_type="incident",
                       object_id=incident.id, reason=reason,
                       after={"messages_stopped": len(stopped), "gestures_revoked": revoked})
    return incident


async def _rates(session: AsyncSession, organization_id: uuid.UUID) -> dict[str, float]:
    configured = (await session.execute(select(ChannelConfig.channel, ChannelConfig.settings)
                                        .where(ChannelConfig.organization_id ==
                                               organization_id))).all()
    rates = dict(DEFAULT_RATES)
    for channel, settings in configured:
        rate = (settings or {}).get("rate_per_second")
        if isinstance(rate, int | float) and rate > 0:
            rates[channel] = float(rate)
    return rates


# --- The run -----------------------------------------------------------------------------------

async def run_chunk(session: AsyncSession, *, organization_id: uuid.UUID | str,
                    incident_id: str, chunk: int) -> int:
    """Make amends to the pending customers of one chunk, in this job's one transaction: the
    same rows as an agent's case, gesture and message, written a chunk at a time (a few
    multi-row statements instead of a dozen round trips per customer). Every statement is
    the incident's organisation's (one shard on Citus)."""
    org = uuid.UUID(str(organization_id))
    incident = await session.get(Incident, (org, uuid.UUID(incident_id)),
                                 populate_existing=True)
    if incident is None or incident.status != "running":
        return 0  # paused (resume enqueues the chunk again) or cancelled
    rows = (await session.scalars(select(IncidentCustomer).where(
        IncidentCustomer.organization_id == org, IncidentCustomer.incident_id == incident.id,
        IncidentCustomer.state == "pending",
        IncidentCustomer.seq > chunk * CHUNK, IncidentCustomer.seq <= (chunk + 1) * CHUNK)
        .order_by(IncidentCustomer.seq))).all()
    if not rows:
        return 0
    people = {c.id: c for c in (await session.scalars(select(Customer).where(
        Customer.organization_id == org,
        Customer.id.in_([r.customer_id for r in rows])))).all()}
    incentive = await session.get(Incentive, (incident.organization_id, incident.incentive_id)) \
        if incident.incentive_id else None
    organization = await session.get(Organization, incident.organization_id)
    assert organization is not None
    actor = Actor.system(incident.organization_id, f"incident: {incident.title}"[:320])
    rates = await _rates(session, incident.organization_id)
    started = incident.started_at or utcnow()
    now = utcnow()
    reachable: list[tuple[IncidentCustomer, Customer, str, str]] = []
    for row in rows:
        customer = people.get(row.customer_id) if row.customer_id else None
        if customer is None:
            row.state, row.note = "unknown", "No such customer"
            continue
        channel = (delivery.preferred_channel(customer) if incident.channel_policy ==
                   "preferred" else incident.channel_policy)
        address = delivery.address_for(customer, channel, None)
        configured = await delivery.is_configured(session, incident.organization_id, channel)
        if not address or not configured:
            row.state, row.processed_at = "unreachable", now
            row.note = (f"No {channel} address, or opted out" if configured
                        else f"{channel} is not set up")
            continue
        reachable.append((row, customer, channel, address))
    if not reachable:
        await session.flush()
        return len(rows)
    label = (await cases.reasons(session, incident.organization_id)).get(
        incident.reason, incident.reason.replace("_", " "))
    opened: dict[uuid.UUID, dict[str, Any]] = {}
    events: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    announced: list[tuple[str, dict[str, Any]]] = []  # webhooks, in order
    for row, customer, channel, _ in reachable:
        case = cases.case_row(
            actor, customer=customer, reason=incident.reason, severity=incident.severity,
            channel=channel, conversation_ref=f"incident:{incident.id}",
            summary=incident.title, incident_id=incident.id,
            held_out=row.held_out and incentive is not None)
        opened[row.id] = case
        said, data = cases.opened_words(case, label)
        events.append(cases.event_row(case, actor, kind="opened", summary=said, data=data))
        entries.append(audit.entry_row(actor, action="case.opened", object_type="case",
                                       object_id=case["id"], after=cases.public(case)))
        announced.append(("case.opened", cases.public(case)))
    given = await _gestures(session, actor, organization, incentive, reachable, opened, now)
    messages: list[dict[str, Any]] = []
    job_rows: list[dict[str, Any]] = []
    base_url = get_settings().base_url
    # Each template renders once for the chunk's customers who read it in the same words.
    renders = await delivery.render_many_or_failure(session, [{
        "coupon": given.get(row.id), "customer": customer,
        "case_reference": opened[row.id]["reference"], "channel": channel,
        "kind": "gesture" if given.get(row.id) else "incident_apology", "base_url": base_url,
        "apology": incident.message} for row, customer, channel, _ in reachable])
    for (row, customer, channel, address), (rendered, failure) in zip(reachable, renders,
                                                                      strict=True):
        case, coupon = opened[row.id], given.get(row.id)
        kind = "gesture" if coupon else "incident_apology"
        message = delivery.delivery_row(actor, customer=customer, coupon=coupon,
                                        case_id=case["id"], kind=kind, channel=channel,
                                        address=address, rendered=rendered,
                                        incident_id=incident.id, failure=failure)
        messages.append(message)
        if failure is None:
            send_at = started + timedelta(seconds=(row.seq - 1) / rates.get(channel, 10.0))
            job_rows.append(jobs.job_values(
                "delivery.send", organization_id=incident.organization_id,
                payload={"delivery_id": str(message["id"])}, run_at=max(send_at, now),
                priority=BULK_PRIORITY))
        said, data = delivery.message_words(kind, channel, address, failure=failure)
        events.append(cases.event_row(
            case, actor, kind="message" if failure is None else "delivery_failed",
            summary=said, data={"delivery_id": str(message["id"]),
                                "status": message["status"], **data}))
        if failure is None and kind in cases.APOLOGISING_KINDS:
            # Its apology is on its way (a held-out customer's too): the case is written
            # apologised, the move in its timeline and the audit trail as an agent's
            # apology records it, in the statements below (no UPDATE, no statement more).
            event, entry = cases.apologised_rows(case, actor, how=said,
                                                 message=data["message"])
            events.append(event)
            entries.append(entry)
            announced.append(("case.state_changed", {**cases.public(case), "from": "open"}))
        row.state = "held_out" if row.held_out and incentive is not None else "done"
        row.case_id, row.coupon_id = case["id"], coupon.id if coupon else None
        row.delivery_id, row.processed_at = message["id"], now
    await _insert(session, Case, list(opened.values()))
    await changes.changed(session, incident.organization_id,
                          cases=[case["opened_at"] for case in opened.values()])
    await _insert(session, CaseEvent, events)
    await _insert(session, AuditEvent, entries)
    await _insert(session, Delivery, messages)
    await _insert(session, Job, job_rows)
    await suppressions.add_many(session, [customer for _, customer, _, _ in reachable])
    for event_type, payload in announced:
        await webhooks.emit(session, incident.organization_id, event_type, payload)
    session.info["jobs_enqueued"] = True
    return len(rows)


async def _gestures(session: AsyncSession, actor: Actor, organization: Organization,
                    incentive: Incentive | None,
                    reachable: list[tuple[IncidentCustomer, Customer, str, str]],
                    opened: dict[uuid.UUID, dict[str, Any]], now: datetime
                    ) -> dict[uuid.UUID, Coupon]:
    """The incident's gesture for every customer not held out, in one INSERT (a pool's codes
    are drawn one by one, atomically, through the usual issue)."""
    wanted = [(row, customer, channel) for row, customer, channel, _ in reachable
              if incentive is not None and not row.held_out]
    if incentive is None or not wanted:
        return {}
    if incentive.code_pool_id is not None:
        return {row.id: (await coupons.issue_coupon(
            session, actor, customer=customer, incentive=incentive,
            case_ref=opened[row.id]["reference"], channel=channel, looked_up=True))[0]
            for row, customer, channel in wanted}
    expires_at = coupon_policy.expiry(now, validity_days=incentive.validity_days,
                                      valid_until=incentive.valid_until)
    face_value = coupon_policy.face_value(
        incentive.kind, incentive.value, average_order_value=organization.average_order_value)
    values = {row.id: coupons.coupon_values(
        actor, customer=customer, incentive=incentive, case_ref=opened[row.id]["reference"],
        channel=channel, code=codes.generate(organization.code_prefix or ""),
        face_value=face_value, now=now, expires_at=expires_at)
        for row, customer, channel in wanted}
    inserted = {c.id: c for c in (await session.scalars(
        insert_for(session, Coupon).on_conflict_do_nothing().returning(Coupon),
        list(values.values()))).all()}
    given: dict[uuid.UUID, Coupon] = {}
    entries: list[dict[str, Any]] = []
    cards: list[dict[str, Any]] = []
    for row, customer, channel in wanted:
        coupon = inserted.get(values[row.id]["id"])
        if coupon is None:  # its random code was taken: the usual issue draws another
            coupon, _ = await coupons.issue_coupon(
                session, actor, customer=customer, incentive=incentive,
                case_ref=opened[row.id]["reference"], channel=channel)
        else:
            entry, card = coupons.issued_rows(actor, coupon)
            entries.append(entry)
            if card is not None:
                cards.append(card)
        given[row.id] = coupon
    await _insert(session, AuditEvent, entries)
    await _insert(session, GiftCardEntry, cards)
    # The usual issue records the others.
    await changes.given(session, inserted.values())
    await shops_outbox.coupons_issued(session, organization_id=actor.organization_id,
                                      coupon_ids=list(inserted))
    return given


async def _insert(session: AsyncSession, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """Write new rows with one multi-row INSERT (parents before children, for the foreign
    keys), without the unit of work's per-object bookkeeping."""
    if rows:
        await session.execute(insert(model.__table__), rows)


async def _complete_if_done(session: AsyncSession, incident: Incident) -> bool:
    pending = await session.scalar(select(IncidentCustomer.id).where(
        _customers_of(incident), IncidentCustomer.state == "pending").limit(1))
    if pending is not None:
        return False
    unsent = await session.scalar(select(Delivery.id).where(
        _deliveries_of(incident), Delivery.status.in_(("queued", "held"))).limit(1))
    if unsent is not None:
        return False
    await session.execute(update(Incident).where(
        Incident.organization_id == incident.organization_id, Incident.id == incident.id,
        Incident.status == "running")
        .values(status="completed", finished_at=utcnow())
        .execution_options(synchronize_session=False))
    return True


async def finish(session: AsyncSession, *, organization_id: uuid.UUID | str,
                 incident_id: str) -> bool:
    """Mark a running incident completed once every customer has been reached and every
    message has left; until then look again in two seconds."""
    org = uuid.UUID(str(organization_id))
    incident = await session.get(Incident, (org, uuid.UUID(incident_id)),
                                 populate_existing=True)
    if incident is None or incident.status != "running":
        return True
    if await _complete_if_done(session, incident):
        return True
    await jobs.enqueue(session, "incidents.finish", organization_id=org,
                       payload={"incident_id": incident_id},
                       run_at=utcnow() + timedelta(seconds=2))
    return False


# --- Progress and report --------------------------------------------------------------------

async def progress(session: AsyncSession, actor: Actor, *, incident_id: uuid.UUID
                   ) -> dict[str, Any]:
    incident = await get(session, actor, incident_id=incident_id)
    states = dict((await session.execute(
        select(IncidentCustomer.state, func.count()).where(_customers_of(incident))
        .group_by(IncidentCustomer.state))).all())
    messages = dict((await session.execute(
        select(Delivery.status, func.count()).where(_deliveries_of(incident))
        .group_by(Delivery.status))).all())
    total = sum(int(v) for k, v in states.items() if k != "unknown")
    pending = int(states.get("pending", 0))
    return {"status": incident.status, "total": total, "processed": total - pending,
            "pending": pending, "states": {k: int(v) for k, v in states.items()},
            "messages": {k: int(v) for k, v in messages.items()}}


async def report(session: AsyncSession, actor: Actor, *, incident_id: uuid.UUID
                 ) -> dict[str, Any]:
    """Reached, sent, delivered, opened, redeemed, cost so far and customers who bought
    again."""
    incident = await get(session, actor, incident_id=incident_id)
    base = await progress(session, actor, incident_id=incident_id)
    reached = base["states"].get("done", 0) + base["states"].get("held_out", 0)
    opened = int(await session.scalar(select(func.count()).select_from(Delivery).where(
        _deliveries_of(incident), Delivery.opened_at.is_not(None))) or 0)
    redeemed = (await session.execute(
        select(func.count(func.distinct(Redemption.coupon_id)),
               func.coalesce(func.sum(Redemption.discount), 0))
        .join(IncidentCustomer, and_(
            IncidentCustomer.organization_id == Redemption.organization_id,
            IncidentCustomer.coupon_id == Redemption.coupon_id))
        .where(_customers_of(incident), Redemption.status == "completed"))).one()
    since = incident.started_at or incident.created_at
    bought_again = int(await session.scalar(
        select(func.count(func.distinct(IncidentCustomer.customer_id)))
        .join(Order, and_(Order.organization_id == IncidentCustomer.organization_id,
                          Order.customer_id == IncidentCustomer.customer_id))
        .where(_customers_of(incident), IncidentCustomer.state.in_(("done", "held_out")),
               Order.status == "completed", Order.completed_at > since)) or 0)
    face = int(await session.scalar(
        select(func.coalesce(func.sum(Coupon.face_value), 0))
        .join(IncidentCustomer, and_(IncidentCustomer.organization_id == Coupon.organization_id,
                                     IncidentCustomer.coupon_id == Coupon.id))
        .where(_customers_of(incident), Coupon.status != "revoked")) or 0)
    messages = base["messages"]
    # "sent": the messages that left (a provider took them); "delivered": those a provider
    # then confirmed as delivered (e-mail over SMTP never is: it stays sent).
    return {**base, "reached": reached,
            "sent": int(messages.get("sent", 0)) + int(messages.get("delivered", 0)),
            "delivered": int(messages.get("delivered", 0)),
            "opened": opened, "redeemed": int(redeemed[0]), "cost_so_far": int(redeemed[1]),
            "face_value_issued": face, "bought_again": bought_again,
            "win_back_rate": round(bought_again / reached, 4) if reached else 0.0}


async def report_rows(session: AsyncSession, actor: Actor, *, incident_id: uuid.UUID
                      ) -> AsyncIterable[dict[str, Any]]:
    """One row per affected customer, streamed (for the CSV export)."""
    incident = await get(session, actor, incident_id=incident_id)
    query = (select(IncidentCustomer.seq, IncidentCustomer.customer_external_id,
                    IncidentCustomer.state, IncidentCustomer.held_out, Case.reference,
                    Coupon.code, Coupon.status, Delivery.channel, Delivery.status,
                    Delivery.opened_at, IncidentCustomer.note)
             .outerjoin(Case, and_(Case.organization_id == IncidentCustomer.organization_id,
                                   Case.id == IncidentCustomer.case_id))
             .outerjoin(Coupon, and_(Coupon.organization_id == IncidentCustomer.organization_id,
                                     Coupon.id == IncidentCustomer.coupon_id))
             .outerjoin(Delivery, and_(
                 Delivery.organization_id == IncidentCustomer.organization_id,
                 Delivery.id == IncidentCustomer.delivery_id))
             .where(_customers_of(incident))
             .order_by(IncidentCustomer.seq).execution_options(yield_per=2000))
    result = await session.stream(query)
    async for row in result:
        yield {"seq": row[0], "customer_id": row[1], "state": row[2],
               "held_out": row[3], "case": row[4] or "", "code": row[5] or "",
               "coupon_status": row[6] or "", "channel": row[7] or "",
               "message_status": row[8] or "",
               "opened": row[9].isoformat() if row[9] else "", "note": row[10] or ""}

