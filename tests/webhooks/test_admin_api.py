"""Webhook endpoints administered through the API: the delivery log keeps the receiver's
answer, a delivery is resent with the same webhook-id, a rotated secret signs alone, an
endpoint is deactivated and deleted; each change audited."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from amends.config import Settings
from amends.db import Database
from amends.jobs.worker import Worker
from amends.webhooks.service import ANSWER_BYTES
from tests.factories import bearer, make_customer, make_org
from tests.receivers import http_receiver


async def _open_case(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.post("/v1/cases", headers=headers, json={
        "customer_id": "C-1", "reason": "lost_parcel", "severity": 3, "channel": "email"})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _audit(client: httpx.AsyncClient, headers: dict[str, str], **filters: str
                 ) -> list[dict[str, Any]]:
    page = await client.get("/v1/audit-events", headers=headers, params=filters)
    assert page.status_code == 200, page.text
    return list(page.json()["items"])


async def test_a_resent_delivery_reaches_the_receiver_again_and_the_log_shows_its_answer(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    await make_customer(db, tenant, external_id="C-1")
    with http_receiver(reply=b'{"received":"thanks"}') as receiver:
        endpoint = (await client.post("/v1/webhook-endpoints", headers=admin, json={
            "url": receiver.url + "/hooks", "event_types": ["case.opened"],
            "description": "CRM"})).json()
        await _open_case(client, admin)
        await Worker(db, settings).run_until_idle()
        assert len(receiver.requests) == 1
        url = f"/v1/webhook-endpoints/{endpoint['id']}/deliveries"
        [first] = (await client.get(url, headers=admin)).json()
        assert first["status"] == "delivered"
        assert first["payload"]["type"] == "case.opened"
        assert first["response_status"] == 200
        assert first["response_body"] == '{"received":"thanks"}'

        resent = await client.post(f"{url}/{first['id']}/resend", headers=admin)
        assert resent.status_code == 202, resent.text
        assert resent.json()["event_id"] == first["event_id"]
        await Worker(db, settings).run_until_idle()
        assert len(receiver.requests) == 2
        again = receiver.requests[1]
        assert again.headers["webhook-id"] == receiver.requests[0].headers["webhook-id"]
        verified = Webhook(endpoint["secret"]).verify(again.body.decode(), again.headers)
        assert verified == first["payload"]
    log = (await client.get(url, headers=admin)).json()
    assert [d["status"] for d in log] == ["delivered", "delivered"]
    assert log[0]["id"] == resent.json()["id"]
    assert log[0]["response_body"] == '{"received":"thanks"}'
    [audited] = await _audit(client, admin, action="webhook_delivery.resent")
    assert audited["object_id"] == endpoint["id"]
    assert audited["after"]["event_id"] == first["event_id"]


async def test_the_log_keeps_a_failing_receivers_answer_cut_at_four_kilobytes(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    await make_customer(db, tenant, external_id="C-1")
    answer = b'{"error":"' + b"x" * 10_000 + b'"}'
    with http_receiver(script=[500], reply=answer) as receiver:
        endpoint = (await client.post("/v1/webhook-endpoints", headers=admin, json={
            "url": receiver.url, "event_types": ["case.opened"]})).json()
        await _open_case(client, admin)
        await Worker(db, settings).run_until_idle()
        assert len(receiver.requests) == 1
    [entry] = (await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries",
                                headers=admin)).json()
    assert entry["status"] == "retrying"
    assert entry["response_status"] == 500
    assert entry["response_body"] == answer[:ANSWER_BYTES].decode()
    assert "answered 500" in entry["last_error"]


async def test_after_rotation_only_the_new_secret_verifies_what_is_sent(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    await make_customer(db, tenant, external_id="C-1")
    with http_receiver() as receiver:
        endpoint = (await client.post("/v1/webhook-endpoints", headers=admin, json={
            "url": receiver.url, "event_types": ["case.opened"]})).json()
        rotated = await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret",
                                    headers=admin)
        assert rotated.status_code == 200, rotated.text
        secret = rotated.json()["secret"]
        assert secret.startswith("whsec_")
        assert secret != endpoint["secret"]
        await _open_case(client, admin)
        await Worker(db, settings).run_until_idle()
        [received] = receiver.requests
        assert Webhook(secret).verify(received.body.decode(), received.headers)["type"] == \
            "case.opened"
        with pytest.raises(WebhookVerificationError):
            Webhook(endpoint["secret"]).verify(received.body.decode(), received.headers)
    listed = (await client.get("/v1/webhook-endpoints", headers=admin)).json()
    assert "secret" not in listed[0]
    [audited] = await _audit(client, admin, action="webhook_endpoint.secret_rotated")
    assert audited["after"] is None
    assert secret not in str(audited)


async def test_a_deactivated_endpoint_receives_nothing_and_a_deleted_one_is_gone(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    await make_customer(db, tenant, external_id="C-1")
    with http_receiver() as receiver:
        endpoint = (await client.post("/v1/webhook-endpoints", headers=admin, json={
            "url": receiver.url, "event_types": ["case.opened"]})).json()
        await _open_case(client, admin)
        await Worker(db, settings).run_until_idle()
        base = f"/v1/webhook-endpoints/{endpoint['id']}"
        off = await client.patch(base, headers=admin, json={"active": False})
        assert off.status_code == 200
        assert off.json()["active"] is False
        [delivery] = (await client.get(f"{base}/deliveries", headers=admin)).json()
        refused = await client.post(f"{base}/deliveries/{delivery['id']}/resend",
                                    headers=admin)
        assert refused.status_code == 409
        assert refused.json()["code"] == "webhook_endpoint_inactive"
        await _open_case(client, admin)
        await Worker(db, settings).run_until_idle()
        assert len(receiver.requests) == 1
    assert (await client.patch(base, headers=admin, json={"active": None})).status_code == 422
    assert (await client.delete(base, headers=admin)).status_code == 204
    assert (await client.get("/v1/webhook-endpoints", headers=admin)).json() == []
    gone = await client.get(f"{base}/deliveries", headers=admin)
    assert gone.status_code == 404
    actions = [e["action"] for e in await _audit(client, admin, object_id=endpoint["id"])]
    assert actions == ["webhook_endpoint.deleted", "webhook_endpoint.updated",
                       "webhook_endpoint.created"]


async def test_another_organisations_endpoint_and_deliveries_are_not_found(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant, other = await make_org(db), await make_org(db)
    with http_receiver() as receiver:
        endpoint = (await client.post("/v1/webhook-endpoints", headers=bearer(
            tenant.admin_token), json={"url": receiver.url})).json()
    stranger = bearer(other.admin_token)
    base = f"/v1/webhook-endpoints/{endpoint['id']}"
    for method, path in [("PATCH", base), ("DELETE", base), ("POST", f"{base}/rotate-secret"),
                         ("POST", f"{base}/deliveries/{endpoint['id']}/resend")]:
        answer = await client.request(method, path, headers=stranger,
                                      json={"active": False} if method == "PATCH" else None)
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json()["code"] == "webhook_endpoint_not_found"
