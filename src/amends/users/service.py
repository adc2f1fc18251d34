"""Staff users, their passwords and their console sessions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.audit import service as audit
from amends.errors import Conflict, Forbidden, NotAuthenticated, ValidationFailed
from amends.kit import locale
from amends.kit.clock import utcnow
from amends.kit.secrets import digest, random_token, tenant_token, token_tenant
from amends.kit.sql import insert_new
from amends.models import Organization, User, UserSession
from amends.roles import Role

_hasher = PasswordHasher()
# Verifying against this keeps an unknown email as slow as a wrong password (made on first use).
_dummy_hash: str | None = None


def use_hasher(hasher: PasswordHasher) -> None:
    """Hash new passwords with `hasher` from now on. The tests use cheap parameters; a hash
    names its own parameters, so hashes made with others still verify."""
    global _hasher, _dummy_hash
    _hasher, _dummy_hash = hasher, None


def _timing_equaliser() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("amends-timing-equaliser")
    return _dummy_hash


class UserExists(Conflict):
    code, title = "user_exists", "A user with this email exists in the organisation"


class WeakPassword(ValidationFailed):
    code, title = "weak_password", "The password is too short"


class InvalidCredentials(NotAuthenticated):
    code, title = "invalid_credentials", "Wrong organisation, email or password"


class NotAPerson(Forbidden):
    code, title = "not_a_person", "Only a logged-in member of staff has a profile"


class ConsoleLanguageNotOffered(ValidationFailed):
    code, title = "console_language_not_offered", "The console is not written in this language"


class UnknownTimeZone(ValidationFailed):
    code, title = "unknown_time_zone", "Not an IANA time zone"


MIN_PASSWORD_LENGTH = 12


def normalise_email(email: str) -> str:
    return email.strip().lower()


def login_identity(organization_slug: str, email: str) -> tuple[str, str]:
    """The account a login form names, as `log_in` looks it up: the login limits key on it,
    so no spelling of one account gets attempts of its own."""
    return organization_slug.strip().lower(), normalise_email(email)


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def _verify(password_hash: str | None, password: str) -> bool:
    """None: verify against the timing equaliser (and fail), as slowly as a wrong password."""
    def check() -> bool:
        try:
            if password_hash is None:
                _hasher.verify(_timing_equaliser(), password)
                return False
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(check)


async def create_user(
    session: AsyncSession,
    actor: Actor | None,
    *,
    organization_id: uuid.UUID,
    email: str,
    name: str,
    role: Role,
    password: str,
    team: str | None = None,
    store: str | None = None,
    password_hash: str | None = None,
) -> User:
    """A new account. `password_hash`, when given, is `hash_password(password)` made already:
    the demo gives a dozen accounts one password, and each hash takes most of a second."""
    email = normalise_email(email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    user = await insert_new(
        session, User, key={"organization_id": organization_id, "email": email},
        values={"name": name, "role": role.value, "team": team, "store": store,
                "password_hash": password_hash or await hash_password(password)})
    if user is None:
        raise UserExists(f"{email} already has an account.")
    await audit.record(
        session,
        actor or Actor.system(organization_id, "cli"),
        action="user.created",
        object_type="user",
        object_id=user.id,
        after={"email": email, "role": role.value, "team": team, "store": store},
    )
    return user


@dataclass(frozen=True, slots=True)
class Login:
    user: User
    token: str
    user_session: UserSession


async def log_in(
    session: AsyncSession, *, organization_slug: str, email: str, password: str, hours: int
) -> Login:
    """Check the password and open a console session; the token goes in the cookie only."""
    slug, email = login_identity(organization_slug, email)
    # The organisation first, then the user within it: one shard on Citus.
    organization_id = await session.scalar(select(Organization.id).where(
        Organization.slug == slug))
    user = await session.scalar(select(User).where(
        User.organization_id == organization_id, User.email == email)
    ) if organization_id is not None else None
    ok = await _verify(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        raise InvalidCredentials()
    now = utcnow()
    token = tenant_token(user.organization_id, 32)
    user_session = UserSession(
        organization_id=user.organization_id,
        user_id=user.id,
        token_hash=digest(token),
        csrf_token=random_token(24),
        expires_at=now + timedelta(hours=hours),
    )
    session.add(user_session)
    user.last_login_at = now
    await session.flush()
    actor = Actor.for_user(
        organization_id=user.organization_id, user_id=user.id, email=user.email,
        role=Role(user.role),
    )
    await audit.record(session, actor, action="user.logged_in", object_type="user",
                       object_id=user.id)
    return Login(user=user, token=token, user_session=user_session)


async def session_for_token(
    session: AsyncSession, token: str
) -> tuple[UserSession, User, str] | None:
    """The open console session a cookie names, its user, and the organisation's time zone
    (the console's dates are shown in it when the user chose none)."""
    row = (
        await session.execute(
            select(UserSession, User, Organization.time_zone)
            .join(User, and_(User.organization_id == UserSession.organization_id,
                             User.id == UserSession.user_id))
            .join(Organization, Organization.id == UserSession.organization_id)
            .where(
                UserSession.organization_id == token_tenant(token),
                UserSession.token_hash == digest(token),
                UserSession.revoked_at.is_(None),
                UserSession.expires_at > utcnow(),
                User.active.is_(True),
            )
        )
    ).first()
    return (row[0], row[1], row[2]) if row else None


async def log_out(session: AsyncSession, actor: Actor) -> None:
    if actor.session_id is None:
        return
    await session.execute(
        update(UserSession)
        .where(UserSession.organization_id == actor.organization_id,
               UserSession.id == actor.session_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await audit.record(session, actor, action="user.logged_out", object_type="user",
                       object_id=actor.id)


async def me(session: AsyncSession, actor: Actor) -> User:
    """The logged-in person's own row (an API key or a job has none)."""
    user = (await session.get(User, (actor.organization_id, actor.user_id))
            if actor.user_id is not None else None)
    if user is None:
        raise NotAPerson("Log in to the console to read or change a profile.")
    return user


def console_locale(tag: str) -> str:
    """A console language as stored: canonical (`fr_fr` -> `fr-FR`), and one the console is
    written in (English or French, with any region)."""
    try:
        found = locale.canonical(tag)
    except ValueError as error:
        raise ConsoleLanguageNotOffered(str(error), field="locale",
                                        offered=list(locale.CONSOLE)) from None
    if locale.language_of(found) not in locale.CONSOLE:
        raise ConsoleLanguageNotOffered(
            f"The console is written in {', '.join(locale.CONSOLE)}; {found} is not one of them.",
            field="locale", offered=list(locale.CONSOLE))
    return found


def time_zone(name: str) -> str:
    try:
        return locale.check_time_zone(name)
    except ValueError as error:
        raise UnknownTimeZone(str(error), field="time_zone") from None


async def set_preferences(session: AsyncSession, actor: Actor,
                          *, changes: dict[str, str | None]) -> User:
    """Change the person's console language and time zone; None goes back to the browser's
    language and the organisation's zone. Keys left out of `changes` are kept."""
    user = await me(session, actor)
    checked: dict[str, str | None] = {}
    if "locale" in changes:
        tag = changes["locale"]
        checked["locale"] = console_locale(tag) if tag else None
    if "time_zone" in changes:
        name = changes["time_zone"]
        checked["time_zone"] = time_zone(name) if name else None
    before = {key: getattr(user, key) for key in checked}
    for key, value in checked.items():
        setattr(user, key, value)
    await session.flush()
    if checked != before:
        await audit.record(session, actor, action="user.preferences_changed",
                           object_type="user", object_id=user.id, before=before, after=checked)
    return user
