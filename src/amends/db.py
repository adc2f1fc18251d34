"""Engines, sessions and the declarative base.

One transaction per request and one per job: the owner (the route class in `routing.py`, the
worker in `jobs/worker.py`) commits; services only flush.

SQLite: WAL, foreign keys, `synchronous=FULL`, and write transactions that start with
`BEGIN IMMEDIATE`. The write lock is then taken before the first read, so a conditional
`UPDATE ... WHERE status = 'active'` can never run on a stale snapshot and two writers never
deadlock on a lock upgrade. Read-only sessions use a plain deferred `BEGIN`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData, event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import DateTime, TypeDecorator
from sqlalchemy.util import await_only as await_
from sqlalchemy.util import greenlet_spawn

from amends.config import Settings

if TYPE_CHECKING:
    from amends.redemptions.sqlite import Writer

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _configure_sqlite(engine: AsyncEngine, settings: Settings) -> asyncio.Lock:
    # Writers of one process take turns on an asyncio lock before BEGIN IMMEDIATE, instead of
    # polling SQLite's busy handler (which sleeps up to 100 ms between tries and turns a burst
    # of requests into seconds of latency). Other processes still meet SQLite's busy timeout.
    write_turn = asyncio.Lock()
    timeout = settings.sqlite_busy_timeout_ms / 1000

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so that we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={settings.sqlite_synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("amends_begin", "IMMEDIATE")
        record_info = conn.connection._connection_record.info
        if mode == "IMMEDIATE" and not record_info.get("write_turn"):
            await_(asyncio.wait_for(write_turn.acquire(), timeout))
            record_info["write_turn"] = True
        conn.exec_driver_sql(f"BEGIN {mode}")

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        # The transaction ended (commit or rollback returns the connection to the pool).
        if record is not None and record.info.pop("write_turn", False):
            write_turn.release()

    return write_turn


def reading_alongside(session: AsyncSession) -> AsyncSession:
    """A short read-only session on the same engine as `session`, for a job that must read
    before slow I/O (an SMTP send) and write after it: on SQLite the job's own transaction then
    takes the write lock only for its writes, not for the whole send."""
    bind = session.bind
    assert bind is not None
    if bind.dialect.name == "sqlite":
        bind = bind.execution_options(amends_begin="DEFERRED")  # type: ignore[assignment]
    return AsyncSession(bind=bind, expire_on_commit=False)


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[Any]:
    """The driver's own connection (asyncpg's), from the pool, for a statement sent without
    SQLAlchemy's layers.

    It goes back to the pool inside SQLAlchemy's greenlet context: the pool closes a
    connection returned beyond its size (the overflow), and that close awaits the driver.
    Returned from plain async code, the close failed with `MissingGreenlet`, the pool logged
    "Exception closing connection" and the connection was abandoned unclosed (ten at a time
    when fifty tills redeemed at once)."""
    raw = await engine.raw_connection()
    try:
        yield raw.driver_connection
    finally:
        await greenlet_spawn(raw.close)


class Database:
    """The engine and session factories of one process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sqlite_write_turn: asyncio.Lock | None = None
        # SQLite's group writer of the tills' redeems, opened by the first (`redemptions.lane`).
        self.redeem_writer: Writer | None = None
        # What else this process opened on the database, closed with the engine.
        self.closers: list[Callable[[], Awaitable[None]]] = []
        url = settings.database_url
        if settings.is_sqlite:
            self.engine = create_async_engine(
                url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
                pool_timeout=settings.db_pool_timeout_seconds,
                connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000},
            )
            # The process's turn to write: the engine's writers and the tills' group writer
            # (`redemptions.sqlite.Writer`) take it before BEGIN IMMEDIATE.
            self.sqlite_write_turn = _configure_sqlite(self.engine, settings)
            read_engine = self.engine.execution_options(amends_begin="DEFERRED")
        else:
            self.engine = create_async_engine(
                url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
                pool_timeout=settings.db_pool_timeout_seconds,
                pool_pre_ping=False,
                # No JIT: Amends' queries are short, or reports over roll-ups, where compiling
                # costs more (0.1-1.4 s a report) than it saves.
                connect_args={"server_settings": {"jit": "off"}},
            )
            read_engine = self.engine
        self.write_sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = async_sessionmaker(read_engine, expire_on_commit=False)
        # Set after a commit that enqueued jobs, so an in-process worker starts at once.
        self.jobs_enqueued = asyncio.Event()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on error."""
        factory = self.write_sessions if write else self.read_sessions
        async with factory() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
        if session.info.pop("jobs_enqueued", False):
            self.jobs_enqueued.set()

    async def dispose(self) -> None:
        while self.closers:
            await self.closers.pop()()
        await self.engine.dispose()

