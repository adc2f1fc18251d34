"""A Zendesk trigger's webhook opens the ticket's case when a tag names a reason, and fixes it
when the ticket is solved; a delivery is trusted only with Zendesk's signature made with the
webhook's secret, less than five minutes old, and once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from amends.db import Database
from amends.models import Case, Customer
from tests.factories import Tenant, make_customer, make_org
from tests.integrations.zendesk.test_panel_load import install
from tests.integrations.zendesk.zendesk import WEBHOOK_SECRET, Zendesk, webhook_headers

# The body the README tells the admin to paste in the trigger, as Zendesk renders it.
TRIGGER_BODY = """{
  "event": "%(event)s",
  "ticket": {
    "id": "%(id)s",
    "status": "%(status)s",
    "priority": "%(priority)s",
    "tags": "%(tags)s",
    "link": "lumiere.zendesk.com/agent/tickets/%(id)s",
    "requester": {
      "external_id": "%(external_id)s",
      "email": "ann@example.com",
      "phone": "",
      "name": "Ann Example"
    }
  }
}"""


def rendered(*, id: str = "35436", status: str = "Open", priority: str = "High",
             tags: str = "vip amends-late", external_id: str = "", event: str = "updated"
             ) -> bytes:
    return (TRIGGER_BODY % {"id": id, "status": status, "priority": priority, "tags": tags,
                            "external_id": external_id, "event": event}).encode()


async def deliver(client: httpx.AsyncClient, tenant: Tenant, installation: dict[str, Any],
                  body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return await client.post(f"/helpdesk/{tenant.slug}/{installation['id']}/zendesk/events",
                             content=body, headers=headers or webhook_headers(body))


async def cases(db: Database) -> list[Case]:
    async with db.transaction(write=False) as session:
        return list((await session.scalars(select(Case))).all())


@pytest.fixture
async def tenant(db: Database) -> Tenant:
    return await make_org(db)


async def test_a_tagged_ticket_opens_its_case_once_and_solving_it_fixes_the_case(
        client: httpx.AsyncClient, db: Database, tenant: Tenant, zendesk: Zendesk) -> None:
    installation = await install(client, tenant, zendesk)
    opened = await deliver(client, tenant, installation, rendered(event="created"))
    assert opened.status_code == 200, opened.text
    answer = opened.json()
    assert (answer["event"], answer["outcome"], answer["ticket"]) == (
        "opened", "opened", "35436")
    [case] = await cases(db)
    assert case.conversation_ref == "zendesk:35436"
    assert (case.reason, case.severity, case.state) == ("late_delivery", 4, "open")
    assert case.summary == ""  # the local Zendesk has no such ticket to read it from
    assert answer["case"]["reference"] == case.reference
    # The requester became a customer, by their e-mail.
    async with db.transaction(write=False) as session:
        customer = (await session.scalars(select(Customer))).one()
    assert (customer.external_id, customer.name) == ("ann@example.com", "Ann Example")

    again = await deliver(client, tenant, installation, rendered())
    assert again.json()["outcome"] == "existing"
    assert len(await cases(db)) == 1

    solved = await deliver(client, tenant, installation, rendered(status="Solved"))
    assert solved.json()["event"] == "solved"
    assert solved.json()["outcome"] == "fixed"
    [case] = await cases(db)
    assert case.state == "fixed"


async def test_the_ticket_is_read_from_zendesks_api_for_its_subject_and_requester(
        client: httpx.AsyncClient, db: Database, tenant: Tenant, zendesk: Zendesk) -> None:
    zendesk.ticket(35436, subject='Parcel "lost" again', priority="urgent",
                   tags=["amends-lost"],
                   requester={"email": "ann@example.com", "name": "Ann Example",
                              "external_id": "ZD-ann"})
    installation = await install(client, tenant, zendesk)
    answer = await deliver(client, tenant, installation, rendered(tags="amends-lost"))
    assert answer.json()["outcome"] == "opened"
    assert "/api/v2/tickets/35436.json?include=users" in zendesk.asked
    [case] = await cases(db)
    assert (case.summary, case.reason, case.severity) == ('Parcel "lost" again',
                                                          "lost_parcel", 4)  # urgent: 4 at most
    async with db.transaction(write=False) as session:
        customer = (await session.scalars(select(Customer))).one()
    assert customer.external_id == "ZD-ann"
    # A solved ticket needs nothing more from Zendesk.
    zendesk.asked.clear()
    await deliver(client, tenant, installation, rendered(status="Closed"))
    assert zendesk.asked == []
    [case] = await cases(db)
    assert case.state == "fixed"


async def test_a_ticket_without_a_mapped_tag_opens_nothing(
        client: httpx.AsyncClient, db: Database, tenant: Tenant, zendesk: Zendesk) -> None:
    installation = await install(client, tenant, zendesk,
                                 settings={"tag_reasons": {"colis-perdu": "lost_parcel"}})
    answer = await deliver(client, tenant, installation, rendered(tags="amends-late vip"))
    assert answer.json()["outcome"] == "ignored"
    assert await cases(db) == []
    # The installation's own tag names its reason; the requester's Zendesk external id is
    # the customer Amends knows.
    await make_customer(db, tenant, external_id="C-9")
    answer = await deliver(client, tenant, installation,
                           rendered(tags="colis-perdu", external_id="C-9", priority="-"))
    assert answer.json()["outcome"] == "opened"
    [case] = await cases(db)
    assert (case.reason, case.severity) == ("lost_parcel", 3)


@pytest.mark.parametrize("forgery", ["wrong_secret", "body_changed", "no_signature",
                                     "stale", "from_the_future", "not_a_timestamp"])
async def test_a_forged_or_stale_webhook_is_refused_with_401_and_changes_nothing(
        client: httpx.AsyncClient, db: Database, tenant: Tenant, zendesk: Zendesk,
        forgery: str) -> None:
    installation = await install(client, tenant, zendesk)
    body = rendered()
    now = datetime.now(UTC)
    headers = {
        "wrong_secret": lambda: webhook_headers(body, secret=WEBHOOK_SECRET + "x"),
        "body_changed": lambda: webhook_headers(rendered(tags="amends-lost")),
        "no_signature": lambda: {"Content-Type": "application/json"},
        "stale": lambda: webhook_headers(body, at=now - timedelta(minutes=6)),
        "from_the_future": lambda: webhook_headers(body, at=now + timedelta(minutes=6)),
        "not_a_timestamp": lambda: {**webhook_headers(body),
                                    "X-Zendesk-Webhook-Signature-Timestamp": "yesterday"},
    }[forgery]()
    answer = await deliver(client, tenant, installation, body, headers)
    assert answer.status_code == 401, answer.text
    assert answer.json()["code"] == "helpdesk_signature_refused"
    assert await cases(db) == []


async def test_a_webhook_signed_a_few_minutes_ago_is_still_taken(
        client: httpx.AsyncClient, db: Database, tenant: Tenant, zendesk: Zendesk) -> None:
    installation = await install(client, tenant, zendesk)
    body = rendered()
    answer = await deliver(client, tenant, installation, body, webhook_headers(
        body, at=datetime.now(UTC) - timedelta(minutes=4)))
    assert answer.status_code == 200


async def test_the_same_delivery_replayed_is_refused(
        client: httpx.AsyncClient, db: Database, tenant: Tenant, zendesk: Zendesk) -> None:
    installation = await install(client, tenant, zendesk)
    body = rendered()
    headers = webhook_headers(body)
    assert (await deliver(client, tenant, installation, body, headers)).status_code == 200
    replayed = await deliver(client, tenant, installation, body, headers)
    assert replayed.status_code == 401
    assert "used before" in replayed.json()["detail"]


async def test_an_installation_without_a_webhook_secret_refuses_webhooks(
        client: httpx.AsyncClient, db: Database, tenant: Tenant, zendesk: Zendesk) -> None:
    installation = await install(client, tenant, zendesk, webhook_secret="")
    answer = await deliver(client, tenant, installation, rendered())
    assert answer.status_code == 401
    assert "no webhook_secret" in answer.json()["detail"]


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"ticket": {"id": ""}}',
                                  b'{"ticket": {"id": "{{ticket.id}}"}}'])
async def test_a_signed_body_amends_cannot_read_is_a_422_that_changes_nothing(
        client: httpx.AsyncClient, db: Database, tenant: Tenant, zendesk: Zendesk,
        body: bytes) -> None:
    installation = await install(client, tenant, zendesk)
    answer = await deliver(client, tenant, installation, body)
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_zendesk_ticket_event"
    # Nothing was remembered either: the same delivery, fixed, would be taken.
    assert await cases(db) == []


async def test_a_webhook_for_an_unknown_or_paused_installation_is_a_404(
        client: httpx.AsyncClient, db: Database, tenant: Tenant, zendesk: Zendesk) -> None:
    installation = await install(client, tenant, zendesk)
    body = rendered()
    missing = await client.post(
        f"/helpdesk/{tenant.slug}/00000000-0000-7000-8000-000000000000/zendesk/events",
        content=body, headers=webhook_headers(body))
    assert missing.status_code == 404
    await client.patch(f"/v1/helpdesk/installations/{installation['id']}",
                       headers={"Authorization": f"Bearer {tenant.admin_token}"},
                       json={"active": False})
    paused = await deliver(client, tenant, installation, body)
    assert paused.status_code == 404
    assert json.loads(paused.text)["code"] == "helpdesk_installation_not_found"
