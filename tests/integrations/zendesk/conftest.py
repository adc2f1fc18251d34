"""A local Zendesk account for each test; the browser tests' shared server stops at the end of
the run (as tests/web/conftest.py does when that folder runs too)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integrations.zendesk.zendesk import Zendesk, zendesk_account
from tests.web.live import stop_shared


@pytest.fixture
def zendesk() -> Iterator[Zendesk]:
    with zendesk_account() as account:
        yield account


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_shared()
