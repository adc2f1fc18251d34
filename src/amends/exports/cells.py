"""The cells of the exports, written by the database: each is a SQL expression that renders
a value as the text of its CSV cell, the same on PostgreSQL and SQLite (each in its own
words), so that rows need no work in Python on their way to the client."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Numeric, String, Text, case, cast, func, literal
from sqlalchemy.sql.expression import type_coerce

from amends.kit import codes
from amends.kit.csvstream import FORMULA_START
from amends.kit.money import MINOR_UNIT_DIGITS
from amends.models import Coupon

CODE_LENGTH = Coupon.code.type.length or 64

_BY_DIGITS: dict[int, list[str]] = {}
for _currency, _digits in sorted(MINOR_UNIT_DIGITS.items()):
    _BY_DIGITS.setdefault(_digits, []).append(_currency)
_OTHER_DIGITS = sorted(MINOR_UNIT_DIGITS)


# The first characters of a formula, as code points (one function call per cell to test).
_FORMULA_CODES = [ord(character) for character in FORMULA_START]


class Cells:
    """SQL that renders a value as the text of its CSV cell, on one dialect."""

    def __init__(self, dialect: str) -> None:
        self.postgres = dialect == "postgresql"

    def moment(self, column: Any) -> ColumnElement[Any]:
        """2027-01-31T18:00:00Z (UTC, to the second)."""
        if self.postgres:
            return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        return func.strftime("%Y-%m-%dT%H:%M:%SZ", column)

    def uuid(self, column: Any) -> ColumnElement[Any]:
        """The canonical 8-4-4-4-12 form (SQLite keeps 32 hexadecimal digits)."""
        if self.postgres:
            return cast(column, Text)
        hex_digits = type_coerce(column, String)
        parts = [func.substr(hex_digits, begin, size)
                 for begin, size in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))]
        joined: ColumnElement[Any] = parts[0]
        for part in parts[1:]:
            joined = joined + "-" + part
        return func.lower(joined)

    def money(self, minor: Any, currency: Any) -> ColumnElement[Any]:
        """Minor units in major ones with the currency's decimals: 1050 EUR -> 10.50,
        1050 JPY -> 1050, 1050 KWD -> 1.050. Amounts are never negative here."""
        def major(digits: int) -> ColumnElement[Any]:
            if self.postgres:  # a numeric times 0.01 has exactly two decimals
                return (cast(minor, Numeric) if digits == 0
                        else minor * literal(Decimal(1).scaleb(-digits), Numeric))
            if digits == 0:
                return cast(minor, Text)
            unit = 10 ** digits
            return func.printf(f"%d.%0{digits}d", minor // unit, minor % unit)

        # Most amounts have two decimals: one test (a hashed list) finds them.
        return case((currency.not_in(_OTHER_DIGITS), major(2)),
                    *((currency.in_(codes), major(digits))
                      for digits, codes in _BY_DIGITS.items()), else_=major(2))

    def code(self, column: Any) -> ColumnElement[Any]:
        """A code as people read it (`kit.codes.display`): in groups of five, with dashes."""
        value = type_coerce(column, String)
        size = codes.GROUP

        def grouped(full: int) -> ColumnElement[Any]:
            """`full` groups of five and a dash, then the rest (one to five characters)."""
            text: ColumnElement[Any] = func.substr(value, 1 + full * size)
            for group in reversed(range(full)):
                text = func.substr(value, 1 + group * size, size) + "-" + text
            return text

        longest = (CODE_LENGTH - 1) // size
        return self.text(case({full: grouped(full) for full in range(longest + 1)},
                              value=(func.length(value) - 1) // size, else_=value))

    def text(self, column: Any) -> ColumnElement[Any]:
        """Text as typed, but one that starts like a spreadsheet formula gets a leading
        apostrophe (`safe_cell`'s rule); an empty text is an empty cell, as a missing one."""
        value = type_coerce(column, String)
        first = func.ascii(value) if self.postgres else func.unicode(value)
        return self.empty_as_none(
            case((first.in_(_FORMULA_CODES), literal("'") + value), else_=value))

    def empty_as_none(self, column: Any) -> ColumnElement[Any]:
        """An empty text as an empty cell, as a missing one (COPY writes "" for it)."""
        return func.nullif(column, "")
