"""Who is calling: API keys with scopes (Bearer) or a logged-in member of staff (cookie).

Cookie-authenticated requests that change something must carry the session's CSRF token, in
the `X-CSRF-Token` header (htmx, fetch) or a `csrf_token` form field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.apikeys import service as apikeys
from amends.config import Settings
from amends.db import reading_alongside
from amends.errors import CsrfFailed, Forbidden, NotAuthenticated
from amends.kit.secrets import same
from amends.roles import Role, Scope
from amends.users import service as users

SESSION_COOKIE = "amends_session"
CSRF_COOKIE = "amends_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class StaffMember:
    """The logged-in person as pages show them, copied out of their row when they are
    authenticated: an error page renders after the request's transaction has rolled back and
    its session has closed, when the row's attributes can no longer be loaded."""

    name: str
    role: str
    store: str | None
    locale: str | None = None  # the console language they chose; None follows the browser
    time_zone: str | None = None  # theirs, else their organisation's


class InvalidApiKey(NotAuthenticated):
    code, title = "invalid_api_key", "The API key is not valid"


class MissingScope(Forbidden):
    code, title = "missing_scope", "The credential lacks a required scope"


async def get_session(request: Request) -> AsyncSession:
    session: AsyncSession = request.state.session
    return session


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[AsyncSession, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def submitted_csrf_token(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def authenticate(request: Request) -> Actor:
    # Reads the session and settings from the request rather than through dependencies: this
    # runs on every API call, and each dependency resolution costs time on the hot path.
    known: Actor | None = getattr(request.state, "actor", None)
    if known is not None:
        return known
    session: AsyncSession = request.state.session
    settings: Settings = request.app.state.settings
    authorization = request.headers.get("authorization", "")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise InvalidApiKey("Use `Authorization: Bearer <API key>`.")
        token = token.strip()
        key = apikeys.verified_recently(token)
        if key is None:
            # Found by its id alone (on Citus, on every shard): in a short read of its own, so
            # that the request's transaction reads no shard but its organisation's. Citus
            # refuses to change the organisations table in a transaction that read across
            # shards in parallel.
            async with reading_alongside(session) as reader:
                key = await apikeys.verify_on_miss(
                    reader, token, cache_seconds=settings.api_key_cache_seconds,
                    sessions=request.app.state.db.write_sessions)
        if key is None:
            raise InvalidApiKey()
        actor = Actor(
            organization_id=key.organization_id,
            kind="api_key",
            id=key.id,
            label=f"api key {key.name}",
            scopes=key.scopes,
        )
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        found = await users.session_for_token(session, cookie) if cookie else None
        if found is None:
            raise NotAuthenticated("Log in, or send an API key.")
        user_session, user, organization_zone = found
        if request.method not in SAFE_METHODS and not same(
            await submitted_csrf_token(request), user_session.csrf_token
        ):
            raise CsrfFailed()
        actor = Actor.for_user(
            organization_id=user.organization_id,
            user_id=user.id,
            email=user.email,
            role=Role(user.role),
            session_id=user_session.id,
        )
        request.state.csrf_token = user_session.csrf_token
        request.state.user = StaffMember(name=user.name, role=user.role, store=user.store,
                                         locale=user.locale,
                                         time_zone=user.time_zone or organization_zone)
    request.state.actor = actor
    return actor


Authenticated = Annotated[Actor, Depends(authenticate)]


def require(*scopes: Scope) -> Callable[[Request], Awaitable[Actor]]:
    """A dependency that lets the caller through only with one of the scopes."""

    async def check(request: Request) -> Actor:
        actor = await authenticate(request)
        if not any(actor.can(scope) for scope in scopes):
            raise MissingScope(f"Needs one of: {', '.join(scopes)}.", required=list(scopes))
        return actor

    return check


AdminCaller = Annotated[Actor, Depends(require(Scope.ADMIN))]
AuditReader = Annotated[Actor, Depends(require(Scope.AUDIT_READ))]
