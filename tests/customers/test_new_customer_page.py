"""An agent whose search finds nobody creates the customer and opens their case in one form:
both or neither, and what to fix said field by field."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select

from amends.db import Database
from amends.models import Case, Customer
from amends.roles import Role
from tests.factories import make_customer, make_org, make_user, staff_headers


def _field_error(page: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field}-error">([^<]+)</p>', page)
    assert found, f"no error shown for {field}"
    return found[1]


async def test_a_search_that_finds_nobody_offers_the_form_prefilled_and_it_opens_the_case(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    agent = await make_user(db, tenant, role=Role.AGENT)
    headers = await staff_headers(db, agent)
    page = await client.get("/", params={"q": "C-7788"}, headers=headers)
    assert page.status_code == 200
    assert "No customer matches" in page.text
    assert "data-new-customer" in page.text
    assert 'name="external_id" value="C-7788"' in page.text  # what they typed, as the id
    by_mail = await client.get("/", params={"q": "kim@example.com"}, headers=headers)
    assert 'name="email" type="email" value="kim@example.com"' in by_mail.text

    created = await client.post("/customers/new", headers=headers, data={
        "external_id": "C-7788", "name": "Kim Lee", "email": "Kim@Example.com",
        "phone": "+33 6 12 34 56 78", "locale": "en", "tier": "gold",
        "reason": "late_delivery", "severity": "3", "channel": "phone",
        "summary": "First order, a week late"})
    assert created.status_code == 303, created.text
    assert created.headers["location"].startswith("/cases/")
    case_page = await client.get(created.headers["location"], headers=headers)
    assert "Customer C-7788 created and case" in case_page.text
    async with db.transaction(write=False) as session:
        customer = await session.scalar(select(Customer).where(
            Customer.organization_id == tenant.id, Customer.external_id == "C-7788"))
        assert customer is not None
        case = await session.scalar(select(Case).where(Case.customer_id == customer.id))
    assert (customer.name, customer.email, customer.phone, customer.value_tier) == (
        "Kim Lee", "kim@example.com", "+33612345678", "gold")
    assert case is not None
    assert (case.reason, case.severity, case.channel) == ("late_delivery", 3, "phone")


async def test_mistakes_are_said_field_by_field_and_nothing_is_half_created(
    client: httpx.AsyncClient, db: Database
) -> None:
    tenant = await make_org(db)
    await make_customer(db, tenant, external_id="C-1")
    agent = await make_user(db, tenant, role=Role.AGENT)
    headers = await staff_headers(db, agent)
    wrong = await client.post("/customers/new", headers=headers, data={
        "external_id": "C-2", "name": "Kim", "email": "not-an-email", "phone": "0612",
        "locale": "xx", "tier": "diamond", "reason": "late_delivery", "severity": "2",
        "channel": "email"})
    assert wrong.status_code == 422
    assert _field_error(wrong.text, "email").startswith("Enter an e-mail address")
    assert _field_error(wrong.text, "phone").startswith("Enter the number with its country")
    assert _field_error(wrong.text, "locale") == "Choose one from the list."
    assert _field_error(wrong.text, "tier") == "Choose one from the list."
    assert 'value="Kim"' in wrong.text  # what they typed stays

    taken = await client.post("/customers/new", headers=headers, data={
        "external_id": "C-1", "name": "Someone else", "locale": "en", "tier": "standard",
        "reason": "late_delivery", "severity": "2", "channel": "email"})
    assert taken.status_code == 422
    assert "exists already" in _field_error(taken.text, "external_id")

    # The customer is valid, the case is not (a reason the organisation does not have).
    half = await client.post("/customers/new", headers=headers, data={
        "external_id": "C-3", "name": "Kim", "locale": "en", "tier": "standard",
        "reason": "no_such_reason", "severity": "2", "channel": "email"})
    assert half.status_code == 422
    assert _field_error(half.text, "reason") == "Choose one from the list."
    async with db.transaction(write=False) as session:
        count = await session.scalar(select(func.count()).select_from(Customer).where(
            Customer.organization_id == tenant.id))
        cases = await session.scalar(select(func.count()).select_from(Case).where(
            Case.organization_id == tenant.id))
    assert count == 1  # only C-1, made above
    assert cases == 0


async def test_who_may_not_open_cases_gets_no_form(client: httpx.AsyncClient,
                                                   db: Database) -> None:
    tenant = await make_org(db)
    manager = await make_user(db, tenant, role=Role.AUDITOR)
    headers = await staff_headers(db, manager)
    page = await client.get("/", params={"q": "C-9"}, headers=headers)
    assert "data-new-customer" not in page.text
    refused = await client.post("/customers/new", headers=headers, data={
        "external_id": "C-9", "name": "Kim", "locale": "en", "tier": "standard",
        "reason": "late_delivery", "severity": "2", "channel": "email"})
    assert refused.status_code == 403
