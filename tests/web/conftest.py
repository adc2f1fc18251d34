"""The browser tests share one server for the whole run (tests/web/live.py)."""

from __future__ import annotations

import pytest

from tests.web.live import stop_shared


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_shared()
