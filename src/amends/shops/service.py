"""Shop connections (secrets write-only), the codes each shop holds, and what the case page
says of a code that is not in a shop."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.audit import service as audit
from amends.customers import service as customers
from amends.errors import Conflict, NotFound, ValidationFailed
from amends.integrations.shopify.client import API_VERSION
from amends.kit import outbound
from amends.kit.clock import utcnow
from amends.kit.ids import new_id
from amends.kit.pagination import Page, newest_first
from amends.kit.secrets import checked_secrets
from amends.kit.sql import get_or_insert, insert_new
from amends.models import ShopCode, ShopConnection, ShopCustomer
from amends.shops import outbox

ERROR_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Platform:
    name: str
    title: str
    required: tuple[str, ...]
    settings: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def secrets(self) -> tuple[str, ...]:
        return self.required + self.optional


PLATFORMS = {
    # `previous_client_secret`: while Shopify moves to a rotated client secret ("it can take
    # up to an hour for the HMAC digest to be generated using the new secret",
    # https://shopify.dev/docs/apps/build/webhooks/verify-deliveries), webhooks signed with
    # the old one are accepted too.
    "shopify": Platform("shopify", "Shopify", ("access_token", "client_secret"),
                        ("api_version",), ("previous_client_secret",)),
    "woocommerce": Platform("woocommerce", "WooCommerce",
                            ("consumer_key", "consumer_secret", "webhook_secret"), ()),
}
CODE_STATUSES = ("pending", "pushed", "failed", "deactivated", "deleted")


class ShopNotFound(NotFound):
    code, title = "shop_not_found", "No such shop connection"


class UnknownShopPlatform(ValidationFailed):
    code, title = "unknown_shop_platform", "Not a shop Amends connects to"


class InvalidShopSettings(ValidationFailed):
    code, title = "invalid_shop_settings", "The shop connection's settings are not valid"


class ShopExists(Conflict):
    code, title = "shop_exists", "That shop is connected already"


def platform_of(name: str) -> Platform:
    found = PLATFORMS.get(name)
    if found is None:
        raise UnknownShopPlatform(f"Use one of: {', '.join(sorted(PLATFORMS))}.")
    return found


def effective_settings(connection: ShopConnection) -> dict[str, Any]:
    if connection.platform == "shopify":
        return {"api_version": connection.settings.get("api_version") or API_VERSION}
    return {}


def public(connection: ShopConnection) -> dict[str, Any]:
    """A connection as the API and the admin page show it: its secrets only by name."""
    return {
        "id": str(connection.id), "platform": connection.platform,
        "shop_url": connection.shop_url, "name": connection.name, "active": connection.active,
        "settings": effective_settings(connection),
        "secrets_set": sorted(k for k, v in connection.secrets.items() if v),
        "last_error": connection.last_error, "last_error_at": connection.last_error_at,
        "last_reconciled_at": connection.last_reconciled_at,
        "created_at": connection.created_at, "updated_at": connection.updated_at,
    }


def _audited(connection: ShopConnection) -> dict[str, Any]:
    shown = public(connection)
    return {k: shown[k] for k in ("platform", "shop_url", "name", "active", "settings",
                                  "secrets_set")}


def webhook_url(base_url: str, connection: ShopConnection) -> str:
    """Where the shop sends its order webhooks."""
    return f"{base_url.rstrip('/')}/v1/shops/{connection.id}/webhooks/{connection.platform}"


async def _checked_url(platform: Platform, given: str, *, allow_private: bool) -> str:
    """The shop's address as Amends calls it: `https://` and a host (a Shopify shop may be
    named by its `*.myshopify.com` domain alone); plain HTTP and private addresses only when
    the operator allows them (the tests' and the demo's local shops)."""
    text = given.strip().rstrip("/")
    if "://" not in text:
        text = f"https://{text}"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (reading it checks it: a port out of range raises)
    except ValueError:  # an unbalanced [ or ] around the host, a port that is no number
        raise InvalidShopSettings("Give the shop's address, such as https://shop.example.",
                                  field="shop_url") from None
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise InvalidShopSettings(f"{platform.title} is reached over HTTPS: "
                                  "give an https:// address.", field="shop_url")
    if not parts.hostname or parts.query or parts.fragment or len(text) > 300:
        raise InvalidShopSettings("Give the shop's address, such as https://shop.example.",
                                  field="shop_url")
    await outbound.check_url(text, field="shop_url", allow_private=allow_private)
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path}"


def _checked_settings(platform: Platform, given: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(given) - set(platform.settings))
    if unknown:
        raise InvalidShopSettings(f"{platform.title} takes no setting {', '.join(unknown)}.")
    out: dict[str, Any] = {}
    version = given.get("api_version")
    if version is not None:
        if not isinstance(version, str) or not _is_api_version(version):
            raise InvalidShopSettings("api_version is a stable Shopify version such as "
                                      f"{API_VERSION} (YYYY-MM).", field="api_version")
        out["api_version"] = version
    return out


def _is_api_version(text: str) -> bool:
    year, _, month = text.partition("-")
    return len(text) == 7 and year.isdigit() and month in ("01", "04", "07", "10")


def _checked_secrets(platform: Platform, given: Mapping[str, Any]) -> dict[str, str]:
    return checked_secrets(given, allowed=platform.secrets, owner=platform.title, most=2_000,
                           refused=InvalidShopSettings, strip=True)


async def create_connection(session: AsyncSession, actor: Actor, *, platform: str,
                            shop_url: str, name: str | None, settings: Mapping[str, Any],
                            secrets: Mapping[str, Any], allow_private: bool = False
                            ) -> ShopConnection:
    """Connect a shop; `allow_private` (the operator's outbound setting) admits plain HTTP
    and private addresses."""
    found = platform_of(platform)
    url = await _checked_url(found, shop_url, allow_private=allow_private)
    checked = _checked_settings(found, settings)
    hidden = _checked_secrets(found, secrets)
    missing = [s for s in found.required if not hidden.get(s)]
    if missing:
        raise InvalidShopSettings(f"{found.title} needs {', '.join(missing)}.")
    connection = await insert_new(
        session, ShopConnection,
        key={"organization_id": actor.organization_id, "platform": platform, "shop_url": url},
        values={"id": uuid.uuid4(), "name": (name or "").strip() or urlsplit(url).hostname,
                "active": True, "settings": checked, "secrets": hidden,
                "created_at": utcnow(), "updated_at": utcnow()})
    if connection is None:
        raise ShopExists(f"{url} is connected already.")
    await audit.record(session, actor, action="shop.connected", object_type="shop",
                       object_id=connection.id, after=_audited(connection))
    outbox.forget()
    return connection


async def list_connections(session: AsyncSession, actor: Actor) -> Sequence[ShopConnection]:
    return (await session.scalars(select(ShopConnection).where(
        ShopConnection.organization_id == actor.organization_id)
        .order_by(ShopConnection.created_at))).all()


async def get_connection(session: AsyncSession, actor: Actor, *, connection_id: uuid.UUID
                         ) -> ShopConnection:
    connection = await session.scalar(select(ShopConnection).where(
        ShopConnection.organization_id == actor.organization_id,
        ShopConnection.id == connection_id).execution_options(populate_existing=True))
    if connection is None:
        raise ShopNotFound()
    return connection


async def update_connection(session: AsyncSession, actor: Actor, *, connection_id: uuid.UUID,
                            name: str | None = None, active: bool | None = None,
                            settings: Mapping[str, Any] | None = None,
                            secrets: Mapping[str, Any] | None = None) -> ShopConnection:
    """Change the name, pause (`active: false`), settings or secrets; a secret left out or
    null keeps its value."""
    connection = await get_connection(session, actor, connection_id=connection_id)
    platform = platform_of(connection.platform)
    before = _audited(connection)
    values: dict[str, Any] = {"updated_at": utcnow()}
    if name is not None and name.strip():
        values["name"] = name.strip()[:200]
    if active is not None:
        values["active"] = active
    if settings is not None:
        values["settings"] = {**connection.settings, **_checked_settings(platform, settings)}
    if secrets is not None:
        values["secrets"] = {**connection.secrets, **_checked_secrets(platform, secrets)}
    await session.execute(update(ShopConnection).where(
        ShopConnection.organization_id == actor.organization_id,
        ShopConnection.id == connection.id).values(**values)
        .execution_options(synchronize_session=False))
    connection = await get_connection(session, actor, connection_id=connection_id)
    await audit.record(session, actor, action="shop.changed", object_type="shop",
                       object_id=connection.id, before=before, after=_audited(connection))
    outbox.forget()
    return connection


async def remove_connection(session: AsyncSession, actor: Actor, *, connection_id: uuid.UUID
                            ) -> None:
    """Disconnect: nothing more is pushed and the shop's webhooks are refused. The codes in
    the shop stay there (the shop's admin deletes them if they wish)."""
    connection = await get_connection(session, actor, connection_id=connection_id)
    await session.execute(delete(ShopConnection).where(
        ShopConnection.organization_id == actor.organization_id,
        ShopConnection.id == connection.id).execution_options(synchronize_session=False))
    await audit.record(session, actor, action="shop.disconnected", object_type="shop",
                       object_id=connection.id, before=_audited(connection))
    outbox.forget()


def _shopify_customer(text: str) -> str | None:
    """Shopify's customer gid (`gid://shopify/Customer/123`), also given as the number."""
    text = text.strip()
    if text.isdigit() and len(text) <= 20:
        return f"gid://shopify/Customer/{text}"
    prefix = "gid://shopify/Customer/"
    number = text[len(prefix):]
    return text if text.startswith(prefix) and number.isdigit() and len(number) <= 20 else None


async def link_customer(session: AsyncSession, actor: Actor, *, connection_id: uuid.UUID,
                        customer_external_id: str, shop_customer_id: str) -> ShopCustomer:
    """Say who the customer is in a Shopify shop, so their codes are theirs alone there
    (otherwise they are found by their e-mail when their first code is pushed)."""
    connection = await get_connection(session, actor, connection_id=connection_id)
    if connection.platform != "shopify":
        raise InvalidShopSettings("WooCommerce coupons are restricted by the customer's "
                                  "e-mail: there is no id to give.", field="shop_customer_id")
    remote = _shopify_customer(shop_customer_id)
    if remote is None:
        raise InvalidShopSettings("Give the Shopify customer's id, such as "
                                  "gid://shopify/Customer/115310627314723954.",
                                  field="shop_customer_id")
    customer = await customers.get_customer(session, actor, external_id=customer_external_id)
    link, created = await get_or_insert(
        session, ShopCustomer,
        key={"organization_id": actor.organization_id, "connection_id": connection.id,
             "customer_id": customer.id},
        values={"id": new_id(), "remote_id": remote, "created_at": utcnow()}, lock=True)
    if not created and link.remote_id != remote:
        await session.execute(update(ShopCustomer).where(
            ShopCustomer.organization_id == actor.organization_id, ShopCustomer.id == link.id)
            .values(remote_id=remote).execution_options(synchronize_session=False))
        link.remote_id = remote
    await audit.record(session, actor, action="shop.customer_linked", object_type="customer",
                       object_id=customer.id,
                       after={"shop": str(connection.id), "shop_customer_id": remote})
    return link


async def list_codes(session: AsyncSession, actor: Actor, *, connection_id: uuid.UUID,
                     status: str | None, cursor: str | None, limit: int) -> Page[ShopCode]:
    connection = await get_connection(session, actor, connection_id=connection_id)
    if status is not None and status not in CODE_STATUSES:
        raise InvalidShopSettings(f"status is one of {', '.join(CODE_STATUSES)}.",
                                  field="status")
    query = select(ShopCode).where(ShopCode.organization_id == actor.organization_id,
                                   ShopCode.connection_id == connection.id)
    if status is not None:
        query = query.where(ShopCode.status == status)
    return await newest_first(session, query, ShopCode.id, cursor=cursor, limit=limit)


async def code_counts(session: AsyncSession, organization_id: uuid.UUID
                      ) -> dict[uuid.UUID, dict[str, int]]:
    """Per connection, how many codes are in each status (the admin page)."""
    rows = await session.execute(
        select(ShopCode.connection_id, ShopCode.status, func.count())
        .where(ShopCode.organization_id == organization_id)
        .group_by(ShopCode.connection_id, ShopCode.status))
    counts: dict[uuid.UUID, dict[str, int]] = {}
    for connection_id, status, count in rows.all():
        counts.setdefault(connection_id, {})[status] = int(count)
    return counts


async def not_in_shop(session: AsyncSession, organization_id: uuid.UUID,
                      coupon_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """For the case page: the coupons a shop does not hold because pushing failed, each with
    the shop's name and error."""
    if not coupon_ids:
        return {}
    rows = await session.execute(
        select(ShopCode.coupon_id, ShopConnection.name, ShopCode.last_error)
        .join(ShopConnection, (ShopConnection.organization_id == ShopCode.organization_id)
              & (ShopConnection.id == ShopCode.connection_id))
        .where(ShopCode.organization_id == organization_id,
               ShopCode.coupon_id.in_(list(coupon_ids)), ShopCode.status == "failed"))
    failed: dict[uuid.UUID, list[str]] = {}
    for coupon_id, name, error in rows.all():
        failed.setdefault(coupon_id, []).append(f"{name}: {error or 'not pushed'}")
    return failed
