"""The audit log for an administrator: filters, the CSV export (parsed back, formula-safe) and
the console page with an entry's before and after."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import httpx

from amends.actor import Actor
from amends.audit import service as audit
from amends.db import Database
from amends.kit.clock import clock
from amends.kit.csvstream import csv_line
from amends.models import AuditEvent
from amends.roles import Role
from tests.factories import bearer, make_org, make_user, staff_headers


async def test_filters_narrow_the_log_and_the_csv_holds_exactly_the_filtered_entries(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    # A value a spreadsheet would run as a formula, typed by an admin.
    for name in ("=HYPERLINK(\"http://evil\")", "Second"):
        assert (await client.patch("/v1/organization", headers=admin,
                                   json={"name": name})).status_code == 200
    assert (await client.patch("/v1/organization", headers=admin,
                               json={"feedback_delay_days": 9})).status_code == 200
    listed = (await client.get("/v1/audit-events", headers=admin, params={
        "action": "organization.updated"})).json()["items"]
    assert [e["after"] for e in listed] == [{"feedback_delay_days": 9}, {"name": "Second"},
                                           {"name": "=HYPERLINK(\"http://evil\")"}]
    paged = (await client.get("/v1/audit-events", headers=admin, params={
        "action": "organization.updated", "limit": 2})).json()
    rest = (await client.get("/v1/audit-events", headers=admin, params={
        "action": "organization.updated", "cursor": paged["next_cursor"]})).json()
    assert [e["id"] for e in paged["items"] + rest["items"]] == [e["id"] for e in listed]
    future = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    assert (await client.get("/v1/audit-events", headers=admin, params={
        "since": future})).json()["items"] == []

    export = await client.get("/v1/audit-events.csv", headers=admin, params={
        "action": "organization.updated", "object_type": "organization"})
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [r["id"] for r in rows] == [e["id"] for e in listed]
    assert [r["action"] for r in rows] == ["organization.updated"] * 3
    assert json.loads(rows[0]["after"]) == {"feedback_delay_days": 9}
    # The formula is written as text: its cell starts with an apostrophe, not with =.
    assert rows[2]["after"].startswith('{"name"')
    assert json.loads(rows[2]["after"])["name"] == "=HYPERLINK(\"http://evil\")"
    assert rows[2]["before"]
    assert not any(cell.startswith(("=", "+", "-", "@"))
                                         for row in rows for cell in row.values())
    assert rows[0]["actor_label"].startswith("api key")


def test_a_cell_a_spreadsheet_would_run_is_written_as_text() -> None:
    line = csv_line(["=1+1", "+33 1 42", "-2", "@SUM(A1)", "\t=x", "plain", None, 5])
    assert next(csv.reader([line])) == ["'=1+1", "'+33 1 42", "'-2", "'@SUM(A1)", "'\t=x",
                                        "plain", "", "5"]


async def test_the_csv_export_streams_every_page_of_a_long_log(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    actor = Actor.system(tenant.id, "tests")
    async with db.transaction() as session:
        for days in range(1, 606):  # one by one: ids and times in order
            session.add(AuditEvent(**audit.entry_row(
                actor, action="organization.updated", object_type="organization",
                object_id=tenant.id, after={"second_gesture_window_days": days})))
        await session.flush()
    export = await client.get("/v1/audit-events.csv", headers=admin,
                              params={"action": "organization.updated"})
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert len(rows) == 605  # more than one page of 500
    assert json.loads(rows[0]["after"]) == {"second_gesture_window_days": 605}
    assert json.loads(rows[-1]["after"]) == {"second_gesture_window_days": 1}


async def test_the_audit_page_filters_by_day_in_the_readers_zone_and_shows_before_and_after(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    person = await make_user(db, tenant, role=Role.ADMIN)
    page_headers = await staff_headers(db, person)
    # 23:30 UTC on 1 March is 00:30 on 2 March in Paris.
    clock.freeze(datetime(2027, 3, 1, 23, 30, tzinfo=UTC))
    assert (await client.patch("/v1/users/me", headers=page_headers,
                               json={"time_zone": "Europe/Paris"})).status_code == 200
    assert (await client.patch("/v1/organization", headers=admin, json={
        "reminder_days": 5, "feedback_delay_days": 7})).status_code == 200
    clock.freeze(datetime(2027, 3, 3, 12, 0, tzinfo=UTC))
    on_second = await client.get("/admin/audit", headers=page_headers, params={
        "since": "2027-03-02", "until": "2027-03-02", "action": "organization.updated"})
    assert on_second.status_code == 200
    assert on_second.text.count('href="/admin/audit/') == 1
    on_first = await client.get("/admin/audit", headers=page_headers, params={
        "since": "2027-03-01", "until": "2027-03-01", "action": "organization.updated"})
    assert on_first.text.count('href="/admin/audit/') == 0
    assert "since=2027-03-01T00%3A00%3A00%2B01%3A00" in on_first.text  # the CSV link, too
    entry = (await client.get("/v1/audit-events", headers=admin, params={
        "action": "organization.updated"})).json()["items"][0]
    opened = await client.get(f"/admin/audit/{entry['id']}", headers=page_headers)
    assert opened.status_code == 200
    assert opened.text.count('class="changed"') == 2  # reminder and feedback days
    assert "feedback_delay_days" in opened.text
    other = await make_org(db)
    stranger = await staff_headers(db, await make_user(db, other, role=Role.ADMIN))
    assert (await client.get(f"/admin/audit/{entry['id']}",
                             headers=stranger)).status_code == 404
    agent = await staff_headers(db, await make_user(db, tenant, role=Role.AGENT))
    assert (await client.get("/admin/audit", headers=agent)).status_code == 403
