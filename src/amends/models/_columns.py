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
CreatedAt = Annotated[datetime, mapped_column(UTCDateTime, default=utcnow, nullable=False)]
Timestamp = Annotated[datetime, mapped_column(UTCDateTime, nullable=False)]
OptionalTimestamp = Annotated[datetime | None, mapped_column(UTCDateTime, nullable=True)]
