"""Column helpers shared by the models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Uuid
from sqlalchemy.orm import mapped_column

from amends.db import UTCDateTime
from amends.kit.clock import utcnow
from amends.kit.ids import new_id

UUIDPk = Annotated[uuid.UUID, mapped_column(Uuid, primary_key=True, default=new_id)]
# Tenancy is the distribution key: a tenant table's primary key is (organization_id, id), its
# unique constraints include organization_id and its foreign keys to other tenant tables are
# composite (`tenant_fk`), so that on Citus every table can be distributed by organisation
# and colocated, and a row and the rows it references live on one shard.
OrgFk = Annotated[
    uuid.UUID,
    mapped_column(Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True,
                  sort_order=-1),
]
# The tenant of a row written on every redemption (redemptions, audit events), without a
# foreign key: on PostgreSQL each key check takes a KEY SHARE lock on the one organisation
# row, and concurrent tills then contend on it (a multixact per redemption). The id always
# comes from the authenticated caller; audit events outlive what they describe by design.
# Pool codes, written a million at a time, use it too: their key to their pool holds it.
OrgId = Annotated[uuid.UUID, mapped_column(Uuid, primary_key=True, sort_order=-1)]


def tenant_fk(column: str, parent: str, *, ondelete: str) -> ForeignKeyConstraint:
    """`(organization_id, column)` references `parent(organization_id, id)`: a row never
    points into another organisation, and the two rows are colocated on Citus. A nullable
    `column` is not checked while it is null (MATCH SIMPLE). There is no `ON DELETE SET NULL`
    (Citus cannot set the distribution column to null): such clears are the application's."""
    return ForeignKeyConstraint(["organization_id", column],
                                [f"{parent}.organization_id", f"{parent}.id"],
                                ondelete=ondelete)


CreatedAt = Annotated[datetime, mapped_column(UTCDateTime, default=utcnow, nullable=False)]
Timestamp = Annotated[datetime, mapped_column(UTCDateTime, nullable=False)]
OptionalTimestamp = Annotated[datetime | None, mapped_column(UTCDateTime, nullable=True)]
