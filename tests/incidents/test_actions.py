"""The incident page offers exactly what its person may do in the incident's state: the same
rules (`incidents.policy`) that the service enforces."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from amends.config import Settings
from amends.db import Database
from amends.incidents import policy
from amends.jobs.worker import Worker
from amends.kit.clock import clock
from amends.roles import Role
from tests.factories import make_customer, make_incentive, make_org, make_user, staff_headers

BUTTONS = {"approve": "/approve", "run": "/run", "pause": "/pause", "resume": "/resume",
           "cancel": "/cancel"}


def offered(page: str) -> set[str]:
    """The actions whose form the page shows."""
    return {name for name, tail in BUTTONS.items()
            if re.search(rf'action="/incidents/[0-9a-f-]+{tail}"', page)}


def test_the_rules_say_who_may_do_what_in_each_state() -> None:
    def situation(status: str, role: Role, *, needs: bool = False,
                  author: bool = False) -> policy.Situation:
        return policy.Situation(status=status, needs_approval=needs, actor_kind="user",
                                actor_role=role, is_author=author)

    assert policy.offered(situation("draft", Role.SUPERVISOR)) == ["run", "cancel"]
    assert policy.offered(situation("draft", Role.SUPERVISOR, needs=True)) == ["cancel"]
    assert policy.refusal("run", situation("draft", Role.SUPERVISOR, needs=True)) == (
        "needs_approval")
    assert policy.refusal("approve", situation("draft", Role.SUPERVISOR, needs=True)) == (
        "not_a_manager")
    assert policy.offered(situation("draft", Role.MANAGER, needs=True)) == [
        "approve", "cancel"]
    assert policy.refusal("approve", situation("draft", Role.MANAGER, needs=True,
                                               author=True)) == "own_incident"
    assert policy.offered(situation("running", Role.SUPERVISOR)) == ["pause", "cancel"]
    assert policy.offered(situation("paused", Role.SUPERVISOR)) == ["resume", "cancel"]
    for finished in ("completed", "cancelled"):
        assert policy.offered(situation(finished, Role.MANAGER)) == []
        assert policy.refusal("pause", situation(finished, Role.MANAGER)) == "state"


async def test_the_page_offers_a_supervisor_and_a_manager_only_what_they_may_do(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant = await make_org(db)
    supervisor = await staff_headers(db, await make_user(db, tenant, role=Role.SUPERVISOR))
    manager = await staff_headers(db, await make_user(db, tenant, role=Role.MANAGER))
    card = await make_incentive(db, tenant, kind="gift_card", value=60_000)
    for n in range(2):  # no address: the run reaches nobody, and completes at once
        await make_customer(db, tenant, external_id=f"T-{n}", email=None, phone=None)
    made = (await client.post("/v1/incidents", headers=supervisor, json={
        "title": "Big", "reason": "lost_parcel", "incentive_id": str(card.id)})).json()
    page_url = f"/incidents/{made['id']}"
    await client.post(f"{page_url}/customers", headers=supervisor,
                      files={"file": ("who.csv", b"T-0\nT-1\n", "text/csv")})

    # Above the threshold: the supervisor can neither run it nor approve it, and is told why.
    page = (await client.get(page_url, headers=supervisor)).text
    assert offered(page) == {"cancel"}
    assert "A manager must approve it before it can run." in page
    refused = await client.post(f"{page_url}/run", headers=supervisor)
    assert "problem=" in refused.headers["location"]
    page = (await client.get(page_url, headers=manager)).text
    assert offered(page) == {"approve", "cancel"}
    await client.post(f"{page_url}/approve", headers=manager)

    page = (await client.get(page_url, headers=supervisor)).text
    assert offered(page) == {"run", "cancel"}
    assert "Run: make amends to 2 customers" in page
    await client.post(f"{page_url}/run", headers=supervisor)
    page = (await client.get(page_url, headers=supervisor)).text
    assert offered(page) == {"pause", "cancel"}
    # The page polls its progress; while the state it shows holds, its buttons stay put.
    polled = (await client.get(f"{page_url}/live", headers=supervisor,
                               params={"shown": "running"})).text
    assert offered(polled) == set()

    await Worker(db, settings).run_until_idle()
    clock.advance(timedelta(seconds=3))
    await Worker(db, settings).run_until_idle()
    # Finished while the page was open: the next poll replaces its buttons (out of band).
    polled = (await client.get(f"{page_url}/live", headers=supervisor,
                               params={"shown": "running"})).text
    assert 'data-incident-status="completed"' in polled
    assert 'id="actions"' in polled
    assert 'hx-swap-oob="true"' in polled
    assert offered(polled) == set()
    assert "Nothing more to do. Status: Completed." in polled
    page = (await client.get(page_url, headers=supervisor)).text
    assert offered(page) == set()
    late = await client.post(f"{page_url}/pause", headers=supervisor)
    assert "problem=" in late.headers["location"]
