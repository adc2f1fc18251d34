"""A gift card's ledger through the API: every movement of its balance with the order, store
and time of each debit and the reason of each void's credit, paginated and as CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from amends.db import Database
from amends.kit import codes
from amends.models import Coupon
from tests.factories import bearer, make_api_key, make_coupon, make_org


def _sale(card: Coupon, order_id: str, amount: int, store: str) -> dict[str, Any]:
    return {"code": codes.display(card.code), "customer_id": card.customer_external_id,
            "order_id": order_id, "order_amount": amount, "store_id": store,
            "till_id": "T-1"}


async def test_a_gift_cards_ledger_lists_each_debit_void_and_credit_with_order_store_and_time(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    till = bearer(await make_api_key(db, tenant, scopes=["redemptions:write"]))
    reader = bearer(await make_api_key(db, tenant, scopes=["coupons:read"]))
    card = await make_coupon(db, tenant, kind="gift_card", value=5000, name="50 EUR card")
    first = await client.post("/v1/redemptions", headers=till,
                              json=_sale(card, "O-1", 1200, "Store 12 Lyon"))
    assert first.status_code == 201, first.text
    second = await client.post("/v1/redemptions", headers=till,
                               json=_sale(card, "O-2", 800, "Web"))
    assert second.status_code == 201, second.text
    voided = await client.post(f"/v1/redemptions/{first.json()['id']}/void", headers=till,
                               json={"reason": "Order O-1 refunded"})
    assert voided.status_code == 200, voided.text

    answer = await client.get(f"/v1/coupons/{card.id}/ledger", headers=reader)
    assert answer.status_code == 200, answer.text
    entries = answer.json()["items"]
    assert answer.json()["next_cursor"] is None
    # Newest first: the void's credit, the second debit, the first (voided) debit, the issue.
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in entries] == [
        ("credit", 1200, 4200), ("debit", -800, 3000), ("debit", -1200, 3800),
        ("issue", 5000, 5000)]
    credit, web, lyon, issued = entries
    assert (credit["order_id"], credit["store_id"], credit["reason"]) == (
        "O-1", "Store 12 Lyon", "Order O-1 refunded")
    assert (web["order_id"], web["store_id"], web["voided_at"]) == ("O-2", "Web", None)
    assert (lyon["order_id"], lyon["store_id"], lyon["till_id"]) == (
        "O-1", "Store 12 Lyon", "T-1")
    assert lyon["voided_at"] is not None
    assert lyon["redemption_id"] == first.json()["id"] == credit["redemption_id"]
    assert issued["order_id"] is None
    assert {e["currency"] for e in entries} == {"EUR"}
    assert entries[0]["created_at"] >= entries[1]["created_at"] >= entries[3]["created_at"]

    # Paginated like the other lists.
    pages, cursor = [], None
    while True:
        page = (await client.get(f"/v1/coupons/{card.id}/ledger", headers=reader,
                                 params={"limit": 3, **({"cursor": cursor} if cursor else {})}
                                 )).json()
        pages.append([e["id"] for e in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [[e["id"] for e in entries[:3]], [entries[3]["id"]]]

    # The same ledger as CSV.
    download = await client.get(f"/v1/coupons/{card.id}/ledger.csv", headers=reader)
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [(r["kind"], r["amount"], r["order_id"], r["store_id"]) for r in rows] == [
        ("credit", "1200", "O-1", "Store 12 Lyon"), ("debit", "-800", "O-2", "Web"),
        ("debit", "-1200", "O-1", "Store 12 Lyon"), ("issue", "5000", "", "")]
    assert rows[0]["reason"] == "Order O-1 refunded"


async def test_only_a_gift_card_has_a_ledger_and_only_its_organisation_reads_it(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    reader = bearer(await make_api_key(db, tenant, scopes=["coupons:read"]))
    till = bearer(await make_api_key(db, tenant, scopes=["redemptions:write"]))
    coupon = await make_coupon(db, tenant, kind="amount_off", value=1000)
    for path in ("ledger", "ledger.csv"):
        refused = await client.get(f"/v1/coupons/{coupon.id}/{path}", headers=reader)
        assert refused.status_code == 409
        assert refused.json()["code"] == "not_a_gift_card"
    card = await make_coupon(db, tenant, kind="gift_card", value=5000)
    assert (await client.get(f"/v1/coupons/{card.id}/ledger", headers=till)).status_code == 403
    bad = await client.get(f"/v1/coupons/{card.id}/ledger", headers=reader,
                           params={"cursor": "%%%"})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_cursor")

    stranger = bearer((await make_org(db)).admin_token)
    for path in ("ledger", "ledger.csv"):
        hidden = await client.get(f"/v1/coupons/{card.id}/{path}", headers=stranger)
        assert hidden.status_code == 404
        assert hidden.json()["code"] == "coupon_not_found"
