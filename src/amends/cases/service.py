"""Cases: the four steps of service recovery (apologise, review, fix and follow up, document),
with a timeline of everything that happened."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.audit import service as audit
from amends.cases import policy
from amends.delivery.wording import Phrase
from amends.errors import Conflict, NotFound, ValidationFailed
from amends.jobs import service as jobs
from amends.kit import codes
from amends.kit.clock import utcnow
from amends.kit.ids import new_id
from amends.kit.pagination import Page, newest_first
from amends.kit.sql import get_or_insert, insert_for, insert_new
from amends.models import (
    AuditEvent,
    Case,
    CaseEvent,
    Coupon,
    Customer,
    Order,
    Organization,
    Reason,
    Redemption,
    Shipment,
    User,
)
from amends.rollups import changes
from amends.suppressions import service as suppressions
from amends.web.labels import in_sentence
from amends.webhooks import service as webhooks

DEFAULT_REASONS = {
    "late_delivery": "Late delivery", "lost_parcel": "Lost parcel",
    "damaged_item": "Damaged item", "billing_error": "Billing error",
    "refused_coupon": "Refused coupon", "poor_service": "Poor service",
}
STEP_FIELDS = {
    "apologised": ("apology",),
    "reviewing": ("root_cause", "responsible_party", "notes"),
    "fixed": ("remedy",),
    "followed_up": ("notes",),
    "closed": ("summary",),
}


class CaseNotFound(NotFound):
    code, title = "case_not_found", "No such case"


class UnknownReason(ValidationFailed):
    code, title = "unknown_reason", "Not one of the organisation's reasons"


class InvalidCaseTransition(Conflict):
    code, title = "invalid_case_transition", "The case cannot move to that step"


class SkipReasonRequired(ValidationFailed):
    code, title = "skip_reason_required", "Say why steps are skipped"


class CaseClosed(Conflict):
    code, title = "case_closed", "The case is closed"


class CaseNotClosed(Conflict):
    code, title = "case_not_closed", "Only a closed case can be reopened"


async def reasons(session: AsyncSession, organization_id: uuid.UUID) -> dict[str, str]:
    rows = (await session.scalars(select(Reason).where(
        Reason.organization_id == organization_id, Reason.active.is_(True)))).all()
    return {r.key: r.label for r in rows} or dict(DEFAULT_REASONS)


async def set_reason(session: AsyncSession, actor: Actor, *, key: str, label: str,
                     active: bool) -> Reason:
    if not await session.scalar(select(Reason.id).where(
            Reason.organization_id == actor.organization_id).limit(1)):
        # The first custom reason replaces the defaults: keep them as editable rows (once,
        # however many first reasons are saved at the same time).
        await session.execute(
            insert_for(session, Reason.__table__).values([
                {"id": new_id(), "organization_id": actor.organization_id, "key": default_key,
                 "label": default_label, "active": True}
                for default_key, default_label in DEFAULT_REASONS.items() if default_key != key])
            .on_conflict_do_nothing(index_elements=["organization_id", "key"]))
    reason, created = await get_or_insert(
        session, Reason, key={"organization_id": actor.organization_id, "key": key},
        values={"label": label, "active": active})
    if not created:
        reason.label, reason.active = label, active
        await session.flush()
    await audit.record(session, actor, action="reason.saved", object_type="reason",
                       object_id=key, after={"label": label, "active": active})
    return reason


def event_row(case: Case | Mapping[str, Any], actor: Actor | None, *, kind: str, summary: str,
              data: dict[str, Any] | None = None) -> dict[str, Any]:
    """A timeline entry as a row (for callers that insert many in one statement)."""
    organization_id, case_id = _get(case, "organization_id"), _get(case, "id")
    return {"id": new_id(), "organization_id": organization_id, "case_id": case_id,
            "kind": kind, "summary": summary[:500], "data": data or {},
            "actor_label": actor.label if actor else "amends", "created_at": utcnow()}


def new_event(case: Case, actor: Actor | None, *, kind: str, summary: str,
              data: dict[str, Any] | None = None) -> CaseEvent:
    """A timeline entry, not yet added."""
    return CaseEvent(**event_row(case, actor, kind=kind, summary=summary, data=data))


def _get(row: Any, key: str) -> Any:
    return row[key] if isinstance(row, Mapping) else getattr(row, key)


async def add_event(session: AsyncSession, case: Case, actor: Actor | None, *, kind: str,
                    summary: str, data: dict[str, Any] | None = None) -> CaseEvent:
    event = new_event(case, actor, kind=kind, summary=summary, data=data)
    session.add(event)
    await session.flush()
    return event


def public(case: Case | Mapping[str, Any]) -> dict[str, Any]:
    """The case as webhooks and the audit trail show it (a Case or a row built for it)."""
    return {"id": str(_get(case, "id")), "reference": _get(case, "reference"),
            "customer_id": _get(case, "customer_external_id"), "reason": _get(case, "reason"),
            "severity": _get(case, "severity"), "channel": _get(case, "channel"),
            "state": _get(case, "state"), "conversation_ref": _get(case, "conversation_ref")}


async def open_case(session: AsyncSession, actor: Actor, *, customer: Customer, reason: str,
                    severity: int, channel: str, conversation_ref: str | None,
                    summary: str = "", incident_id: uuid.UUID | None = None,
                    held_out: bool = False) -> Case:
    known = await reasons(session, actor.organization_id)
    if reason not in known:
        raise UnknownReason(f"Use one of: {', '.join(sorted(known))}.", reasons=sorted(known))
    case = build_case(actor, customer=customer, reason=reason, severity=severity,
                      channel=channel, conversation_ref=conversation_ref, summary=summary,
                      incident_id=incident_id, held_out=held_out)
    session.add(case)
    await session.flush()
    await _opened(session, actor, case, customer, known[reason])
    return case


async def case_for_ticket(session: AsyncSession, actor: Actor, *, customer: Customer,
                          installation_id: uuid.UUID, ticket_ref: str, reason: str,
                          severity: int, summary: str = "") -> tuple[Case, bool]:
    """The one case of a helpdesk ticket: opened the first time (for `customer`), the same case
    every time after, however many clicks or webhooks arrive at once. Returns (case, opened)."""
    key = {"organization_id": actor.organization_id,
           "helpdesk_installation_id": installation_id, "conversation_ref": ticket_ref}
    found = await session.scalar(select(Case).filter_by(**key))
    if found is not None:
        return found, False
    known = await reasons(session, actor.organization_id)
    if reason not in known:
        raise UnknownReason(f"Use one of: {', '.join(sorted(known))}.", reasons=sorted(known))
    row = case_row(actor, customer=customer, reason=reason, severity=severity,
                   channel="helpdesk", conversation_ref=ticket_ref, summary=summary)
    row.pop("organization_id"), row.pop("conversation_ref")
    case = await insert_new(session, Case, key=key, values=row)
    if case is None:  # a concurrent click or webhook opened it
        return (await session.scalars(select(Case).filter_by(**key))).one(), False
    await _opened(session, actor, case, customer, known[reason])
    return case, True


async def _opened(session: AsyncSession, actor: Actor, case: Case, customer: Customer,
                  reason_label: str) -> None:
    said, data = opened_words(case, reason_label)
    await add_event(session, case, actor, kind="opened", summary=said, data=data)
    await audit.record(session, actor, action="case.opened", object_type="case",
                       object_id=case.id, after=public(case))
    await changes.changed(session, actor.organization_id, cases=[case.opened_at])
    await suppressions.add(session, customer)
    await webhooks.emit(session, actor.organization_id, "case.opened", public(case))


def case_row(actor: Actor, *, customer: Customer, reason: str, severity: int, channel: str,
             conversation_ref: str | None, summary: str = "",
             incident_id: uuid.UUID | None = None, held_out: bool = False) -> dict[str, Any]:
    """A new open case as a row (the reason already checked)."""
    return {
        "id": new_id(), "organization_id": actor.organization_id, "reference": _reference(),
        "customer_id": customer.id, "customer_external_id": customer.external_id,
        "reason": reason, "severity": severity, "channel": channel,
        "conversation_ref": conversation_ref, "state": "open", "summary": summary,
        "skipped": {}, "opened_by_type": actor.kind, "opened_by_id": actor.id,
        "opened_by_label": actor.label, "opened_at": utcnow(), "incident_id": incident_id,
        "held_out": held_out, "reopened_count": 0,
    }


def build_case(actor: Actor, *, customer: Customer, reason: str, severity: int, channel: str,
               conversation_ref: str | None, summary: str = "",
               incident_id: uuid.UUID | None = None, held_out: bool = False) -> Case:
    """A new open case, not yet added (the reason already checked)."""
    return Case(**case_row(actor, customer=customer, reason=reason, severity=severity,
                           channel=channel, conversation_ref=conversation_ref, summary=summary,
                           incident_id=incident_id, held_out=held_out))


def opened_words(case: Case | Mapping[str, Any], reason_label: str
                 ) -> tuple[str, dict[str, Any]]:
    """The timeline's entry for an opened case: its summary in English (as the API shows it)
    and the data the console writes it from in the reader's language ("via SMS", "par
    SMS")."""
    severity, channel = _get(case, "severity"), _get(case, "channel")
    data = {"reason": _get(case, "reason"), "reason_label": reason_label,
            "severity": severity, "channel": channel}
    if _get(case, "summary"):
        data["summary"] = _get(case, "summary")
    return (f"Case opened: {reason_label}, severity {severity}, via {in_sentence(channel)}",
            data)


def _reference() -> str:
    """60 random bits: enough that a million cases in one organisation practically never
    draw the same reference (32 bits met one in a hundred thousand)."""
    return codes.random_reference("C-")


async def get_case(session: AsyncSession, actor: Actor, *, case_id: uuid.UUID,
                   lock: bool = False) -> Case:
    query = select(Case).where(Case.id == case_id,
                               Case.organization_id == actor.organization_id)
    if lock:
        query = query.with_for_update()
    case = await session.scalar(query.execution_options(populate_existing=True))
    if case is None:
        raise CaseNotFound()
    return case


async def case_of(session: AsyncSession, coupon: Coupon) -> Case | None:
    """The case a coupon was given in (coupons carry the case's reference)."""
    if not coupon.case_ref:
        return None
    return await session.scalar(select(Case).where(
        Case.organization_id == coupon.organization_id, Case.reference == coupon.case_ref))


# An apology names at most this many of the order's items (then "and 4 more"), each cut
# to a length an SMS can carry.
NAMED_ITEMS, ITEM_LENGTH = 3, 40


def what_went_wrong(shipment: Shipment | None, order: Order | None) -> Phrase | None:
    """What went wrong, in the customer's words once rendered: the order and its items, the
    parcel with its carrier and tracking reference ("Your order JL-1 (Sonos Beam and Wall
    Bracket) is late: parcel JD02 with DHL has not reached you yet."). The items are the
    parcel's own when its events said what it carries (one parcel of a split order), else
    the order's."""
    parcel = parcel_words(shipment) if shipment is not None else None
    ordered: str | Phrase | None = None
    if order is not None:
        carried = shipment.items if shipment is not None and shipment.items else None
        items = _items(carried or order.lines or [])
        ordered = Phrase("order_of", {"order": order.external_id, "items": items}) \
            if items else order.external_id
    late = shipment is not None and shipment.status != "delivered"
    if late and ordered is not None:
        return Phrase("order_late", {"order": ordered, "parcel": parcel or ""})
    if late:
        return Phrase("parcel_late", {"parcel": parcel or ""})
    if ordered is not None:
        return Phrase("about_order", {"order": ordered})
    return Phrase("about_parcel", {"parcel": parcel}) if parcel is not None else None


def parcel_words(shipment: Shipment) -> str | Phrase:
    """The parcel as its customer knows it: the carrier's tracking reference, with the
    carrier ("JD02 with DHL")."""
    reference = shipment.tracking_number or shipment.external_id
    if not shipment.carrier:
        return reference
    return Phrase("parcel_by", {"parcel": reference, "carrier": shipment.carrier})


def _items(lines: list[dict[str, Any]]) -> tuple[str | Phrase, ...]:
    named: list[str | Phrase] = []
    for line in lines:
        name = str(line.get("name") or line.get("sku") or "").strip()
        if len(name) > ITEM_LENGTH:
            name = name[:ITEM_LENGTH - 1].rstrip() + "…"
        quantity = int(line.get("quantity") or 1)
        if name:
            named.append(f"{quantity} x {name}" if quantity > 1 else name)
    if len(named) > NAMED_ITEMS:
        rest = len(named) - NAMED_ITEMS
        named = [*named[:NAMED_ITEMS], Phrase("more_items", {"count": str(rest)})]
    return tuple(named)


async def case_subject(session: AsyncSession, case: Case) -> Phrase | None:
    """What the case is about, for its messages: the customer's parcel that the case's
    conversation names (a rule's case names its parcel; an agent may type it) and that
    parcel's order, or the customer's order it names; None when it names neither. Two
    lookups by unique key."""
    reference = case.conversation_ref
    if not reference:
        return None
    shipment = await session.scalar(select(Shipment).where(
        Shipment.organization_id == case.organization_id, Shipment.external_id == reference,
        Shipment.customer_id == case.customer_id))
    order_reference = shipment.order_external_id if shipment is not None else reference
    order = await session.scalar(select(Order).where(
        Order.organization_id == case.organization_id, Order.external_id == order_reference,
        Order.customer_id == case.customer_id)) if order_reference else None
    if shipment is None and order is None:
        return None
    return what_went_wrong(shipment, order)


async def list_cases(session: AsyncSession, actor: Actor, *, customer_external_id: str | None,
                     state: str | None, cursor: str | None, limit: int) -> Page[Case]:
    query = select(Case).where(Case.organization_id == actor.organization_id)
    if customer_external_id:
        query = query.where(Case.customer_external_id == customer_external_id)
    if state:
        query = query.where(Case.state == state)
    return await newest_first(session, query, Case.id, cursor=cursor, limit=limit)

async def add_note(session: AsyncSession, actor: Actor, *, case_id: uuid.UUID,
                   text: str) -> CaseEvent:
    case = await get_case(session, actor, case_id=case_id)
    return await add_event(session, case, actor, kind="note", summary=text)


async def move(session: AsyncSession, actor: Actor, *, case_id: uuid.UUID, to: str,
               details: dict[str, Any], skip_reason: str | None) -> Case:
    """Take the case to a later step. Steps in between are skipped, which needs a reason."""
    case = await get_case(session, actor, case_id=case_id)
    try:
        skipped = policy.steps_between(case.state, to)
    except policy.InvalidTransition as exc:
        raise InvalidCaseTransition(str(exc), state=case.state) from exc
    if skipped and not (skip_reason or "").strip():
        raise SkipReasonRequired(f"Moving to {to} skips {', '.join(skipped)}.",
                                 skipped=skipped)
    before = case.state
    now = utcnow()
    values: dict[str, Any] = {"state": to}
    fields = {k: v for k, v in details.items() if k in STEP_FIELDS.get(to, ()) and v}
    if to == "reviewing":
        values.update({k: fields[k] for k in ("root_cause", "responsible_party") if k in fields})
    if to == "fixed":
        values["fixed_at"] = now
        if "remedy" in fields:
            values["remedy"] = fields["remedy"]
    if to == "closed":
        values["closed_at"] = now
        if "summary" in fields:
            values["summary"] = fields["summary"]
    if skipped:
        values["skipped"] = {**case.skipped, **dict.fromkeys(skipped, skip_reason)}
    result = await session.execute(
        update(Case).where(Case.organization_id == case.organization_id, Case.id == case.id,
                           Case.state == before).values(**values)
        .execution_options(synchronize_session=False))
    if not getattr(result, "rowcount", 0):
        raise InvalidCaseTransition("The case changed meanwhile; reload it.")
    case = await get_case(session, actor, case_id=case_id)
    if to in ("reviewing", "fixed"):  # a root cause, a fix: figures of the day it was opened
        await changes.changed(session, case.organization_id, cases=[case.opened_at])
    await _moved(session, actor, case, before=before, skipped=skipped, fields=fields,
                 skip_reason=skip_reason)
    if to == "fixed":
        organization = await session.get(Organization, case.organization_id)
        assert organization is not None
        await jobs.enqueue(session, "followup.feedback_request",
                           organization_id=case.organization_id,
                           run_at=now + timedelta(days=organization.feedback_delay_days),
                           payload={"case_id": str(case.id)})
    if to == "closed":
        customer = await session.get(Customer, (case.organization_id, case.customer_id))
        assert customer is not None
        await suppressions.remove_if_no_open_case(session, customer)
    return case


def moved_rows(case: Case | Mapping[str, Any], actor: Actor, *, before: str, to: str,
               skipped: list[str], fields: dict[str, Any], skip_reason: str | None
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a move leaves behind, as rows: the timeline entry (with what the step recorded)
    and the audit entry."""
    summary = f"{before} → {to}" + (f" (skipped {', '.join(skipped)}: {skip_reason})"
                                    if skipped else "")
    event = event_row(case, actor, kind="state_changed", summary=summary,
                      data={"from": before, "to": to, "skipped": skipped, **fields})
    entry = audit.entry_row(actor, action="case.state_changed", object_type="case",
                            object_id=_get(case, "id"), before={"state": before},
                            after={"state": to, **fields}, reason=skip_reason)
    return event, entry


async def _moved(session: AsyncSession, actor: Actor, case: Case, *, before: str,
                 skipped: list[str], fields: dict[str, Any], skip_reason: str | None) -> None:
    """What a move leaves behind: the timeline entry, the audit entry and the webhook."""
    event, entry = moved_rows(case, actor, before=before, to=case.state, skipped=skipped,
                              fields=fields, skip_reason=skip_reason)
    session.add_all([CaseEvent(**event), AuditEvent(**entry)])
    await session.flush()
    await webhooks.emit(session, actor.organization_id, "case.state_changed",
                        {**public(case), "from": before})


# The messages that apologise (the gesture's message opens with the apology).
APOLOGISING_KINDS = frozenset({"apology", "gesture", "incident_apology"})


async def apologised(session: AsyncSession, actor: Actor, case: Case, *, how: str,
                     message: dict[str, Any] | None = None) -> bool:
    """An open case whose customer was just sent an apology (alone or with a gesture) is
    apologised, `how` recorded as the step's apology (and the `message`'s kind, channel and
    address, which the console words in the reader's language). One conditional UPDATE: a
    case that has moved on (or moved meanwhile) stays where it is, and the message stands
    either way. Returns whether the case moved."""
    result = await session.execute(
        update(Case).where(Case.organization_id == case.organization_id, Case.id == case.id,
                           Case.state == "open").values(state="apologised")
        .execution_options(synchronize_session=False))
    if not getattr(result, "rowcount", 0):
        return False
    event, entry = apologised_rows(case, actor, how=how, message=message)
    session.add_all([CaseEvent(**event), AuditEvent(**entry)])
    await session.flush()
    case = await get_case(session, actor, case_id=case.id)  # the caller's object too
    await webhooks.emit(session, actor.organization_id, "case.state_changed",
                        {**public(case), "from": "open"})
    return True


def apologised_rows(case: Case | dict[str, Any], actor: Actor, *, how: str,
                    message: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """What an open case's move to apologised leaves behind, as rows: its timeline entry and
    its audit entry (`apologised` writes them; an incident's chunk writes its new cases
    apologised with them). A case given as a row is set apologised."""
    if isinstance(case, dict):
        case["state"] = "apologised"
    fields: dict[str, Any] = {"apology": how[:5000]}
    if message:
        fields["message"] = message
    return moved_rows(case, actor, before="open", to="apologised", skipped=[], fields=fields,
                      skip_reason=None)


async def reopen(session: AsyncSession, actor: Actor, *, case_id: uuid.UUID,
                 reason: str) -> Case:
    case = await get_case(session, actor, case_id=case_id)
    result = await session.execute(
        update(Case).where(Case.organization_id == case.organization_id, Case.id == case.id,
                           Case.state == "closed")
        .values(state=policy.REOPENED_STATE, closed_at=None,
                reopened_count=Case.reopened_count + 1)
        .execution_options(synchronize_session=False))
    if not getattr(result, "rowcount", 0):
        raise CaseNotClosed(f"The case is {case.state}.")
    case = await get_case(session, actor, case_id=case_id)
    await add_event(session, case, actor, kind="reopened", summary=f"Reopened: {reason}")
    await audit.record(session, actor, action="case.reopened", object_type="case",
                       object_id=case.id, reason=reason)
    await webhooks.emit(session, actor.organization_id, "case.state_changed",
                        {**public(case), "from": "closed"})
    customer = await session.get(Customer, (case.organization_id, case.customer_id))
    assert customer is not None
    await suppressions.add(session, customer)
    return case


async def timeline(session: AsyncSession, actor: Actor, *, case_id: uuid.UUID
                   ) -> list[CaseEvent]:
    """The case's own events, with the redemptions of its coupons merged in, oldest first.
    (Redemptions are read here rather than copied to the case: tills redeem on a hot path.)"""
    case = await get_case(session, actor, case_id=case_id)
    events = list((await session.scalars(select(CaseEvent).where(
        CaseEvent.organization_id == actor.organization_id, CaseEvent.case_id == case.id)
        .order_by(CaseEvent.id))).all())
    # Who redeemed: the clerk (or agent) at the console's till by name, else the till.
    used = (await session.execute(
        select(Redemption, Coupon.name, User.name).join(Coupon, and_(
            Coupon.organization_id == Redemption.organization_id,
            Coupon.id == Redemption.coupon_id)).outerjoin(User, and_(
                User.organization_id == Redemption.organization_id,
                User.id == Redemption.actor_id)).where(
            Coupon.organization_id == actor.organization_id,
            Coupon.customer_id == case.customer_id, Coupon.case_ref == case.reference))).all()
    for redemption, name, clerk in used:
        where = redemption.store_id or redemption.channel
        verb = "voided" if redemption.status == "voided" else "redeemed"
        events.append(CaseEvent(
            id=redemption.id, organization_id=case.organization_id, case_id=case.id,
            kind=f"coupon_{verb}", created_at=redemption.voided_at or redemption.created_at,
            summary=f"{name} {verb} at {where}: {redemption.discount / 100:.2f} "
                    f"{redemption.currency} off order {redemption.order_id}",
            data={"redemption_id": str(redemption.id), "coupon_id": str(redemption.coupon_id)},
            actor_label=clerk or "till"))
    return sorted(events, key=lambda e: (e.created_at, e.id))
