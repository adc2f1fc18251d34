"""The application under other settings, and clients that reach it from a chosen address (the
connection's peer, as a server sees it), for the tests of limits and trusted proxies."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from amends.app import create_app
from amends.config import Settings


@asynccontextmanager
async def application(settings: Settings, **changes: Any) -> AsyncIterator[FastAPI]:
    """A fresh application (its own limiter) with some settings changed."""
    app = create_app(settings.model_copy(update=changes), run_worker=False)
    try:
        yield app
    finally:
        await app.state.db.dispose()


def from_address(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="https://testserver")


class LimiterClock:
    """Moves the limiter's time forward (the `limits` memory store reads time.time())."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import limits.aio.storage.memory

        self.offset = 0.0
        monkeypatch.setattr(limits.aio.storage.memory, "time", self)

    def time(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds
