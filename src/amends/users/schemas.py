"""A member of staff's profile, as the API reads and changes it."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from amends.kit.locale import CONSOLE, TimeZoneName
from amends.kit.schema import Patch


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str
    role: str
    team: str | None
    store: str | None
    locale: str | None = Field(description="The console language; null follows the browser")
    time_zone: str | None = Field(description="IANA zone; null uses the organisation's")


class PreferencesUpdate(Patch):
    clearable = frozenset({"locale", "time_zone"})

    locale: str | None = Field(
        default=None, max_length=35, examples=["fr-FR"],
        description=f"A BCP 47 tag in one of the console's languages ({', '.join(CONSOLE)}); "
        "null follows the browser's Accept-Language")
    time_zone: TimeZoneName | None = Field(
        default=None, description="IANA zone for dates in the console; null uses the "
        "organisation's")
