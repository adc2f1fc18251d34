"""What every request body obeys, written once: bounded numbers, known currencies, plain text,
no unknown fields, and no null where a setting cannot be empty.

A value that passes these bounds fits the database on every backend (a bigint, a PostgreSQL
timestamp, UTF-8 text without NUL), so bad input is refused here with a 422 that names the
field, never later by the database with a 500.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, ClassVar

from babel.numbers import list_currencies
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

# Money in minor units: up to ten billion in major units covers any gesture, order or
# customer's lifetime value a business records, far below a bigint's 9.2e18.
MAX_MINOR = 10**12
# Counts and quantities that are not money (items on an order line, rows, days).
MAX_COUNT = 10**6
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC)

Money = Annotated[int, Field(ge=0, le=MAX_MINOR, description="Minor units (cents), 0 to 10^12")]
PositiveMoney = Annotated[int, Field(gt=0, le=MAX_MINOR, description="Minor units, 1 to 10^12")]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]


@cache
def _currencies() -> frozenset[str]:
    # CLDR's currencies: ISO 4217 codes, current and historic; not made-up ones (`ZZZ`).
    return frozenset(list_currencies())


def _known_currency(code: str) -> str:
    if code not in _currencies():
        raise ValueError(f"{code} is not an ISO 4217 currency code")
    return code


Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"),
                     AfterValidator(_known_currency)]


def _within_calendar(moment: datetime) -> datetime:
    if not EARLIEST <= moment <= LATEST:
        raise ValueError(f"must be between {EARLIEST.year} and {LATEST.year}")
    return moment


Instant = Annotated[AwareDatetime, AfterValidator(_within_calendar)]


def _nul_at(value: Any) -> str | None:
    """Where in `value` a NUL character is: "" for the value itself, "a.0" inside it."""
    if isinstance(value, str):
        return "" if "\x00" in value else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return str(key).replace("\x00", "\\0")
        inner = _nul_at(item)
        if inner is not None:
            return f"{key}.{inner}".rstrip(".")
    return None


class Input(BaseModel):
    """Base of every request body: unknown fields are refused (a misspelt setting is an error,
    not silently ignored) and no text may carry a NUL character (PostgreSQL cannot store one).
    """

    model_config = ConfigDict(extra="forbid")
    # Fields that may be left out but not sent as null (a PATCH's non-nullable settings).
    not_null: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _plain_values(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls.not_null:
            raise ValueError("may be left out but not null")
        where = _nul_at(value)
        if where is not None:
            raise ValueError("must not contain a NUL character" + (f" (at {where})" if where
                                                                   else ""))
        return value


class Patch(Input):
    """A partial update: a field left out is unchanged; null is refused unless the field is in
    `clearable` (a setting that can really be emptied)."""

    clearable: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.not_null = frozenset(cls.model_fields) - cls.clearable
