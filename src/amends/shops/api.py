"""The organisation's shops, for admins (`/v1/shops`), and the shops' order webhooks
(`/v1/shops/{id}/webhooks/shopify|woocommerce`, checked by their signatures)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Query, Request, Response

from amends.auth import AdminCaller, MissingScope, SessionDep, SettingsDep
from amends.customers import service as customers
from amends.errors import errors
from amends.kit.pagination import InvalidCursor
from amends.models import ShopConnection
from amends.routing import router as make_router
from amends.shops import orders, service
from amends.shops.schemas import (
    CustomerLinkIn,
    CustomerLinkOut,
    ShopCodeOut,
    ShopCodePage,
    ShopIn,
    ShopList,
    ShopOut,
    ShopPatch,
    WebhookAnswer,
)

router = make_router(prefix="/v1/shops", tags=["shops"])
CodeStatus = Literal["pending", "pushed", "failed", "deactivated", "deleted"]


async def _out(request: Request, session: SessionDep, connection: ShopConnection) -> ShopOut:
    counts = (await service.code_counts(session, connection.organization_id)).get(
        connection.id, {})
    return ShopOut(**service.public(connection), codes=counts, webhook_url=service.webhook_url(
        str(request.app.state.settings.base_url), connection))


@router.get("", responses=errors(MissingScope))
async def list_shops(request: Request, session: SessionDep, actor: AdminCaller) -> ShopList:
    """Every shop the organisation connected (secrets only by name), with its last error and
    how many codes are in each status."""
    return ShopList(items=[await _out(request, session, c) for c in
                           await service.list_connections(session, actor)])


@router.post("", status_code=201, responses=errors(
    MissingScope, service.UnknownShopPlatform, service.InvalidShopSettings, service.ShopExists))
async def connect_shop(body: ShopIn, request: Request, session: SessionDep,
                       settings: SettingsDep, actor: AdminCaller) -> ShopOut:
    """Connect a Shopify or WooCommerce shop: gestures issued from now on are pushed into it
    as single-use codes. 409 `shop_exists` when that shop is connected already, 422
    `invalid_shop_settings` for a setting or secret the platform does not take (or one
    missing)."""
    connection = await service.create_connection(
        session, actor, platform=body.platform, shop_url=body.shop_url, name=body.name,
        settings=body.settings.model_dump(exclude_none=True), secrets=body.secrets,
        allow_private=settings.outbound_allow_private)
    return await _out(request, session, connection)


@router.get("/{connection_id}", responses=errors(MissingScope, service.ShopNotFound))
async def get_shop(connection_id: uuid.UUID, request: Request, session: SessionDep,
                   actor: AdminCaller) -> ShopOut:
    """One shop connection."""
    return await _out(request, session, await service.get_connection(
        session, actor, connection_id=connection_id))


@router.patch("/{connection_id}", responses=errors(
    MissingScope, service.ShopNotFound, service.InvalidShopSettings))
async def change_shop(connection_id: uuid.UUID, body: ShopPatch, request: Request,
                      session: SessionDep, actor: AdminCaller) -> ShopOut:
    """Change the name, pause (`active: false`), the API version or the secrets; a secret
    left out or null keeps its value."""
    connection = await service.update_connection(
        session, actor, connection_id=connection_id, name=body.name, active=body.active,
        settings=body.settings.model_dump(exclude_none=True) if body.settings else None,
        secrets=body.secrets)
    return await _out(request, session, connection)


@router.delete("/{connection_id}", status_code=204,
               responses=errors(MissingScope, service.ShopNotFound))
async def disconnect_shop(connection_id: uuid.UUID, session: SessionDep,
                          actor: AdminCaller) -> Response:
    """Disconnect: nothing more is pushed and the shop's webhooks are refused."""
    await service.remove_connection(session, actor, connection_id=connection_id)
    return Response(status_code=204)


@router.get("/{connection_id}/codes", responses=errors(
    MissingScope, service.ShopNotFound, service.InvalidShopSettings, InvalidCursor))
async def list_codes(connection_id: uuid.UUID, session: SessionDep, actor: AdminCaller,
                     status: CodeStatus | None = None, cursor: str | None = None,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50) -> ShopCodePage:
    """The codes pushed into the shop, newest first; `status=failed` lists those the shop
    refused or could not be reached for, with the error."""
    page = await service.list_codes(session, actor, connection_id=connection_id,
                                    status=status, cursor=cursor, limit=limit)
    return ShopCodePage(items=[ShopCodeOut.of(row) for row in page.items],
                        next_cursor=page.next_cursor)


@router.put("/{connection_id}/customers/{customer_id}", responses=errors(
    MissingScope, service.ShopNotFound, service.InvalidShopSettings,
    customers.CustomerNotFound))
async def link_customer(connection_id: uuid.UUID, customer_id: str, body: CustomerLinkIn,
                        session: SessionDep, actor: AdminCaller) -> CustomerLinkOut:
    """Say who a customer (`customer_id`: the organisation's id for them) is in a Shopify
    shop: their codes are then restricted to that Shopify customer. Without it, the customer
    is looked up by e-mail when their first code is pushed. 422 `invalid_shop_settings` for a
    WooCommerce store (its coupons are restricted by e-mail) or an id that is not Shopify's."""
    link = await service.link_customer(session, actor, connection_id=connection_id,
                                       customer_external_id=customer_id,
                                       shop_customer_id=body.shop_customer_id)
    return CustomerLinkOut(customer_id=customer_id, shop_customer_id=link.remote_id)


@router.post("/{connection_id}/webhooks/shopify", responses=errors(
    orders.ShopWebhookRefused, orders.InvalidShopWebhook))
async def shopify_webhook(connection_id: uuid.UUID, request: Request,
                          session: SessionDep) -> WebhookAnswer:
    """Shopify's `orders/paid`, `orders/cancelled` and `refunds/create` webhooks, checked by
    `X-Shopify-Hmac-Sha256` (the app's client secret over the raw body): a paid order that
    used a pushed code records its redemption online; a cancelled or refunded one voids it.
    A forged delivery answers 401 `shop_webhook_refused`."""
    outcome = await orders.receive(session, connection_id=connection_id, platform="shopify",
                                   body=await request.body(), headers=request.headers)
    return WebhookAnswer(outcome=outcome)


@router.post("/{connection_id}/webhooks/woocommerce", responses=errors(
    orders.ShopWebhookRefused, orders.InvalidShopWebhook))
async def woocommerce_webhook(connection_id: uuid.UUID, request: Request,
                              session: SessionDep) -> WebhookAnswer:
    """WooCommerce's `order.updated` (and `order.created`) webhooks, checked by
    `X-WC-Webhook-Signature`; the ping WooCommerce sends when the webhook is saved answers
    200. A paid order that used a pushed code records its redemption online; a cancelled,
    refunded or failed one voids it."""
    outcome = await orders.receive(session, connection_id=connection_id,
                                   platform="woocommerce", body=await request.body(),
                                   headers=request.headers)
    return WebhookAnswer(outcome=outcome)
