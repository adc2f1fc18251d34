"""A pass on a phone follows its coupon: the device registers, the coupon is redeemed, APNs
(a real HTTP/2 TLS receiver here) is told, the device lists what changed and fetches the new
pass."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import threading
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config

from amends.config import Settings, get_settings
from amends.db import Database
from amends.integrations.apple_wallet import apns
from amends.jobs.worker import Worker
from amends.wallet import tasks
from tests.factories import bearer, make_coupon, make_customer, make_org
from tests.wallet.credentials import KEY_ID, PASS_TYPE, TEAM, apple_credentials, tls_files


@dataclass
class Pushed:
    http_version: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ApnsReceiver:
    url: str
    received: list[Pushed] = field(default_factory=list)


@pytest.fixture
async def apns_receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                        ) -> AsyncIterator[ApnsReceiver]:
    """APNs as far as Amends can tell: HTTP/2 over TLS (hypercorn) with a certificate from a
    CA made here, which the client is told to trust through AMENDS_APNS_CA_FILE. In the
    test's event loop, so that the push client's kept connection is closed in it at the end:
    the server waits for its connections before it stops."""
    ca, cert, key = tls_files(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    receiver = ApnsReceiver(url=f"https://127.0.0.1:{port}")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        receiver.received.append(Pushed(
            scope["http_version"], scope["path"],
            {k.decode(): v.decode() for k, v in scope["headers"]}, body))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"apns-id", b"00000000-0000-0000-0000-000000000001")]})
        await send({"type": "http.response.body", "body": b""})

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.certfile, config.keyfile = cert, key
    config.alpn_protocols = ["h2"]
    config.loglevel = "WARNING"
    stop = threading.Event()
    ready = threading.Event()

    def run() -> None:
        async def main() -> None:
            ready.set()
            await serve(app, config,  # type: ignore[arg-type]
                        shutdown_trigger=lambda: asyncio.to_thread(stop.wait))
        asyncio.run(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    for _ in range(100):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        threading.Event().wait(0.05)
    monkeypatch.setenv("AMENDS_APNS_URL", receiver.url)
    monkeypatch.setenv("AMENDS_APNS_CA_FILE", ca)
    get_settings.cache_clear()
    tasks._clients.clear()
    apns._tokens.clear()
    try:
        yield receiver
    finally:
        await tasks.close_push_clients()
        stop.set()
        thread.join(10)
        assert not thread.is_alive(), "the APNs receiver did not stop"
        get_settings.cache_clear()
        tasks._clients.clear()


def _pass_json(content: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        shown: dict[str, Any] = json.loads(archive.read("pass.json"))
    return shown


async def test_a_redeemed_coupon_reaches_the_phone_that_holds_its_pass(
        client: httpx.AsyncClient, db: Database, settings: Settings,
        apns_receiver: ApnsReceiver) -> None:
    tenant = await make_org(db)
    credentials = apple_credentials()
    saved = await client.put("/v1/wallet/apple", headers=bearer(tenant.admin_token),
                             json=credentials.body())
    assert saved.status_code == 200, saved.text
    customer = await make_customer(db, tenant)
    coupon = await make_coupon(db, tenant, customer=customer)
    shown = _pass_json((await client.get(f"/c/{coupon.page_token}/wallet/apple")).content)
    service = shown["webServiceURL"].removeprefix(settings.base_url)
    serial, token = shown["serialNumber"], shown["authenticationToken"]
    device = "device-1"
    registration = f"{service}/v1/devices/{device}/registrations/{PASS_TYPE}/{serial}"
    auth = {"Authorization": f"ApplePass {token}"}

    refused = await client.post(registration, json={"pushToken": "push-1"},
                                headers={"Authorization": "ApplePass wrong"})
    assert refused.status_code == 401
    first = await client.post(registration, json={"pushToken": "push-1"}, headers=auth)
    assert first.status_code == 201
    again = await client.post(registration, json={"pushToken": "push-1"}, headers=auth)
    assert again.status_code == 200

    listing = f"{service}/v1/devices/{device}/registrations/{PASS_TYPE}"
    everything = await client.get(listing)
    assert everything.json()["serialNumbers"] == [serial]
    tag = everything.json()["lastUpdated"]
    assert isinstance(tag, str)
    assert (await client.get(listing, params={"passesUpdatedSince": tag})).status_code == 204

    latest = f"{service}/v1/passes/{PASS_TYPE}/{serial}"
    before = await client.get(latest, headers=auth)
    assert before.status_code == 200
    modified = before.headers["last-modified"]
    unchanged = await client.get(latest, headers={**auth, "If-Modified-Since": modified})
    assert unchanged.status_code == 304
    assert (await client.get(latest)).status_code == 401

    redeemed = await client.post("/v1/redemptions", headers=bearer(tenant.admin_token), json={
        "code": coupon.code, "customer_id": customer.external_id, "order_id": "o-1",
        "order_amount": 5000})
    assert redeemed.status_code == 201, redeemed.text
    await Worker(db, settings).run_until_idle()

    assert len(apns_receiver.received) == 1
    pushed = apns_receiver.received[0]
    assert pushed.http_version == "2"
    assert pushed.path == "/3/device/push-1"
    assert pushed.headers["apns-topic"] == PASS_TYPE
    assert pushed.body == b"{}"
    scheme, _, provider = pushed.headers["authorization"].partition(" ")
    assert scheme == "bearer"
    assert jwt.get_unverified_header(provider) == {"alg": "ES256", "kid": KEY_ID,
                                                   "typ": "JWT"}
    claims = jwt.decode(provider, credentials.apns_key.public_key(), algorithms=["ES256"])
    assert claims["iss"] == TEAM

    changed = await client.get(listing, params={"passesUpdatedSince": tag})
    assert changed.status_code == 200
    assert changed.json()["serialNumbers"] == [serial]
    assert int(changed.json()["lastUpdated"]) > int(tag)
    after = await client.get(latest, headers={**auth, "If-Modified-Since": modified})
    assert after.status_code == 200
    assert _pass_json(after.content)["voided"] is True
    assert after.headers["last-modified"] != modified

    gone = await client.delete(registration, headers=auth)
    assert gone.status_code == 200
    assert (await client.get(listing)).status_code == 204
    logged = await client.post(f"{service}/v1/log", json={"logs": ["could not fetch"]})
    assert logged.status_code == 200


async def test_a_withdrawn_coupon_without_a_pass_queues_nothing_to_push(
        client: httpx.AsyncClient, db: Database, settings: Settings,
        apns_receiver: ApnsReceiver) -> None:
    tenant = await make_org(db)
    await client.put("/v1/wallet/apple", headers=bearer(tenant.admin_token),
                     json=apple_credentials().body())
    coupon = await make_coupon(db, tenant)
    revoked = await client.post(f"/v1/coupons/{coupon.id}/revoke",
                                headers=bearer(tenant.admin_token), json={"reason": "test"})
    assert revoked.status_code == 200, revoked.text
    await Worker(db, settings).run_until_idle()
    assert apns_receiver.received == []
