"""Delivering gestures on the customer's own channel, and tracking what became of them.

A delivery is a row written with the change that causes it, and a job that sends it: sending
never happens inside a request. The job sends only a delivery still `queued`, and carries the
delivery id to the provider (Message-ID, idempotency token, webhook-id), so a retry after a
crash does not send a message twice in the normal case.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.audit import service as audit
from amends.cases.service import (
    APOLOGISING_KINDS,
    add_event,
    apologised,
    case_of,
    case_subject,
)
from amends.config import get_settings
from amends.coupons import policy as coupon_policy
from amends.delivery import channels, emails, templates, wording
from amends.delivery.schemas import CHANNEL_SETTINGS
from amends.errors import Conflict, NotFound, ValidationFailed
from amends.jobs import periodic
from amends.jobs import service as jobs
from amends.kit import codes, outbound
from amends.kit import locale as kit_locale
from amends.kit.cache import TtlCache
from amends.kit.clock import utcnow
from amends.kit.ids import new_id
from amends.kit.locale import language_of
from amends.kit.sql import get_or_insert
from amends.models import (
    Case,
    ChannelConfig,
    Coupon,
    Customer,
    Delivery,
    Incentive,
    MessageTemplate,
    Organization,
)
from amends.organizations.brand import brand_of
from amends.web.labels import in_sentence
from amends.web.labels import label as name_of

DELIVERY_CHANNELS = ("email", "sms", "whatsapp", "helpdesk", "webhook", "copy")
# The conversation's channel decides the delivery channel unless the agent picks another.
BY_CONVERSATION = {"email": "email", "sms": "sms", "whatsapp": "whatsapp", "chat": "webhook",
                   "social": "webhook", "phone": "sms", "in_store": "copy",
                   "helpdesk": "helpdesk", "webhook": "webhook", "copy": "copy"}
TWILIO_STATUS = {"queued": "sent", "accepted": "sent", "sending": "sent", "sent": "sent",
                 "delivered": "delivered", "read": "delivered", "failed": "failed",
                 "undelivered": "failed"}
FINAL = ("delivered", "failed", "bounced")
class UnknownChannel(ValidationFailed):
    code, title = "unknown_channel", "Not a delivery channel"


class InvalidChannelSettings(ValidationFailed):
    code, title = "invalid_channel_settings", "The channel's settings are not valid"


class NoAddressForChannel(Conflict):
    code, title = "no_address_for_channel", "The customer cannot be reached on that channel"


class ChannelNotConfigured(Conflict):
    code, title = "channel_not_configured", "The organisation has not set up that channel"


class DeliveryNotFound(NotFound):
    code, title = "delivery_not_found", "No such delivery"


class InvalidCallbackSignature(ValidationFailed):
    status, code, title = 403, "invalid_signature", "The callback signature is not valid"


def page_url(base_url: str, coupon: Coupon) -> str:
    return f"{base_url.rstrip('/')}/c/{coupon.page_token}"


async def _config(session: AsyncSession, organization_id: uuid.UUID,
                  channel: str) -> ChannelConfig | None:
    return await session.scalar(select(ChannelConfig).where(
        ChannelConfig.organization_id == organization_id, ChannelConfig.channel == channel,
        ChannelConfig.active.is_(True)))


async def save_channel(session: AsyncSession, actor: Actor, *, channel: str,
                       settings: dict[str, Any], active: bool,
                       allow_private: bool) -> ChannelConfig:
    """Configure a channel. A setting that names a peer (URL, SMTP host) must be an address
    the outbound policy allows, unless `allow_private` (the operator's setting)."""
    schema = CHANNEL_SETTINGS.get(channel)
    if schema is None:
        raise UnknownChannel(f"Configure one of: {', '.join(CHANNEL_SETTINGS)}.")
    try:
        settings = schema.model_validate(settings).model_dump(exclude_none=True)
    except ValidationError as exc:
        fields = [{"field": ".".join(["settings", *(str(p) for p in e["loc"])]),
                   "message": e["msg"], "type": e["type"]} for e in exc.errors()]
        raise InvalidChannelSettings(
            "Check these settings: " + ", ".join(f["field"] for f in fields),
            errors=fields) from exc
    for key, kind in channels.PEER_SETTINGS[channel].items():
        if key in settings:
            check = outbound.check_url if kind == "url" else outbound.check_host
            await check(settings[key], field=f"settings.{key}", allow_private=allow_private)
    config, _ = await get_or_insert(
        session, ChannelConfig, key={"organization_id": actor.organization_id,
                                     "channel": channel},
        values={"settings": settings, "active": active})
    config.settings, config.active = settings, active
    await session.flush()
    forget_cached_settings()
    await audit.record(session, actor, action="channel.configured", object_type="channel",
                       object_id=channel, after={"active": active,
                                                 "settings": sorted(settings)})
    return config


def preferred_channel(customer: Customer) -> str:
    """The customer's own channel: e-mail when they have one and did not opt out, else SMS."""
    if customer.email and "email" not in customer.opted_out_channels:
        return "email"
    return "sms"


def address_for(customer: Customer, channel: str, case: Case | None) -> str | None:
    if channel in customer.opted_out_channels:
        return None
    if channel == "email":
        return customer.email
    if channel in ("sms", "whatsapp"):
        return customer.phone
    if channel == "helpdesk":
        return case.conversation_ref if case else None
    if channel == "webhook":
        return (case.conversation_ref if case and case.conversation_ref
                else customer.external_id)
    return "agent"


# Settings read by every message are kept for a few seconds (a change made in this process
# is seen at once; other workers see it within that time).
_templates: TtlCache[list[tuple[str, str, str, str, str | None]]] = TtlCache(5.0)
_configured: TtlCache[bool] = TtlCache(5.0)
_settings: TtlCache[dict[str, Any] | None] = TtlCache(5.0)


def forget_cached_settings() -> None:
    _templates.forget()
    _configured.forget()
    _settings.forget()


async def channel_settings(session: AsyncSession, organization_id: uuid.UUID,
                            channel: str) -> dict[str, Any] | None:
    async def load() -> dict[str, Any] | None:
        config = await _config(session, organization_id, channel)
        return dict(config.settings) if config is not None else None

    return await _settings.get((organization_id, channel), load)


async def is_configured(session: AsyncSession, organization_id: uuid.UUID,
                         channel: str) -> bool:
    async def load() -> bool:
        return await _config(session, organization_id, channel) is not None

    return await _configured.get((organization_id, channel), load)


# An organisation's templates of one kind and channel (every locale), newest wording within
# seconds on every worker.
_TemplateRow = tuple[str, str, str, str, str | None]  # language, incentive key, parts


async def _templates_of(session: AsyncSession, organization_id: uuid.UUID, *, kind: str,
                        channel: str, incentive_id: uuid.UUID | None) -> list[_TemplateRow]:
    async def load() -> list[_TemplateRow]:
        rows = (await session.execute(select(
            MessageTemplate.language, MessageTemplate.incentive_key, MessageTemplate.subject,
            MessageTemplate.body_text, MessageTemplate.body_html).where(
            MessageTemplate.organization_id == organization_id, MessageTemplate.kind == kind,
            MessageTemplate.channel == channel,
            MessageTemplate.incentive_key.in_([str(incentive_id) if incentive_id else "",
                                               ""])))).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]

    return await _templates.get((organization_id, kind, channel, incentive_id), load)


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads a message: the locales to try for its wording, most specific first, and the
    zone their dates are written in."""

    chain: tuple[str, ...]
    locale: str | None  # their own locale (formats dates and amounts when its language is used)
    time_zone: str


def reader_of(organization: Organization, *, locale: str | None, time_zone: str | None
              ) -> Reader:
    """`fr-CA` -> `fr` -> the organisation's default -> English, without the locales the
    organisation does not write in (a `pt-BR` customer of an organisation that supports
    en, fr and de reads its default)."""
    default = organization.default_locale or kit_locale.DEFAULT
    chain = _reading_chain(locale, default, tuple(organization.supported_locales or ()))
    return Reader(chain=chain, locale=locale,
                  time_zone=time_zone or organization.time_zone or "UTC")


@lru_cache(maxsize=1024)
def _reading_chain(locale: str | None, default: str, supported_locales: tuple[str, ...]
                   ) -> tuple[str, ...]:
    supported = {language_of(t) for t in supported_locales}
    return tuple(tag for tag in kit_locale.fallback_chain(locale, default)
                 if language_of(tag) in supported or tag in (default, language_of(default),
                                                             kit_locale.DEFAULT))


def formatting_locale(reader: Reader, used: str) -> str:
    """Dates and amounts follow the reader's own locale (`fr-CA`) when the wording is in its
    language, else the wording's (a `pt-BR` reader of English wording reads English dates)."""
    if reader.locale and language_of(reader.locale) == language_of(used):
        return reader.locale
    return used


async def choose_template(session: AsyncSession, organization_id: uuid.UUID, reader: Reader,
                          *, kind: str, channel: str, incentive_id: uuid.UUID | None
                          ) -> tuple[tuple[str, str, str | None], str, bool]:
    """The wording for a reader: along their chain, the organisation's template for the
    locale (one for the incentive first), then the shipped one, so `fr-CA` reads the
    organisation's fr-CA, then its fr, then the shipped fr, then the default locale's.
    Returns the (subject, text, html), the locale used and whether it is shipped."""
    rows = await _templates_of(session, organization_id, kind=kind, channel=channel,
                               incentive_id=incentive_id)
    own = {(language, key): (subject, text, html)
           for language, key, subject, text, html in rows}
    specific = str(incentive_id) if incentive_id else ""
    for tag in reader.chain:
        for key in dict.fromkeys((specific, "")):
            if (tag, key) in own:
                return own[(tag, key)], tag, False
        if tag in kit_locale.SHIPPED:
            return templates.default_template(kind, channel, tag), tag, True
    return templates.default_template(kind, channel), kit_locale.DEFAULT, True


def message_context(organization: Organization, *, customer: Customer | None, locale: str,
                    time_zone: str, base_url: str, case_reference: str = "",
                    detail: str | wording.Phrase = "", apology: str = "") -> dict[str, Any]:
    """Every variable a message template may use (the coupon's are filled in by
    `coupon_context`); each is defined, empty when it does not apply."""
    words = wording.wording(language_of(locale))
    brand = brand_of(organization)
    logo = brand.logo_path(organization.slug)
    name = customer.name if customer is not None and customer.name else ""
    return {
        "greeting": words.hello.format(name=name) if name else words.hello_nameless,
        "customer_name": name,
        "apology": apology or words.default_apology,
        "gesture": "", "code": "", "expires": "", "expires_date": "", "expires_time": "",
        "page_url": "", "terms": "",
        "case_reference": case_reference, "detail": wording.phrase(detail, language_of(locale)),
        "brand": brand.name, "brand_color": brand.color,
        "brand_text_color": templates.text_color_on(brand.color),
        "logo_url": f"{base_url.rstrip('/')}{logo}" if logo else "",
        "support_email": brand.support_email or "", "support_phone": brand.support_phone or "",
        "support_url": brand.support_url or "",
    }


def coupon_context(coupon: Coupon, incentive: Incentive | None, *, locale: str,
                   time_zone: str, base_url: str) -> dict[str, Any]:
    expires = templates.expiry(coupon.expires_at, locale, time_zone)
    return {
        "gesture": templates.gesture_in_words(
            coupon.kind, coupon.value, coupon.currency, sku=coupon.sku,
            days=incentive.validity_days if incentive else None, balance=coupon.balance,
            locale=locale),
        "code": codes.display(coupon.code),
        "expires": expires.full, "expires_date": expires.date, "expires_time": expires.time,
        "page_url": page_url(base_url, coupon), "terms": coupon.terms or "",
    }


class SmsTooLong(ValidationFailed):
    code, title = "sms_too_long", "The SMS is longer than the organisation allows"


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A message before it is rendered: its organisation, wording and variables."""

    organization: Organization
    source: tuple[str, str, str | None]
    used: str  # the locale of the wording
    shipped: bool
    context: dict[str, Any]
    channel: str
    kind: str


async def _prepare(session: AsyncSession, *, coupon: Coupon | None, customer: Customer,
                   case_reference: str, channel: str, kind: str, base_url: str,
                   override: tuple[str, str, str | None] | None = None,
                   detail: str | wording.Phrase = "", apology: str = "",
                   locale: str | None = None) -> _Prepared:
    organization = await session.get(Organization, customer.organization_id)
    assert organization is not None
    reader = reader_of(organization, locale=locale or customer.locale,
                       time_zone=customer.time_zone)
    if override is not None:
        source, used, shipped = override, reader.chain[0], False
    else:
        source, used, shipped = await choose_template(
            session, organization.id, reader, kind=kind, channel=channel,
            incentive_id=coupon.incentive_id if coupon else None)
    tag = formatting_locale(reader, used)
    context = message_context(organization, customer=customer, locale=tag,
                              time_zone=reader.time_zone, base_url=base_url,
                              case_reference=case_reference, detail=detail, apology=apology)
    if coupon is not None:
        incentive = await session.get(Incentive, (coupon.organization_id, coupon.incentive_id))
        context.update(coupon_context(coupon, incentive, locale=tag,
                                      time_zone=reader.time_zone, base_url=base_url))
    return _Prepared(organization, source, used, shipped, context, channel, kind)


async def _finished(prepared: _Prepared, rendered: templates.Rendered) -> templates.Rendered:
    if prepared.channel == "sms":
        rendered = await _within_budget(rendered, prepared.organization, prepared.context,
                                        kind=prepared.kind, language=language_of(prepared.used))
    return templates.Rendered(subject=rendered.subject, text=rendered.text,
                              html=rendered.html, locale=prepared.used)


async def render_for(session: AsyncSession, *, coupon: Coupon | None, customer: Customer,
                     case_reference: str, channel: str, kind: str, base_url: str,
                     override: tuple[str, str, str | None] | None = None,
                     detail: str | wording.Phrase = "", apology: str = "",
                     locale: str | None = None) -> templates.Rendered:
    """The message for the customer in their language (or `locale`, for a preview), with
    dates in their zone and the brand. An SMS is prefixed with the brand's name and kept to
    the organisation's segment budget: over it, the short form (code, expiry, link) is sent;
    still over, `SmsTooLong` (the message is never cut in the middle of a code)."""
    prepared = await _prepare(session, coupon=coupon, customer=customer,
                              case_reference=case_reference, channel=channel, kind=kind,
                              base_url=base_url, override=override, detail=detail,
                              apology=apology, locale=locale)
    return await _finished(prepared, await templates.render_async(
        *prepared.source, prepared.context, shipped=prepared.shipped))


async def _within_budget(rendered: templates.Rendered, organization: Organization,
                         context: dict[str, Any], *, kind: str, language: str
                         ) -> templates.Rendered:
    brand = str(context["brand"])
    budget = max(1, organization.sms_max_segments)

    def branded(text: str) -> str:
        text = templates.sms_text(text)
        return text if text.startswith(brand) else f"{brand}: {text}"

    text = branded(rendered.text)
    if templates.sms_segments(text)["segments"] <= budget:
        return templates.Rendered(subject="", text=text, html=None)
    shorter = emails.shorter_sms(kind if kind in wording.KINDS else "gesture",
                                    language if language in kit_locale.SHIPPED else "en")
    short = branded((await templates.render_async("", shorter, None, context,
                                                  shipped=True)).text)
    counted = templates.sms_segments(short)
    if counted["segments"] <= budget:
        return templates.Rendered(subject="", text=short, html=None)
    raise SmsTooLong(
        f"The SMS needs {counted['segments']} segments ({counted['encoding']}, "
        f"{counted['characters']} characters) even in its short form; the organisation "
        f"allows {budget} (sms_max_segments). Shorten the brand name, the apology or the "
        "template, or raise the budget.", segments=counted["segments"], budget=budget)


async def render_or_failure(session: AsyncSession, **message: Any
                            ) -> tuple[templates.Rendered, str | None]:
    """`render_for`, or why the message cannot be rendered: a template that does not render,
    an SMS over the segment budget. The message is then recorded as failed with that reason
    (a broken template fails its messages, it does not stop the request or the job that
    sends them)."""
    [outcome] = await render_many_or_failure(session, [message])
    return outcome


async def render_many_or_failure(session: AsyncSession, messages: Sequence[dict[str, Any]]
                                 ) -> list[tuple[templates.Rendered, str | None]]:
    """`render_or_failure` for each message (the arguments of `render_for`), each template
    rendered once for all the messages that read it with the same wording and differ only in
    what it prints as it is (`templates.render_many`): an incident's chunk of customers."""
    prepared = [await _prepare(session, **message) for message in messages]
    readers: dict[tuple[tuple[str, str, str | None], bool], list[int]] = {}
    for n, one in enumerate(prepared):
        readers.setdefault((one.source, one.shipped), []).append(n)
    outcomes: list[tuple[templates.Rendered, str | None]] = [
        (templates.Rendered(subject="", text="", html=None,
                            locale=message["customer"].locale or kit_locale.DEFAULT), None)
        for message in messages]
    for (source, shipped), members in readers.items():
        rendered = await templates.render_many_async(
            *source, [prepared[n].context for n in members], shipped=shipped)
        for n, result in zip(members, rendered, strict=True):
            try:
                if isinstance(result, templates.InvalidTemplate):
                    raise result
                outcomes[n] = await _finished(prepared[n], result), None
            except SmsTooLong as problem:
                outcomes[n] = outcomes[n][0], f"Not sent: {problem.detail}"
            except templates.InvalidTemplate as problem:
                outcomes[n] = outcomes[n][0], (f"The template does not render "
                                               f"({problem.code}): {problem.detail}")
    return outcomes


async def deliver(session: AsyncSession, actor: Actor, *, coupon: Coupon | None,
                  channel: str | None = None, case: Case | None = None, kind: str = "gesture",
                  base_url: str | None = None, resent_from: uuid.UUID | None = None,
                  customer: Customer | None = None, detail: str | wording.Phrase = "",
                  apology: str = "",
                  incident_id: uuid.UUID | None = None, send_at: datetime | None = None
                  ) -> Delivery:
    """Queue the message (or, for `copy`, render it for the agent at once). A customer who
    cannot be reached on the channel gets a clear error before anything is queued. Without a
    coupon it is a message about the case (apology, progress, feedback, thanks). An
    incident's messages carry its id (pause holds them) and are paced by `send_at`."""
    if case is None and coupon is not None:
        case = await case_of(session, coupon)
    chosen = channel or BY_CONVERSATION.get(case.channel if case else "", "email")
    if chosen not in DELIVERY_CHANNELS:
        raise UnknownChannel(f"Use one of: {', '.join(DELIVERY_CHANNELS)}.")
    if customer is None:
        assert coupon is not None
        customer = await session.get(Customer, (coupon.organization_id, coupon.customer_id))
    assert customer is not None
    organization_id = customer.organization_id
    address = address_for(customer, chosen, case)
    if not address:
        raise NoAddressForChannel(
            f"No {chosen} address for customer {customer.external_id}, or they opted out; "
            "choose another channel.", channel=chosen)
    installed = chosen == "helpdesk" and case is not None and (
        case.helpdesk_installation_id is not None)
    if chosen != "copy" and not installed and not await is_configured(
            session, organization_id, chosen):
        raise ChannelNotConfigured(f"Set up {chosen} first (PUT /v1/channels/{chosen}).",
                                   channel=chosen)
    if not detail and case is not None and kind in ("gesture", "apology"):
        # The apology names what went wrong: the order, its items and the parcel.
        detail = await case_subject(session, case) or ""
    rendered, failure = await render_or_failure(
        session, coupon=coupon, customer=customer,
        case_reference=case.reference if case else "", channel=chosen, kind=kind,
        detail=detail, apology=apology, base_url=base_url or get_settings().base_url)
    delivery = Delivery(**delivery_row(
        actor, customer=customer, coupon=coupon, case_id=case.id if case else None, kind=kind,
        channel=chosen, address=address, rendered=rendered, resent_from=resent_from,
        incident_id=incident_id, failure=failure))
    session.add(delivery)
    await session.flush()
    if chosen != "copy" and failure is None:
        await jobs.enqueue(session, "delivery.send", organization_id=organization_id,
                           payload={"delivery_id": str(delivery.id)}, run_at=send_at)
    if case is not None:
        said, data = message_words(kind, chosen, address, failure=failure)
        await add_event(session, case, actor, kind="message" if failure is None
                        else "delivery_failed", summary=said,
                        data={"delivery_id": str(delivery.id), "status": delivery.status,
                              **data})
        if failure is None and kind in APOLOGISING_KINDS:
            await apologised(session, actor, case, how=said, message=data["message"])
    return delivery


def delivery_row(actor: Actor, *, customer: Customer, coupon: Coupon | None,
                 case_id: uuid.UUID | None, kind: str, channel: str, address: str,
                 rendered: templates.Rendered, resent_from: uuid.UUID | None = None,
                 incident_id: uuid.UUID | None = None, failure: str | None = None
                 ) -> dict[str, Any]:
    """The message's row: queued (a `copy` is done at once), or failed with `failure`."""
    now = utcnow()
    status = "failed" if failure else "sent" if channel == "copy" else "queued"
    return {
        "id": new_id(), "organization_id": customer.organization_id,
        "coupon_id": coupon.id if coupon else None, "case_id": case_id,
        "customer_id": customer.id, "kind": kind, "channel": channel, "address": address,
        "language": rendered.locale, "subject": rendered.subject,
        "body_text": rendered.text, "body_html": rendered.html,
        "status": status, "attempts": 0, "error": failure,
        "failed_at": now if failure else None,
        "sent_at": now if status == "sent" else None, "resent_from_id": resent_from,
        "requested_by_label": actor.label, "created_at": now, "incident_id": incident_id,
    }


def message_words(kind: str, channel: str, address: str, *, failure: str | None = None
                  ) -> tuple[str, dict[str, Any]]:
    """A message's entry in its case's timeline: its summary in English (as the API shows
    it: "Gesture message via SMS to +33612345678") and the data the console writes it from
    in the reader's language (`message`: its kind, channel and address; `failure`: why it
    was not sent)."""
    said = (f"{name_of(kind)} message, copied by the agent" if channel == "copy"
            else f"{name_of(kind)} message via {in_sentence(channel)} to {address}")
    data: dict[str, Any] = {"message": {"kind": kind, "channel": channel, "address": address}}
    if failure:
        said, data["failure"] = f"{said}, not sent: {failure}", failure
    return said, data


async def deliver_or_note(session: AsyncSession, actor: Actor, *, what: str,
                          case: Case | None, **message: Any) -> Delivery | None:
    """Deliver a message that follows something already done (a rule fired, a grant, a
    purchase): a customer who cannot be reached on the channel does not undo it; the case
    records why nothing was sent."""
    try:
        return await deliver(session, actor, case=case, **message)
    except (NoAddressForChannel, ChannelNotConfigured) as problem:
        if case is not None:
            await add_event(session, case, actor, kind="delivery_failed",
                            summary=f"{what} not sent: {problem.detail}")
        return None


def sender_of(organization: Organization) -> dict[str, str]:
    """The e-mail's sender as the brand says: its sender name, its own address when set
    (else the channel's), its Reply-To."""
    brand = brand_of(organization)
    sender = {"from_name": brand.sender_name}
    if brand.sender_email:
        sender["from_email"] = brand.sender_email
    if brand.reply_to:
        sender["reply_to"] = brand.reply_to
    return sender


async def record_failure(session: AsyncSession, *, organization_id: uuid.UUID | str,
                         delivery_id: str, error: str, attempts: int, dead: bool) -> None:
    await session.execute(
        update(Delivery).where(Delivery.organization_id == uuid.UUID(str(organization_id)),
                               Delivery.id == uuid.UUID(delivery_id),
                               Delivery.status == "queued")
        .values(attempts=attempts, error=error[:2000],
                **({"status": "failed", "failed_at": utcnow()} if dead else {}))
        .execution_options(synchronize_session=False))


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's request signature: HMAC-SHA1 of the URL and the sorted form fields."""
    payload = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), payload.encode(),
                                     hashlib.sha1).digest()).decode()


async def provider_status(session: AsyncSession, *, delivery_id: uuid.UUID, url: str,
                          params: dict[str, str], signature: str) -> Delivery:
    """A status callback from the SMS provider, verified with the account's auth token. Only
    SMS and WhatsApp messages go through that provider: any other delivery is not found."""
    # The provider calls back with the message's id alone (on Citus a lookup on every shard).
    delivery = await session.scalar(select(Delivery).where(Delivery.id == delivery_id))
    if delivery is None or delivery.channel not in ("sms", "whatsapp"):
        raise DeliveryNotFound()
    config = await _config(session, delivery.organization_id, delivery.channel)
    token = config.settings.get("auth_token") if config is not None else None
    if not token or not hmac.compare_digest(
            twilio_signature(str(token), url, params), signature):
        raise InvalidCallbackSignature()
    status = TWILIO_STATUS.get(params.get("MessageStatus", ""))
    if status is None or delivery.status in FINAL:
        return delivery
    now = utcnow()
    values: dict[str, Any] = {"status": status}
    if status == "delivered":
        values["delivered_at"] = now
    if status == "failed":
        values["failed_at"] = now
        values["error"] = f"provider: {params.get('MessageStatus')} {params.get('ErrorCode', '')}"
    await session.execute(update(Delivery).where(Delivery.organization_id ==
                                                 delivery.organization_id,
                                                 Delivery.id == delivery.id,
                                                 Delivery.status.not_in(FINAL))
                          .values(**values).execution_options(synchronize_session=False))
    await session.refresh(delivery)
    return delivery


async def get_delivery(session: AsyncSession, actor: Actor, *, delivery_id: uuid.UUID
                       ) -> Delivery:
    delivery = await session.scalar(select(Delivery).where(
        Delivery.id == delivery_id, Delivery.organization_id == actor.organization_id))
    if delivery is None:
        raise DeliveryNotFound()
    return delivery


async def list_for_coupon(session: AsyncSession, actor: Actor, *, coupon_id: uuid.UUID
                          ) -> list[Delivery]:
    return list((await session.scalars(select(Delivery).where(
        Delivery.organization_id == actor.organization_id, Delivery.coupon_id == coupon_id)
        .order_by(Delivery.created_at))).all())


async def resend(session: AsyncSession, actor: Actor, *, delivery_id: uuid.UUID,
                 channel: str | None, base_url: str) -> Delivery:
    """Send the same gesture again, on another channel if given, in one call."""
    previous = await get_delivery(session, actor, delivery_id=delivery_id)
    coupon = (await session.get(Coupon, (previous.organization_id, previous.coupon_id))
              if previous.coupon_id else None)
    customer = await session.get(Customer, (previous.organization_id, previous.customer_id))
    case = (await session.get(Case, (previous.organization_id, previous.case_id))
            if previous.case_id else None)
    delivery = await deliver(session, actor, coupon=coupon, channel=channel or previous.channel,
                             case=case, kind=previous.kind, base_url=base_url,
                             resent_from=previous.id, customer=customer)
    await audit.record(session, actor, action="delivery.resent", object_type="delivery",
                       object_id=delivery.id,
                       after={"from": str(previous.id), "channel": delivery.channel})
    return delivery


async def page_opened(session: AsyncSession, coupon: Coupon) -> None:
    """The first opening of the coupon page marks its latest delivery `opened` (once)."""
    latest = await session.scalar(select(Delivery.id).where(
        Delivery.organization_id == coupon.organization_id, Delivery.coupon_id == coupon.id)
        .order_by(Delivery.created_at.desc()).limit(1))
    if latest is not None:
        await session.execute(update(Delivery).where(Delivery.organization_id ==
                                                     coupon.organization_id,
                                                     Delivery.id == latest,
                                                     Delivery.opened_at.is_(None))
                              .values(opened_at=utcnow())
                              .execution_options(synchronize_session=False))


async def remind_expiring(session: AsyncSession, *, base_url: str, limit: int = 500,
                          organization_id: uuid.UUID | str | None = None) -> int:
    """Remind customers of unused gestures that expire within their organisation's
    `reminder_days`. Each coupon is reminded once (`reminded_at`).

    Each reminder is a part of its organisation's work (`jobs.periodic`): one that fails is
    rolled back alone and recorded for the organisation's admin, and its coupon stays marked
    (the claim is outside the part), so a reminder that always fails cannot fill every
    batch and starve the other organisations' reminders."""
    now = utcnow()
    query = (
        select(Coupon, Organization.reminder_days)
        .join(Organization, Organization.id == Coupon.organization_id)
        .where(Coupon.status == "active", Coupon.expires_at > now,
               Coupon.expires_at <= now + timedelta(days=30), Coupon.reminded_at.is_(None),
               Coupon.kind.in_((*coupon_policy.SINGLE_USE_KINDS, coupon_policy.GIFT_CARD))))
    if organization_id is not None:
        query = query.where(Coupon.organization_id == uuid.UUID(str(organization_id)))
    rows = (await session.execute(query.order_by(Coupon.expires_at).limit(limit))).all()
    sent = 0
    async with periodic.each_organization(session, "delivery.remind_expiring",
                                          only=organization_id) as parts:
        for coupon, days in rows:
            if days <= 0 or coupon.expires_at > now + timedelta(days=days):
                continue
            claimed = await session.execute(
                update(Coupon).where(Coupon.organization_id == coupon.organization_id,
                                     Coupon.id == coupon.id, Coupon.reminded_at.is_(None))
                .values(reminded_at=now).execution_options(synchronize_session=False))
            if not getattr(claimed, "rowcount", 0):
                continue
            sent += await parts.run(coupon.organization_id, partial(
                _remind, session, coupon, base_url=base_url),
                label=f"Reminder for coupon {coupon.id}") or 0
    return sent


async def _remind(session: AsyncSession, coupon: Coupon, *, base_url: str) -> int:
    customer = await session.get(Customer, (coupon.organization_id, coupon.customer_id))
    if customer is None or address_for(customer, "email", None) is None or \
            await _config(session, coupon.organization_id, "email") is None:
        return 0
    await deliver(session, Actor.system(coupon.organization_id, "reminders"),
                  coupon=coupon, channel="email", kind="reminder", base_url=base_url)
    return 1
