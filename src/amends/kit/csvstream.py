"""Rows of a CSV file arriving in byte chunks (an upload, a file read in blocks), parsed as
they come: the file is never held in memory, not even one very long line of it.

Each line is judged on its own and keeps its line number: it must be UTF-8 (a byte-order mark
at the start is allowed), hold no NUL byte, be at most `max_line_bytes` long and parse as CSV.
A line that fails carries the reason instead of its fields, so an import can list every bad
row of a file in one answer. Blank lines are skipped. A file that starts with a UTF-16 or
UTF-32 byte-order mark is refused at line 1 as a whole: every line of it would fail.

For files of millions of lines (`first_column_runs`), lines so plain that the csv module
would read them as they are come in runs, each chunk's taken with one regular expression;
only the others are read line by line.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

MAX_LINE_BYTES = 64 * 1024
# The rows an import lists in its refusal; the count covers them all.
LISTED_ROWS = 100
_EXCERPT = 80
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE,
              codecs.BOM_UTF16_BE)
SAVE_AS_UTF8 = "save the file as CSV UTF-8"


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the file: its fields, or why it cannot be read."""

    number: int
    fields: list[str]
    error: str | None = None
    excerpt: str = ""

    @property
    def first(self) -> str:
        return self.fields[0].strip() if self.fields else ""


def _printable(text: str) -> str:
    short = text[:_EXCERPT]
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in short)


def _read(number: int, raw: bytes, max_line_bytes: int) -> Line | None:
    if number == 1 and raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    raw = raw.removesuffix(b"\r")
    if not raw.strip():
        return None
    excerpt = _printable(raw[:_EXCERPT * 4].decode("utf-8", errors="backslashreplace"))
    if len(raw) > max_line_bytes:
        return Line(number, [], f"is longer than {max_line_bytes:,} bytes", excerpt)
    if b"\x00" in raw:
        return Line(number, [], f"contains a NUL byte (a UTF-16 file? {SAVE_AS_UTF8})", excerpt)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return Line(number, [], f"is not UTF-8 (byte 0x{raw[bad.start]:02x} at position "
                    f"{bad.start + 1}: {SAVE_AS_UTF8})", excerpt)
    try:
        fields = next(csv.reader([text], strict=True))
    except csv.Error as bad:
        return Line(number, [], f"is not valid CSV ({bad})", excerpt)
    return Line(number, fields, None, excerpt)


async def _head_first(chunks: AsyncIterable[bytes], size: int) -> AsyncIterator[bytes]:
    """The same bytes, the first chunk at least `size` long (unless the file is shorter)."""
    head: bytearray | None = bytearray()
    async for chunk in chunks:
        if head is None:
            yield chunk
            continue
        head += chunk
        if len(head) >= size:
            yield bytes(head)
            head = None
    if head:
        yield bytes(head)


# A plain line: its first field printable ASCII (spaces and tabs inside it, not around it,
# no quote, no comma), bare or quoted; the other fields, if any, bare or quoted without a
# line break; no NUL, no carriage return but the one before the newline. Such a line reads the
# same through the csv module, so a run of them can be taken at once, without a Python step
# per line. Its first field is group 1 (bare) or 2 (quoted); a blank line matches with none.
_GRAPHIC = rb"[\x21\x23-\x2b\x2d-\x7e]"  # printable ASCII but the space, '"' and ','
_FIRST = _GRAPHIC + rb"(?:[\x21\x23-\x2b\x2d-\x7e \t]*" + _GRAPHIC + rb")?"
_OTHER = rb'(?:"(?:[^"\r\n\x00]|"")*"|[^",\r\n\x00]*)'
_PLAIN = (rb'(?:(?:[ \t]*(' + _FIRST + rb')[ \t]*|"[ \t]*(' + _FIRST + rb')[ \t]*")(?:,'
          + _OTHER + rb")*|[ \t]*)\r?")
_PLAIN_LINE = re.compile(_PLAIN)
_PLAIN_LINES = re.compile(rb"^" + _PLAIN + rb"\n", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive plain lines, read at once: the first field of each (blank lines left out),
    and the lines themselves, to be read one by one (`lines`) by a caller that finds a field
    it refuses and must say on which line."""

    firsts: list[bytes]
    number: int
    raw: bytes = field(repr=False)
    max_line_bytes: int = MAX_LINE_BYTES

    def lines(self) -> Iterator[Line]:
        return _each_line(self.raw, self.number, self.max_line_bytes)


def _each_line(block: bytes, number: int, max_line_bytes: int) -> Iterator[Line]:
    """The lines of `block` (each ending with a newline), the first numbered `number`."""
    start = 0
    while (end := block.find(b"\n", start)) >= 0:
        if (line := _read(number, block[start:end], max_line_bytes)) is not None:
            yield line
        number += 1
        start = end + 1


def _is_utf8(block: bytes) -> bool:
    if block.isascii():
        return True
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _runs(block: bytes, number: int, max_line_bytes: int) -> Iterator[Line | Run]:
    """The lines of `block`: the plain ones in runs, the others one by one."""
    found = _PLAIN_LINES.findall(block)
    if (len(found) == block.count(b"\n") and _is_utf8(block)
            and (len(block) <= max_line_bytes
                 or max(map(len, block.split(b"\n"))) <= max_line_bytes)):
        firsts = [bare or quoted for bare, quoted in found]
        if b"" in firsts:
            firsts = [first for first in firsts if first]
        if firsts:
            yield Run(firsts, number, block, max_line_bytes)
        return
    # Some line is not plain: line by line, the plain ones still gathered in runs.
    run: list[bytes] = []
    run_number, run_from, start = number, 0, 0
    while (end := block.find(b"\n", start)) >= 0:
        raw = block[start:end]
        plain = (_PLAIN_LINE.fullmatch(raw) if len(raw) <= max_line_bytes and raw.isascii()
                 else None)
        if plain is None:
            if run:
                yield Run(run, run_number, block[run_from:start], max_line_bytes)
            if (line := _read(number, raw, max_line_bytes)) is not None:
                yield line
            run, run_number, run_from = [], number + 1, end + 1
        elif first := plain.group(1) or plain.group(2):
            run.append(first)
        number += 1
        start = end + 1
    if run:
        yield Run(run, run_number, block[run_from:], max_line_bytes)


async def _lines(chunks: AsyncIterable[bytes], *, max_line_bytes: int, runs: bool
                 ) -> AsyncIterator[Line | Run]:
    pending = bytearray()
    number = 1
    too_long = False  # the current line was refused for its length: drop it up to its end
    first = True
    # With `runs`, the first non-blank line (a header, a byte-order mark) is read alone.
    alone = runs
    async for chunk in _head_first(chunks, 4):
        if first and chunk.startswith(_WIDE_BOMS):
            yield Line(1, [], f"the file is UTF-16 or UTF-32: {SAVE_AS_UTF8}")
            return
        first = False
        pending += chunk
        if cut := pending.rfind(b"\n") + 1:
            block = bytes(pending[:cut])
            del pending[:cut]
            start = 0
            if too_long:
                start = block.index(b"\n") + 1
                number += 1
                too_long = False
            while alone and (end := block.find(b"\n", start)) >= 0:
                if (line := _read(number, block[start:end], max_line_bytes)) is not None:
                    alone = False
                    yield line
                number += 1
                start = end + 1
            rest = block[start:] if start else block
            items: Iterator[Line | Run] = (_runs(rest, number, max_line_bytes) if runs
                                           else _each_line(rest, number, max_line_bytes))
            for item in items:
                yield item
            number += rest.count(b"\n")
        if len(pending) > max_line_bytes and not too_long:
            too_long = True
            yield Line(number, [], f"is longer than {max_line_bytes:,} bytes",
                       _printable(bytes(pending[:_EXCERPT]).decode("utf-8", "replace")))
        if too_long:
            pending.clear()
    if not too_long and (line := _read(number, bytes(pending), max_line_bytes)) is not None:
        yield line


async def csv_lines(chunks: AsyncIterable[bytes], *, max_line_bytes: int = MAX_LINE_BYTES
                    ) -> AsyncIterator[Line]:
    """Every non-blank line, numbered from 1, with its fields or the reason it is refused."""
    async for line in _lines(chunks, max_line_bytes=max_line_bytes, runs=False):
        assert isinstance(line, Line)
        yield line


async def first_column(chunks: AsyncIterable[bytes], *, headers: tuple[str, ...],
                       max_line_bytes: int = MAX_LINE_BYTES) -> AsyncIterator[Line]:
    """Every line (its first field in `Line.first`), skipping a first line that is a header
    named like one of `headers`."""
    async for line in _first_column(chunks, headers=headers, max_line_bytes=max_line_bytes,
                                    runs=False):
        assert isinstance(line, Line)
        yield line


async def first_column_runs(chunks: AsyncIterable[bytes], *, headers: tuple[str, ...],
                            max_line_bytes: int = MAX_LINE_BYTES) -> AsyncIterator[Line | Run]:
    """As `first_column`, but consecutive plain lines come together as a `Run` of their first
    fields, each what `Line.first` would be: a large file is read without a Python step per
    line. Lines that are not plain (a quote inside a field, a character beyond ASCII in the
    first field, a line the csv module refuses) come one by one as `Line`s, in their place."""
    async for item in _first_column(chunks, headers=headers, max_line_bytes=max_line_bytes,
                                    runs=True):
        yield item


async def _first_column(chunks: AsyncIterable[bytes], *, headers: tuple[str, ...],
                        max_line_bytes: int, runs: bool) -> AsyncIterator[Line | Run]:
    first = True
    async for item in _lines(chunks, max_line_bytes=max_line_bytes, runs=runs):
        if (first and isinstance(item, Line) and item.error is None
                and item.first.lower() in headers):
            first = False
            continue
        first = False
        yield item


@dataclass
class BadRows:
    """The rows an import refused: the first `LISTED_ROWS` with their line and reason, and how
    many there were in all."""

    count: int = 0
    listed: list[dict[str, Any]] = field(default_factory=list)

    def add(self, line: Line, reason: str | None = None) -> None:
        self.count += 1
        if len(self.listed) < LISTED_ROWS:
            self.listed.append({"line": line.number, "message": reason or line.error or "",
                                "value": line.excerpt})

    def __bool__(self) -> bool:
        return self.count > 0

    def summary(self, *, rows: int) -> str:
        """A sentence naming the first few bad rows, for a problem's detail and the console."""
        first = "; ".join(f"line {row['line']}: {row['message']}" for row in self.listed[:3])
        more = f"; and {self.count - 3:,} more" if self.count > 3 else ""
        return (f"{self.count:,} of {rows:,} rows cannot be imported ({first}{more}). Nothing "
                "was imported: correct them and send the whole file again.")

    def problem(self, *, rows: int) -> dict[str, Any]:
        """What a refusal carries besides its detail: every count, and the rows listed."""
        return {"rows": rows, "bad_rows": self.count, "kept": 0, "errors": self.listed}


# Writing: a cell a spreadsheet would read as a formula (=, +, -, @, or a tab or carriage
# return before one) is written with a leading apostrophe, so opening an export in Excel or
# LibreOffice runs nothing a customer or an agent typed (OWASP, "CSV Injection":
# https://owasp.org/www-community/attacks/CSV_Injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """`value` as a CSV cell that no spreadsheet evaluates. A number is written as it is: a
    negative amount ("-800") is a number to a spreadsheet, never a formula."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_line(cells: list[object]) -> str:
    """One CSV line (RFC 4180 quoting, CRLF), each cell made safe with `safe_cell`."""
    out = io.StringIO()
    csv.writer(out).writerow([safe_cell(cell) for cell in cells])
    return out.getvalue()
