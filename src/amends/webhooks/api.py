from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from amends.auth import AdminCaller, MissingScope, SessionDep, SettingsDep
from amends.errors import errors
from amends.kit import outbound
from amends.kit.schema import Input, Patch
from amends.routing import router as make_router
from amends.webhooks import service as webhooks

router = make_router(prefix="/v1/webhook-endpoints", tags=["webhooks"])
EventType = Literal[
    "case.opened", "case.state_changed", "coupon.issued", "coupon.redeemed",
    "approval.requested", "approval.decided", "suppression.added", "suppression.removed"]
assert set(get_args(EventType)) == set(webhooks.EVENT_TYPES)  # the schema names what is sent


class EndpointIn(Input):
    url: AnyHttpUrl
    event_types: list[EventType] = Field(default_factory=list,
                                         description="Empty: every event")
    description: str = Field(default="", max_length=200)


class EndpointUpdate(Patch):
    active: bool | None = Field(default=None, description="false: nothing is sent to it")
    event_types: list[EventType] | None = Field(default=None, description="Empty: every event")
    description: str | None = Field(default=None, max_length=200)


class EndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    event_types: list[str]
    active: bool
    description: str
    created_at: datetime


class EndpointCreated(EndpointOut):
    secret: str = Field(description="Verify signatures with it (Standard Webhooks)")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_id: str
    event_type: str
    payload: dict[str, Any]
    status: str
    attempts: int
    response_status: int | None
    last_error: str | None
    response_body: str | None = Field(description="The first 4 KB of the receiver's last "
                                      "answer")
    created_at: datetime
    delivered_at: datetime | None


@router.post("", status_code=201, responses=errors(
    MissingScope, outbound.OutboundAddressRefused, outbound.InvalidOutboundUrl))
async def create_endpoint(body: EndpointIn, session: SessionDep, actor: AdminCaller,
                          settings: SettingsDep) -> EndpointCreated:
    """Subscribe a URL to events; each is signed (webhook-id, -timestamp, -signature).
    The URL's host must be a public address (or a name resolving only to public addresses):
    loopback, private, link-local and other non-public ones are refused unless the operator
    allows them (`AMENDS_OUTBOUND_ALLOW_PRIVATE`)."""
    endpoint = await webhooks.create_endpoint(session, actor, url=str(body.url),
                                              event_types=list(body.event_types),
                                              description=body.description,
                                              allow_private=settings.outbound_allow_private)
    return EndpointCreated(**EndpointOut.model_validate(endpoint).model_dump(),
                           secret=endpoint.secret)


@router.get("", responses=errors(MissingScope))
async def list_endpoints(session: SessionDep, actor: AdminCaller) -> list[EndpointOut]:
    """The organisation's webhook endpoints."""
    return [EndpointOut.model_validate(e) for e in await webhooks.list_endpoints(session, actor)]


@router.get("/{endpoint_id}/deliveries",
            responses=errors(MissingScope, webhooks.WebhookEndpointNotFound))
async def list_deliveries(endpoint_id: uuid.UUID, session: SessionDep, actor: AdminCaller
                          ) -> list[DeliveryOut]:
    """The delivery log of an endpoint, newest first."""
    return [DeliveryOut.model_validate(d) for d in
            await webhooks.list_deliveries(session, actor, endpoint_id=endpoint_id)]


@router.patch("/{endpoint_id}", responses=errors(MissingScope, webhooks.WebhookEndpointNotFound))
async def update_endpoint(endpoint_id: uuid.UUID, body: EndpointUpdate, session: SessionDep,
                          actor: AdminCaller) -> EndpointOut:
    """Deactivate (`active: false`) or reactivate an endpoint, or change its events or
    description. Audited as `webhook_endpoint.updated`."""
    return EndpointOut.model_validate(await webhooks.update_endpoint(
        session, actor, endpoint_id=endpoint_id, changes=body.model_dump(exclude_unset=True)))


@router.delete("/{endpoint_id}", status_code=204,
               responses=errors(MissingScope, webhooks.WebhookEndpointNotFound))
async def delete_endpoint(endpoint_id: uuid.UUID, session: SessionDep,
                          actor: AdminCaller) -> None:
    """Remove an endpoint and its delivery log. Audited as `webhook_endpoint.deleted`."""
    await webhooks.delete_endpoint(session, actor, endpoint_id=endpoint_id)


@router.post("/{endpoint_id}/rotate-secret",
             responses=errors(MissingScope, webhooks.WebhookEndpointNotFound))
async def rotate_secret(endpoint_id: uuid.UUID, session: SessionDep, actor: AdminCaller
                        ) -> EndpointCreated:
    """A new signing secret, shown in this answer only. The old secret stops at once: every
    delivery sent from now on, retries included, is signed with the new one alone (a rotation
    usually answers a leak, so no overlap is kept). Audited as
    `webhook_endpoint.secret_rotated`, without the secret."""
    endpoint = await webhooks.rotate_secret(session, actor, endpoint_id=endpoint_id)
    return EndpointCreated(**EndpointOut.model_validate(endpoint).model_dump(),
                           secret=endpoint.secret)


@router.post("/{endpoint_id}/deliveries/{delivery_id}/resend", status_code=202,
             responses=errors(MissingScope, webhooks.WebhookEndpointNotFound,
                              webhooks.WebhookDeliveryNotFound,
                              webhooks.WebhookEndpointInactive))
async def resend_delivery(endpoint_id: uuid.UUID, delivery_id: uuid.UUID, session: SessionDep,
                          actor: AdminCaller) -> DeliveryOut:
    """Send an event again: a new entry of the delivery log, queued now, with the same payload
    and the same `webhook-id` (the message's id, as Standard Webhooks defines it, so a receiver
    that already handled it can tell), a fresh timestamp and the current secret's signature.
    409 `webhook_endpoint_inactive` for a deactivated endpoint. Audited as
    `webhook_delivery.resent`."""
    return DeliveryOut.model_validate(await webhooks.resend(
        session, actor, endpoint_id=endpoint_id, delivery_id=delivery_id))
