"""E-mail to members of staff (a supervisor asked to approve, an agent told the decision, an
agent told a rule opened a case), through the organisation's e-mail channel, by a job.

Each note is written in its reader's language (their profile's locale, else the
organisation's default) with dates in their zone, as HTML and plain text."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.config import get_settings
from amends.db import reading_alongside
from amends.delivery import channels, emails, templates
from amends.delivery import service as delivery
from amends.delivery.wording import wording
from amends.jobs import service as jobs
from amends.jobs.registry import job
from amends.kit import locale as kit_locale
from amends.kit.locale import language_of
from amends.models import ChannelConfig, Organization, User
from amends.roles import Role

DECIDERS = (Role.SUPERVISOR.value, Role.MANAGER.value, Role.ADMIN.value)
FRONT_LINE = (Role.AGENT.value, Role.SUPERVISOR.value)


async def notify(session: AsyncSession, organization_id: uuid.UUID, *, to: list[str],
                 note: str, values: Mapping[str, str], amounts: Mapping[str, tuple[int, str]]
                 | None = None, moments: Mapping[str, datetime] | None = None,
                 link: str = "") -> None:
    """Queue a note to staff (in the caller's transaction); nothing when no one is to be told.

    `note` is its kind (`wording.NOTES`), `values` its fields as given, `amounts` (minor
    units, currency) and `moments` its fields written for each reader, `link` a console path.
    Readers who share a language and a zone get one job with the same text."""
    if not to:
        return
    organization = await session.get(Organization, organization_id)
    assert organization is not None
    people = {user.email: user for user in (await session.scalars(select(User).where(
        User.organization_id == organization_id, User.email.in_(sorted(set(to)))))).all()}
    groups: dict[tuple[str | None, str | None, str], list[str]] = {}
    for address in sorted(set(to)):
        user = people.get(address)
        key = (user.locale if user else None, user.time_zone if user else None,
               user.name if user else "")
        groups.setdefault(key, []).append(address)
    base_url = get_settings().base_url.rstrip("/")
    for (locale, zone, name), addresses in groups.items():
        rendered = render_note(organization, note=note, locale=locale, time_zone=zone,
                               name=name, values=values, amounts=amounts or {},
                               moments=moments or {},
                               link_url=f"{base_url}{link}" if link else "")
        await jobs.enqueue(session, "staff.notify", organization_id=organization_id,
                           payload={"to": addresses, "subject": rendered.subject,
                                    "text": rendered.text, "html": rendered.html,
                                    "organization_id": str(organization_id)})


def render_note(organization: Organization, *, note: str, locale: str | None,
                time_zone: str | None, name: str, values: Mapping[str, str],
                amounts: Mapping[str, tuple[int, str]], moments: Mapping[str, datetime],
                link_url: str) -> templates.Rendered:
    """A note in the reader's language (their locale, else the organisation's default, among
    the shipped ones) with amounts and dates formatted for them, in their zone."""
    reader = delivery.reader_of(organization, locale=locale, time_zone=time_zone)
    used = next((tag for tag in reader.chain if tag in kit_locale.SHIPPED), kit_locale.DEFAULT)
    tag = delivery.formatting_locale(reader, used)
    words = wording(language_of(tag))
    context: dict[str, Any] = delivery.message_context(
        organization, customer=None, locale=tag, time_zone=reader.time_zone, base_url=
        get_settings().base_url)
    context.update(dict.fromkeys(NOTE_FIELDS, ""))
    context.update(values)
    context.update({field: kit_locale.money(minor, currency, tag)
                    for field, (minor, currency) in amounts.items()})
    context.update({field: templates.expiry(moment, tag, reader.time_zone).full
                    for field, moment in moments.items()})
    context["greeting"] = words.hello.format(name=name) if name else words.hello_nameless
    context["link_url"] = link_url
    subject, text, html = emails.note(note, used)
    rendered = templates.render(subject, text, html, context)
    return templates.Rendered(subject=rendered.subject, text=rendered.text,
                              html=rendered.html, locale=used)


# Every field a note may use; those a note does not give are empty.
NOTE_FIELDS = ("requester", "incentive", "amount", "customer", "explanation", "note",
               "deadline", "decider", "reason", "rule", "opened", "parcel", "why",
               "case_reference")


async def deciders(session: AsyncSession, organization_id: uuid.UUID,
                   *, besides: uuid.UUID | None = None,
                   roles: tuple[str, ...] = DECIDERS) -> list[str]:
    query = select(User.email).where(User.organization_id == organization_id,
                                     User.active.is_(True), User.role.in_(roles))
    if besides is not None:
        query = query.where(User.id != besides)
    return list((await session.scalars(query)).all())


@job("staff.notify", max_attempts=6)
async def send_note(session: AsyncSession, *, organization_id: str, to: list[str],
                    subject: str, text: str, html: str | None = None) -> None:
    """Send the note; without an e-mail channel there is nobody to send it through."""
    async with reading_alongside(session) as reader:
        config = await reader.scalar(select(ChannelConfig).where(
            ChannelConfig.organization_id == uuid.UUID(organization_id),
            ChannelConfig.channel == "email", ChannelConfig.active.is_(True)))
        organization = await reader.get(Organization, uuid.UUID(organization_id))
    if config is None:
        return
    sender = delivery.sender_of(organization) if organization is not None else {}
    for address in to:
        await channels.ADAPTERS["email"].send(channels.Outgoing(
            id=f"staff-{uuid.uuid4().hex}", channel="email", address=address, subject=subject,
            text=text, html=html, extra=sender), config.settings)
