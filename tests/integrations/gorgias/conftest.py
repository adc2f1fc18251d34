"""A local Gorgias account for each test; the browser tests' shared server stops at the end
of the run (as tests/web/conftest.py does when that folder runs too)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integrations.gorgias.gorgias import Gorgias, gorgias_account
from tests.web.live import stop_shared


@pytest.fixture
def gorgias() -> Iterator[Gorgias]:
    with gorgias_account() as account:
        yield account


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_shared()
