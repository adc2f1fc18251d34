"""API keys: `amk_<key id>_<secret>`; only the SHA-256 of the secret is stored.

Verified keys are cached in process memory for `api_key_cache_seconds` (default 5 s) so that
the hot path of a till (validate, redeem) does not pay a database read for its credential; a
revoked key therefore stops working everywhere within that time.

When a key was last used is written on a cache miss only, at most once a minute per key and
process, in a transaction of its own after the request's: a till's redemption never waits for
it, and a request that fails still counts as a use.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from amends.actor import Actor
from amends.audit import service as audit
from amends.errors import NotFound, ValidationFailed
from amends.kit.clock import utcnow
from amends.kit.secrets import digest, random_token, same
from amends.models import ApiKey
from amends.roles import API_KEY_SCOPES

PREFIX = "amk_"
LAST_USED_EVERY = timedelta(minutes=1)
log = logging.getLogger(__name__)


class UnknownScope(ValidationFailed):
    code, title = "unknown_scope", "Unknown API key scope"


class ApiKeyNotFound(NotFound):
    code, title = "api_key_not_found", "No such API key"


@dataclass(frozen=True, slots=True)
class NewApiKey:
    api_key: ApiKey
    token: str


@dataclass(frozen=True, slots=True)
class VerifiedKey:
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    scopes: frozenset[str]


_cache: dict[str, tuple[float, VerifiedKey]] = {}
_CACHE_MAX = 10_000


def clear_cache() -> None:
    _cache.clear()


_stamped: dict[uuid.UUID, float] = {}
_stamping: set[asyncio.Task[None]] = set()


def note_use(sessions: async_sessionmaker[AsyncSession], key: VerifiedKey) -> None:
    """Record, in the background, that `key` was used now (unless this process did so in the
    last minute). Called when the verification cache misses, never on every request."""
    now = time.monotonic()
    last = _stamped.get(key.id)
    if last is not None and now - last < LAST_USED_EVERY.total_seconds():
        return
    if len(_stamped) >= _CACHE_MAX:
        _stamped.clear()
    _stamped[key.id] = now
    task = asyncio.get_running_loop().create_task(_stamp(sessions, key))
    # The loop keeps only a weak reference to a task: hold it until it is done.
    _stamping.add(task)
    task.add_done_callback(_stamping.discard)


async def _stamp(sessions: async_sessionmaker[AsyncSession], key: VerifiedKey) -> None:
    now = utcnow()
    try:
        async with sessions() as session:
            # Other processes stamp the same key: the condition keeps the row's writes to
            # one a minute whatever their number.
            await session.execute(
                update(ApiKey).where(
                    ApiKey.organization_id == key.organization_id, ApiKey.id == key.id,
                    or_(ApiKey.last_used_at.is_(None),
                        ApiKey.last_used_at < now - LAST_USED_EVERY))
                .values(last_used_at=now).execution_options(synchronize_session=False))
            await session.commit()
    except Exception:
        # A missed stamp only makes "last used" a minute older; the request already went on.
        log.warning("could not record the use of API key %s", key.id, exc_info=True)


async def uses_recorded() -> None:
    """Wait for the pending "last used" stamps (a shutting-down process, a test)."""
    await asyncio.gather(*list(_stamping), return_exceptions=True)


def _parse(token: str) -> tuple[uuid.UUID, str] | None:
    if not token.startswith(PREFIX):
        return None
    body = token[len(PREFIX):]
    key_hex, _, secret = body.partition("_")
    if len(key_hex) != 32 or not secret:
        return None
    try:
        return uuid.UUID(hex=key_hex), secret
    except ValueError:
        return None


async def create_api_key(
    session: AsyncSession, actor: Actor, *, name: str, scopes: list[str]
) -> NewApiKey:
    unknown = sorted(set(scopes) - set(API_KEY_SCOPES))
    if unknown or not scopes:
        raise UnknownScope(
            f"Unknown scopes: {', '.join(unknown)}" if unknown else "Give at least one scope.",
            allowed=sorted(API_KEY_SCOPES),
        )
    secret = random_token(32)
    api_key = ApiKey(
        organization_id=actor.organization_id,
        name=name,
        secret_hash=digest(secret),
        hint=secret[:4],
        scopes=sorted(set(scopes)),
        created_by_user_id=actor.user_id,
    )
    session.add(api_key)
    await session.flush()
    await audit.record(
        session, actor, action="api_key.created", object_type="api_key", object_id=api_key.id,
        after={"name": name, "scopes": api_key.scopes},
    )
    return NewApiKey(api_key=api_key, token=f"{PREFIX}{api_key.id.hex}_{secret}")


def verified_recently(token: str) -> VerifiedKey | None:
    """The key this token was verified as within the cache time, without a database read
    (None: not known; the caller verifies it the usual way)."""
    hit = _cache.get(digest(token))
    return hit[1] if hit and hit[0] > time.monotonic() else None


async def verify(session: AsyncSession, token: str, *, cache_seconds: float) -> VerifiedKey | None:
    cache_key = digest(token)
    hit = _cache.get(cache_key)
    now = time.monotonic()
    if hit and hit[0] > now:
        return hit[1]
    parsed = _parse(token)
    if parsed is None:
        return None
    key_id, secret = parsed
    # A key is found by its id alone, before its organisation is known (on Citus: every
    # shard is asked; verified keys are then cached for `cache_seconds`).
    api_key = await session.scalar(select(ApiKey).where(ApiKey.id == key_id))
    if api_key is None or api_key.revoked_at is not None:
        return None
    if not same(api_key.secret_hash, digest(secret)):
        return None
    verified = VerifiedKey(
        id=api_key.id,
        organization_id=api_key.organization_id,
        name=api_key.name,
        scopes=frozenset(api_key.scopes),
    )
    if cache_seconds > 0:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[cache_key] = (now + cache_seconds, verified)
    return verified


async def verify_on_miss(reader: AsyncSession, token: str, *, cache_seconds: float,
                         sessions: async_sessionmaker[AsyncSession]) -> VerifiedKey | None:
    """`verify` for a token the cache did not know, read with `reader` (a short read of its
    own), noting the key's use when it is one."""
    key = await verify(reader, token, cache_seconds=cache_seconds)
    if key is not None:
        note_use(sessions, key)
    return key


async def list_api_keys(session: AsyncSession, actor: Actor) -> list[ApiKey]:
    return list(
        (
            await session.scalars(
                select(ApiKey)
                .where(ApiKey.organization_id == actor.organization_id)
                .order_by(ApiKey.created_at.desc())
            )
        ).all()
    )


async def revoke_api_key(session: AsyncSession, actor: Actor, *, api_key_id: uuid.UUID) -> ApiKey:
    api_key = await session.scalar(
        select(ApiKey).where(
            ApiKey.id == api_key_id, ApiKey.organization_id == actor.organization_id
        )
    )
    if api_key is None:
        raise ApiKeyNotFound()
    if api_key.revoked_at is None:
        await session.execute(
            update(ApiKey).where(ApiKey.organization_id == api_key.organization_id,
                                 ApiKey.id == api_key.id).values(revoked_at=utcnow())
        )
        await session.refresh(api_key)
        await audit.record(
            session, actor, action="api_key.revoked", object_type="api_key", object_id=api_key.id
        )
    clear_cache()
    return api_key
