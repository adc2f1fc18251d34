"""The agent's panel, opened from a ticket of the test desk: the helpdesk's agent is an Amends
user of the installation's organisation (by e-mail) or is refused in words; the panel's own
token opens it again until it expires; one click opens the ticket's case (the same one every
time after), gives the gesture once and posts the apology with its code into the ticket, as a
reply or an internal note; above the agent's authority a supervisor is asked, and the panel
shows the request's status until it is granted."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from amends.actor import Actor
from amends.config import Settings
from amends.db import Database
from amends.helpdesk import service as helpdesk
from amends.helpdesk.platforms import Ticket
from amends.jobs.worker import Worker
from amends.kit import codes
from amends.kit.clock import clock
from amends.models import Case, Coupon, Delivery, User
from amends.roles import Role
from tests.factories import (
    Tenant,
    bearer,
    make_customer,
    make_incentive,
    make_org,
    make_user,
    set_limit,
    staff_headers,
)
from tests.helpdesk.desk import NAME, PANEL, Desk, install, open_panel, ticket, token_of


async def click(client: httpx.AsyncClient, token: str, incentive_id: uuid.UUID, *,
                reason: str = "late_delivery", severity: int = 4) -> httpx.Response:
    return await client.post("/helpdesk/panel/give", headers={PANEL: token, "HX-Request": "true"},
                             data={"incentive_id": str(incentive_id), "reason": reason,
                                   "severity": str(severity)})


async def count(db: Database, model: type) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def cases_of(db: Database) -> list[Case]:
    async with db.transaction(write=False) as session:
        return list((await session.scalars(select(Case))).all())


async def agent_in(db: Database, tenant: Tenant, email: str = "sam@shop.example",
                   role: Role = Role.AGENT) -> User:
    return await make_user(db, tenant, role=role, email=email)


# --- who the agent is -----------------------------------------------------------------------

async def test_an_agent_without_an_amends_user_is_refused_in_words(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk)
    await agent_in(db, tenant)
    page = await open_panel(client, tenant, installation, agent="nobody@shop.example")
    assert page.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    assert 'data-refused="helpdesk_agent_unknown"' in page.text
    assert "nobody@shop.example has no Amends user in this organisation" in page.text
    assert "invite you with the e-mail address you use in the helpdesk" in page.text
    assert PANEL not in page.text  # no panel token was given
    # Framed by the helpdesk only, even when refused.
    assert "frame-ancestors https://desk.example" in page.headers["content-security-policy"]


async def test_the_agents_email_is_matched_in_any_case(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk)
    await agent_in(db, tenant)
    page = await open_panel(client, tenant, installation, agent=" Sam@Shop.EXAMPLE ")
    assert page.status_code == 200, page.text
    assert "Not yet a customer in Amends" in page.text
    assert page.headers["cache-control"] == "no-store"


async def test_a_deactivated_user_is_refused_and_their_open_panel_stops_working(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk)
    user = await agent_in(db, tenant)
    token = token_of(await open_panel(client, tenant, installation, agent=user.email))
    async with db.transaction() as session:
        await session.execute(update(User).where(User.organization_id == tenant.id,
                                                 User.id == user.id).values(active=False))
    page = await open_panel(client, tenant, installation, agent=user.email)
    assert page.status_code == 403
    assert "has no Amends user in this organisation" in page.text
    again = await client.get("/helpdesk/panel", headers={PANEL: token})
    assert again.status_code == 401


async def test_a_user_of_another_organisation_with_the_same_email_is_never_used(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant, other = await make_org(db), await make_org(db)
    installation = await install(client, tenant, desk)
    await agent_in(db, other, role=Role.SUPERVISOR)
    page = await open_panel(client, tenant, installation, agent="sam@shop.example")
    assert page.status_code == 403
    assert 'data-refused="helpdesk_agent_unknown"' in page.text
    # Installed in the other organisation too, the same person is that organisation's user
    # there alone: the first organisation's tickets stay refused.
    await install(client, other, desk)
    assert (await open_panel(client, tenant, installation,
                             agent="sam@shop.example")).status_code == 403


async def test_a_request_without_the_installations_secret_or_of_a_paused_one_is_refused(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk)
    await agent_in(db, tenant)
    forged = await open_panel(client, tenant, installation, agent="sam@shop.example",
                              secret="guessed")
    assert forged.status_code == 401
    assert 'data-refused="helpdesk_signature_refused"' in forged.text
    await client.patch(f"/v1/helpdesk/installations/{installation['id']}",
                       headers=bearer(tenant.admin_token), json={"active": False})
    paused = await open_panel(client, tenant, installation, agent="sam@shop.example")
    assert paused.status_code == 404
    assert "ask your Amends administrator to install it again" in paused.text


# --- the panel's own token ------------------------------------------------------------------

async def test_the_panel_without_its_token_or_with_a_wrong_one_is_refused(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk)
    await agent_in(db, tenant)
    token = token_of(await open_panel(client, tenant, installation, agent="sam@shop.example"))
    incentive = await make_incentive(db, tenant, value=500)
    wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for headers in ({}, {PANEL: "nonsense"}, {PANEL: wrong}):
        page = await client.get("/helpdesk/panel", headers=headers)
        assert page.status_code == 401, headers
        assert "This panel has expired: open the ticket again." in page.text
        given = await client.post("/helpdesk/panel/give", headers=headers, data={
            "incentive_id": str(incentive.id), "reason": "late_delivery", "severity": "3"})
        assert given.status_code == 401
    # A cookie of the console does not open the panel either.
    staff = await staff_headers(db, await agent_in(db, tenant, "other@shop.example"))
    assert (await client.get("/helpdesk/panel", headers=staff)).status_code == 401
    assert (await client.get("/helpdesk/panel", headers={PANEL: token})).status_code == 200
    assert await count(db, Coupon) == 0


async def test_a_panel_expires_after_its_hours(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk)
    await agent_in(db, tenant)
    token = token_of(await open_panel(client, tenant, installation, agent="sam@shop.example"))
    clock.advance(timedelta(hours=7, minutes=50))
    assert (await client.get("/helpdesk/panel", headers={PANEL: token})).status_code == 200
    clock.advance(timedelta(minutes=20))
    page = await client.get("/helpdesk/panel", headers={PANEL: token})
    assert page.status_code == 401
    assert 'data-refused="helpdesk_panel_expired"' in page.text


# --- the one click --------------------------------------------------------------------------

async def test_one_click_opens_the_tickets_case_gives_the_gesture_and_posts_the_apology(
        client: httpx.AsyncClient, db: Database, desk: Desk, settings: Settings) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk)
    await agent_in(db, tenant)
    await set_limit(db, tenant, subject="role:agent", max_gesture=2000)
    incentive = await make_incentive(db, tenant, value=1000, name="Sorry: 10 EUR off")
    page = await open_panel(client, tenant, installation, agent="sam@shop.example")
    token = token_of(page)
    # Unknown to Amends: the agent adds the requester as a customer first.
    assert "Not yet a customer in Amends" in page.text
    added = await client.post("/helpdesk/panel/customer", headers={PANEL: token})
    assert "Customer added from the ticket." in added.text
    assert 'data-customer="ann@example.com"' in added.text
    assert 'data-give="Sorry: 10 EUR off"' in added.text
    # The ticket's tag and priority chose the reason and severity.
    assert re.search(r'<option value="late_delivery" selected', added.text)
    assert re.search(r"<option selected>4</option>", added.text)

    given = await click(client, token, incentive.id)
    assert given.status_code == 200, given.text
    assert "Given: the apology with the code is being posted to the ticket." in given.text
    [case] = await cases_of(db)
    assert case.conversation_ref == f"{NAME}:123"
    assert case.channel == "helpdesk"
    assert (case.reason, case.severity) == ("late_delivery", 4)
    assert case.summary == "Where is my parcel?"
    async with db.transaction(write=False) as session:
        coupon = (await session.scalars(select(Coupon))).one()
    assert codes.display(coupon.code) in given.text  # given for this ticket, grouped to read
    assert "data-given-here" in given.text

    await Worker(db, settings).run_until_idle()
    [comment] = desk.comments()
    assert desk.receiver.requests[0].path == "/api/v2/tickets/123.json"
    assert comment["public"] is True
    assert coupon.code in comment["body"].replace("-", "")
    async with db.transaction(write=False) as session:
        message = (await session.scalars(select(Delivery))).one()
    assert (message.channel, message.status, message.provider_id) == (
        "helpdesk", "delivered", "7001")

    # A second click on the same ticket gives nothing twice and posts nothing new.
    again = await click(client, token, incentive.id)
    assert "This gesture was given before for this ticket; nothing new was sent." in again.text
    await Worker(db, settings).run_until_idle()
    assert len(desk.comments()) == 1
    assert await count(db, Coupon) == 1
    assert len(await cases_of(db)) == 1


async def test_the_panel_reopened_on_the_same_ticket_reuses_its_case(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk)
    await agent_in(db, tenant)
    await agent_in(db, tenant, "kim@shop.example")
    await make_customer(db, tenant, external_id="C-1", email="ann@example.com")
    first, second = (await make_incentive(db, tenant, value=500, name="Five"),
                     await make_incentive(db, tenant, value=600, name="Six"))
    await click(client, token_of(await open_panel(client, tenant, installation,
                                                  agent="sam@shop.example")), first.id)
    other_token = token_of(await open_panel(client, tenant, installation,
                                            agent="kim@shop.example"))
    page = await client.get("/helpdesk/panel", headers={PANEL: other_token})
    [case] = await cases_of(db)
    assert f'data-case="{case.reference}"' in page.text
    assert "this ticket" in page.text
    await click(client, other_token, second.id, reason="poor_service")
    assert len(await cases_of(db)) == 1
    # A new ticket of the same customer is a case of its own.
    third = token_of(await open_panel(client, tenant, installation, agent="sam@shop.example",
                                      on=ticket("124")))
    await click(client, third, first.id)
    assert sorted(c.conversation_ref or "" for c in await cases_of(db)) == [
        f"{NAME}:123", f"{NAME}:124"]


async def test_reply_as_note_posts_an_internal_note(
        client: httpx.AsyncClient, db: Database, desk: Desk, settings: Settings) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk, reply_as="note")
    await agent_in(db, tenant)
    await make_customer(db, tenant, external_id="C-1", email="ann@example.com")
    incentive = await make_incentive(db, tenant, value=500)
    token = token_of(await open_panel(client, tenant, installation, agent="sam@shop.example"))
    page = await client.get("/helpdesk/panel", headers={PANEL: token})
    assert "added to this ticket as an internal note" in page.text
    given = await click(client, token, incentive.id)
    assert "is being added to the ticket as an internal note" in given.text
    await Worker(db, settings).run_until_idle()
    [comment] = desk.comments()
    assert comment["public"] is False


async def test_above_the_agents_authority_a_supervisor_is_asked_and_the_panel_follows_it(
        client: httpx.AsyncClient, db: Database, desk: Desk, settings: Settings) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk)
    await agent_in(db, tenant)
    await set_limit(db, tenant, subject="role:agent", max_gesture=2000)
    supervisor = await staff_headers(db, await make_user(db, tenant, role=Role.SUPERVISOR))
    await make_customer(db, tenant, external_id="C-1", email="ann@example.com")
    big = await make_incentive(db, tenant, value=5000, name="Fifty")
    token = token_of(await open_panel(client, tenant, installation, agent="sam@shop.example"))
    asked = await click(client, token, big.id)
    assert "Above your authority: a supervisor has been asked." in asked.text
    assert 'data-approval-status="pending"' in asked.text
    assert "Waiting for a supervisor to decide." in asked.text
    assert "Asked of a supervisor" not in asked.text  # shown once, at the top
    assert await count(db, Coupon) == 0
    approval_id = re.search(r'id="approval-([0-9a-f-]+)"', asked.text).group(1)  # type: ignore[union-attr]
    status = await client.get(f"/helpdesk/panel/approvals/{approval_id}",
                              headers={PANEL: token})
    assert 'data-approval-status="pending"' in status.text
    assert 'hx-trigger="every 3s"' in status.text

    granted = await client.post(f"/v1/approvals/{approval_id}/grant", headers=supervisor,
                                json={"reason": "Loyal customer"})
    assert granted.status_code == 200, granted.text
    status = await client.get(f"/helpdesk/panel/approvals/{approval_id}",
                              headers={PANEL: token})
    assert 'data-approval-status="granted"' in status.text
    assert "Granted: the gesture is given" in status.text
    assert "every 3s" not in status.text  # no more polling
    await Worker(db, settings).run_until_idle()
    [comment] = desk.comments()
    async with db.transaction(write=False) as session:
        coupon = (await session.scalars(select(Coupon))).one()
    assert coupon.code in comment["body"].replace("-", "")
    # Another panel's token does not read this organisation's request... of another one.
    other = await make_org(db)
    await install(client, other, desk)
    await agent_in(db, other)
    foreign = token_of(await open_panel(client, other, {"id": (await client.get(
        "/v1/helpdesk/installations", headers=bearer(other.admin_token))).json()["items"][0][
        "id"]}, agent="sam@shop.example"))
    assert (await client.get(f"/helpdesk/panel/approvals/{approval_id}",
                             headers={PANEL: foreign})).status_code == 404


@pytest.mark.postgres_only
async def test_twenty_clicks_at_once_open_one_case_and_give_one_coupon(
        client: httpx.AsyncClient, db: Database, desk: Desk, settings: Settings) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk)
    await agent_in(db, tenant)
    await make_customer(db, tenant, external_id="C-1", email="ann@example.com")
    incentive = await make_incentive(db, tenant, value=500)
    token = token_of(await open_panel(client, tenant, installation, agent="sam@shop.example"))
    answers = await asyncio.gather(*(click(client, token, incentive.id) for _ in range(20)))
    assert [a.status_code for a in answers] == [200] * 20
    assert sum("being posted to the ticket" in a.text for a in answers) == 1
    assert len(await cases_of(db)) == 1
    assert await count(db, Coupon) == 1
    assert await count(db, Delivery) == 1
    await Worker(db, settings).run_until_idle()
    assert len(desk.comments()) == 1


async def test_an_apology_for_a_ticket_whose_app_was_uninstalled_is_not_posted_elsewhere(
        client: httpx.AsyncClient, db: Database, desk: Desk, settings: Settings) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk)
    await agent_in(db, tenant)
    await make_customer(db, tenant, external_id="C-1", email="ann@example.com")
    incentive = await make_incentive(db, tenant, value=500)
    token = token_of(await open_panel(client, tenant, installation, agent="sam@shop.example"))
    await click(client, token, incentive.id)
    # The helpdesk channel is set up too (another Zendesk-shaped helpdesk): never used for
    # this ticket, which belongs to the uninstalled app.
    admin = bearer(tenant.admin_token)
    await client.put("/v1/channels/helpdesk", headers=admin, json={"settings": {
        "base_url": desk.receiver.url, "email": "bot@shop.example", "api_token": "t"}})
    await client.delete(f"/v1/helpdesk/installations/{installation['id']}", headers=admin)
    await Worker(db, settings).run_until_idle()
    assert desk.receiver.requests == []
    async with db.transaction(write=False) as session:
        message = (await session.scalars(select(Delivery))).one()
    assert message.status != "delivered"
    assert message.error is not None
    assert "was uninstalled" in message.error


async def test_a_refused_click_says_why_in_the_panel_and_gives_nothing(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk)
    await agent_in(db, tenant)
    await make_customer(db, tenant, external_id="C-1", email="ann@example.com")
    token = token_of(await open_panel(client, tenant, installation, agent="sam@shop.example"))
    refused = await click(client, token, uuid.uuid4())
    assert refused.status_code == 200, refused.text
    assert 'role="alert"' in refused.text
    assert 'data-customer="C-1"' in refused.text
    unknown_reason = await click(client, token,
                                 (await make_incentive(db, tenant, value=500)).id,
                                 reason="bad_weather")
    assert unknown_reason.status_code == 200, unknown_reason.text
    assert 'role="alert"' in unknown_reason.text
    assert await count(db, Coupon) == 0
    assert await cases_of(db) == []


async def test_a_requester_amends_cannot_use_is_not_added_and_the_panel_says_why(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk)
    await agent_in(db, tenant)
    page = await open_panel(client, tenant, installation, agent="sam@shop.example",
                            on=ticket(requester={"name": "Anonymous"}))
    assert "add the customer in Amends first" in page.text
    assert "data-add-customer" not in page.text
    added = await client.post("/helpdesk/panel/customer", headers={PANEL: token_of(page)})
    assert added.status_code == 200, added.text
    assert 'role="alert"' in added.text
    assert "Not yet a customer in Amends" in added.text


async def test_a_platforms_severity_beyond_a_cases_is_brought_within_one_to_four(
        client: httpx.AsyncClient, db: Database, desk: Desk) -> None:
    tenant = await make_org(db)
    installation = await install(client, tenant, desk)
    user = await agent_in(db, tenant)
    customer = await make_customer(db, tenant, external_id="C-1", email="ann@example.com")
    incentive = await make_incentive(db, tenant, value=500)
    async with db.transaction() as session:
        found = await helpdesk.get_installation(
            session, Actor.system(tenant.id, "tests"),
            installation_id=uuid.UUID(installation["id"]))
        actor, _ = await helpdesk.agent(session, found, user.email)
        done = await helpdesk.make_amends(session, actor, found, Ticket(id="77"),
                                          customer=customer, incentive=incentive,
                                          reason="late_delivery", severity=5)
    assert done.case.severity == 4
    assert done.given.coupon is not None
