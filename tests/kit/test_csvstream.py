"""A large file is read in runs of plain lines, taken a chunk at a time; whatever the file and
however it arrives, every line reads exactly as it does alone, line by line."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from hypothesis import given
from hypothesis import strategies as st

from amends.kit.codes import external_form, external_forms
from amends.kit.csvstream import Line, Run, first_column, first_column_runs

# Pieces of lines that tills and spreadsheets write, and the ones that must be refused.
PIECES = ["POS1", "abc", "A-B", "x.y_z", " ", "\t", ",", ",9.99", '"', '""', "\r", "\x00",
          "\xe9", "\xa0", "\x0b", "\ufeff", "code", "C" * 70]
lines = st.lists(st.sampled_from(PIECES), max_size=6).map("".join)
files = st.lists(lines, max_size=40).map(lambda rows: "\n".join(rows).encode())
bad_bytes = st.sampled_from([b"", b"\xff", b"\xef\xbb\xbf", b"\xff\xfe"])


async def _chunks(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start:start + size]


def _as_lines(body: bytes, size: int, max_line_bytes: int) -> list[tuple[object, ...]]:
    async def read() -> list[tuple[object, ...]]:
        return [(line.number, line.first, line.error) async for line in first_column(
            _chunks(body, size), headers=("code",), max_line_bytes=max_line_bytes)]
    return asyncio.run(read())


def _as_runs(body: bytes, size: int, max_line_bytes: int
             ) -> tuple[list[object], list[tuple[object, ...]]]:
    """What the runs say (a run's first fields without their numbers), and the same with each
    run read again line by line, as an import does to name a refused row's line."""
    async def read() -> tuple[list[object], list[tuple[object, ...]]]:
        said: list[object] = []
        again: list[tuple[object, ...]] = []
        async for item in first_column_runs(_chunks(body, size), headers=("code",),
                                            max_line_bytes=max_line_bytes):
            each: list[Line] = list(item.lines()) if isinstance(item, Run) else [item]
            if isinstance(item, Run):
                said += [first.decode("ascii") for first in item.firsts]
            else:
                said.append((item.number, item.error) if item.error else item.first)
            again += [(line.number, line.first, line.error) for line in each]
        return said, again
    return asyncio.run(read())


@given(files, bad_bytes, st.sampled_from([1, 3, 64, 1 << 20]), st.sampled_from([20, 1000]))
def test_a_file_in_runs_reads_as_it_does_line_by_line(
    body: bytes, start: bytes, size: int, max_line_bytes: int
) -> None:
    body = start + body
    reference = _as_lines(body, size, max_line_bytes)
    said, again = _as_runs(body, size, max_line_bytes)
    assert said == [(number, error) if error else first for number, first, error in reference]
    assert again == reference


def test_a_file_of_plain_lines_comes_in_runs_with_blank_lines_left_out() -> None:
    body = b"code\r\n" + b"".join(b"POS%d,%d\r\n\r\n" % (n, n) for n in range(5000)) + b"\r\n"
    async def read() -> list[Line | Run]:
        return [item async for item in first_column_runs(_chunks(body, 1 << 16),
                                                         headers=("code",))]
    items = asyncio.run(read())
    assert all(isinstance(item, Run) for item in items)
    assert len(items) < 10
    assert [first for item in items if isinstance(item, Run) for first in item.firsts] == [
        b"POS%d" % n for n in range(5000)]


@given(st.text(st.characters(max_codepoint=127, exclude_characters="\n")))
def test_many_codes_at_once_take_the_form_each_takes_alone(line: str) -> None:
    assert external_forms(line.encode()) == external_form(line).encode()
