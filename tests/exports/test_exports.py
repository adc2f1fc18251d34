"""Finance's row-level exports: every gesture and every redemption of a period, as CSV, exactly
as the database holds them, for the caller's organisation only, streamed however many rows."""

from __future__ import annotations

import asyncio
import csv
import gc
import html
import io
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, insert, select, update

from amends.actor import Actor
from amends.db import Database
from amends.exports import service as exports
from amends.kit.clock import clock
from amends.models import AuditEvent, Coupon, User
from amends.redemptions import service as redemptions
from amends.roles import Role
from tests.factories import (
    Tenant,
    bearer,
    make_api_key,
    make_customer,
    make_incentive,
    make_org,
    make_user,
    staff_headers,
)

T0 = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
GESTURES, REDEMPTIONS = "/v1/exports/gestures.csv", "/v1/exports/redemptions.csv"
MARCH = {"from": "2027-03-01", "to": "2027-03-31"}
HTML = {"Accept": "text/html"}


def _rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))


def _same(rows: list[dict[str, str]], expected: list[dict[str, str]]) -> None:
    """Row by row, so that a difference is shown cell by cell."""
    for got, want in zip(rows, expected, strict=False):
        assert got == want
    assert len(rows) == len(expected)


async def _give(client: httpx.AsyncClient, who: dict[str, str], *, customer: str,
                incentive: Any, reason: str = "late_delivery", channel: str = "email"
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    case = (await client.post("/v1/cases", headers=who, json={
        "customer_id": customer, "reason": reason, "severity": 2, "channel": channel})).json()
    issued = await client.post("/v1/coupons", headers=who, json={
        "case_id": case["id"], "incentive_id": str(incentive.id), "deliver": False})
    assert issued.status_code == 201, issued.text
    return issued.json(), case


async def _shop(db: Database, client: httpx.AsyncClient) -> dict[str, Any]:
    """An organisation whose agent Ann gave three gestures on 1 March 2027 (10.00 EUR off, a
    25.00 EUR gift card, 1,500 JPY off), of which a clerk at the Lyon till redeemed the first
    on a 40.00 order and took 18.00 off the card, then voided the card's debit."""
    clock.freeze(T0)
    tenant = await make_org(db)
    ten = await make_incentive(db, tenant, value=1000, name="10 off")
    card = await make_incentive(db, tenant, kind="gift_card", value=2500, name="=Card 25")
    yen = await make_incentive(db, tenant, value=1500, currency="JPY", name="Yen off")
    ann = await make_user(db, tenant, role=Role.MANAGER, email="ann@shop.example")
    clerk = await make_user(db, tenant, role=Role.CLERK, email="cleo@shop.example")
    as_ann = await staff_headers(db, ann)
    given = []
    for n, incentive in enumerate((ten, card, yen), start=1):
        await make_customer(db, tenant, external_id=f"C-{n}", phone=f"+44770090000{n}")
        given.append(await _give(client, as_ann, customer=f"C-{n}", incentive=incentive,
                                 reason="damaged_item" if n == 3 else "late_delivery"))
        clock.advance(timedelta(minutes=10))
    at_till = Actor.for_user(organization_id=tenant.id, user_id=clerk.id, email=clerk.email,
                             role=Role.CLERK)
    clock.freeze(T0 + timedelta(days=2))
    async with db.transaction() as session:
        used = await redemptions.redeem(session, at_till, redemptions.Order(
            code=given[0][0]["code"], order_amount=4000, customer_external_id="C-1",
            order_id="O-1", store_id="Lyon", till_id="T-2"))
    clock.advance(timedelta(hours=1))
    async with db.transaction() as session:
        debit = await redemptions.redeem(session, at_till, redemptions.Order(
            code=given[1][0]["code"], order_amount=1800, customer_external_id="C-2",
            order_id="O-2", store_id="Lyon", till_id="T-2"))
    clock.advance(timedelta(hours=1))
    async with db.transaction() as session:
        await redemptions.void(session, at_till, redemption_id=debit.id, reason="+refund")
    return {"tenant": tenant, "ann": ann, "given": given, "used": used, "debit": debit,
            "admin": bearer(tenant.admin_token)}


async def test_the_gestures_file_holds_each_gesture_with_its_cost_and_where_it_was_used(
    client: httpx.AsyncClient, db: Database
) -> None:
    shop = await _shop(db, client)
    clock.freeze(T0 + timedelta(days=40))  # the first two have expired by now (30 days)
    response = await client.get(GESTURES, headers=shop["admin"], params=MARCH)
    assert response.headers["content-disposition"] == \
        'attachment; filename="gestures-2027-03-01-2027-03-31.csv"'
    rows = _rows(response)
    assert list(rows[0]) == list(exports.GESTURE_COLUMNS)
    (ten, case1), (card, case2), (yen, case3) = shop["given"]
    _same(rows, [
        {"issued_at": "2027-03-01T09:30:00Z", "coupon_id": ten["id"], "code": ten["code"],
         "gesture": "10 off", "kind": "amount_off", "currency": "EUR", "face_value": "10.00",
         "cost": "10.00", "status": "redeemed", "expires_at": "2027-03-31T09:30:00Z",
         "redemptions": "1", "redeemed_at": "2027-03-03T09:30:00Z", "order_id": "O-1",
         "store": "Lyon", "channel": "email", "agent": "ann@shop.example",
         "reason": "late_delivery", "case_reference": case1["reference"],
         "customer_id": "C-1"},
        # The card's only debit was voided: it cost nothing, and is usable again.
        {"issued_at": "2027-03-01T09:40:00Z", "coupon_id": card["id"], "code": card["code"],
         "gesture": "'=Card 25", "kind": "gift_card", "currency": "EUR",
         "face_value": "25.00", "cost": "0.00", "status": "expired",
         "expires_at": "2027-03-31T09:40:00Z", "redemptions": "0", "redeemed_at": "",
         "order_id": "", "store": "", "channel": "email", "agent": "ann@shop.example",
         "reason": "late_delivery", "case_reference": case2["reference"],
         "customer_id": "C-2"},
        {"issued_at": "2027-03-01T09:50:00Z", "coupon_id": yen["id"], "code": yen["code"],
         "gesture": "Yen off", "kind": "amount_off", "currency": "JPY", "face_value": "1500",
         "cost": "0", "status": "expired", "expires_at": "2027-03-31T09:50:00Z",
         "redemptions": "0", "redeemed_at": "", "order_id": "", "store": "",
         "channel": "email", "agent": "ann@shop.example", "reason": "damaged_item",
         "case_reference": case3["reference"], "customer_id": "C-3"},
    ])


async def test_the_redemptions_file_holds_each_redemption_voided_ones_too(
    client: httpx.AsyncClient, db: Database
) -> None:
    shop = await _shop(db, client)
    rows = _rows(await client.get(REDEMPTIONS, headers=shop["admin"], params=MARCH))
    assert list(rows[0]) == list(exports.REDEMPTION_COLUMNS)
    (ten, case1), (card, case2), _ = shop["given"]
    _same(rows, [
        {"redeemed_at": "2027-03-03T09:30:00Z", "redemption_id": str(shop["used"].id),
         "coupon_id": ten["id"], "code": ten["code"], "gesture": "10 off", "currency": "EUR",
         "amount": "10.00", "order_id": "O-1", "order_amount": "40.00",
         "channel": "in_store", "store": "Lyon", "till": "T-2",
         "redeemed_by": "Clerk Person", "status": "completed", "voided_at": "",
         "void_reason": "", "customer_id": "C-1", "case_reference": case1["reference"]},
        {"redeemed_at": "2027-03-03T10:30:00Z", "redemption_id": str(shop["debit"].id),
         "coupon_id": card["id"], "code": card["code"], "gesture": "'=Card 25",
         "currency": "EUR", "amount": "18.00", "order_id": "O-2", "order_amount": "18.00",
         "channel": "in_store", "store": "Lyon", "till": "T-2",
         "redeemed_by": "Clerk Person", "status": "voided",
         "voided_at": "2027-03-03T11:30:00Z", "void_reason": "'+refund",
         "customer_id": "C-2", "case_reference": case2["reference"]},
    ])


async def test_dates_include_both_days_and_instants_exclude_the_end(
    client: httpx.AsyncClient, db: Database
) -> None:
    shop = await _shop(db, client)
    admin = shop["admin"]

    async def issued(**period: str) -> list[str]:
        rows = _rows(await client.get(GESTURES, headers=admin, params=period))
        return [row["issued_at"] for row in rows]

    every = ["2027-03-01T09:30:00Z", "2027-03-01T09:40:00Z", "2027-03-01T09:50:00Z"]
    assert await issued(**{"from": "2027-03-01", "to": "2027-03-01"}) == every
    assert await issued(**{"from": "2027-02-01", "to": "2027-02-28"}) == []
    assert await issued(**{"from": "2027-03-02", "to": "2027-03-31"}) == []
    # An instant: `from` included, `to` excluded; without an offset, UTC.
    assert await issued(**{"from": "2027-03-01T09:40:00Z",
                           "to": "2027-03-01T09:50:00Z"}) == every[1:2]
    assert await issued(**{"from": "2027-03-01T09:40:00",
                           "to": "2027-03-01T09:50:00.000001"}) == every[1:]
    assert await issued(**{"from": "2027-03-01T10:40:00+01:00",
                           "to": "2027-03-01T10:50:00+01:00"}) == every[1:2]
    used = _rows(await client.get(REDEMPTIONS, headers=admin, params={
        "from": "2027-03-03T09:30:00Z", "to": "2027-03-03T10:30:00Z"}))
    assert [row["redeemed_at"] for row in used] == ["2027-03-03T09:30:00Z"]


async def test_another_organisations_gestures_and_redemptions_are_never_exported(
    client: httpx.AsyncClient, db: Database
) -> None:
    ours = await _shop(db, client)
    theirs = await _shop(db, client)
    for path, key in ((GESTURES, "coupon_id"), (REDEMPTIONS, "redemption_id")):
        mine = _rows(await client.get(path, headers=ours["admin"], params=MARCH))
        other = _rows(await client.get(path, headers=theirs["admin"], params=MARCH))
        assert mine
        assert len(mine) == len(other)
        assert not {row[key] for row in mine} & {row[key] for row in other}
        assert {row["customer_id"] for row in mine} == {row["customer_id"] for row in other}
    codes = {ten["code"] for ten, _ in theirs["given"]}
    text = (await client.get(GESTURES, headers=ours["admin"], params=MARCH)).text
    assert not any(code in text for code in codes)


@pytest.mark.parametrize(("period", "code", "field"), [
    ({}, "invalid_date", "from"),
    ({"from": "2027-03-01"}, "invalid_date", "to"),
    ({"from": "yesterday", "to": "2027-03-31"}, "invalid_date", "from"),
    ({"from": "2027-02-30", "to": "2027-03-31"}, "invalid_date", "from"),
    ({"from": "2027-03-01", "to": "2027-03-01T25:00:00Z"}, "invalid_date", "to"),
    ({"from": "1969-12-31", "to": "2027-03-31"}, "invalid_date", "from"),
    ({"from": "2027-03-01", "to": "9999-12-31"}, "invalid_date", "to"),
    ({"from": "2027-03-01T10:00:00 01:00", "to": "2027-03-31"}, "invalid_date", "from"),
    ({"from": "2027-03-31", "to": "2027-03-01"}, "period_reversed", "to"),
    ({"from": "2027-03-01T10:00:00Z", "to": "2027-03-01T10:00:00Z"}, "period_reversed", "to"),
    ({"from": "2027-01-01", "to": "2028-01-02"}, "period_too_long", "to"),
])
async def test_a_bad_period_is_refused_with_its_reason_and_nothing_is_recorded(
    client: httpx.AsyncClient, db: Database, period: dict[str, str], code: str, field: str
) -> None:
    tenant = await make_org(db)
    before = await _audit_count(db, tenant)
    for path in (GESTURES, REDEMPTIONS):
        refused = await client.get(path, headers=bearer(tenant.admin_token), params=period)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert (refused.json()["code"], refused.json()["field"]) == (code, field)
    assert await _audit_count(db, tenant) == before


async def test_a_leap_year_fits_in_one_export_and_the_download_is_audited(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    before = await _audit_count(db, tenant)
    leap = {"from": "2028-01-01", "to": "2028-12-31"}
    assert _rows(await client.get(GESTURES, headers=bearer(tenant.admin_token),
                                  params=leap)) == []
    async with db.transaction() as session:
        event = (await session.scalars(select(AuditEvent).where(
            AuditEvent.organization_id == tenant.id,
            AuditEvent.action == "export.downloaded"))).one()
    assert (event.object_id, event.after) == ("gestures", {
        "from": "2028-01-01T00:00:00+00:00", "to": "2029-01-01T00:00:00+00:00"})
    assert await _audit_count(db, tenant) == before + 1


async def test_a_reporting_key_gets_the_files_without_codes_and_a_till_key_gets_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    shop = await _shop(db, client)
    reporting = bearer(await make_api_key(db, shop["tenant"], scopes=["reports:read"]))
    auditor = bearer(await make_api_key(db, shop["tenant"],
                                        scopes=["reports:read", "coupons:read"]))
    for path in (GESTURES, REDEMPTIONS):
        rows = _rows(await client.get(path, headers=reporting, params=MARCH))
        assert rows
        assert {row["code"] for row in rows} == {""}
        assert all(row["code"] for row in _rows(await client.get(path, headers=auditor,
                                                                  params=MARCH)))
    till = bearer(await make_api_key(db, shop["tenant"],
                                     scopes=["redemptions:read", "redemptions:write"]))
    refused = await client.get(GESTURES, headers=till, params=MARCH)
    assert (refused.status_code, refused.json()["code"]) == (403, "missing_scope")


async def _many_gestures(db: Database, count: int) -> Tenant:
    """An organisation with `count` gestures given on 1 March 2027, a second apart."""
    clock.freeze(T0)
    tenant = await make_org(db)
    customer = await make_customer(db, tenant, external_id="C-1")
    incentive = await make_incentive(db, tenant, value=500, name="5 off")
    async with db.transaction() as session:
        await session.execute(insert(Coupon), [{
            "id": uuid.UUID(int=(T0.toordinal() << 64) + n), "organization_id": tenant.id,
            "customer_id": customer.id, "customer_external_id": "C-1",
            "incentive_id": incentive.id, "case_ref": f"K-{n}", "code": f"BULK{n:06d}",
            "page_token": f"page-{n}", "name": "5 off", "kind": "amount_off", "value": 500,
            "currency": "EUR", "face_value": 500, "valid_from": T0,
            "expires_at": T0 + timedelta(days=30), "issued_by_type": "system",
            "issued_by_label": "bulk", "issued_at": T0 + timedelta(seconds=n)}
            for n in range(count)])
    return tenant


@dataclass
class Answer:
    """What an ASGI client received: the status, and each piece of the body as it was sent
    with whether more was announced."""

    status: int = 0
    chunks: list[bytes] = field(default_factory=list)
    more: list[bool] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return b"".join(self.chunks).decode().splitlines()


async def _get(app: Any, tenant: Tenant, *, leave_after_first_chunk: bool = False) -> Answer:
    """The gestures of 1 March 2027 asked of the application as a server would ask (httpx's
    test transport gathers a body before it returns it); the client may leave as soon as the
    first piece of the body has arrived."""
    answer = Answer()
    requested, gone = [], asyncio.Event()

    async def receive() -> dict[str, Any]:
        if requested:  # the client stays until the answer ends, or until it leaves
            await gone.wait()
            return {"type": "http.disconnect"}
        requested.append(True)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
        elif message["type"] == "http.response.body" and message.get("body"):
            answer.chunks.append(message["body"])
            answer.more.append(message.get("more_body", False))
            if leave_after_first_chunk:
                gone.set()
                # A server's send yields while it writes: the application hears the client
                # leave before it reads the next rows.
                await asyncio.sleep(0)

    await app({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
               "method": "GET", "scheme": "https", "path": GESTURES,
               "raw_path": GESTURES.encode(), "root_path": "",
               "query_string": b"from=2027-03-01&to=2027-03-01",
               "headers": [(b"host", b"testserver"),
                           (b"authorization", f"Bearer {tenant.admin_token}".encode())],
               "client": ("127.0.0.1", 50000), "server": ("testserver", 443)}, receive, send)
    return answer


async def test_a_large_export_is_sent_in_chunks_before_the_last_row_is_read(
    app: Any, db: Database
) -> None:
    count = 6000
    answer = await _get(app, await _many_gestures(db, count))
    assert answer.status == 200
    assert len(answer.lines) == count + 1
    assert answer.lines[1].split(",")[2] == "BULK0-00000"
    assert answer.lines[-1].split(",")[2] == f"BULK0-0{count - 1:04d}"
    # Sent as it was read: many pieces, every one but the last announcing more, none of them
    # the whole file (the SQLite batches are 2,000 rows, PostgreSQL's chunks 64 KiB).
    assert len(answer.chunks) >= 3
    assert all(answer.more[:-1])
    assert max(len(chunk.splitlines()) for chunk in answer.chunks) <= exports.BATCH_ROWS + 1
    assert max(map(len, answer.chunks)) < len(b"".join(answer.chunks)) / 2


async def test_a_client_that_leaves_mid_file_leaves_no_connection_behind(
    app: Any, db: Database
) -> None:
    count = 6000
    tenant = await _many_gestures(db, count)
    pool = app.state.db.engine.pool
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        left = await _get(app, tenant, leave_after_first_chunk=True)
        assert left.status == 200
        assert len(left.lines) < count
        for _ in range(600):  # the interrupted read ends in a task of its own
            if pool.checkedout() == 0:
                break
            await asyncio.sleep(0.05)
        gc.collect()
    assert pool.checkedout() == 0
    # Given back to the pool, not found and terminated by the garbage collector.
    assert [str(w.message) for w in warned if "non-checked-in" in str(w.message)] == []
    again = await _get(app, tenant)
    assert len(again.lines) == count + 1


async def _audit_count(db: Database, tenant: Tenant) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.organization_id == tenant.id)) or 0)


async def test_the_dashboards_export_downloads_the_days_of_the_readers_zone(
    client: httpx.AsyncClient, db: Database
) -> None:
    shop = await _shop(db, client)
    async with db.transaction() as session:  # Ann reads in Honolulu, ten hours behind UTC
        await session.execute(update(User).where(User.id == shop["ann"].id)
                              .values(time_zone="Pacific/Honolulu"))
    as_ann = {**await staff_headers(db, shop["ann"]), **HTML}
    page = await client.get("/dashboard", headers=as_ann)
    assert 'action="/dashboard/export"' in page.text
    # Given at 09:30 to 09:50 UTC on 1 March: the evening of 28 February in Honolulu.
    day = {"from": "2027-02-28", "to": "2027-02-28"}
    gestures = await client.get("/dashboard/export", headers=as_ann,
                                params={**day, "what": "gestures"})
    assert gestures.headers["content-disposition"] == \
        'attachment; filename="gestures-2027-02-28-2027-02-28.csv"'
    assert [row["customer_id"] for row in _rows(gestures)] == ["C-1", "C-2", "C-3"]
    march = await client.get("/dashboard/export", headers=as_ann,
                             params={"from": "2027-03-01", "to": "2027-03-01",
                                     "what": "gestures"})
    assert _rows(march) == []
    used = await client.get("/dashboard/export", headers=as_ann,
                            params={"from": "2027-03-02", "to": "2027-03-03",
                                    "what": "redemptions"})
    assert [row["order_id"] for row in _rows(used)] == ["O-1", "O-2"]


async def test_the_dashboard_says_why_a_period_cannot_be_exported_beside_the_form(
    client: httpx.AsyncClient, db: Database
) -> None:
    shop = await _shop(db, client)
    as_ann = {**await staff_headers(db, shop["ann"]), **HTML}
    for period, message in (
        ({"from": "2027-03-31", "to": "2027-03-01"},
         "The last day is before the first: swap them."),
        ({"from": "2026-01-01", "to": "2027-03-01"},
         "An export covers at most 366 days: export the period in parts."),
        ({"from": "", "to": "2027-03-01"}, "Choose the first and the last day of the period."),
    ):
        refused = await client.get("/dashboard/export", headers=as_ann,
                                   params={**period, "what": "gestures"})
        assert refused.status_code == 422
        assert refused.headers["content-type"].startswith("text/html")
        assert html.unescape(refused.text).count(message) == 1
        assert f'value="{period["from"]}"' in refused.text
    unknown = await client.get("/dashboard/export", headers=as_ann,
                               params={**MARCH, "what": "customers"})
    assert unknown.status_code == 404
