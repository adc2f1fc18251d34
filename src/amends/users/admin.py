"""Managing the organisation's staff: invitations and set-password links, roles, teams and
stores, deactivation and reactivation. The admin pages and the API call these same functions.

A person invited and not yet arrived has an empty password hash: argon2 refuses to verify
against it, so no password logs them in until they choose one through their link. A link is
a random token that carries its organisation (`tenant_token`, one shard on Citus); only its
SHA-256 is stored, and choosing a password clears it, so each link works once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.audit import service as audit
from amends.delivery import staff
from amends.errors import Conflict, NotFound
from amends.kit.clock import utcnow
from amends.kit.secrets import digest, tenant_token, token_tenant
from amends.kit.sql import insert_new
from amends.models import ChannelConfig, User, UserSession
from amends.roles import Role
from amends.users.service import (
    MIN_PASSWORD_LENGTH,
    UserExists,
    WeakPassword,
    console_locale,
    hash_password,
    normalise_email,
)

LINK_HOURS = 72
NO_PASSWORD = ""  # the hash of someone invited who has not chosen a password yet


class UserNotFound(NotFound):
    code, title = "user_not_found", "No such user"


class LastAdmin(Conflict):
    code, title = "last_admin", "The organisation would have no active administrator left"


class UserInactive(Conflict):
    code, title = "user_inactive", "The user is deactivated"


class PasswordLinkInvalid(NotFound):
    code, title = "password_link_invalid", "This link was already used or is not valid"


class PasswordLinkExpired(Conflict):
    code, title = "password_link_expired", "This link has expired"


@dataclass(frozen=True, slots=True)
class PasswordLink:
    """A user with a fresh set-password link: `path` is its console address, given back only
    when no e-mail channel could carry it (`emailed` False) for the admin to pass on."""

    user: User
    path: str
    emailed: bool
    expires_at: datetime


def pending(user: User) -> bool:
    """Invited, and no password chosen yet."""
    return user.password_hash == NO_PASSWORD


async def list_users(session: AsyncSession, actor: Actor) -> list[User]:
    return list((await session.scalars(select(User).where(
        User.organization_id == actor.organization_id).order_by(
        User.active.desc(), User.name, User.email))).all())


async def get_user(session: AsyncSession, actor: Actor, *, user_id: uuid.UUID) -> User:
    user = await session.get(User, (actor.organization_id, user_id))
    if user is None:
        raise UserNotFound()
    return user


def _snapshot(user: User) -> dict[str, Any]:
    return {"name": user.name, "role": user.role, "team": user.team, "store": user.store,
            "locale": user.locale, "active": user.active}


async def _email_channel(session: AsyncSession, organization_id: uuid.UUID) -> bool:
    found = await session.scalar(select(ChannelConfig.id).where(
        ChannelConfig.organization_id == organization_id, ChannelConfig.channel == "email",
        ChannelConfig.active.is_(True)))
    return found is not None


async def _inviter(session: AsyncSession, actor: Actor) -> str:
    if actor.user_id is None:
        return ""
    user = await session.get(User, (actor.organization_id, actor.user_id))
    return user.name if user is not None else ""


async def _new_link(session: AsyncSession, actor: Actor, user: User, *, note: str
                    ) -> PasswordLink:
    """A fresh single-use link for `user` (any earlier one stops working), e-mailed in their
    language when the organisation has an e-mail channel."""
    token = tenant_token(user.organization_id, 32)
    expires_at = utcnow() + timedelta(hours=LINK_HOURS)
    user.password_token_hash = digest(token)
    user.password_token_expires_at = expires_at
    await session.flush()
    path = f"/set-password/{token}"
    emailed = await _email_channel(session, user.organization_id)
    if emailed:
        await staff.notify(session, user.organization_id, to=[user.email], note=note,
                           values={"requester": await _inviter(session, actor)},
                           moments={"deadline": expires_at}, link=path)
    return PasswordLink(user=user, path=path, emailed=emailed, expires_at=expires_at)


async def invite_user(session: AsyncSession, actor: Actor, *, email: str, name: str,
                      role: Role, team: str | None = None, store: str | None = None,
                      locale: str | None = None) -> PasswordLink:
    """Create a member of staff without a password, and send them a link to choose one."""
    email = normalise_email(email)
    checked_locale = console_locale(locale) if locale else None
    now = utcnow()
    user = await insert_new(
        session, User, key={"organization_id": actor.organization_id, "email": email},
        values={"name": name.strip(), "role": role.value, "team": team or None,
                "store": store or None, "locale": checked_locale,
                "password_hash": NO_PASSWORD, "invited_at": now})
    if user is None:
        raise UserExists(f"{email} already has an account.", field="email")
    link = await _new_link(session, actor, user, note="invitation")
    await audit.record(session, actor, action="user.invited", object_type="user",
                       object_id=user.id, after={"email": email, **_snapshot(user),
                                                 "emailed": link.emailed})
    return link


async def _other_active_admins(session: AsyncSession, user: User) -> int:
    """How many active admins the organisation has besides `user`, their rows locked until
    the transaction ends: two admins demoting each other at once cannot both pass the check
    (on PostgreSQL the second waits and re-reads; SQLite runs one writer at a time)."""
    ids = (await session.scalars(select(User.id).where(
        User.organization_id == user.organization_id, User.role == Role.ADMIN.value,
        User.active.is_(True), User.id != user.id).with_for_update())).all()
    return len(ids)


async def _keep_an_admin(session: AsyncSession, user: User) -> None:
    if user.role == Role.ADMIN.value and user.active and \
            not await _other_active_admins(session, user):
        raise LastAdmin(f"{user.name} is the last active administrator: make someone else an "
                        "administrator first.")


async def update_user(session: AsyncSession, actor: Actor, *, user_id: uuid.UUID,
                      changes: dict[str, Any]) -> User:
    """Change a person's name, role, team, store or console language; keys left out are
    kept. The last active administrator keeps their role."""
    user = await get_user(session, actor, user_id=user_id)
    checked = dict(changes)
    if "role" in checked:
        checked["role"] = Role(checked["role"]).value
        if checked["role"] != Role.ADMIN.value:
            await _keep_an_admin(session, user)
    if checked.get("locale"):
        checked["locale"] = console_locale(checked["locale"])
    for key in ("team", "store"):
        if key in checked:
            checked[key] = (checked[key] or "").strip() or None
    if "name" in checked:
        checked["name"] = checked["name"].strip()
    before = _snapshot(user)
    for key, value in checked.items():
        setattr(user, key, value)
    await session.flush()
    after = _snapshot(user)
    if after != before:
        await audit.record(session, actor, action="user.updated", object_type="user",
                           object_id=user.id,
                           before={k: v for k, v in before.items() if after[k] != v},
                           after={k: v for k, v in after.items() if before[k] != v})
    return user


async def deactivate_user(session: AsyncSession, actor: Actor, *, user_id: uuid.UUID) -> User:
    """Stop a person logging in: every console session of theirs ends now (their next
    request is asked to log in) and an unused set-password link stops working."""
    user = await get_user(session, actor, user_id=user_id)
    if not user.active:
        return user
    await _keep_an_admin(session, user)
    user.active = False
    user.password_token_hash = None
    user.password_token_expires_at = None
    await session.flush()
    ended = await session.execute(
        update(UserSession).where(
            UserSession.organization_id == user.organization_id,
            UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow()).execution_options(synchronize_session=False))
    await audit.record(session, actor, action="user.deactivated", object_type="user",
                       object_id=user.id, before={"active": True},
                       after={"active": False, "sessions_ended": getattr(ended, "rowcount", 0)})
    return user


async def reactivate_user(session: AsyncSession, actor: Actor, *, user_id: uuid.UUID) -> User:
    """Let a deactivated person log in again with their password (or a new link)."""
    user = await get_user(session, actor, user_id=user_id)
    if user.active:
        return user
    user.active = True
    await session.flush()
    await audit.record(session, actor, action="user.reactivated", object_type="user",
                       object_id=user.id, before={"active": False}, after={"active": True})
    return user


async def reset_password(session: AsyncSession, actor: Actor, *, user_id: uuid.UUID
                         ) -> PasswordLink:
    """A new set-password link for an active person, e-mailed to them. Their open sessions
    and their current password keep working until they choose a new one."""
    user = await get_user(session, actor, user_id=user_id)
    if not user.active:
        raise UserInactive(f"{user.name} is deactivated: reactivate them first.")
    link = await _new_link(session, actor, user,
                           note="invitation" if pending(user) else "password_reset")
    await audit.record(session, actor, action="user.password_reset", object_type="user",
                       object_id=user.id, after={"emailed": link.emailed,
                                                 "expires_at": link.expires_at.isoformat()})
    return link


async def user_for_link(session: AsyncSession, token: str) -> User:
    """The person a set-password link is for, if it can still be used."""
    organization_id = token_tenant(token)
    user = await session.scalar(select(User).where(
        User.organization_id == organization_id, User.password_token_hash == digest(token),
        User.active.is_(True))) if organization_id is not None else None
    if user is None:
        raise PasswordLinkInvalid("Ask your administrator for a new link.")
    if user.password_token_expires_at is None or user.password_token_expires_at <= utcnow():
        raise PasswordLinkExpired("Ask your administrator to send you a new link.")
    return user


async def set_password(session: AsyncSession, *, token: str, password: str) -> User:
    """Choose a password through a link, once: one conditional UPDATE clears the link as it
    sets the password, so two submissions of the same link cannot both succeed."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"Use at least {MIN_PASSWORD_LENGTH} characters.", field="password")
    user = await user_for_link(session, token)
    password_hash = await hash_password(password)
    result = await session.execute(
        update(User).where(
            User.organization_id == user.organization_id, User.id == user.id,
            User.password_token_hash == digest(token), User.active.is_(True),
            User.password_token_expires_at > utcnow())
        .values(password_hash=password_hash, password_token_hash=None,
                password_token_expires_at=None)
        .execution_options(synchronize_session=False))
    if not getattr(result, "rowcount", 0):
        raise PasswordLinkInvalid("Ask your administrator for a new link.")
    await session.refresh(user)
    actor = Actor.for_user(organization_id=user.organization_id, user_id=user.id,
                           email=user.email, role=Role(user.role))
    await audit.record(session, actor, action="user.password_set", object_type="user",
                       object_id=user.id)
    return user
