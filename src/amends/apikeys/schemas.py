from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from amends.kit.schema import Input


class ApiKeyCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(min_length=1, max_length=20)


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    hint: str
    scopes: list[str]
    created_at: datetime
    created_by_user_id: uuid.UUID | None = Field(
        description="The member of staff who created it; null when made by another key or "
        "the command line")
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(
        description="When it last authenticated a request, to the minute (null: never)")


class ApiKeyCreated(ApiKeyOut):
    token: str = Field(description="The secret, shown this once; store it now.")
