"""An Intercom teammate makes amends from the conversation: Amends' inbox app answers Canvas Kit
with the customer, their cases and gestures and the gestures to give, a confirm step, and the
result; the apology with the code is posted into the conversation. Every answer is checked
against the components Intercom documents (`canvas_schema`), and requests Amends cannot trust
are refused with 401."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from amends.config import Settings
from amends.db import Database
from amends.jobs.worker import Worker
from amends.kit.clock import clock
from amends.kit.codes import display
from amends.models import Case, Coupon, Customer, Delivery, User
from amends.roles import Role
from tests.factories import (
    bearer,
    make_customer,
    make_incentive,
    make_org,
    make_user,
    staff_headers,
)
from tests.integrations.intercom import canvas_schema
from tests.integrations.intercom.canvas_schema import as_text, components
from tests.integrations.intercom.workspace import (
    ACCESS_TOKEN,
    ADMIN_ID,
    AGENT,
    CONVERSATION,
    Workspace,
    admin,
    contact,
    conversation,
    sign,
)
from tests.peers import application, from_address
from tests.receivers import http_receiver


async def count(db: Database, model: Any) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def give_id(shown: dict[str, Any], name: str) -> str:
    """The id of the list item that gives the gesture `name`."""
    for component in components(shown):
        for item in component.get("items", []) if component["type"] == "list" else []:
            if item["title"] == name:
                return str(item["id"])
    raise AssertionError(f"{name} is not offered:\n{as_text(shown)}")


async def test_a_signed_initialize_shows_the_customer_and_the_gestures_that_fit_best(
        workspace: Workspace, db: Database) -> None:
    await make_customer(db, workspace.tenant, external_id="C-1", email="ann@example.com",
                        name="Ann Customer")
    for value in (300, 500, 1000, 1500):
        await make_incentive(db, workspace.tenant, value=value, name=f"{value // 100} off",
                             reasons=["late_delivery"])
    workspace.conversation = conversation(tags=("amends-late",), priority="priority")
    shown = await workspace.initialize()
    # The first canvas as the teammate reads it: short (Intercom asks for less than 400
    # pixels), the reason from the conversation's tag, the severity from its priority.
    text = as_text(shown)
    assert text.splitlines()[:3] == ["# Ann Customer", "  ann@example.com · Standard",
                                     "  Late delivery, severity 4"]
    assert text.count(" > ") == 3
    assert text.endswith("  Gestures given: 0 · open cases: 0\n[More]")
    # Opening the conversation again (or another participant's) shows it again: initialize
    # is never refused as a replay, and writes nothing.
    again = await workspace.initialize()
    assert as_text(again) == text
    assert await count(db, Case) == 0

    # More: the reason and severity to choose, every gesture, the history.
    more = await workspace.click(shown, "more")
    text = as_text(more)
    assert "Reason: <Late delivery v>" in text
    assert "Severity: <4 v>" in text
    assert " > 10 off · €10.00 · made for late delivery" in text
    assert text.count(" > ") == 4
    assert "# Gestures given\n  None yet." in text
    assert "posted to this conversation as a reply" in text
    # Another reason and severity chosen, then shown.
    damaged = await workspace.click(more, "show", {"reason": "damaged_item", "severity": "2"})
    assert "Reason: <Damaged item v>" in as_text(damaged)
    assert "Severity: <2 v>" in as_text(damaged)


async def test_a_forged_missing_or_altered_signature_is_refused_with_401(
        workspace: Workspace) -> None:
    body = json.dumps(workspace.request()).encode()
    url = workspace.urls["initialize"]
    assert (await workspace.send(url, body)).status_code == 200
    for signature in ("", "0" * 64, sign(body, "another-app-secret"),
                      sign(body)[:40],  # a SHA-1-long signature, as the docs' example
                      "sha256=" + sign(body)):
        refused = await workspace.send(url, body, signature=signature)
        assert refused.status_code == 401, signature
        assert refused.json()["code"] == "helpdesk_signature_refused"
    # The body changed after it was signed (another teammate's e-mail).
    altered = body.replace(AGENT.encode(), b"boss@shop.example")
    refused = await workspace.send(url, altered, signature=sign(body))
    assert refused.status_code == 401
    # Signed byte for byte: the same JSON with other spacing is another body.
    respaced = json.dumps(workspace.request(), indent=1).encode()
    assert (await workspace.send(url, respaced, signature=sign(body))).status_code == 401


async def test_a_request_from_another_workspace_is_refused_with_401(
        workspace: Workspace) -> None:
    body = workspace.request(workspace_id="someoneelse")
    refused = await workspace.send(workspace.urls["initialize"], body)
    assert refused.status_code == 401
    assert "another Intercom workspace" in refused.json()["detail"]


async def test_a_teammate_is_mapped_by_email_within_the_organisation_only(
        workspace: Workspace, db: Database) -> None:
    await make_customer(db, workspace.tenant, external_id="C-1", email="ann@example.com")
    # The same person's e-mail in another case works.
    workspace.admin = admin(email="Sam@Shop.Example")
    shown = await workspace.initialize()
    assert "[More]" in as_text(shown)
    # A teammate whose e-mail is an Amends user's in another organisation gets no one's
    # authority: a canvas says why, and offers nothing to click.
    other = await make_org(db)
    await make_user(db, other, role=Role.ADMIN, email="lee@shop.example")
    workspace.admin = admin(email="lee@shop.example", id="99")
    refused = await workspace.initialize()
    assert as_text(refused).startswith("# Amends\n! lee@shop.example has no Amends user")
    assert canvas_schema.ids(refused) == []
    assert "stored_data" not in refused["canvas"]


async def test_confirming_a_gesture_gives_it_once_and_posts_the_code_into_the_conversation(
        workspace: Workspace, db: Database, settings: Settings) -> None:
    await make_customer(db, workspace.tenant, external_id="C-1", email="ann@example.com",
                        name="Ann Customer")
    await make_incentive(db, workspace.tenant, value=1000, name="Ten off")
    workspace.conversation = conversation(tags=("amends-late",))
    shown = await workspace.initialize()

    asked = await workspace.click(shown, give_id(shown, "Ten off"))
    assert as_text(asked) == ("Give **Ten off** (€10.00) to **Ann Customer**?\n"
                              "  Reason: Late delivery\n  Severity: 3\n[Confirm]\n[Back]")
    assert await count(db, Coupon) == 0  # nothing is given before the teammate confirms

    confirming = workspace.submission(asked, "confirm")
    answer = await workspace.send(workspace.urls["submit"], confirming)
    assert answer.status_code == 200, answer.text
    given = canvas_schema.check(answer.json())
    text = as_text(given)
    async with db.transaction(write=False) as session:
        coupon = await session.scalar(select(Coupon))
        case = await session.scalar(select(Case))
    assert coupon is not None
    assert case is not None
    assert f"Given: **Ten off**, code **{display(coupon.code)}**." in text
    assert "being posted to the conversation" in text
    assert case.conversation_ref == f"intercom:{CONVERSATION}"
    assert case.reason == "late_delivery"

    # The same confirm again (a replay, or a double click) is refused and gives nothing.
    replayed = await workspace.send(workspace.urls["submit"], confirming)
    assert replayed.status_code == 401
    assert replayed.json()["code"] == "helpdesk_signature_refused"
    assert await count(db, Coupon) == 1

    await Worker(db, settings).run_until_idle()
    [request] = workspace.api.requests
    assert request.path == f"/conversations/{CONVERSATION}/reply"
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.headers["Intercom-Version"] == "2.14"
    reply = request.json()
    assert reply["message_type"] == "comment"
    assert reply["type"] == "admin"
    assert reply["admin_id"] == ADMIN_ID  # the teammate who gave it
    assert display(coupon.code) in reply["body"]
    assert reply["body"].startswith("<p>")

    # Back to the customer: the gesture is listed, its message delivered; a second click on
    # the same gesture for this conversation gives nothing new.
    back = await workspace.click(given, "back")
    assert f"Ten off: {display(coupon.code)} · Active" in as_text(back)
    assert "Delivered" in as_text(back)
    asked = await workspace.click(back, give_id(back, "Ten off"))
    again = await workspace.click(asked, "confirm")
    assert "was given before for this conversation" in as_text(again)
    assert await count(db, Coupon) == 1
    await Worker(db, settings).run_until_idle()
    assert len(workspace.api.requests) == 1


async def test_the_apology_is_an_internal_note_when_the_installation_says_so(
        client: Any, db: Database, settings: Settings, workspace: Workspace) -> None:
    changed = await client.patch(
        f"/v1/helpdesk/installations/{workspace.installation['id']}",
        headers={"Authorization": f"Bearer {workspace.tenant.admin_token}"},
        json={"settings": {"reply_as": "note"}, "secrets": {"admin_id": "4242"}})
    assert changed.status_code == 200, changed.text
    await make_customer(db, workspace.tenant, external_id="C-1", email="ann@example.com")
    await make_incentive(db, workspace.tenant, value=500, name="Five off")
    shown = await workspace.click(await workspace.initialize(), "more")
    assert "added to this conversation as an internal note" in as_text(shown)
    given = await workspace.click(await workspace.click(shown, give_id(shown, "Five off")),
                                  "confirm")
    assert "being added to the conversation as an internal note" in as_text(given)
    await Worker(db, settings).run_until_idle()
    [reply] = workspace.replies()
    assert reply["message_type"] == "note"
    assert reply["admin_id"] == "4242"  # the teammate the installation names


async def test_an_altered_expired_or_borrowed_canvas_is_refused_with_401(
        workspace: Workspace, db: Database) -> None:
    await make_customer(db, workspace.tenant, external_id="C-1", email="ann@example.com")
    small = await make_incentive(db, workspace.tenant, value=500, name="Five off")
    big = await make_incentive(db, workspace.tenant, value=1500, name="Fifteen off")
    shown = await workspace.initialize()
    asked = await workspace.click(shown, give_id(shown, "Five off"))
    url = workspace.urls["submit"]

    # The confirm step's gesture changed in the canvas's stored data.
    altered = workspace.submission(asked, "confirm")
    altered["current_canvas"] = copy.deepcopy(altered["current_canvas"])
    stored = altered["current_canvas"]["stored_data"]
    assert stored["incentive"] == str(small.id)
    stored["incentive"] = str(big.id)
    assert (await workspace.send(url, altered)).status_code == 401
    # No stored data at all.
    bare = workspace.submission(asked, "confirm")
    bare["current_canvas"] = {"content": asked["canvas"]["content"]}
    assert (await workspace.send(url, bare)).status_code == 401
    # Issued for another conversation, or another teammate.
    moved = workspace.submission(asked, "confirm")
    moved["conversation"] = conversation(id="555")
    moved["context"]["conversation_id"] = 555
    assert (await workspace.send(url, moved)).status_code == 401
    borrowed = workspace.submission(asked, "confirm")
    borrowed["admin"] = admin(id="1")
    assert (await workspace.send(url, borrowed)).status_code == 401
    # Left open past its hours.
    clock.advance(timedelta(hours=9))
    expired = await workspace.send(url, workspace.submission(asked, "confirm"))
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]
    assert await count(db, Coupon) == 0


async def test_an_unknown_contact_becomes_a_customer_when_the_teammate_adds_them(
        workspace: Workspace, db: Database) -> None:
    workspace.contact = contact(external_id=None, email="new@example.com", name="Nina New")
    workspace.conversation = conversation(customer=workspace.contact)
    shown = await workspace.initialize()
    assert as_text(shown) == ("# Not yet a customer in Amends\n"
                              "The conversation's contact: Nina New new@example.com\n"
                              "[Add as a customer]")
    added = await workspace.click(shown, "add_customer")
    text = as_text(added)
    assert text.startswith("  Customer added from the conversation.\n# Nina New")
    async with db.transaction(write=False) as session:
        customer = await session.scalar(select(Customer))
    assert customer is not None
    assert (customer.external_id, customer.email) == ("new@example.com", "new@example.com")
    # A contact with nothing to know them by cannot be added.
    workspace.contact = contact(external_id=None, email=None, name="Anonymous")
    workspace.conversation = conversation(customer=workspace.contact)
    nameless = await workspace.initialize()
    assert "add the customer in Amends first" in as_text(nameless)
    assert canvas_schema.ids(nameless) == []


async def test_above_the_agents_authority_a_supervisor_is_asked_and_the_canvas_follows_it(
        client: Any, workspace: Workspace, db: Database, settings: Settings) -> None:
    supervisor = await staff_headers(db, await make_user(db, workspace.tenant,
                                                         role=Role.SUPERVISOR))
    await make_customer(db, workspace.tenant, external_id="C-1", email="ann@example.com")
    await make_incentive(db, workspace.tenant, value=5000, name="Fifty off")
    assert "No gesture within your authority fits." in as_text(await workspace.initialize())
    shown = await workspace.click(await workspace.initialize(), "more")
    text = as_text(shown)
    assert "No gesture within your authority fits" in text
    assert " > Fifty off · €50.00" in text  # among the others, which a supervisor grants
    asked = await workspace.click(shown, give_id(shown, "Fifty off"))
    result = await workspace.click(asked, "confirm")
    assert as_text(result) == (
        "Above your authority: a supervisor has been asked. Its status shows below.\n"
        "Waiting for a supervisor to decide.\n[Refresh]\n[Back to the customer]")
    assert await count(db, Coupon) == 0

    approvals = await client.get("/v1/approvals", headers=supervisor)
    [approval] = approvals.json()["items"]
    granted = await client.post(f"/v1/approvals/{approval['id']}/grant", headers=supervisor,
                                json={"reason": "Loyal customer"})
    assert granted.status_code == 200, granted.text
    refreshed = await workspace.click(result, "refresh")
    assert "Granted: the gesture is given" in as_text(refreshed)
    await Worker(db, settings).run_until_idle()
    [reply] = workspace.replies()
    async with db.transaction(write=False) as session:
        coupon = await session.scalar(select(Coupon))
    assert coupon is not None
    assert display(coupon.code) in reply["body"]


async def test_a_role_that_cannot_give_sees_no_gestures_to_give(
        workspace: Workspace, db: Database) -> None:
    await make_user(db, workspace.tenant, role=Role.AUDITOR, email="vic@shop.example")
    await make_customer(db, workspace.tenant, external_id="C-1", email="ann@example.com")
    await make_incentive(db, workspace.tenant, value=500, name="Five off")
    workspace.admin = admin(email="vic@shop.example", id="77")
    shown = await workspace.initialize()
    assert "Five off" not in as_text(shown)
    text = as_text(await workspace.click(shown, "more"))
    assert "Make amends" not in text
    assert "Five off" not in text
    assert "# Gestures given" in text


async def test_the_canvas_speaks_the_teammates_language(workspace: Workspace,
                                                        db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(update(User).where(User.email == AGENT).values(locale="fr"))
    await make_customer(db, workspace.tenant, external_id="C-1", email="ann@example.com",
                        name="Ann Customer")
    await make_incentive(db, workspace.tenant, value=1000, name="Ten off")
    workspace.conversation = conversation(tags=("amends-late",))
    shown = await workspace.initialize()
    text = as_text(shown)
    assert "  Livraison en retard, gravité 3" in text
    assert " > Ten off · 10,00\u00a0€" in text
    assert text.endswith("Gestes accordés\u00a0: 0 · dossiers ouverts\u00a0: 0\n[Plus]")
    asked = await workspace.click(shown, give_id(shown, "Ten off"))
    assert as_text(asked).startswith(
        "Accorder **Ten off** (10,00\u00a0€) à **Ann Customer**\u00a0?")


async def test_a_reply_intercom_refuses_is_kept_with_intercoms_words_to_be_retried(
        client: Any, workspace: Workspace, db: Database, settings: Settings) -> None:
    refusal = {"type": "error.list", "request_id": "f93ecfa8-d08a-4325-8694-89aeb89c8f85",
               "errors": [{"code": "unauthorized", "message": "Access Token Invalid"}]}
    with http_receiver(script=[401], reply=json.dumps(refusal).encode()) as api:
        changed = await client.patch(
            f"/v1/helpdesk/installations/{workspace.installation['id']}",
            headers={"Authorization": f"Bearer {workspace.tenant.admin_token}"},
            json={"secrets": {"api_base_url": api.url}})
        assert changed.status_code == 200, changed.text
        await make_customer(db, workspace.tenant, external_id="C-1", email="ann@example.com")
        await make_incentive(db, workspace.tenant, value=500, name="Five off")
        shown = await workspace.initialize()
        await workspace.click(await workspace.click(shown, give_id(shown, "Five off")),
                              "confirm")
        await Worker(db, settings).run_until_idle()
        assert len(api.requests) == 1
    async with db.transaction(write=False) as session:
        message = await session.scalar(select(Delivery))
    assert message is not None
    assert message.status == "queued"  # tried again later
    assert message.error is not None
    assert message.error.endswith("Intercom answered 401: unauthorized: Access Token Invalid "
                                  "(request f93ecfa8-d08a-4325-8694-89aeb89c8f85)")


async def test_an_api_address_inside_the_network_is_refused_when_saved(
        db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    async with application(settings, outbound_allow_private=False) as app, from_address(
            app, "203.0.113.9") as http:
        body = {"platform": "intercom", "account": "ecahpwf5",
                "secrets": {"client_secret": "s3cret", "api_base_url": "http://10.0.0.7"}}
        refused = await http.post("/v1/helpdesk/installations",
                                  headers=bearer(tenant.admin_token), json=body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "outbound_address_refused"
        # Without it, replies go to the workspace's region's API.
        body["secrets"].pop("api_base_url")
        installed = await http.post("/v1/helpdesk/installations",
                                    headers=bearer(tenant.admin_token), json=body)
        assert installed.status_code == 201, installed.text
        changed = await http.patch(f"/v1/helpdesk/installations/{installed.json()['id']}",
                                   headers=bearer(tenant.admin_token),
                                   json={"secrets": {"api_base_url": "http://127.0.0.1:8080"}})
        assert changed.status_code == 422
        assert changed.json()["code"] == "outbound_address_refused"


async def test_a_dropdown_offers_ten_reasons_at_most_and_always_the_one_chosen(
        client: Any, workspace: Workspace, db: Database) -> None:
    admin_key = {"Authorization": f"Bearer {workspace.tenant.admin_token}"}
    for n in range(1, 7):
        saved = await client.put(f"/v1/reasons/wrong_size_{n}", headers=admin_key,
                                 json={"label": f"Wrong size {n}"})
        assert saved.status_code == 200, saved.text
    changed = await client.patch(
        f"/v1/helpdesk/installations/{workspace.installation['id']}", headers=admin_key,
        json={"settings": {"tag_reasons": {"size-6": "wrong_size_6"}}})
    assert changed.status_code == 200, changed.text
    await make_customer(db, workspace.tenant, external_id="C-1", email="ann@example.com")
    workspace.conversation = conversation(tags=("size-6",))
    more = await workspace.click(await workspace.initialize(), "more")
    [reasons] = [c for c in components(more) if c.get("id") == "reason"]
    assert len(reasons["options"]) == 10  # of 12: Canvas Kit takes 2 to 10
    assert reasons["value"] == "wrong_size_6"
    assert [o["text"] for o in reasons["options"]][-1] == "Wrong size 6"
