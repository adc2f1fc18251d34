"""The Intercom workspace every test here talks to (see `workspace.py`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from amends.config import Settings
from amends.db import Database
from amends.roles import Role
from tests.factories import make_org, make_user, set_limit
from tests.integrations.intercom.workspace import AGENT, REPLIED, Workspace, install
from tests.receivers import http_receiver


@pytest.fixture
async def workspace(client: httpx.AsyncClient, db: Database, settings: Settings
                    ) -> AsyncIterator[Workspace]:
    """An organisation with Intercom installed, Sam its agent (who may give 20.00 a gesture)
    and Intercom's REST API on 127.0.0.1."""
    tenant = await make_org(db)
    await make_user(db, tenant, role=Role.AGENT, email=AGENT)
    await set_limit(db, tenant, subject="role:agent", max_gesture=2000)
    with http_receiver(reply=json.dumps(REPLIED).encode()) as api:
        installation = await install(client, tenant, api)
        yield Workspace(client=client, db=db, settings=settings, tenant=tenant, api=api,
                        installation=installation)
