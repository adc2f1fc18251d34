"""Setting the channels and the wording up: what is configured (secrets never shown), a test
message sent at once, a channel removed, its last failures; an organisation's template saved,
its effective wording read, reset to the shipped one, and a draft previewed with sample
values. The API and the admin pages both call these, so they check and audit the same."""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.audit import service as audit
from amends.delivery import channels, templates
from amends.delivery.schemas import CHANNEL_SETTINGS
from amends.delivery.service import (
    ChannelNotConfigured,
    UnknownChannel,
    forget_cached_settings,
    sender_of,
)
from amends.errors import NotFound, ValidationFailed
from amends.incentives import service as incentives
from amends.kit import locale as kit_locale
from amends.kit import outbound
from amends.kit.ids import new_id
from amends.kit.locale import language_of
from amends.kit.sql import get_or_insert
from amends.models import ChannelConfig, Delivery, MessageTemplate, Organization
from amends.organizations.brand import brand_of

# The settings whose values are never shown back (the `Secret` ones): a page or a listing
# says only that they are set.
SECRETS = frozenset({"password", "auth_token", "api_token", "secret"})
# A test message is sent while the admin waits: a provider that does not answer within this
# is reported as not answering (the SMTP commands have their own, shorter, timeout).
TEST_SECONDS = 20.0
FAILED = ("failed", "bounced")
# The test message, with the brand's name and the channel filled in; a page passes it in the
# reader's language.
TEST_SUBJECT = "Test message from {brand}"
TEST_TEXT = ("This is a test message from {brand}, sent through Amends to check the "
             "{channel} channel. No action is needed.")


class ChannelNotFound(NotFound):
    code, title = "channel_not_found", "The organisation has not set up that channel"


class InvalidTestAddress(ValidationFailed):
    code, title = "invalid_test_address", "Not an address this channel can send to"


class TemplateNotFound(NotFound):
    code, title = "template_not_found", "The organisation has no template of its own for that"


def _known(channel: str) -> None:
    if channel not in CHANNEL_SETTINGS:
        raise UnknownChannel(f"Use one of: {', '.join(CHANNEL_SETTINGS)}.")


def masked(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings as they may be shown: each secret replaced by "set"."""
    return {key: "set" if key in SECRETS else value for key, value in settings.items()}


async def list_channels(session: AsyncSession, actor: Actor) -> list[ChannelConfig]:
    return list((await session.scalars(select(ChannelConfig).where(
        ChannelConfig.organization_id == actor.organization_id)
        .order_by(ChannelConfig.channel))).all())


async def get_channel(session: AsyncSession, actor: Actor, *, channel: str
                      ) -> ChannelConfig | None:
    _known(channel)
    return await session.scalar(select(ChannelConfig).where(
        ChannelConfig.organization_id == actor.organization_id,
        ChannelConfig.channel == channel))


def keeping_secrets(given: dict[str, Any], stored: ChannelConfig | None) -> dict[str, Any]:
    """The settings to save from a form: a secret left empty keeps the stored one (the form
    never shows it back, so an empty field means "unchanged", not "remove")."""
    settings = dict(given)
    for key in SECRETS:
        if not settings.get(key) and stored is not None and key in stored.settings:
            settings[key] = stored.settings[key]
    return settings


async def remove_channel(session: AsyncSession, actor: Actor, *, channel: str) -> None:
    """Remove the channel's configuration: messages on it are refused until it is set up
    again (`channel_not_configured`)."""
    config = await get_channel(session, actor, channel=channel)
    if config is None:
        raise ChannelNotFound(f"No {channel} channel is set up.")
    before = {"active": config.active, "settings": sorted(config.settings)}
    await session.execute(delete(ChannelConfig).where(
        ChannelConfig.organization_id == actor.organization_id,
        ChannelConfig.channel == channel).execution_options(synchronize_session=False))
    forget_cached_settings()
    await audit.record(session, actor, action="channel.removed", object_type="channel",
                       object_id=channel, before=before)


_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")


def _check_address(channel: str, to: str) -> None:
    if channel == "email" and not _EMAIL.match(to):
        raise InvalidTestAddress("Give an e-mail address such as ann@example.com.",
                                 errors=[{"field": "to", "message": "not an e-mail address",
                                          "type": "value_error"}])
    if channel in ("sms", "whatsapp") and not _PHONE.match(to):
        raise InvalidTestAddress(
            "Give a phone number in international form, such as +33612345678.",
            errors=[{"field": "to", "message": "not an E.164 phone number",
                     "type": "value_error"}])


@dataclass(frozen=True, slots=True)
class TestResult:
    ok: bool
    detail: str  # what the provider answered, in its words


async def send_test(session: AsyncSession, actor: Actor, *, channel: str, to: str,
                    allow_private: bool, subject: str = TEST_SUBJECT, text: str = TEST_TEXT
                    ) -> TestResult:
    """Send `text` to `to` through the channel's adapter now, not queued behind the
    organisation's other messages, and say what the provider answered. A provider that
    refuses is a result (`ok` false, its answer), not an error: the settings were read and
    used, and that is what the admin asked to know. Inactive settings are tested too (a
    channel is checked before it is switched on). The peer is checked against the outbound
    policy (`allow_private`, the operator's setting) as the worker checks it."""
    config = await get_channel(session, actor, channel=channel)
    if config is None:
        raise ChannelNotConfigured(f"Set up {channel} first.", channel=channel)
    _check_address(channel, to)
    organization = await session.get(Organization, actor.organization_id)
    assert organization is not None
    extra: dict[str, Any] = sender_of(organization) if channel == "email" else {}
    names = {"brand": brand_of(organization).name, "channel": channel}
    message = channels.Outgoing(id=str(new_id()), channel=channel, address=to,
                                subject=subject.format(**names), text=text.format(**names),
                                html=None, extra=extra)
    try:
        with outbound.policy(allow_private=allow_private):
            sent = await asyncio.wait_for(
                channels.ADAPTERS[channel].send(message, dict(config.settings)), TEST_SECONDS)
        result = TestResult(ok=True, detail=f"{sent.status}: {sent.provider_id or ''}".strip(
            ": "))
    except channels.DeliveryFailed as failure:
        result = TestResult(ok=False, detail=str(failure))
    except TimeoutError:
        result = TestResult(ok=False, detail=f"no answer within {TEST_SECONDS:.0f} seconds")
    await audit.record(session, actor, action="channel.tested", object_type="channel",
                       object_id=channel, after={"to": to, "ok": result.ok,
                                                 "detail": result.detail[:500]})
    return result


async def recent_failures(session: AsyncSession, actor: Actor, *, channel: str,
                          limit: int = 5) -> list[Delivery]:
    """The channel's last failed or bounced messages, newest first."""
    return list((await session.scalars(select(Delivery).where(
        Delivery.organization_id == actor.organization_id, Delivery.channel == channel,
        Delivery.status.in_(FAILED))
        .order_by(func.coalesce(Delivery.failed_at, Delivery.created_at).desc())
        .limit(limit))).all())


# Templates


def _incentive_key(incentive_id: uuid.UUID | None) -> str:
    return str(incentive_id) if incentive_id else ""


def brand_sample(organization: Organization, locale: str) -> dict[str, Any]:
    """Sample values for a draft, with the organisation's own brand: the preview looks like
    what its customers will receive."""
    context = templates.sample_context(locale)
    brand = brand_of(organization)
    context.update({
        "brand": brand.name, "brand_color": brand.color,
        "brand_text_color": templates.text_color_on(brand.color),
        "support_email": brand.support_email or "", "support_phone": brand.support_phone or "",
        "support_url": brand.support_url or ""})
    return context


async def save_template(session: AsyncSession, actor: Actor, *, kind: str, channel: str,
                        language: str, incentive_id: uuid.UUID | None, subject: str,
                        body_text: str, body_html: str | None) -> MessageTemplate:
    """Save the organisation's wording for a kind, channel, locale (and incentive). It must
    render with sample values within the sandbox's bounds, else `InvalidTemplate`,
    `TemplateTooLarge` or `TemplateTooComplex` and nothing is saved."""
    await templates.render_async(subject, body_text, body_html,
                                 templates.sample_context(language))
    if incentive_id is not None:
        await incentives.get_incentive(session, actor, incentive_id=incentive_id)
    row, _ = await get_or_insert(
        session, MessageTemplate, key={"organization_id": actor.organization_id,
                                       "kind": kind, "channel": channel,
                                       "language": language,
                                       "incentive_key": _incentive_key(incentive_id)},
        values={"body_text": body_text})
    row.subject, row.body_text, row.body_html = subject, body_text, body_html
    await session.flush()
    forget_cached_settings()
    await audit.record(session, actor, action="template.saved", object_type="template",
                       object_id=row.id, after={
                           "kind": kind, "channel": channel, "language": language,
                           "incentive_id": str(incentive_id) if incentive_id else None,
                           "subject": subject, "body_text": body_text,
                           "body_html": body_html})
    return row


async def reset_template(session: AsyncSession, actor: Actor, *, kind: str, channel: str,
                         language: str, incentive_id: uuid.UUID | None) -> None:
    """Delete the organisation's wording: its readers get the next along their chain (the
    organisation's template for a more general locale, else the shipped wording)."""
    row = await session.scalar(select(MessageTemplate).where(
        MessageTemplate.organization_id == actor.organization_id,
        MessageTemplate.kind == kind, MessageTemplate.channel == channel,
        MessageTemplate.language == language,
        MessageTemplate.incentive_key == _incentive_key(incentive_id)))
    if row is None:
        raise TemplateNotFound(f"No {kind} template of your own for {channel} in {language}.")
    before = {"kind": kind, "channel": channel, "language": language,
              "incentive_id": str(incentive_id) if incentive_id else None,
              "subject": row.subject, "body_text": row.body_text, "body_html": row.body_html}
    await session.execute(delete(MessageTemplate).where(
        MessageTemplate.organization_id == actor.organization_id,
        MessageTemplate.id == row.id).execution_options(synchronize_session=False))
    forget_cached_settings()
    await audit.record(session, actor, action="template.reset", object_type="template",
                       object_id=row.id, before=before)


@dataclass(frozen=True, slots=True)
class Wording:
    subject: str
    body_text: str
    body_html: str | None
    customised: bool  # the organisation's own, else the shipped wording


async def effective_wording(session: AsyncSession, actor: Actor, *, kind: str, channel: str,
                            language: str) -> Wording:
    """What an editor starts from: the organisation's template for exactly this locale, else
    the shipped wording of its language (English for a language Amends does not ship)."""
    row = await session.scalar(select(MessageTemplate).where(
        MessageTemplate.organization_id == actor.organization_id,
        MessageTemplate.kind == kind, MessageTemplate.channel == channel,
        MessageTemplate.language == language, MessageTemplate.incentive_key == ""))
    if row is not None:
        return Wording(row.subject, row.body_text, row.body_html, customised=True)
    shipped = language_of(language)
    subject, text, html = templates.default_template(
        kind, channel, shipped if shipped in kit_locale.SHIPPED else kit_locale.DEFAULT)
    return Wording(subject, text, html, customised=False)


async def customised(session: AsyncSession, actor: Actor) -> set[tuple[str, str, str]]:
    """The (kind, channel, locale) the organisation wrote itself (for every incentive)."""
    rows = (await session.execute(select(
        MessageTemplate.kind, MessageTemplate.channel, MessageTemplate.language).where(
        MessageTemplate.organization_id == actor.organization_id,
        MessageTemplate.incentive_key == ""))).all()
    return {(kind, channel, language) for kind, channel, language in rows}


@dataclass(frozen=True, slots=True)
class Preview:
    subject: str
    text: str
    html: str | None
    sms: dict[str, Any] | None
    sms_budget: int


async def preview_draft(session: AsyncSession, actor: Actor, *, channel: str, locale: str,
                        subject: str, body_text: str, body_html: str | None) -> Preview:
    """A draft rendered with sample values (and the organisation's brand) as a reader of
    `locale` would read it; for SMS and WhatsApp, the text as sent and its segments. Raises
    the sandbox's errors, as saving would."""
    organization = await session.get(Organization, actor.organization_id)
    assert organization is not None
    rendered = await templates.render_async(subject, body_text, body_html or None,
                                            brand_sample(organization, locale))
    if channel in ("sms", "whatsapp"):
        text = templates.sms_text(rendered.text)
        return Preview(subject="", text=text, html=None, sms=templates.sms_segments(text),
                       sms_budget=max(1, organization.sms_max_segments))
    return Preview(subject=rendered.subject, text=rendered.text, html=rendered.html, sms=None,
                   sms_budget=max(1, organization.sms_max_segments))
