"""E-mail to members of staff (a supervisor asked to approve, an agent told the decision, an
agent told a rule opened a case), through the organisation's e-mail channel, by a job."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.db import reading_alongside
from amends.delivery import channels
from amends.jobs import service as jobs
from amends.jobs.registry import job
from amends.models import ChannelConfig, User
from amends.roles import Role

DECIDERS = (Role.SUPERVISOR.value, Role.MANAGER.value, Role.ADMIN.value)
FRONT_LINE = (Role.AGENT.value, Role.SUPERVISOR.value)


async def notify(session: AsyncSession, organization_id: uuid.UUID, *, to: list[str],
                 subject: str, text: str) -> None:
    """Queue a note to staff (in the caller's transaction); nothing when no one is to be told."""
    if to:
        await jobs.enqueue(session, "staff.notify", organization_id=organization_id,
                           payload={"to": sorted(set(to)), "subject": subject, "text": text,
                                    "organization_id": str(organization_id)})


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
                    subject: str, text: str) -> None:
    """Send the note; without an e-mail channel there is nobody to send it through."""
    async with reading_alongside(session) as reader:
        config = await reader.scalar(select(ChannelConfig).where(
            ChannelConfig.organization_id == uuid.UUID(organization_id),
            ChannelConfig.channel == "email", ChannelConfig.active.is_(True)))
    if config is None:
        return
    for address in to:
        await channels.ADAPTERS["email"].send(channels.Outgoing(
            id=f"staff-{uuid.uuid4().hex}", channel="email", address=address, subject=subject,
            text=text, html=None, extra={}), config.settings)
