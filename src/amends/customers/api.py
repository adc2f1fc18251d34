from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Response

from amends.actor import Actor
from amends.auth import MissingScope, SessionDep, require
from amends.customers import service as customers
from amends.customers.schemas import CustomerFound, CustomerIn, CustomerOut
from amends.errors import errors
from amends.roles import Scope
from amends.routing import router as make_router

router = make_router(prefix="/v1/customers", tags=["customers"])
# Customers' e-mail addresses and phone numbers: only for credentials meant to see them.
CustomerWriter = Annotated[Actor, Depends(require(Scope.CUSTOMERS_WRITE))]
CustomerReader = Annotated[Actor, Depends(require(Scope.CUSTOMERS_READ, Scope.CUSTOMERS_WRITE))]
ExternalId = Annotated[str, Path(min_length=1, max_length=100)]


@router.put("/{external_id}", responses=errors(MissingScope))
async def put_customer(external_id: ExternalId, body: CustomerIn, session: SessionDep,
                       actor: CustomerWriter, response: Response) -> CustomerOut:
    """Create or update a customer by the organisation's own id (201 when created)."""
    customer, created = await customers.upsert_customer(
        session, actor, external_id=external_id, data=body.model_dump()
    )
    if created:
        response.status_code = 201
    return CustomerOut.model_validate(customer)


@router.get("/{external_id}", responses=errors(MissingScope, customers.CustomerNotFound))
async def get_customer(external_id: ExternalId, session: SessionDep,
                       actor: CustomerReader) -> CustomerOut:
    """One customer."""
    return CustomerOut.model_validate(
        await customers.get_customer(session, actor, external_id=external_id)
    )


@router.get("", responses=errors(MissingScope))
async def search_customers(session: SessionDep, actor: CustomerReader,
                           q: Annotated[str, Query(min_length=1, max_length=200)],
                           limit: Annotated[int, Query(ge=1, le=100)] = 20
                           ) -> list[CustomerFound]:
    """Find customers by what an agent has at hand: a coupon code (typed as a till reads it:
    any case, spaces or dashes, O for 0, I or L for 1), an order or parcel id, a case reference
    or its ticket or chat reference, a phone number in any format (`06 12 34 56 78` is read in
    the organisation's country, `+33…` and `0033…` as they are), an e-mail address in any case,
    the customer's id, or the start of their name. Each result says what matched
    (`matched`); exact matches come first."""
    return [CustomerFound.model_validate({
        **CustomerOut.model_validate(found.customer).model_dump(),
        "matched": [{"by": m.by, "value": m.value} for m in found.matches]})
        for found in await customers.search_customers(session, actor, query=q, limit=limit)]
