"""Every answer carries its request id, an unforeseen error is traceable by it, and bodies
above the size limit are refused before they are read."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from amends.db import Database
from tests.factories import bearer, make_org


async def test_an_unforeseen_error_answers_500_with_the_request_id_in_header_body_and_log(
        app: Any, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    async def explode() -> None:
        raise RuntimeError("a bug nobody foresaw")

    app.add_api_route("/v1/test-explode", explode)
    with caplog.at_level(logging.ERROR):
        response = await client.get("/v1/test-explode")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    request_id = response.headers["x-request-id"]
    assert request_id
    assert response.json()["code"] == "internal_error"
    assert response.json()["request_id"] == request_id
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors, "the error was not logged"
    assert all(getattr(r, "request_id", None) == request_id for r in errors)
    assert any("a bug nobody foresaw" in (r.exc_text or str(r.exc_info)) for r in errors)


async def test_the_callers_request_id_is_kept_on_errors_too(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/customers", headers={"X-Request-ID": "till-7.req-42"})
    assert response.status_code == 401
    assert response.headers["x-request-id"] == "till-7.req-42"


async def test_a_body_over_the_limit_is_refused_with_413(client: httpx.AsyncClient,
                                                         db: Database) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    big = {"name": "x", "kind": "amount_off", "value": 100, "currency": "EUR",
           "validity_days": 30, "terms": "y" * 1_100_000}
    response = await client.post("/v1/incentives", headers=admin, json=big)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert response.headers["x-request-id"]
    assert (await client.get("/v1/incentives", headers=admin)).json() == []


async def test_a_chunked_body_over_the_limit_is_refused_with_413_too(
        client: httpx.AsyncClient, db: Database) -> None:
    tenant = await make_org(db)

    async def chunks() -> Any:
        yield b'{"name": "x", "terms": "'
        for _ in range(300):
            yield b"y" * 4096
        yield b'"}'

    response = await client.post("/v1/incentives", content=chunks(), headers={
        **bearer(tenant.admin_token), "content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
