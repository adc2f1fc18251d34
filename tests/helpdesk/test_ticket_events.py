"""A helpdesk's ticket events: a ticket created or tagged with a tag the installation maps to a
reason opens its case (the requester made a customer when Amends does not know them), once
however often the event comes; a ticket without such a tag is left alone; solving the ticket
moves its case to `fixed`, the steps in between skipped with the reason said."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from amends.db import Database
from amends.models import Case, CaseEvent, Customer
from amends.roles import Role
from tests.factories import Tenant, make_customer, make_org, make_user, staff_headers
from tests.helpdesk.desk import NAME, SECRET_HEADER, SHARED_SECRET, Desk, install, ticket


async def send(client: httpx.AsyncClient, tenant: Tenant, installation: dict[str, Any],
               kind: str, on: dict[str, Any]) -> dict[str, Any]:
    answer = await client.post(f"/test-desk/{tenant.slug}/{installation['id']}/events",
                               headers={SECRET_HEADER: SHARED_SECRET},
                               json={"kind": kind, "ticket": on})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def the_case(db: Database) -> Case:
    async with db.transaction(write=False) as session:
        return (await session.scalars(select(Case))).one()


async def test_a_mapped_tag_opens_the_tickets_case_for_a_new_customer_once(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk,
                                 tag_reasons={"Parcel-Late": "late_delivery"})
    on = ticket("88", tags=["vip", "parcel-late"], priority="urgent",
                requester={"external_id": "zd-user-5", "email": "Bea@Example.com",
                           "name": "Bea Example"})
    handled = await send(client, tenant, installation, "tagged", on)
    assert handled["outcome"] == "opened"
    case = await the_case(db)
    assert handled["case"] == case.reference
    # The desk reads "urgent" as 5: a case's severity is at most 4.
    assert (case.reason, case.severity, case.channel) == ("late_delivery", 4, "helpdesk")
    assert case.conversation_ref == f"{NAME}:88"
    assert case.summary == "Where is my parcel?"
    async with db.transaction(write=False) as session:
        customer = (await session.scalars(select(Customer))).one()
    assert (customer.external_id, customer.email, customer.name) == (
        "zd-user-5", "bea@example.com", "Bea Example")
    assert customer.id == case.customer_id
    # The same event again (helpdesks retry) and the ticket's creation find the same case.
    assert (await send(client, tenant, installation, "tagged", on))["outcome"] == "existing"
    assert (await send(client, tenant, installation, "opened", on))["outcome"] == "existing"
    assert (await the_case(db)).id == case.id


async def test_a_known_customer_is_found_by_email_and_the_default_tags_apply(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk)
    known = await make_customer(db, tenant, external_id="C-7", email="ann@example.com")
    handled = await send(client, tenant, installation, "opened",
                         ticket("89", tags=["amends-damaged"], priority="low"))
    assert handled["outcome"] == "opened"
    case = await the_case(db)
    assert (case.customer_id, case.reason, case.severity) == (known.id, "damaged_item", 2)


async def test_a_ticket_without_a_mapped_tag_is_left_alone(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk)
    handled = await send(client, tenant, installation, "opened",
                         ticket("90", tags=["question", "billing"]))
    assert handled["outcome"] == "ignored"
    assert handled["why"] == "none of the ticket's tags names a reason"
    async with db.transaction(write=False) as session:
        assert (await session.scalars(select(Case))).all() == []
        assert (await session.scalars(select(Customer))).all() == []
    # With a default reason, every new ticket opens a case.
    await client.patch(f"/v1/helpdesk/installations/{installation['id']}",
                       headers={"Authorization": f"Bearer {tenant.admin_token}"},
                       json={"settings": {"default_reason": "poor_service"}})
    handled = await send(client, tenant, installation, "opened", ticket("91", tags=[]))
    assert handled["outcome"] == "opened"
    assert (await the_case(db)).reason == "poor_service"


async def test_solving_the_ticket_fixes_its_case_skipping_the_steps_between(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk)
    on = ticket("92")
    await send(client, tenant, installation, "opened", on)
    handled = await send(client, tenant, installation, "solved", on)
    assert handled["outcome"] == "fixed"
    case = await the_case(db)
    assert case.state == "fixed"
    assert case.fixed_at is not None
    assert case.skipped == {"apologised": "solved in the helpdesk",
                            "reviewing": "solved in the helpdesk"}
    assert case.remedy is not None
    assert "Ticket 92 solved" in case.remedy
    async with db.transaction(write=False) as session:
        kinds = [e.kind for e in (await session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id)
            .order_by(CaseEvent.created_at))).all()]
    assert kinds[0] == "opened"
    assert len(kinds) >= 2
    # Solved again (a reopened and solved ticket): nothing moves back or forth.
    again = await send(client, tenant, installation, "solved", on)
    assert again["outcome"] == "existing"
    assert "fixed already" in again["why"]
    # A solved ticket Amends never had a case for is nothing to do.
    assert (await send(client, tenant, installation, "solved",
                       ticket("93")))["outcome"] == "ignored"


async def test_events_of_a_paused_installation_or_without_its_secret_are_refused(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk)
    address = f"/test-desk/{tenant.slug}/{installation['id']}/events"
    forged = await client.post(address, headers={SECRET_HEADER: "guessed"},
                               json={"kind": "opened", "ticket": ticket("94")})
    assert forged.status_code == 401
    assert forged.json()["code"] == "helpdesk_signature_refused"
    await client.patch(f"/v1/helpdesk/installations/{installation['id']}",
                       headers={"Authorization": f"Bearer {tenant.admin_token}"},
                       json={"active": False})
    paused = await client.post(address, headers={SECRET_HEADER: SHARED_SECRET},
                               json={"kind": "opened", "ticket": ticket("94")})
    assert paused.status_code == 404
    async with db.transaction(write=False) as session:
        assert (await session.scalars(select(Case))).all() == []


async def test_the_case_page_links_back_to_the_ticket_while_the_app_is_installed(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk)
    await send(client, tenant, installation, "opened", ticket("95"))
    case = await the_case(db)
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    page = await client.get(f"/cases/{case.id}", headers=agent)
    assert page.status_code == 200
    link = re.search(r'<a class="button secondary" href="([^"]+)"[^>]*data-ticket-link>([^<]+)<',
                     page.text)
    assert link is not None, page.text
    assert link.group(1) == "https://shop.desk.example/tickets/95"
    assert link.group(2).strip() == f"Open ticket {NAME}:95 in Test desk ↗"
    # Uninstalled: the case keeps its ticket reference, without a link to a helpdesk it no
    # longer knows.
    await client.delete(f"/v1/helpdesk/installations/{installation['id']}",
                        headers={"Authorization": f"Bearer {tenant.admin_token}"})
    page = await client.get(f"/cases/{case.id}", headers=agent)
    assert "data-ticket-link" not in page.text
    assert f"conversation {NAME}:95" in page.text


@pytest.mark.postgres_only
async def test_the_same_event_ten_times_at_once_opens_one_case_for_one_new_customer(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk)
    on = ticket("96", requester={"email": "dee@example.com", "name": "Dee"})
    answers = await asyncio.gather(*(
        client.post(f"/test-desk/{tenant.slug}/{installation['id']}/events",
                    headers={SECRET_HEADER: SHARED_SECRET},
                    json={"kind": "opened", "ticket": on}) for _ in range(10)))
    assert [a.status_code for a in answers] == [200] * 10, [a.text for a in answers]
    assert sorted(a.json()["outcome"] for a in answers) == ["existing"] * 9 + ["opened"]
    async with db.transaction(write=False) as session:
        assert len((await session.scalars(select(Case))).all()) == 1
        assert len((await session.scalars(select(Customer))).all()) == 1
