from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from amends.kit.schema import Input

Platform = Literal["zendesk", "freshdesk", "intercom", "gorgias"]
# A subdomain, a domain or a workspace id: it is written into the helpdesk's addresses.
ACCOUNT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.\-_]*$"
Account = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200,
                                           pattern=ACCOUNT_PATTERN)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class InstallationSettings(Input):
    """How the app behaves: replies as a public `reply` or an internal `note`; the tags that
    open a case and their reasons; origins besides the helpdesk's own that may frame the
    panel; the reason a ticket without a mapped tag starts with (an empty one: none)."""

    reply_as: Literal["public", "note"] | None = None
    tag_reasons: dict[Annotated[str, StringConstraints(min_length=1, max_length=100)],
                      Annotated[str, StringConstraints(min_length=1, max_length=50)]] | None = (
        Field(default=None, max_length=100))
    frame_origins: list[Annotated[str, StringConstraints(max_length=200)]] | None = Field(
        default=None, max_length=20)
    default_reason: Annotated[str, StringConstraints(max_length=50)] | None = None


Secrets = dict[Annotated[str, StringConstraints(min_length=1, max_length=50)],
               Annotated[str, StringConstraints(min_length=1, max_length=10_000)] | None]


class InstallationIn(Input):
    """An installation in one helpdesk account. `account` is the Zendesk subdomain, the
    Freshdesk domain, the Intercom workspace id or the Gorgias domain; `secrets` are the
    platform's (see each platform's section of the README), never shown back."""

    platform: Platform
    account: Account
    name: Name = ""
    settings: InstallationSettings = Field(default_factory=InstallationSettings)
    secrets: Secrets = Field(default_factory=dict, max_length=20)


class InstallationPatch(Input):
    name: Name | None = None
    active: bool | None = None
    settings: InstallationSettings | None = None
    secrets: Secrets | None = Field(default=None, max_length=20)


class InstallationOut(BaseModel):
    id: str
    platform: str
    account: str
    name: str
    active: bool
    settings: dict[str, Any]
    secrets_set: list[str]
    created_at: datetime
    updated_at: datetime
    # Where the helpdesk reaches this installation: the panel, ticket webhooks, Canvas Kit.
    urls: dict[str, str]


class InstallationList(BaseModel):
    items: list[InstallationOut]
