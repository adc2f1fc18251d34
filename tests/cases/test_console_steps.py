"""The case page's forms record what the API records: the review its root cause and
responsible party, the fix its remedy; a skip needs a reason; a closed case gives nothing
until it is reopened."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from amends.db import Database
from amends.roles import Role
from tests.factories import make_customer, make_incentive, make_org, make_user, staff_headers


def _said(response: httpx.Response) -> dict[str, str]:
    """The notice or problem the console redirects back with."""
    assert response.status_code == 303, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


async def test_the_case_pages_steps_record_the_review_and_the_fix_and_a_skip_needs_a_reason(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    incentive = await make_incentive(db, tenant, value=1000, name="Sorry: 10 off")
    await make_customer(db, tenant, external_id="C-1")
    opened = await client.post("/v1/cases", headers=agent, json={
        "customer_id": "C-1", "reason": "lost_parcel", "severity": 3, "channel": "in_store"})
    case: dict[str, Any] = opened.json()
    steps, api = f"/cases/{case['id']}/steps", f"/v1/cases/{case['id']}"

    # Skipping the apology without a reason changes nothing and says what to do.
    refused = _said(await client.post(steps, headers=agent, data={
        "to": "reviewing", "root_cause": "carrier"}))
    assert refused == {"problem": "Say why you skip apologised."}
    assert (await client.get(api, headers=agent)).json()["state"] == "open"

    assert _said(await client.post(steps, headers=agent, data={
        "to": "reviewing", "skip_reason": "Apologised on the phone", "root_cause": "carrier",
        "responsible_party": "DHL depot Leeds", "notes": "Stuck four days"})) == {
        "notice": "The case is now reviewing."}
    assert _said(await client.post(steps, headers=agent, data={
        "to": "fixed", "remedy": "Replacement sent"}))["notice"] == "The case is now fixed."
    moved = (await client.get(api, headers=agent)).json()
    assert (moved["root_cause"], moved["responsible_party"], moved["remedy"]) == (
        "carrier", "DHL depot Leeds", "Replacement sent")
    assert moved["skipped"] == {"apologised": "Apologised on the phone"}
    page = (await client.get(f"/cases/{case['id']}", headers=agent)).text
    assert 'data-field="responsible_party">DHL depot Leeds<' in page
    assert 'data-field="notes">Stuck four days<' in page
    assert "Apologised on the phone" in page

    # Backwards is refused as through the API.
    back = _said(await client.post(steps, headers=agent, data={"to": "apologised"}))
    assert "problem" in back
    assert (await client.get(api, headers=agent)).json()["state"] == "fixed"

    # A closed case gives nothing until it is reopened (with a reason).
    assert "notice" in _said(await client.post(steps, headers=agent, data={
        "to": "closed", "skip_reason": "Customer asked us not to follow up",
        "summary": "Replaced"}))
    given = _said(await client.post(f"/cases/{case['id']}/gestures", headers=agent,
                                    data={"incentive_id": str(incentive.id)}))
    assert given == {"problem": "This case is closed: reopen it first to give a gesture."}
    coupons = (await client.get("/v1/coupons", headers=agent,
                                params={"customer_id": "C-1"})).json()["items"]
    assert coupons == []
    page = (await client.get(f"/cases/{case['id']}", headers=agent)).text
    assert "data-closed" in page
    assert 'name="incentive_id"' not in page
    reopened = _said(await client.post(f"/cases/{case['id']}/reopen", headers=agent,
                                       data={"reason": "The replacement broke"}))
    assert reopened == {"notice": "The case is open again, back in review."}
    assert (await client.get(api, headers=agent)).json()["state"] == "reviewing"
    again = _said(await client.post(f"/cases/{case['id']}/reopen", headers=agent,
                                    data={"reason": "Twice"}))
    assert "problem" in again
    assert "notice" in _said(await client.post(f"/cases/{case['id']}/gestures", headers=agent,
                                               data={"incentive_id": str(incentive.id)}))
