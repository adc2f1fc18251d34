"""Outbound webhooks (Standard Webhooks): an event becomes one delivery per subscribed endpoint,
written in the transaction of the change and sent by a job with retries and backoff."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from amends.actor import Actor
from amends.audit import service as audit
from amends.db import reading_alongside
from amends.errors import Conflict, NotFound
from amends.jobs import service as jobs
from amends.kit import http, outbound
from amends.kit.cache import TtlCache
from amends.kit.clock import utcnow
from amends.models import WebhookDelivery, WebhookEndpoint

EVENT_TYPES = (
    "case.opened", "case.state_changed", "coupon.issued", "coupon.redeemed",
    "approval.requested", "approval.decided", "suppression.added", "suppression.removed",
)


# The receiver's answer kept in the delivery log: enough to read an error message, not a page.
ANSWER_BYTES = 4096


class WebhookEndpointNotFound(NotFound):
    code, title = "webhook_endpoint_not_found", "No such webhook endpoint"


class WebhookDeliveryNotFound(NotFound):
    code, title = "webhook_delivery_not_found", "No such delivery of this endpoint"


class WebhookEndpointInactive(Conflict):
    code, title = "webhook_endpoint_inactive", "The endpoint is deactivated"


class ReceiverRefused(RuntimeError):
    """A non-2xx answer: the job retries with backoff."""


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


async def create_endpoint(session: AsyncSession, actor: Actor, *, url: str,
                          event_types: list[str], allow_private: bool,
                          description: str = "") -> WebhookEndpoint:
    """Subscribe `url`; its host must be an address the outbound policy allows, unless
    `allow_private` (the operator's setting)."""
    await outbound.check_url(url, field="url", allow_private=allow_private)
    endpoint = WebhookEndpoint(organization_id=actor.organization_id, url=url,
                               secret=new_secret(), event_types=sorted(set(event_types)),
                               description=description)
    session.add(endpoint)
    await session.flush()
    forget_subscribers()
    await audit.record(session, actor, action="webhook_endpoint.created",
                       object_type="webhook_endpoint", object_id=endpoint.id,
                       after={"url": url, "event_types": endpoint.event_types})
    return endpoint


async def get_endpoint(session: AsyncSession, actor: Actor, *, endpoint_id: uuid.UUID
                       ) -> WebhookEndpoint:
    endpoint = await session.get(WebhookEndpoint, (actor.organization_id, endpoint_id))
    if endpoint is None:
        raise WebhookEndpointNotFound()
    return endpoint


async def update_endpoint(session: AsyncSession, actor: Actor, *, endpoint_id: uuid.UUID,
                          changes: dict[str, Any]) -> WebhookEndpoint:
    """Change `active`, `event_types` or `description`; a deactivated endpoint receives
    nothing (deliveries already queued are dropped when their turn comes)."""
    endpoint = await get_endpoint(session, actor, endpoint_id=endpoint_id)
    if "event_types" in changes:
        changes["event_types"] = sorted(set(changes["event_types"]))
    before = {k: getattr(endpoint, k) for k, v in changes.items() if getattr(endpoint, k) != v}
    after = {k: changes[k] for k in before}
    for key, value in after.items():
        setattr(endpoint, key, value)
    await session.flush()
    forget_subscribers()
    if after:
        await audit.record(session, actor, action="webhook_endpoint.updated",
                           object_type="webhook_endpoint", object_id=endpoint.id,
                           before=before, after=after)
    return endpoint


async def rotate_secret(session: AsyncSession, actor: Actor, *, endpoint_id: uuid.UUID
                        ) -> WebhookEndpoint:
    """A new signing secret, in force at once: every delivery sent from now on (retries of
    older events included) is signed with it alone. Standard Webhooks lets a sender put several
    signatures in one header to bridge a rotation, but that needs the old secret kept for a
    while; a secret is rotated because it may have leaked, so the old one stops now."""
    endpoint = await get_endpoint(session, actor, endpoint_id=endpoint_id)
    endpoint.secret = new_secret()
    await session.flush()
    # The secret itself never goes into the audit trail.
    await audit.record(session, actor, action="webhook_endpoint.secret_rotated",
                       object_type="webhook_endpoint", object_id=endpoint.id)
    return endpoint


async def delete_endpoint(session: AsyncSession, actor: Actor, *, endpoint_id: uuid.UUID
                          ) -> None:
    """Remove the endpoint and its delivery log."""
    endpoint = await get_endpoint(session, actor, endpoint_id=endpoint_id)
    before = {"url": endpoint.url, "event_types": endpoint.event_types,
              "description": endpoint.description, "active": endpoint.active}
    await session.execute(delete(WebhookDelivery).where(
        WebhookDelivery.organization_id == actor.organization_id,
        WebhookDelivery.endpoint_id == endpoint.id).execution_options(
            synchronize_session=False))
    await session.delete(endpoint)
    await session.flush()
    forget_subscribers()
    await audit.record(session, actor, action="webhook_endpoint.deleted",
                       object_type="webhook_endpoint", object_id=endpoint_id, before=before)


async def resend(session: AsyncSession, actor: Actor, *, endpoint_id: uuid.UUID,
                 delivery_id: uuid.UUID) -> WebhookDelivery:
    """Send a delivered or failed event again, as a new entry of the delivery log with the
    same payload and the same `webhook-id`: Standard Webhooks (and Svix, whose resend works
    this way) make the id the message's, not the attempt's, so a receiver that already
    processed it can recognise it, and one that lost it processes it now. The timestamp and
    signature are those of the moment it is sent, with the endpoint's current secret."""
    endpoint = await get_endpoint(session, actor, endpoint_id=endpoint_id)
    if not endpoint.active:
        raise WebhookEndpointInactive("Activate the endpoint before resending to it.")
    original = await session.get(WebhookDelivery, (actor.organization_id, delivery_id))
    if original is None or original.endpoint_id != endpoint.id:
        raise WebhookDeliveryNotFound()
    copy = WebhookDelivery(organization_id=actor.organization_id, endpoint_id=endpoint.id,
                           event_id=original.event_id, event_type=original.event_type,
                           payload=original.payload, created_at=utcnow())
    session.add(copy)
    await session.flush()
    await jobs.enqueue(session, "webhooks.deliver", organization_id=actor.organization_id,
                       payload={"delivery_id": str(copy.id)})
    await audit.record(session, actor, action="webhook_delivery.resent",
                       object_type="webhook_endpoint", object_id=endpoint.id,
                       after={"event_id": original.event_id, "event_type": original.event_type,
                              "resent_delivery_id": str(original.id),
                              "delivery_id": str(copy.id)})
    return copy


async def list_endpoints(session: AsyncSession, actor: Actor) -> list[WebhookEndpoint]:
    return list((await session.scalars(select(WebhookEndpoint).where(
        WebhookEndpoint.organization_id == actor.organization_id)
        .order_by(WebhookEndpoint.created_at))).all())


async def list_deliveries(session: AsyncSession, actor: Actor, *, endpoint_id: uuid.UUID,
                          limit: int = 100) -> list[WebhookDelivery]:
    endpoint = await session.scalar(select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id,
        WebhookEndpoint.organization_id == actor.organization_id))
    if endpoint is None:
        raise WebhookEndpointNotFound()
    return list((await session.scalars(select(WebhookDelivery).where(
        WebhookDelivery.organization_id == actor.organization_id,
        WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.created_at.desc()).limit(limit))).all())


_subscribers: TtlCache[bool] = TtlCache(5.0)


async def wants(session: AsyncSession, organization_id: uuid.UUID, event_type: str) -> bool:
    """Whether any endpoint of the organisation takes this event. Cached for a few seconds in
    each process (an endpoint created in another process starts receiving within that time)."""

    async def load() -> bool:
        rows = (await session.execute(select(WebhookEndpoint.event_types).where(
            WebhookEndpoint.organization_id == organization_id,
            WebhookEndpoint.active.is_(True)))).scalars().all()
        return any(not types or event_type in types for types in rows)

    return await _subscribers.get((organization_id, event_type), load)


def wants_known(organization_id: uuid.UUID, event_type: str) -> bool | None:
    """`wants` from the cache only; None when this process has not looked recently."""
    return _subscribers.peek((organization_id, event_type))


def forget_subscribers() -> None:
    _subscribers.forget()


async def emit(session: AsyncSession, organization_id: uuid.UUID, event_type: str,
               data: dict[str, Any]) -> None:
    """Queue `event_type` for every active endpoint that wants it (in the caller's transaction)."""
    assert event_type in EVENT_TYPES, event_type
    if not await wants(session, organization_id, event_type):
        return
    endpoints = (await session.scalars(select(WebhookEndpoint).where(
        WebhookEndpoint.organization_id == organization_id,
        WebhookEndpoint.active.is_(True)))).all()
    now = utcnow()
    for endpoint in endpoints:
        if endpoint.event_types and event_type not in endpoint.event_types:
            continue
        event_id = f"msg_{uuid.uuid4().hex}"
        delivery = WebhookDelivery(
            organization_id=organization_id, endpoint_id=endpoint.id, event_id=event_id,
            event_type=event_type, created_at=now,
            payload={"type": event_type, "timestamp": now.isoformat(), "data": data},
        )
        session.add(delivery)
        await session.flush()
        await jobs.enqueue(session, "webhooks.deliver", organization_id=organization_id,
                           payload={"delivery_id": str(delivery.id)})


def signed_headers(secret: str, event_id: str, when: datetime, body: str) -> dict[str, str]:
    signature = Webhook(secret).sign(event_id, when, body)
    return {"webhook-id": event_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": signature, "content-type": "application/json"}


async def deliver(session: AsyncSession, *, organization_id: uuid.UUID | str,
                  delivery_id: str) -> None:
    """POST the event, signed; any answer but 2xx raises, so the job retries with backoff.
    The `webhook-id` stays the same across retries, so receivers can drop duplicates."""
    async with reading_alongside(session) as reader:  # no write lock held while sending
        delivery = await reader.get(
            WebhookDelivery, (uuid.UUID(str(organization_id)), uuid.UUID(delivery_id)))
        if delivery is None or delivery.status == "delivered":
            return
        endpoint = await reader.get(WebhookEndpoint,
                                    (delivery.organization_id, delivery.endpoint_id))
        if endpoint is None or not endpoint.active:
            return
    body = json.dumps(delivery.payload, separators=(",", ":"))
    headers = signed_headers(endpoint.secret, delivery.event_id, utcnow(), body)
    async with http.client().stream("POST", endpoint.url, content=body,
                                     headers=headers) as response:
        answer = await _first_bytes(response)
    mine = (WebhookDelivery.organization_id == uuid.UUID(str(organization_id)),
            WebhookDelivery.id == delivery.id)
    if not response.is_success:
        # The job's transaction rolls back when this raises; the answer is kept in one of its
        # own so that the log shows what the receiver said while the retries go on.
        bind = session.bind
        assert bind is not None
        async with AsyncSession(bind=bind, expire_on_commit=False) as writer:
            await writer.execute(
                update(WebhookDelivery).where(*mine)
                .values(response_status=response.status_code, response_body=answer)
                .execution_options(synchronize_session=False))
            await writer.commit()
        raise ReceiverRefused(f"{endpoint.url} answered {response.status_code}")
    await session.execute(
        update(WebhookDelivery).where(*mine)
        .values(attempts=WebhookDelivery.attempts + 1, response_status=response.status_code,
                response_body=answer, status="delivered", delivered_at=utcnow(),
                last_error=None)
        .execution_options(synchronize_session=False))


async def _first_bytes(response: Any) -> str:
    """The first `ANSWER_BYTES` of the answer's body as text (the rest is not read)."""
    kept = bytearray()
    async for chunk in response.aiter_bytes():
        kept += chunk
        if len(kept) >= ANSWER_BYTES:
            break
    # PostgreSQL text holds no NUL; a receiver may answer anything.
    return bytes(kept[:ANSWER_BYTES]).decode("utf-8", errors="replace").replace("\x00", "")


async def record_failure(session: AsyncSession, *, organization_id: uuid.UUID | str,
                         delivery_id: str, error: str, attempts: int, dead: bool) -> None:
    await session.execute(
        update(WebhookDelivery).where(
            WebhookDelivery.organization_id == uuid.UUID(str(organization_id)),
            WebhookDelivery.id == uuid.UUID(delivery_id))
        .values(attempts=attempts, last_error=error[:2000],
                status="failed" if dead else "retrying")
        .execution_options(synchronize_session=False))
