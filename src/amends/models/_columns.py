"""Column helpers shared by the models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from sqlalchemy import ForeignKey, Uuid
from sqlalchemy.orm import mapped_column

from amends.db import UTCDateTime
from amends.kit.clock import utcnow
from amends.kit.ids import new_id

UUIDPk = Annotated[uuid.UUID, mapped_column(Uuid, primary_key=True, default=new_id)]
OrgFk = Annotated[
    uuid.UUID,
    mapped_column(Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), index=False),
]
# The tenant of a row written on every redemption (redemptions, audit events), without a
# foreign key: on PostgreSQL each key check takes a KEY SHARE lock on the one organisation
# row, and concurrent tills then contend on it (a multixact per redemption). The id always
# comes from the authenticated caller; audit events outlive what they describe by design.
OrgId = Annotated[uuid.UUID, mapped_column(Uuid, index=False)]
CreatedAt = Annotated[datetime, mapped_column(UTCDateTime, default=utcnow, nullable=False)]
Timestamp = Annotated[datetime, mapped_column(UTCDateTime, nullable=False)]
OptionalTimestamp = Annotated[datetime | None, mapped_column(UTCDateTime, nullable=True)]
