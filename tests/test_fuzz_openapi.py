"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis).

Every operation gets a bounded number of generated requests, valid by the schema and not,
sent over real HTTP to a real server on SQLite, PostgreSQL and Citus, once with an admin key
and once with a till's narrow key. No answer may be a 5xx, and the server must still be up and
ready after the run. AMENDS_FUZZ_EXAMPLES sets the examples per operation and mode.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from amends.app import create_app
from amends.config import Settings
from amends.db import Database
from tests.conftest import BACKENDS, _truncate
from tests.factories import make_api_key, make_coupon, make_customer, make_org

EXAMPLES = int(os.environ.get("AMENDS_FUZZ_EXAMPLES", "4"))


@dataclass
class Target:
    base_url: str
    admin_token: str
    till_token: str


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _seed(settings: Settings) -> tuple[str, str]:
    db = Database(settings)
    try:
        tenant = await make_org(db)
        till = await make_api_key(db, tenant, scopes=["redemptions:write"])
        customer = await make_customer(db, tenant, external_id="C-1")
        await make_coupon(db, tenant, customer=customer)
        return tenant.admin_token, till
    finally:
        await db.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database of the module's server, one after the other (named as every database
    test's is, so that tests/conftest.py chooses what runs on Citus)."""
    return str(request.param)


@pytest.fixture(scope="module")
def target(backend: str, request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("fuzz") / "amends.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite+aiosqlite:///{path}"
    else:
        url = request.getfixturevalue(f"{backend}_database")
        asyncio.run(_truncate(url, citus=backend == "citus"))
    settings = Settings(database_url=url, embedded_worker=False, log_json=False,
                        log_level="WARNING", api_key_cache_seconds=0,
                        _env_file=None)  # type: ignore[call-arg]
    admin, till = asyncio.run(_seed(settings))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, run_worker=False),
                                           host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield Target(base_url=f"http://127.0.0.1:{port}", admin_token=admin, till_token=till)
    server.should_exit = True
    thread.join(timeout=30)


def _fuzz(target: Target, token: str) -> tuple[list[str], Counter[int]]:
    # Read with a patient client: the server builds its schema on first request, slowly on a
    # loaded machine (schemathesis' own fetch gives up after 10 s).
    loaded = httpx.get(f"{target.base_url}/openapi.json", timeout=120)
    loaded.raise_for_status()
    schema = schemathesis.openapi.from_dict(loaded.json())
    server_errors: list[str] = []
    statuses: Counter[int] = Counter()
    auth = {"Authorization": f"Bearer {token}"}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def run(case: Any) -> None:
                response = case.call(base_url=target.base_url, headers=auth, timeout=60)
                statuses[response.status_code] += 1
                if response.status_code >= 500:
                    server_errors.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code}: "
                        f"{response.text[:300]}\n    {case.as_curl_command()[:600]}")

            try:
                run()
            except Unsatisfiable:
                # An operation without parameters has no invalid form to generate.
                assert mode is GenerationMode.NEGATIVE, operation.label
    return server_errors, statuses


@pytest.mark.timeout(900)
@pytest.mark.parametrize("key", ["admin", "till"])
def test_no_generated_request_gets_a_server_error_and_the_server_stays_up(
        target: Target, key: str) -> None:
    token = target.admin_token if key == "admin" else target.till_token
    server_errors, statuses = _fuzz(target, token)
    assert not server_errors, "\n".join(server_errors[:30])
    # The key worked: generated requests reached the handlers, not only the authentication.
    assert sum(n for status, n in statuses.items() if status not in (401, 403)) > 50, statuses
    if key == "till":
        assert statuses[403] > 0, "the till's key was let into routes beyond its scope"
    assert httpx.get(f"{target.base_url}/healthz", timeout=10).status_code == 200
    assert httpx.get(f"{target.base_url}/readyz", timeout=10).status_code == 200
