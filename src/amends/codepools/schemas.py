from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from amends.kit.schema import Input


class CodePoolCreate(Input):
    name: str = Field(min_length=1, max_length=100)


class CodePoolOut(BaseModel):
    id: uuid.UUID
    name: str
    available: int
    allocated: int
    created_at: datetime


class PoolImportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    pool_id: uuid.UUID
    source: str
    rows: int
    added: int
    duplicates: int
    created_at: datetime
    finished_at: datetime | None
