"""A member of staff's profile, as the API reads and changes it."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from amends.kit.locale import CONSOLE, TimeZoneName
from amends.kit.schema import Input, Patch
from amends.roles import Role


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


class StaffOut(UserOut):
    """A member of staff as an admin sees them."""

    active: bool
    pending: bool = Field(description="Invited and no password chosen yet")
    created_at: datetime
    last_login_at: datetime | None
    invited_at: datetime | None


class UserInvite(Input):
    email: EmailStr = Field(max_length=320)
    name: str = Field(min_length=1, max_length=200)
    role: Role
    team: str | None = Field(default=None, max_length=100)
    store: str | None = Field(default=None, max_length=100)
    locale: str | None = Field(
        default=None, max_length=35, examples=["fr-FR"],
        description="The console's language for them, and of the invitation e-mail; null "
        "follows their browser (and the organisation's default for the e-mail)")


class UserUpdate(Patch):
    clearable = frozenset({"team", "store", "locale"})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    team: str | None = Field(default=None, max_length=100)
    store: str | None = Field(default=None, max_length=100)
    locale: str | None = Field(default=None, max_length=35)


class PasswordLinkOut(BaseModel):
    user: StaffOut
    emailed: bool = Field(description="The link went to the person through the organisation's "
                          "e-mail channel")
    set_password_url: str | None = Field(
        description="The link itself, only when no e-mail channel could carry it: pass it on "
        "to the person; it is not shown again")
    expires_at: datetime
