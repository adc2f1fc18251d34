"""The apology moves the case on, and names what went wrong: giving a gesture with its
apology (through the API, from the console, by a rule) takes an open case to `apologised`;
the message names the order, its items and the parcel with its carrier, in the customer's
language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from amends.cases.service import what_went_wrong
from amends.config import Settings
from amends.db import Database
from amends.delivery.wording import phrase
from amends.jobs.worker import Worker
from amends.kit.clock import clock
from amends.kit.locale import SHIPPED
from amends.models import Order, Shipment
from amends.roles import Role
from tests.delivery.test_wording import _english_left
from tests.factories import (
    bearer,
    make_customer,
    make_incentive,
    make_org,
    make_user,
    staff_headers,
)
from tests.receivers import smtp_server
from tests.recovery.live_rules import live_rule


async def _case(client: httpx.AsyncClient, headers: dict[str, str], customer: str
                ) -> dict[str, Any]:
    opened = await client.post("/v1/cases", headers=headers, json={
        "customer_id": customer, "reason": "late_delivery", "severity": 2,
        "channel": "in_store"})
    assert opened.status_code == 201, opened.text
    return dict(opened.json())


async def _state(client: httpx.AsyncClient, headers: dict[str, str], case: dict[str, Any]
                 ) -> str:
    return str((await client.get(f"/v1/cases/{case['id']}", headers=headers)).json()["state"])


async def test_a_gesture_given_with_its_apology_through_the_api_moves_an_open_case_on(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    incentive = await make_incentive(db, tenant, value=1000, name="Sorry: 10 off")
    for customer in ("C-1", "C-2", "C-3"):
        await make_customer(db, tenant, external_id=customer)

    given = await _case(client, agent, "C-1")
    issued = await client.post("/v1/coupons", headers=agent, json={
        "case_id": given["id"], "incentive_id": str(incentive.id)})
    assert issued.status_code == 201, issued.text
    assert await _state(client, agent, given) == "apologised"
    timeline = (await client.get(f"/v1/cases/{given['id']}/timeline", headers=agent)).json()
    moved = [e for e in timeline if e["kind"] == "state_changed"]
    assert [(e["data"]["from"], e["data"]["to"]) for e in moved] == [("open", "apologised")]
    assert moved[0]["data"]["apology"] == "Gesture message, copied by the agent"
    assert moved[0]["data"]["message"] == {"kind": "gesture", "channel": "copy",
                                           "address": "agent"}
    again = await client.post("/v1/coupons", headers=agent, json={
        "case_id": given["id"], "incentive_id": str(incentive.id)})
    assert again.status_code == 200  # the same gesture: nothing new, no second move
    assert len([e for e in (await client.get(f"/v1/cases/{given['id']}/timeline",
                                             headers=agent)).json()
                if e["kind"] == "state_changed"]) == 1

    # Nothing sent, nothing apologised.
    quiet = await _case(client, agent, "C-2")
    kept = await client.post("/v1/coupons", headers=agent, json={
        "case_id": quiet["id"], "incentive_id": str(incentive.id), "deliver": False})
    assert kept.status_code == 201, kept.text
    assert await _state(client, agent, quiet) == "open"

    # A case that has moved on stays where it is.
    ahead = await _case(client, agent, "C-3")
    reviewing = await client.post(f"/v1/cases/{ahead['id']}/transitions", headers=agent,
                                  json={"to": "reviewing", "skip_reason": "Said sorry by phone",
                                        "root_cause": "carrier"})
    assert reviewing.status_code == 200, reviewing.text
    assert (await client.post("/v1/coupons", headers=agent, json={
        "case_id": ahead["id"], "incentive_id": str(incentive.id)})).status_code == 201
    assert await _state(client, agent, ahead) == "reviewing"


async def test_a_gesture_given_from_the_case_page_moves_an_open_case_to_apologised(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    incentive = await make_incentive(db, tenant, value=1000, name="Sorry: 10 off")
    await make_customer(db, tenant, external_id="C-1")
    case = await _case(client, agent, "C-1")
    given = await client.post(f"/cases/{case['id']}/gestures", headers=agent,
                              data={"incentive_id": str(incentive.id)})
    assert given.status_code == 303
    assert "notice=" in given.headers["location"]
    assert await _state(client, agent, case) == "apologised"
    page = await client.get(f"/cases/{case['id']}", headers=agent)
    assert 'data-state="apologised"' in page.text


def _late_parcel_story(customer: str, *, locale: str | None = None) -> list[dict[str, Any]]:
    details: dict[str, Any] = {"name": "Ann", "email": f"{customer.lower()}@example.com"}
    if locale:
        details["locale"] = locale
    return [
        {"id": f"o-{customer}", "type": "order.placed", "occurred_at": "2026-11-20T09:00:00Z",
         "data": {"order_id": f"JL-{customer}", "customer_id": customer, "amount": 89900,
                  "currency": "EUR", "customer": details,
                  "lines": [{"sku": "SONOS-BEAM", "name": "Sonos Beam", "price": 49900},
                            {"sku": "WB-1", "name": "Wall Bracket", "price": 4000}]}},
        {"id": f"s-{customer}", "type": "shipment.created",
         "occurred_at": "2026-11-20T15:00:00Z",
         "data": {"shipment_id": f"P-{customer}", "order_id": f"JL-{customer}",
                  "carrier": "DHL", "tracking_number": f"JD-{customer}"}},
    ]


async def test_a_rules_apology_names_the_order_its_items_and_the_parcel_in_the_customers_language(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    clock.freeze(datetime(2026, 11, 20, 16, tzinfo=UTC))
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    with smtp_server() as mail:
        await client.put("/v1/channels/email", headers=admin, json={"settings": {
            "host": mail.host, "port": mail.port, "security": "none",
            "from_address": "care@jl.example"}})
        await client.patch("/v1/organization", headers=admin,
                           json={"supported_locales": ["en", "fr"]})
        sent = await client.post("/v1/events", headers=admin, json={
            "events": _late_parcel_story("EN") + _late_parcel_story("FR", locale="fr-FR")})
        assert sent.status_code < 300, sent.text
        await live_rule(client, admin, {
            "name": "Stuck two days", "condition": {"type": "not_scanned_for", "hours": 48},
            "actions": {"open_case": {"reason": "late_delivery", "severity": 2},
                        "apologise": ["email"]}})
        clock.freeze(datetime(2026, 11, 23, 16, tzinfo=UTC))
        worker = Worker(db, settings)
        await worker.ensure_periodic()
        clock.advance(timedelta(minutes=6))
        await worker.run_until_idle()
        [english] = mail.to("en@example.com")
        [french] = mail.to("fr@example.com")
    text = english.get_body(("plain",)).get_content()
    assert ("Your order JL-EN (Sonos Beam and Wall Bracket) is late: parcel JD-EN with DHL "
            "has not reached you yet.") in text
    assert ("Votre commande JL-FR (Sonos Beam et Wall Bracket) a du retard\u00a0: le colis "
            "JD-FR confié à DHL ne vous est pas encore parvenu.") in \
        french.get_body(("plain",)).get_content()
    cases = (await client.get("/v1/cases", headers=admin)).json()["items"]
    assert {c["state"] for c in cases} == {"apologised"}


async def test_the_late_parcel_of_a_split_order_is_apologised_for_with_its_own_items(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    clock.freeze(datetime(2026, 11, 20, 16, tzinfo=UTC))
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)

    def parcel(name: str, items: list[Any]) -> dict[str, Any]:
        return {"id": f"s-{name}", "type": "shipment.created",
                "occurred_at": "2026-11-20T15:00:00Z",
                "data": {"shipment_id": f"P-{name}", "order_id": "JL-S", "carrier": "DHL",
                         "tracking_number": f"JD-{name}", "items": items}}

    with smtp_server() as mail:
        await client.put("/v1/channels/email", headers=admin, json={"settings": {
            "host": mail.host, "port": mail.port, "security": "none",
            "from_address": "care@jl.example"}})
        sent = await client.post("/v1/events", headers=admin, json={"events": [
            {"id": "o-S", "type": "order.placed", "occurred_at": "2026-11-20T09:00:00Z",
             "data": {"order_id": "JL-S", "customer_id": "S", "amount": 89900,
                      "currency": "EUR", "promised_at": "2026-11-21T18:00:00Z",
                      "customer": {"name": "Sam", "email": "sam@example.com"},
                      "lines": [{"sku": "SONOS-BEAM", "name": "Sonos Beam", "price": 49900},
                                {"sku": "WB-1", "name": "Wall Bracket", "price": 4000}]}},
            parcel("A", ["SONOS-BEAM"]),
            parcel("B", [{"sku": "WB-1", "name": "Wall Bracket"}]),
            {"id": "d-A", "type": "shipment.delivered", "occurred_at": "2026-11-21T10:00:00Z",
             "data": {"shipment_id": "P-A"}}]})
        assert sent.json()["accepted"] == 4, sent.text
        await live_rule(client, admin, {
            "name": "Part of a split order stuck",
            "condition": {"type": "split_late", "hours": 48},
            "actions": {"open_case": {"reason": "late_delivery", "severity": 2},
                        "apologise": ["email"]}})
        clock.freeze(datetime(2026, 11, 24, 16, tzinfo=UTC))
        worker = Worker(db, settings)
        await worker.ensure_periodic()
        clock.advance(timedelta(minutes=6))
        await worker.run_until_idle()
        [apology] = mail.to("sam@example.com")
    text = apology.get_body(("plain",)).get_content()
    # The parcel that is late carries the bracket alone: the apology names it, not the
    # speaker that arrived.
    assert ("Your order JL-S (Wall Bracket) is late: parcel JD-B with DHL has not reached "
            "you yet.") in text
    assert "Sonos Beam" not in text


@pytest.mark.parametrize("language", SHIPPED)
def test_what_went_wrong_reads_in_every_language_without_english_left_over(
    language: str
) -> None:
    order = Order(external_id="JL-1", lines=[
        {"sku": "A", "name": "Sonos Beam"}, {"sku": "B", "name": "Wall Bracket", "quantity": 2},
        {"sku": "SKU-CCC"}, {"sku": "SKU-DDD"}, {"sku": "SKU-EEE"}])
    late = Shipment(external_id="P-2", carrier="DHL", tracking_number="JD02", status="in_transit")
    arrived = Shipment(external_id="P-3", carrier=None, tracking_number=None, status="delivered")
    said = {
        "late order": what_went_wrong(late, order),
        "late parcel alone": what_went_wrong(late, None),
        "the order": what_went_wrong(arrived, order),
        "a parcel": what_went_wrong(arrived, None),
    }
    written = {name: phrase(words, language) for name, words in said.items() if words}
    assert len(written) == 4
    assert "JD02" in written["late order"]
    assert "DHL" in written["late order"]
    assert "2 x Wall Bracket" in written["late order"]
    assert "SKU-CCC" in written["late order"]  # an item without a name: its SKU
    assert "SKU-DDD" not in written["late order"]  # the fourth and fifth are counted
    assert "2" in written["late order"].replace("JD02", "").replace("2 x", "")
    if language != "en":
        for name, text in written.items():
            assert _english_left(text, {}, language) == [], (name, text)
    assert what_went_wrong(None, None) is None
