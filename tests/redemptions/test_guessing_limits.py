"""Code guessing is limited however it is spread: over many keys, many (forged) addresses, one
customer, or the customers of one known code; and one organisation's guessing does not block
another organisation's till."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from amends.config import Settings
from amends.db import Database
from amends.kit import codes
from amends.models import AuditEvent, Coupon
from amends.ops.metrics import REGISTRY
from tests.factories import bearer, make_api_key, make_coupon, make_customer, make_org
from tests.peers import LimiterClock, application, from_address

REDEEMER = ["redemptions:write"]


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Small budgets, so that each is spent in a few requests."""
    return Settings(database_url=database_url, embedded_worker=False, log_json=False,
                    api_key_cache_seconds=0, outbound_allow_private=True,
                    code_failures_per_minute=5, code_failures_per_organization_per_minute=12,
                    code_failures_per_customer_per_hour=8, wrong_customer_attempts_per_code=3,
                    code_lock_minutes=15, _env_file=None)  # type: ignore[call-arg]


async def _miss(client: httpx.AsyncClient, key: str, **headers: str) -> httpx.Response:
    return await client.post("/v1/redemptions/validate", headers={**bearer(key), **headers},
                             json={"code": codes.generate(), "order_amount": 100})


async def _redeem(client: httpx.AsyncClient, key: str, code: str, customer: str | None,
                  **headers: str) -> httpx.Response:
    body: dict[str, Any] = {"code": code, "order_id": f"O-{codes.generate()}",
                            "order_amount": 5000}
    if customer is not None:
        body["customer_id"] = customer
    return await client.post("/v1/redemptions", headers={**bearer(key), **headers}, json=body)


async def _status(db: Database, coupon: Coupon) -> str:
    async with db.transaction(write=False) as session:
        return str(await session.scalar(select(Coupon.status).where(Coupon.id == coupon.id)))


async def _guessing_audits(db: Database) -> list[AuditEvent]:
    async with db.transaction(write=False) as session:
        return list((await session.scalars(select(AuditEvent).where(
            AuditEvent.action == "codes.guessing_blocked"))).all())


async def test_many_keys_with_forged_forwarded_addresses_are_stopped_by_the_real_address(
    settings: Settings, db: Database
) -> None:
    tenant = await make_org(db)
    customer = await make_customer(db, tenant, external_id="C-1")
    real = await make_coupon(db, tenant, customer=customer)
    keys = [await make_api_key(db, tenant, scopes=REDEEMER) for _ in range(6)]
    async with application(settings) as app, from_address(app, "203.0.113.9") as client:
        for n, key in enumerate(keys[:5]):
            miss = await _miss(client, key, **{"X-Forwarded-For": f"198.51.100.{n}"})
            assert miss.status_code == 404
        # A fresh key and a fresh forged address: no proxy is trusted, so the address is the
        # connection's, and its budget is spent.
        blocked = await _redeem(client, keys[5], real.code, "C-1",
                                **{"X-Forwarded-For": "198.51.100.77"})
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "too_many_attempts"
    assert await _status(db, real) == "active"
    audits = await _guessing_audits(db)
    assert [(a.after or {}).get("limited_by") for a in audits] == ["address"]
    assert (audits[0].after or {}).get("address") == "203.0.113.9"


async def test_many_keys_from_many_addresses_behind_a_trusted_proxy_spend_the_organisations_budget(
    settings: Settings, db: Database
) -> None:
    tenant = await make_org(db)
    customer = await make_customer(db, tenant, external_id="C-1")
    real = await make_coupon(db, tenant, customer=customer)
    keys = [await make_api_key(db, tenant, scopes=REDEEMER) for _ in range(5)]
    alerts_before = REGISTRY.get_sample_value(
        "amends_code_guessing_organization_blocked_total") or 0.0
    async with application(settings, trusted_proxies=["10.0.0.0/8"]) as app, \
            from_address(app, "10.1.2.3") as proxy:
        for n in range(12):  # 4 keys x 3 misses, each from its own address: no key or
            # address budget is spent, the organisation's (12) is.
            miss = await _miss(proxy, keys[n // 3], **{"X-Forwarded-For": f"198.51.100.{n}"})
            assert miss.status_code == 404
        blocked = await _redeem(proxy, keys[4], real.code, "C-1",
                                **{"X-Forwarded-For": "192.0.2.200"})
        assert blocked.status_code == 429
        assert "organisation" in blocked.json()["detail"]
        again = await _redeem(proxy, keys[4], real.code, "C-1",
                              **{"X-Forwarded-For": "192.0.2.201"})
        assert again.status_code == 429
    assert await _status(db, real) == "active"
    audits = await _guessing_audits(db)
    assert [(a.object_type, a.object_id, (a.after or {}).get("limited_by")) for a in audits] \
        == [("organization", str(tenant.id), "organization")]  # once a minute, not per refusal
    alerts_after = REGISTRY.get_sample_value("amends_code_guessing_organization_blocked_total")
    assert alerts_after == alerts_before + 1


async def test_forwarded_addresses_are_believed_from_a_trusted_proxy_from_the_right(
    settings: Settings, db: Database
) -> None:
    tenant = await make_org(db)
    keys = [await make_api_key(db, tenant, scopes=REDEEMER) for _ in range(3)]
    async with application(settings, trusted_proxies=["10.0.0.0/8"]) as app, \
            from_address(app, "10.1.2.3") as proxy:
        for _ in range(5):
            assert (await _miss(proxy, keys[0], **{"X-Forwarded-For": "198.51.100.1"})
                    ).status_code == 404
        # Another client behind the same proxy has its own budget...
        other = await _miss(proxy, keys[1], **{"X-Forwarded-For": "198.51.100.2"})
        assert other.status_code == 404
        # ... and the guesser cannot pass for it: what a client writes to the left of the
        # address our proxy appended is not believed.
        forged = await _miss(proxy, keys[2],
                             **{"X-Forwarded-For": "198.51.100.2, 198.51.100.1"})
        assert forged.status_code == 429
        # Through two trusted proxies, the address the outer one saw counts.
        chained = await _miss(proxy, keys[2],
                              **{"X-Forwarded-For": "198.51.100.1, 10.9.9.9"})
        assert chained.status_code == 429


async def test_one_organisations_guessing_does_not_block_another_organisations_till_nearby(
    settings: Settings, db: Database
) -> None:
    guesser, neighbour = await make_org(db), await make_org(db)
    customer = await make_customer(db, neighbour, external_id="C-1")
    coupon = await make_coupon(db, neighbour, customer=customer)
    guessing_key = await make_api_key(db, guesser, scopes=REDEEMER)
    till = await make_api_key(db, neighbour, scopes=REDEEMER)
    async with application(settings) as app, from_address(app, "203.0.113.50") as mall:
        for _ in range(5):
            assert (await _miss(mall, guessing_key)).status_code == 404
        assert (await _miss(mall, guessing_key)).status_code == 429
        # The guesser's other keys are stopped at this address too...
        second = await make_api_key(db, guesser, scopes=REDEEMER)
        assert (await _miss(mall, second)).status_code == 429
        # ... the other organisation's till, in the same shopping centre, is not.
        redeemed = await _redeem(mall, till, coupon.code, "C-1")
    assert redeemed.status_code == 201
    assert await _status(db, coupon) == "redeemed"


async def test_wrong_customers_on_a_known_code_lock_it_even_for_its_own_customer(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = LimiterClock(monkeypatch)
    tenant = await make_org(db)
    customer = await make_customer(db, tenant, external_id="C-1")
    known, other = [await make_coupon(db, tenant, customer=customer) for _ in range(2)]
    keys = [await make_api_key(db, tenant, scopes=REDEEMER) for _ in range(3)]
    async with application(settings, trusted_proxies=["10.0.0.0/8"]) as app, \
            from_address(app, "10.1.2.3") as proxy:
        for n, guess in enumerate(["C-2", "C-3", "C-4"]):  # each from its own key and address
            wrong = await _redeem(proxy, keys[n], known.code, guess,
                                  **{"X-Forwarded-For": f"198.51.100.{n}"})
            assert wrong.json()["code"] == "wrong_customer"
        # However it is typed, whoever sends it, with the right customer too: locked.
        typed = codes.display(known.code).lower()
        locked = await _redeem(proxy, keys[2], typed, "C-1",
                               **{"X-Forwarded-For": "192.0.2.1"})
        assert locked.status_code == 429
        assert locked.json()["code"] == "coupon_locked"
        assert 14 * 60 < int(locked.headers["retry-after"]) <= 15 * 60
        assert await _status(db, known) == "active"
        # Only that code: the customer's other coupon works.
        assert (await _redeem(proxy, keys[2], other.code, "C-1",
                              **{"X-Forwarded-For": "192.0.2.1"})).status_code == 201
        clock.advance(15 * 60 + 1)
        passed = await _redeem(proxy, keys[2], known.code, "C-1",
                               **{"X-Forwarded-For": "192.0.2.1"})
    assert passed.status_code == 201
    assert await _status(db, known) == "redeemed"
    audits = await _guessing_audits(db)
    assert [(a.after or {}).get("limited_by") for a in audits] == ["code"]


async def test_a_till_that_forgets_the_customer_does_not_lock_the_code(
    settings: Settings, db: Database
) -> None:
    tenant = await make_org(db)
    customer = await make_customer(db, tenant, external_id="C-1")
    coupon = await make_coupon(db, tenant, customer=customer)
    till = await make_api_key(db, tenant, scopes=REDEEMER)
    async with application(settings) as app, from_address(app, "203.0.113.9") as client:
        for _ in range(3):
            forgot = await _redeem(client, till, coupon.code, None)
            assert forgot.json()["code"] == "customer_required"
        redeemed = await _redeem(client, till, coupon.code, "C-1")
    assert redeemed.status_code == 201


async def test_failures_that_name_one_customer_are_limited_across_keys_and_addresses(
    settings: Settings, db: Database
) -> None:
    tenant = await make_org(db)
    target = await make_customer(db, tenant, external_id="C-1")
    bystander = await make_customer(db, tenant, external_id="C-2")
    theirs = await make_coupon(db, tenant, customer=target)
    unrelated = await make_coupon(db, tenant, customer=bystander)
    keys = [await make_api_key(db, tenant, scopes=REDEEMER) for _ in range(3)]
    async with application(settings, trusted_proxies=["10.0.0.0/8"]) as app, \
            from_address(app, "10.1.2.3") as proxy:
        for n in range(8):  # 8 guesses at C-1's codes, 4 per key, each from its own address
            guess = await _redeem(proxy, keys[n // 4], codes.generate(), "C-1",
                                  **{"X-Forwarded-For": f"198.51.100.{n}"})
            assert guess.status_code == 404
        blocked = await _redeem(proxy, keys[2], theirs.code, "C-1",
                                **{"X-Forwarded-For": "192.0.2.1"})
        assert blocked.status_code == 429
        assert "customer" in blocked.json()["detail"]
        fine = await _redeem(proxy, keys[2], unrelated.code, "C-2",
                             **{"X-Forwarded-For": "192.0.2.1"})
    assert fine.status_code == 201
    assert (await _status(db, theirs), await _status(db, unrelated)) == ("active", "redeemed")
