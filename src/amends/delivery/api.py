from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request, Response

from amends.actor import Actor
from amends.auth import AdminCaller, MissingScope, SessionDep, SettingsDep, require
from amends.cases.service import case_of
from amends.coupons import service as coupons
from amends.coupons.errors import CouponNotFound
from amends.delivery import configuration, templates
from amends.delivery import service as delivery
from amends.delivery.schemas import (
    ChannelIn,
    ChannelListed,
    ChannelOut,
    ChannelTestIn,
    ChannelTestOut,
    DeliveryOut,
    DeliveryRequest,
    PreviewOut,
    PreviewRequest,
    TemplateIn,
    TemplateKey,
)
from amends.errors import ValidationFailed, errors
from amends.incentives import service as incentives
from amends.kit import outbound
from amends.models import Customer
from amends.roles import Scope
from amends.routing import router as make_router

router = make_router(tags=["delivery"])
Sender = Annotated[Actor, Depends(require(Scope.COUPONS_ISSUE))]
TemplateEditor = Annotated[Actor, Depends(require(Scope.CATALOGUE_WRITE))]


def _base_url(request: Request) -> str:
    return str(request.app.state.settings.base_url)


@router.post("/v1/coupons/{coupon_id}/deliveries", status_code=201, responses=errors(
    MissingScope, CouponNotFound, delivery.NoAddressForChannel, delivery.ChannelNotConfigured))
async def deliver_coupon(coupon_id: uuid.UUID, body: DeliveryRequest, request: Request,
                         session: SessionDep, actor: Sender) -> DeliveryOut:
    """Send the gesture to the customer (default: on the case's conversation channel), in
    their language; `copy` returns the message for the agent to paste. `kind` sends a
    reminder of its expiry, or tells them it was reinstated or extended."""
    coupon = await coupons.get_coupon(session, actor, coupon_id=coupon_id)
    return DeliveryOut.model_validate(await delivery.deliver(
        session, actor, coupon=coupon, channel=body.channel, kind=body.kind,
        base_url=_base_url(request)))


@router.get("/v1/coupons/{coupon_id}/deliveries", responses=errors(MissingScope, CouponNotFound))
async def coupon_deliveries(coupon_id: uuid.UUID, session: SessionDep,
                            actor: Sender) -> list[DeliveryOut]:
    """Every message sent for the coupon, with its status."""
    coupon = await coupons.get_coupon(session, actor, coupon_id=coupon_id)
    return [DeliveryOut.model_validate(d)
            for d in await delivery.list_for_coupon(session, actor, coupon_id=coupon.id)]


@router.get("/v1/deliveries/{delivery_id}", responses=errors(MissingScope,
                                                             delivery.DeliveryNotFound))
async def get_delivery(delivery_id: uuid.UUID, session: SessionDep, actor: Sender
                       ) -> DeliveryOut:
    """One delivery: queued, sent, delivered, failed or bounced, and when it was opened."""
    return DeliveryOut.model_validate(
        await delivery.get_delivery(session, actor, delivery_id=delivery_id))


@router.post("/v1/deliveries/{delivery_id}/resend", status_code=201, responses=errors(
    MissingScope, delivery.DeliveryNotFound, delivery.NoAddressForChannel,
    delivery.ChannelNotConfigured))
async def resend(delivery_id: uuid.UUID, body: DeliveryRequest, request: Request,
                 session: SessionDep, actor: Sender) -> DeliveryOut:
    """Send again, on another channel if given (e.g. after a failed SMS)."""
    return DeliveryOut.model_validate(await delivery.resend(
        session, actor, delivery_id=delivery_id, channel=body.channel,
        base_url=_base_url(request)))


@router.post("/v1/delivery-callbacks/twilio/{delivery_id}",
             responses=errors(delivery.DeliveryNotFound, delivery.InvalidCallbackSignature))
async def twilio_status(delivery_id: uuid.UUID, request: Request, session: SessionDep
                        ) -> DeliveryOut:
    """Status callbacks of the SMS/WhatsApp provider (signed with `X-Twilio-Signature`); a
    message on any other channel answers 404 `delivery_not_found`."""
    form = await request.form()
    params = {k: str(v) for k, v in form.items()}
    url = f"{_base_url(request).rstrip('/')}{request.url.path}"
    return DeliveryOut.model_validate(await delivery.provider_status(
        session, delivery_id=delivery_id, url=url, params=params,
        signature=request.headers.get("x-twilio-signature", "")))


@router.put("/v1/channels/{channel}", responses=errors(
    MissingScope, delivery.UnknownChannel, delivery.InvalidChannelSettings,
    outbound.OutboundAddressRefused,
    outbound.InvalidOutboundUrl))
async def save_channel(channel: str, body: ChannelIn, session: SessionDep,
                       actor: AdminCaller, settings: SettingsDep) -> ChannelOut:
    """Configure a channel: email {host, port, security: starttls|tls|none, username,
    password, from_address, timeout, max_connections}; sms/whatsapp {account_sid, auth_token,
    from_number, base_url}; helpdesk {base_url, email, api_token}; webhook {url, secret}; each
    may set rate_per_second (an incident's pace). An unknown or ill-typed setting is refused
    with 422 `invalid_channel_settings` naming it. The SMTP host and the URLs
    must be public addresses (or names resolving only to public addresses): loopback,
    private, link-local and other non-public ones are refused unless the operator allows
    them (`AMENDS_OUTBOUND_ALLOW_PRIVATE`)."""
    config = await delivery.save_channel(session, actor, channel=channel,
                                         settings=body.settings, active=body.active,
                                         allow_private=settings.outbound_allow_private)
    return ChannelOut(channel=config.channel, active=config.active,
                      configured=sorted(config.settings))


@router.get("/v1/channels", responses=errors(MissingScope))
async def list_channels(session: SessionDep, actor: AdminCaller) -> list[ChannelListed]:
    """The channels the organisation set up, active or not, with their settings; secrets
    (password, auth_token, api_token, secret) are never returned, only "set"."""
    return [ChannelListed(channel=c.channel, active=c.active,
                          settings=configuration.masked(c.settings), updated_at=c.updated_at)
            for c in await configuration.list_channels(session, actor)]


@router.post("/v1/channels/{channel}/test", responses=errors(
    MissingScope, delivery.UnknownChannel, delivery.ChannelNotConfigured,
    configuration.InvalidTestAddress))
async def test_channel(channel: str, body: ChannelTestIn, session: SessionDep,
                       actor: AdminCaller, settings: SettingsDep) -> ChannelTestOut:
    """Send a short test message to `to` through the channel now (not queued), with its
    saved settings, active or not, and answer what the provider said: `ok` true, or false
    with the provider's error in `detail` (a refused login, an unknown host, an HTTP error
    and its body). The answer is recorded in the audit log (`channel.tested`). 409
    `channel_not_configured` when the channel is not set up; 422 `invalid_test_address`
    for an e-mail address or phone number (E.164) that is not one."""
    result = await configuration.send_test(session, actor, channel=channel, to=body.to,
                                           allow_private=settings.outbound_allow_private)
    return ChannelTestOut(ok=result.ok, detail=result.detail)


@router.delete("/v1/channels/{channel}", status_code=204, responses=errors(
    MissingScope, delivery.UnknownChannel, configuration.ChannelNotFound))
async def remove_channel(channel: str, session: SessionDep, actor: AdminCaller) -> Response:
    """Remove the channel's settings: messages on it are then refused with 409
    `channel_not_configured` until it is set up again. Recorded as `channel.removed`."""
    await configuration.remove_channel(session, actor, channel=channel)
    return Response(status_code=204)


@router.put("/v1/templates", responses=errors(
    MissingScope, templates.InvalidTemplate, templates.TemplateTooLarge,
    templates.TemplateTooComplex, incentives.IncentiveNotFound))
async def save_template(body: TemplateIn, session: SessionDep, actor: TemplateEditor
                        ) -> TemplateIn:
    """Set the wording of a message for a locale (`language`, BCP 47: `fr`, `fr-CA`), in
    Jinja2, sandboxed. Variables: greeting, customer_name, apology, gesture, code, expires
    (date and time), expires_date, expires_time, page_url, terms, case_reference, detail,
    brand, brand_color, brand_text_color, logo_url, support_email, support_phone,
    support_url; dates and amounts come written for the reader's locale and zone. A reader
    falls back fr-CA -> fr -> the organisation's default locale, through the organisation's
    templates before the shipped ones. It must render with sample values, within the output
    and work bounds: else 422 `invalid_template`, `template_too_large` or
    `template_too_complex`, and nothing is saved."""
    await configuration.save_template(
        session, actor, kind=body.kind, channel=body.channel, language=body.language,
        incentive_id=body.incentive_id, subject=body.subject, body_text=body.body_text,
        body_html=body.body_html)
    return body


@router.delete("/v1/templates", status_code=204, responses=errors(
    MissingScope, configuration.TemplateNotFound))
async def reset_template(key: Annotated[TemplateKey, Query()], session: SessionDep,
                         actor: TemplateEditor) -> Response:
    """Reset a message to the default: delete the organisation's template for `kind`,
    `channel`, `language` (and `incentive_id`), named as `PUT /v1/templates` names it. Its
    readers then read the next wording along their chain (the organisation's template of a
    more general locale, else the shipped one). 404 `template_not_found` when the
    organisation has none. Recorded as `template.reset` with the wording it had."""
    await configuration.reset_template(session, actor, kind=key.kind, channel=key.channel,
                                       language=key.language, incentive_id=key.incentive_id)
    return Response(status_code=204)


@router.post("/v1/templates/preview", responses=errors(
    MissingScope, CouponNotFound, templates.InvalidTemplate, templates.TemplateTooLarge,
    templates.TemplateTooComplex, delivery.SmsTooLong))
async def preview(body: PreviewRequest, request: Request, session: SessionDep,
                  actor: Sender) -> PreviewOut:
    """Render a message for a coupon without sending it, as its customer reads it (or as a
    reader of `locale` would); SMS length and segments shown, and 422 `sms_too_long` when
    even its short form is over the organisation's `sms_max_segments`. A draft that does
    not render answers 422 `invalid_template` (a syntax error, an unknown
    variable, something the sandbox refuses), `template_too_large` (over
    `template_max_output_chars`) or `template_too_complex` (too many steps, or over
    `template_max_seconds`)."""
    coupon = await coupons.get_coupon(session, actor, coupon_id=body.coupon_id)
    customer = await session.get(Customer, (coupon.organization_id, coupon.customer_id))
    assert customer is not None
    case = await case_of(session, coupon)
    override = None
    if body.body_text is not None:
        override = (body.subject or "", body.body_text, body.body_html)
    elif body.subject is not None or body.body_html is not None:
        raise ValidationFailed("Give body_text to preview a draft.")
    rendered = await delivery.render_for(session, coupon=coupon, customer=customer,
                                         case_reference=case.reference if case else "",
                                         channel=body.channel, kind=body.kind,
                                         base_url=_base_url(request), override=override,
                                         locale=body.locale)
    sms = templates.sms_segments(rendered.text) if body.channel in ("sms", "whatsapp") else None
    return PreviewOut(language=rendered.locale, subject=rendered.subject,
                      body_text=rendered.text, body_html=rendered.html, sms=sms)
