"""The supervisor's catalogue and recovery-rule pages."""

from __future__ import annotations

import httpx

from amends.db import Database
from amends.roles import Role
from tests.factories import make_org, make_user, staff_headers


async def test_a_supervisor_adds_withdraws_and_reinstates_a_gesture(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    supervisor = await staff_headers(db, await make_user(db, tenant, role=Role.SUPERVISOR))
    added = await client.post("/catalogue", headers=supervisor, data={
        "name": "Sorry: 12.50 off", "kind": "amount_off", "value": "12.50", "currency": "EUR",
        "validity_days": "30", "min_order": "20", "reasons": ["late_delivery", "lost_parcel"]})
    assert added.status_code == 303
    assert "is+in+the+catalogue" in added.headers["location"]
    percent = await client.post("/catalogue", headers=supervisor, data={
        "name": "15 percent", "kind": "percent_off", "value": "15", "currency": "EUR",
        "validity_days": "30"})
    assert "is+in+the+catalogue" in percent.headers["location"]
    listed = {i["name"]: i for i in (await client.get("/v1/incentives",
                                                      headers=supervisor)).json()}
    assert listed["Sorry: 12.50 off"]["value"] == 1250
    assert listed["Sorry: 12.50 off"]["min_order"] == 2000
    assert listed["Sorry: 12.50 off"]["reasons"] == ["late_delivery", "lost_parcel"]
    assert listed["15 percent"]["value"] == 15

    too_much = await client.post("/catalogue", headers=supervisor, data={
        "name": "Too much", "kind": "percent_off", "value": "150", "currency": "EUR",
        "validity_days": "30"})
    assert "1 to 100" in too_much.headers["location"].replace("+", " ")
    assert len((await client.get("/v1/incentives", headers=supervisor)).json()) == 2

    page = await client.get("/catalogue", headers=supervisor)
    assert "€12.50" in page.text
    assert "orders from €20.00" in page.text
    incentive_id = listed["Sorry: 12.50 off"]["id"]
    await client.post(f"/catalogue/{incentive_id}/active", headers=supervisor,
                      data={"active": "false"})
    assert (await client.get(f"/v1/incentives/{incentive_id}", headers=supervisor)
            ).json()["active"] is False
    await client.post(f"/catalogue/{incentive_id}/active", headers=supervisor,
                      data={"active": "true"})
    assert (await client.get(f"/v1/incentives/{incentive_id}", headers=supervisor)
            ).json()["active"] is True
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    assert (await client.get("/catalogue", headers=agent)).status_code == 403


async def test_a_rule_added_from_the_page_stays_off_until_its_dry_run_is_seen(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    supervisor = await staff_headers(db, await make_user(db, tenant, role=Role.SUPERVISOR))
    added = await client.post("/rules", headers=supervisor, data={
        "name": "Stuck two days", "condition": "not_scanned_for", "hours": "48",
        "reason": "late_delivery", "severity": "2"})
    assert added.status_code == 303
    rules = (await client.get("/v1/rules", headers=supervisor)).json()
    assert [(r["name"], r["condition"]["hours"], r["active"], r["dry_run_at"])
            for r in rules] == [("Stuck two days", 48, False, None)]
    # Saved off, and taken straight to its dry run.
    assert f"dry_run={rules[0]['id']}" in added.headers["location"]
    listing = await client.get("/rules", headers=supervisor)
    assert "Off until its dry run is seen" in listing.text
    assert "Turn on" not in listing.text
    early = await client.post(f"/rules/{rules[0]['id']}/active", headers=supervisor,
                              data={"active": "true"})
    assert "problem=" in early.headers["location"]
    assert "open+its+dry+run" in early.headers["location"]
    assert (await client.get("/v1/rules", headers=supervisor)).json()[0]["active"] is False

    unknown = await client.post("/rules", headers=supervisor, data={
        "name": "Odd", "condition": "not_scanned_for", "hours": "48", "reason": "nonsense"})
    assert "Use+one+of" in unknown.headers["location"]
    tried = await client.get("/rules", headers=supervisor,
                             params={"dry_run": rules[0]["id"]})
    assert "Dry run: Stuck two days" in tried.text
    assert "Nothing matches it right now." in tried.text
    assert "Turn “Stuck two days” on" in tried.text
    on = await client.post(f"/rules/{rules[0]['id']}/active", headers=supervisor,
                           data={"active": "true"})
    assert "notice=" in on.headers["location"]
    assert (await client.get("/v1/rules", headers=supervisor)).json()[0]["active"] is True
    await client.post(f"/rules/{rules[0]['id']}/active", headers=supervisor,
                      data={"active": "false"})
    rules = (await client.get("/v1/rules", headers=supervisor)).json()
    assert rules[0]["active"] is False
    # Its dry run was seen and it has not changed since: it may be turned on again at once.
    assert "Turn on" in (await client.get("/rules", headers=supervisor)).text
