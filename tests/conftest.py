"""Test harness: every database test runs on SQLite and, when AMENDS_TEST_POSTGRES_URL is set,
on PostgreSQL. The schema comes from the migrations, once per session; each test gets a fresh
SQLite file (a copy of the migrated template) or a truncated PostgreSQL database."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

import amends.models  # noqa: F401
from amends.apikeys import service as apikeys_service
from amends.app import create_app
from amends.config import Settings
from amends.db import Base, Database
from amends.kit.clock import clock
from amends.migrate import head_revision, upgrade

POSTGRES_URL = os.environ.get("AMENDS_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgres"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: the test is about SQLite itself")
    config.addinivalue_line("markers", "postgres_only: the test is about PostgreSQL itself")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


async def _admin(sql: str) -> None:
    assert POSTGRES_URL
    engine = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("AMENDS_TEST_POSTGRES_URL is not set")
    name = f"amends_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
        # A test may have moved the schema's recorded version (readiness checks do).
        await conn.execute(text("UPDATE alembic_version SET version_num = :head"),
                           {"head": head_revision()})
    await engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        if request.node.get_closest_marker("postgres_only"):
            pytest.skip("about PostgreSQL only")
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "amends.db"
        shutil.copy(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    if request.node.get_closest_marker("sqlite_only"):
        pytest.skip("about SQLite only")
    url: str = request.getfixturevalue("postgres_database")
    asyncio.run(_truncate(url))
    yield url


@pytest.fixture
def backend(database_url: str) -> str:
    return "sqlite" if database_url.startswith("sqlite") else "postgres"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        embedded_worker=False,
        log_json=False,
        api_key_cache_seconds=0,
        job_backoff_base_seconds=1.0,
        # Receivers in the tests listen on 127.0.0.1; tests of the address policy turn it off.
        outbound_allow_private=True,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    clock.reset()
    apikeys_service.clear_cache()
    yield
    clock.reset()


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings)
    yield database
    await database.dispose()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings, run_worker=False)
    yield application
    await application.state.db.dispose()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        yield http
