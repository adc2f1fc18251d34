"""Test harness: every database test runs on SQLite, on PostgreSQL when AMENDS_TEST_POSTGRES_URL
is set, and on Citus when AMENDS_TEST_CITUS_URL is set (a coordinator's database whose
`pg_dist_node` lists the workers, e.g. postgresql+asyncpg://postgres@127.0.0.1:9700/citus).
The schema comes from the migrations, once per session (on Citus through `amends migrate`'s
code path, so it is distributed); each test gets a fresh SQLite file (a copy of the migrated
template) or a truncated PostgreSQL or Citus database.

Markers: `sqlite_only` runs on SQLite alone; `postgres_only` (PostgreSQL's own behaviour: the
one-statement redeem, the tills' lane, row locks after a crash) runs on PostgreSQL and on
Citus, which is PostgreSQL and must behave the same; `not_on_citus(reason)` skips Citus for a
test that does what Citus cannot (downgrading the distributed schema).

On Citus run the tests of everything that reads or writes rows in its own SQL: the services,
their races, imports, jobs, reports, the schema and the single-shard checks. The tests of the
surface (`CITUS_SURFACE`: pages in a browser, the helpdesks' and shops' HTTP shapes, input
bounds and the OpenAPI fuzz, crash tests of processes) run on SQLite and PostgreSQL: on Citus
they repeat the same statements the service tests run there, at a third of the suite's time.
`AMENDS_TEST_CITUS_EVERYWHERE=1` runs every database test on Citus too (before a release).
"""

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
from argon2 import PasswordHasher
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

import amends.models  # noqa: F401
from amends import citus
from amends.apikeys import service as apikeys_service
from amends.app import create_app
from amends.config import Settings
from amends.db import Base, Database
from amends.kit.clock import clock
from amends.migrate import head_revision, upgrade
from amends.users import service as users_service

# Properties are checked for what they compute, never for how fast: a loaded machine must not
# fail them (Hypothesis' default deadline is 200 ms per example).
hypothesis_settings.register_profile("amends", deadline=None)
hypothesis_settings.load_profile("amends")

POSTGRES_URL = os.environ.get("AMENDS_TEST_POSTGRES_URL")
CITUS_URL = os.environ.get("AMENDS_TEST_CITUS_URL")
BACKENDS = ["sqlite", "postgres", "citus"]
# Shards per distributed table in the test database: few, so that creating ~36 tables and
# truncating them before each test stays fast, yet more than the workers, so that
# organisations land on different shards of different nodes as in production (32 there).
CITUS_TEST_SHARDS = 4
CITUS_EVERYWHERE = os.environ.get("AMENDS_TEST_CITUS_EVERYWHERE") == "1"
# Test files (and folders) whose Citus run would repeat what PostgreSQL's shows: what a page
# looks like, what a platform's API is sent, what malformed input is answered, how a killed
# process recovers (the statements they run are the services', tested on Citus elsewhere).
CITUS_SURFACE = (
    "tests/web/", "tests/integrations/", "tests/helpdesk/test_panel.py",
    "tests/helpdesk/test_package_command.py", "tests/helpdesk/test_admin_page.py",
    "tests/test_fuzz_openapi.py", "tests/test_input_bounds.py", "tests/test_unknown_fields.py",
    "tests/test_errors.py", "tests/test_csv_imports.py", "tests/test_demo_history.py",
    "tests/test_outbound_policy.py", "tests/auth/", "tests/users/", "tests/ops/",
    "tests/kit/", "tests/organizations/test_brand_api.py", "tests/customers/test_locale.py",
    "tests/customers/test_new_customer_page.py", "tests/delivery/test_languages.py",
    "tests/delivery/test_template_bounds.py", "tests/delivery/test_crash.py",
    "tests/incidents/test_crash.py", "tests/redemptions/test_odd_orders.py",
    "tests/redemptions/test_guessing_limits.py",
)


def pytest_configure(config: pytest.Config) -> None:
    # Passwords made by the tests are hashed with argon2's cheapest parameters: the default
    # ones cost about 0.1 s a hash and as much a login, hundreds of times a run. A hash names
    # its parameters, so the servers the browser tests start verify these just as cheaply.
    users_service.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    config.addinivalue_line("markers", "sqlite_only: the test is about SQLite itself")
    config.addinivalue_line("markers", "postgres_only: the test is about PostgreSQL itself "
                                       "(it runs on Citus too)")
    config.addinivalue_line("markers", "not_on_citus(reason): the test does what Citus "
                                       "cannot do; the reason says what")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leaves the surface's Citus runs out (see CITUS_SURFACE), unless asked for all."""
    if CITUS_EVERYWHERE or not CITUS_URL:
        return
    root = Path(str(config.rootpath))
    kept, left = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        where = Path(str(item.path)).relative_to(root).as_posix()
        if callspec is not None and callspec.params.get("backend") == "citus" and \
                where.startswith(CITUS_SURFACE):
            left.append(item)
        else:
            kept.append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


async def _admin(sql: str, url: str | None = None) -> None:
    url = url or POSTGRES_URL
    assert url
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        for statement in sql.split(";\n"):
            await conn.execute(text(statement))
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


@pytest.fixture(scope="session")
def citus_database() -> Iterator[str]:
    """A fresh database on the coordinator and on every worker, with the citus extension on
    each, the workers added, and the schema migrated and distributed as `amends migrate`
    does it; dropped from every node at the end."""
    if not CITUS_URL:
        pytest.skip("AMENDS_TEST_CITUS_URL is not set")
    name = f"amends_test_{uuid.uuid4().hex[:10]}"
    try:
        url = asyncio.run(citus.create_database(CITUS_URL, name, shard_count=CITUS_TEST_SHARDS))
        upgrade(url)
        yield url
    finally:
        asyncio.run(citus.drop_database(CITUS_URL, name))


async def _truncate(url: str, *, citus: bool = False) -> None:
    """Empty every table: one DELETE per table, children first (on Citus in sequential mode,
    as the keys between colocated tables require). A test leaves a few rows, and deleting
    them costs 40 ms on PostgreSQL and 0.1 s on Citus, where a TRUNCATE of every table costs
    0.7 s on PostgreSQL and 6 s on Citus (it locks every shard), empty or not. The tests
    connect as a superuser, whom the audit log's REVOKE DELETE does not bind."""
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        if citus:
            await conn.execute(text("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'"))
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(text(f'DELETE FROM "{table.name}"'))
        # A test may have moved the schema's recorded version (readiness checks do).
        await conn.execute(text("UPDATE alembic_version SET version_num = :head"),
                           {"head": head_revision()})
    await engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database every database test runs on, one run per backend."""
    name: str = request.param
    if name == "sqlite" and request.node.get_closest_marker("postgres_only"):
        pytest.skip("about PostgreSQL only")
    if name != "sqlite" and request.node.get_closest_marker("sqlite_only"):
        pytest.skip("about SQLite only")
    if name == "citus" and (marker := request.node.get_closest_marker("not_on_citus")):
        pytest.skip(f"not on Citus: {marker.args[0]}")
    return name


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "amends.db"
        shutil.copy(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url: str = request.getfixturevalue(f"{backend}_database")
    asyncio.run(_truncate(url, citus=backend == "citus"))
    yield url


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
