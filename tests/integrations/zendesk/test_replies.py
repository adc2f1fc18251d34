"""The apology reaches the Zendesk ticket as a comment: a public reply or an internal note as
the installation says (`public` always sent), authenticated with the installation's API token,
once; a rate-limited Zendesk is waited out when it asks for a short pause, else the delivery
is retried later."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from amends.config import Settings
from amends.db import Database
from amends.delivery.channels import DeliveryFailed
from amends.helpdesk import service as helpdesk
from amends.helpdesk.platforms import Reply
from amends.integrations.zendesk import client as zendesk_api
from amends.jobs.worker import Worker
from amends.kit import outbound
from amends.models import Case, Coupon, Delivery
from amends.roles import Role
from tests.factories import bearer, make_incentive, make_org, make_user, set_limit
from tests.integrations.zendesk.test_panel_load import install, load, panel_token
from tests.integrations.zendesk.zendesk import (
    ACCOUNT,
    AGENT_EMAIL,
    AGENT_ID,
    API_EMAIL,
    API_TOKEN,
    Zendesk,
    zaf_token,
)
from tests.peers import application, from_address

PANEL = "X-Amends-Panel"


def settings_for(zendesk: Zendesk, **more: str) -> dict[str, str]:
    return {"account": ACCOUNT, "api_email": API_EMAIL, "api_token": API_TOKEN,
            "api_base_url": zendesk.url, **more}


def reply(*, public: bool = True, html: str | None = "<p>Sorry: <b>AB12-CD34</b></p>"
          ) -> Reply:
    return Reply(ticket_id="35436", text="Sorry: AB12-CD34", html=html, public=public,
                 message_id="0192b0c4-delivery")


async def post(zendesk: Zendesk, message: Reply, **more: str) -> str:
    with outbound.policy(allow_private=True):
        return await zendesk_api.post_reply(settings_for(zendesk, **more), message)


async def test_a_public_reply_is_a_public_html_comment_on_the_ticket(zendesk: Zendesk) -> None:
    posted = await post(zendesk, reply())
    [put] = zendesk.puts
    assert put.ticket_id == "35436"
    assert put.body == {"ticket": {"comment": {"html_body": "<p>Sorry: <b>AB12-CD34</b></p>",
                                               "public": True}}}
    assert put.headers["Idempotency-Key"] == "0192b0c4-delivery"
    assert re.fullmatch(r"\d+", posted)  # the update's audit id


async def test_an_internal_note_is_sent_as_not_public_and_plain_text_as_body(
        zendesk: Zendesk) -> None:
    await post(zendesk, reply(public=False, html=None))
    assert zendesk.comments() == [{"body": "Sorry: AB12-CD34", "public": False}]


async def test_a_short_rate_limit_is_waited_out_once(zendesk: Zendesk) -> None:
    zendesk.script = [(429, {"Retry-After": "1"})]
    await post(zendesk, reply())
    assert len(zendesk.puts) == 1


@pytest.mark.parametrize(("answers", "words"), [
    ([(429, {"Retry-After": "120"})], "retry after 120 s"),
    ([(429, {"Retry-After": "1"}), (429, {"Retry-After": "1"})], "rate limiting"),
    ([(422, {})], "Zendesk answered 422"),
])
async def test_a_refused_comment_fails_the_attempt_to_be_retried(
        zendesk: Zendesk, answers: list[tuple[int, dict[str, str]]], words: str) -> None:
    zendesk.script = list(answers)
    with pytest.raises(DeliveryFailed, match=words):
        await post(zendesk, reply())
    assert zendesk.puts == []


async def test_a_wrong_api_token_fails_the_attempt(zendesk: Zendesk) -> None:
    with pytest.raises(DeliveryFailed, match="401"):
        await post(zendesk, reply(), api_token="revoked")


async def test_zendesk_inside_the_network_is_not_called_unless_the_operator_allows_it(
        zendesk: Zendesk) -> None:
    with outbound.policy(allow_private=False), pytest.raises(DeliveryFailed,
                                                             match="loopback"):
        await zendesk_api.post_reply(settings_for(zendesk), reply())
    assert zendesk.puts == []


@pytest.mark.parametrize("reply_as", ["public", "note"])
async def test_one_click_in_the_zendesk_panel_posts_the_apology_with_the_code_into_the_ticket(
        client: httpx.AsyncClient, db: Database, settings: Settings, zendesk: Zendesk,
        reply_as: str) -> None:
    tenant = await make_org(db)
    await make_user(db, tenant, role=Role.AGENT, email=AGENT_EMAIL)
    await set_limit(db, tenant, subject="role:agent", max_gesture=2000)
    incentive = await make_incentive(db, tenant, value=1000, name="Sorry: 10 EUR off")
    zendesk.agent(AGENT_ID, AGENT_EMAIL)
    zendesk.ticket(35436, requester={"email": "ann@example.com", "name": "Ann Example"},
                   tags=["amends-late"])
    installation = await install(client, tenant, zendesk, settings={"reply_as": reply_as})
    token = panel_token(await load(client, tenant, installation, zaf_token()))
    await client.post("/helpdesk/panel/ticket", headers={PANEL: token},
                      data={"ticket_id": "35436"})
    await client.post("/helpdesk/panel/customer", headers={PANEL: token})
    given = await client.post("/helpdesk/panel/give", headers={PANEL: token},
                              data={"incentive_id": str(incentive.id),
                                    "reason": "late_delivery", "severity": "4"})
    assert given.status_code == 200, given.text
    assert "Given: the apology with the code is being" in given.text

    await Worker(db, settings).run_until_idle()
    async with db.transaction(write=False) as session:
        coupon = (await session.scalars(select(Coupon))).one()
        case = (await session.scalars(select(Case))).one()
        message = (await session.scalars(select(Delivery))).one()
    [comment] = zendesk.comments("35436")
    # The code as the customer reads it, in groups.
    assert coupon.code in (comment.get("html_body") or comment["body"]).replace("-", "")
    assert comment["public"] is (reply_as == "public")
    assert (message.status, message.channel) == ("delivered", "helpdesk")
    assert (message.provider_id or "").isdigit()
    assert case.conversation_ref == "zendesk:35436"
    # The case page links back to the ticket in Zendesk.
    async with db.transaction(write=False) as session:
        assert await helpdesk.ticket_url(session, case) == (
            "https://lumiere.zendesk.com/agent/tickets/35436")


async def test_an_api_address_inside_the_network_is_refused_when_saved(
        db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    async with application(settings, outbound_allow_private=False) as app, from_address(
            app, "203.0.113.9") as http:
        body = {"platform": "zendesk", "account": ACCOUNT,
                "secrets": {"api_email": API_EMAIL, "api_token": API_TOKEN,
                            "api_base_url": "http://169.254.169.254"}}
        refused = await http.post("/v1/helpdesk/installations",
                                  headers=bearer(tenant.admin_token), json=body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "outbound_address_refused"
        assert "metadata service" in refused.json()["detail"]
        body["secrets"].pop("api_base_url")
        installed = await http.post("/v1/helpdesk/installations",
                                    headers=bearer(tenant.admin_token), json=body)
        assert installed.status_code == 201
        changed = await http.patch(f"/v1/helpdesk/installations/{installed.json()['id']}",
                                   headers=bearer(tenant.admin_token),
                                   json={"secrets": {"api_base_url": "ftp://zendesk.example"}})
        assert changed.status_code == 422
        assert changed.json()["code"] == "invalid_outbound_url"
        assert installed.json()["secrets_set"] == ["api_email", "api_token"]
