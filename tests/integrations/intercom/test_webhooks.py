"""Intercom's webhooks open and fix cases: a conversation tagged with a mapped tag opens its
case (the contact made a customer if Amends does not know them), closing it moves the case to
fixed. Notifications are signed (X-Hub-Signature), from the installation's workspace, recent,
and act once."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from amends.db import Database
from amends.helpdesk import service as helpdesk
from amends.models import Case, Customer
from tests.factories import make_customer
from tests.integrations.intercom.workspace import (
    CONVERSATION,
    WORKSPACE,
    Workspace,
    contact,
    conversation,
)


async def cases(db: Database) -> list[Case]:
    async with db.transaction(write=False) as session:
        return list((await session.scalars(select(Case))).all())


async def test_a_tagged_conversation_opens_its_case_and_closing_it_fixes_the_case(
        workspace: Workspace, db: Database) -> None:
    await make_customer(db, workspace.tenant, external_id="C-1", email="ann@example.com")
    tagged = conversation(tags=("vip", "amends-late"), priority="priority")
    opened = await workspace.notify("conversation_part.tag.created", tagged, id="notif_a")
    assert opened.status_code == 200, opened.text
    assert opened.json()["outcome"] == "opened"
    [case] = await cases(db)
    assert case.conversation_ref == f"intercom:{CONVERSATION}"
    assert (case.reason, case.severity) == ("late_delivery", 4)
    assert case.summary == "My parcel is a week late & still not here."
    assert opened.json()["case"] == case.reference
    # The case links back to the conversation in the teammates' inbox.
    async with db.transaction(write=False) as session:
        assert await helpdesk.ticket_url(session, case) == (
            f"https://app.intercom.com/a/inbox/{WORKSPACE}/inbox/conversation/{CONVERSATION}")

    # Intercom delivers at least once: the same notification again acts no more.
    again = await workspace.notify("conversation_part.tag.created", tagged, id="notif_a")
    assert again.status_code == 200
    assert again.json()["outcome"] == "duplicate"
    # Another tag on the same conversation finds the case it has.
    retagged = await workspace.notify("conversation_part.tag.created", tagged, id="notif_b")
    assert retagged.json()["outcome"] == "existing"
    assert len(await cases(db)) == 1

    closed = await workspace.notify("conversation.admin.closed",
                                    conversation(tags=("amends-late",), state="closed"),
                                    id="notif_c")
    assert closed.json()["outcome"] == "fixed"
    [case] = await cases(db)
    assert case.state == "fixed"


async def test_a_contact_amends_does_not_know_becomes_a_customer_when_their_case_opens(
        workspace: Workspace, db: Database) -> None:
    who = contact(external_id="C-77", email="zoe@example.com", name="Zoe")
    started = await workspace.notify("conversation.user.created",
                                     conversation(tags=("amends-damaged",), customer=who))
    assert started.json()["outcome"] == "opened"
    async with db.transaction(write=False) as session:
        customer = await session.scalar(select(Customer))
    assert customer is not None
    assert (customer.external_id, customer.email, customer.name) == (
        "C-77", "zoe@example.com", "Zoe")
    [case] = await cases(db)
    assert case.reason == "damaged_item"


async def test_a_conversation_without_a_mapped_tag_or_another_topic_changes_nothing(
        workspace: Workspace, db: Database) -> None:
    plain = await workspace.notify("conversation.user.created", conversation(tags=("vip",)))
    assert plain.json()["outcome"] == "ignored"
    ping = await workspace.notify("ping", {"type": "ping", "message": "something"},
                                  id="notif_ping")
    assert ping.status_code == 200
    assert ping.json()["outcome"] == "ignored"
    assert await cases(db) == []
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 0


async def test_a_forged_foreign_or_stale_notification_is_refused_with_401(
        workspace: Workspace, db: Database) -> None:
    await make_customer(db, workspace.tenant, external_id="C-1", email="ann@example.com")
    tagged = conversation(tags=("amends-late",))
    topic = "conversation_part.tag.created"
    for signature in ("", "sha1=" + "0" * 40, "sha256=" + "0" * 64):
        forged = await workspace.notify(topic, tagged, signature=signature)
        assert forged.status_code == 401, signature
        assert forged.json()["code"] == "helpdesk_signature_refused"
    foreign = await workspace.notify(topic, tagged, app_id="someoneelse")
    assert foreign.status_code == 401
    stale = await workspace.notify(topic, tagged, sent=time.time() - 2 * 86400)
    assert stale.status_code == 401
    assert await cases(db) == []
    # The genuine notification still acts (nothing above spent its id).
    assert (await workspace.notify(topic, tagged)).json()["outcome"] == "opened"
