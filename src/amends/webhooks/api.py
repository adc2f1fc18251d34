from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from amends.auth import AdminCaller, MissingScope, SessionDep, SettingsDep
from amends.errors import errors
from amends.kit import outbound
from amends.kit.schema import Input
from amends.routing import router as make_router
from amends.webhooks import service as webhooks

router = make_router(prefix="/v1/webhook-endpoints", tags=["webhooks"])
EventType = Literal[
    "case.opened", "case.state_changed", "coupon.issued", "coupon.redeemed",
    "approval.requested", "approval.decided", "suppression.added", "suppression.removed"]


class EndpointIn(Input):
    url: AnyHttpUrl
    event_types: list[EventType] = Field(default_factory=list,
                                         description="Empty: every event")
    description: str = Field(default="", max_length=200)


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
