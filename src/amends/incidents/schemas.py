from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from amends.kit.schema import Input, Instant

ChannelPolicy = Literal["preferred", "email", "sms", "whatsapp", "webhook"]


class IncidentIn(Input):
    title: str = Field(min_length=1, max_length=200)
    reason: str = Field(pattern=r"^[a-z0-9_]{1,50}$")
    severity: int = Field(default=2, ge=1, le=4)
    window_start: Instant | None = None
    window_end: Instant | None = None
    incentive_id: uuid.UUID | None = Field(default=None,
                                           description="The gesture, from the catalogue")
    message: str = Field(default="", max_length=2000,
                         description="The apology in the organisation's words")
    channel_policy: ChannelPolicy = Field(
        default="preferred", description="Each customer's own channel, or a fixed one")
    holdout_percent: int | None = Field(default=None, ge=0, le=50, description=(
        "Share of customers (chosen at random) who get the apology without the gesture, "
        "to measure what the gesture adds; left out, the organisation's "
        "holdout_percent_default"))

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.window_start and self.window_end and self.window_end <= self.window_start:
            raise ValueError("the window must end after it starts")
        return self


class IncidentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    reason: str
    severity: int
    window_start: datetime | None
    window_end: datetime | None
    incentive_id: uuid.UUID | None
    message: str
    channel_policy: str
    holdout_percent: int
    status: str
    affected: int
    approved_by_label: str | None
    approved_at: datetime | None
    created_by_label: str
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime


class AffectedQuery(Input):
    kind: Literal["shipments_at_location", "orders_placed"]
    since: Instant
    until: Instant
    location: str | None = Field(default=None, max_length=200,
                                 description="shipments_at_location: the depot or hub")

    @model_validator(mode="after")
    def _sensible(self) -> Self:
        if self.until <= self.since:
            raise ValueError("until must be after since")
        if self.kind == "shipments_at_location" and not self.location:
            raise ValueError("give the location (depot) the parcels were scanned at")
        return self


class AddedOut(BaseModel):
    read: int
    added: int
    duplicates: int
    unknown: int


class Note(Input):
    note: str = Field(default="", max_length=1000)


class CancelIn(Input):
    reason: str = Field(min_length=1, max_length=1000)
