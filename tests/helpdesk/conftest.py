"""The test desk (tests/helpdesk/desk.py) installed in the application of each test here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from amends.delivery.channels import HELPDESK_POSTERS
from amends.helpdesk import replies
from amends.helpdesk.platforms import PLATFORMS
from tests.helpdesk.desk import NAME, PLATFORM, Desk, router
from tests.receivers import http_receiver


@pytest.fixture
def desk(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    """The test desk installed in this application (and only while the test runs)."""
    monkeypatch.setitem(PLATFORMS, NAME, PLATFORM)
    monkeypatch.setitem(HELPDESK_POSTERS, NAME, replies.poster_for(PLATFORM))
    app.include_router(router)
    with http_receiver(reply=b'{"audit": {"id": 7001}}') as receiver:
        yield Desk(receiver=receiver)
