from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import func, select

from amends.db import Database
from amends.models import Coupon, PoolCode
from tests.factories import bearer, make_customer, make_incentive, make_org

AMENDS = Path(sys.executable).with_name("amends")


async def test_a_csv_is_imported_with_duplicates_counted_and_bad_rows_refuse_it_whole(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    pool = (await client.post("/v1/code-pools", headers=admin, json={"name": "Tills"})).json()
    bad = "code\nABC123\nabc-124\nABC123\n\nBAD CODE!\nZZ9\n" + "X" * 70 + "\n"
    refused = await client.post(f"/v1/code-pools/{pool['id']}/imports", headers={
        **admin, "content-type": "text/csv", "x-filename": "tills.csv"}, content=bad.encode())
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "code_import_rejected"
    assert [row["line"] for row in refused.json()["errors"]] == [6, 8]
    csv = "code\nABC123\nabc-124\nABC123\n\nZZ9\n"
    first = await client.post(f"/v1/code-pools/{pool['id']}/imports", headers={
        **admin, "content-type": "text/csv", "x-filename": "tills.csv"}, content=csv.encode())
    assert first.status_code == 201, first.text
    report = first.json()
    assert (report["rows"], report["added"], report["duplicates"]) == (4, 3, 1)
    second = await client.post(f"/v1/code-pools/{pool['id']}/imports", headers={
        **admin, "content-type": "text/csv"}, content=csv.encode())
    assert second.json()["added"] == 0
    assert second.json()["duplicates"] == 4
    listed = (await client.get("/v1/code-pools", headers=admin)).json()
    assert listed[0]["available"] == 3
    assert listed[0]["allocated"] == 0


async def test_twenty_concurrent_issues_from_a_pool_of_ten(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    pool = (await client.post("/v1/code-pools", headers=admin, json={"name": "P"})).json()
    body = "\n".join(f"POS{n:04d}" for n in range(10)).encode()
    await client.post(f"/v1/code-pools/{pool['id']}/imports",
                      headers={**admin, "content-type": "text/csv"}, content=body)
    incentive = await make_incentive(db, tenant, code_pool_id=pool["id"])
    for n in range(20):
        await make_customer(db, tenant, external_id=f"C-{n}")
    responses = await asyncio.gather(*(
        client.post("/v1/coupons", headers=admin,
                    json={"customer_id": f"C-{n}", "incentive_id": str(incentive.id)})
        for n in range(20)))
    issued = [r.json() for r in responses if r.status_code == 201]
    exhausted = [r.json() for r in responses if r.status_code == 409]
    assert len(issued) == 10
    assert len(exhausted) == 10
    assert len({c["code"] for c in issued}) == 10
    assert {c["code"].replace("-", "") for c in issued} == {f"POS{n:04d}" for n in range(10)}
    assert {p["code"] for p in exhausted} == {"code_pool_exhausted"}
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Coupon)) == 10
        assert await session.scalar(select(func.count()).select_from(PoolCode).where(
            PoolCode.coupon_id.is_(None))) == 0
    metrics = (await client.get("/metrics")).text
    assert 'amends_code_pool_exhausted_total{pool="P"}' in metrics


async def test_a_pool_code_is_redeemed_as_the_till_printed_it(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    admin = bearer(tenant.admin_token)
    pool = (await client.post("/v1/code-pools", headers=admin, json={"name": "P"})).json()
    await client.post(f"/v1/code-pools/{pool['id']}/imports",
                      headers={**admin, "content-type": "text/csv"}, content=b"SORRY0LI\n")
    incentive = await make_incentive(db, tenant, code_pool_id=pool["id"])
    await make_customer(db, tenant, external_id="C-1")
    await client.post("/v1/coupons", headers=admin,
                      json={"customer_id": "C-1", "incentive_id": str(incentive.id)})
    redeemed = await client.post("/v1/redemptions", headers=admin, json={
        "code": "sorry0li", "customer_id": "C-1", "order_id": "O", "order_amount": 4000})
    assert redeemed.status_code == 201, redeemed.text


def test_the_command_line_import_streams_with_progress_and_is_safe_to_rerun(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "AMENDS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'c.db'}",
           "COLUMNS": "160"}
    subprocess.run([str(AMENDS), "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([str(AMENDS), "create-org", "acme", "Acme"], env=env, check=True,
                   capture_output=True)
    path = tmp_path / "codes.csv"
    path.write_text("code\n" + "".join(f"C{n:06d}\n" for n in range(20_000)) + "!!\n")
    args = [str(AMENDS), "codes", "import", str(path), "--pool", "Tills", "--org", "acme"]
    refused = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    assert refused.returncode == 1, refused.stderr
    assert "line 20002" in refused.stdout
    assert "Nothing was imported" in refused.stdout
    path.write_text("code\n" + "".join(f"C{n:06d}\n" for n in range(20_000)))
    first = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    assert "added 20,000, duplicates 0." in first.stdout
    second = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    assert "added 0, duplicates 20,000" in second.stdout
