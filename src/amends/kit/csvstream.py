"""Rows of a CSV file arriving in byte chunks (an upload, a file read in blocks), parsed as
they come: the file is never held in memory."""

from __future__ import annotations

import codecs
import csv
from collections.abc import AsyncIterable, AsyncIterator


async def csv_rows(chunks: AsyncIterable[bytes]) -> AsyncIterator[list[str]]:
    """Each row as a list of fields (UTF-8, with or without a byte-order mark)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    pending = ""
    async for chunk in chunks:
        pending += decoder.decode(chunk)
        *lines, pending = pending.split("\n")
        for line in lines:
            yield next(csv.reader([line.rstrip("\r")]), [])
    pending += decoder.decode(b"", final=True)
    if pending.strip():
        yield next(csv.reader([pending.rstrip("\r")]), [])


async def first_column(chunks: AsyncIterable[bytes], *, headers: tuple[str, ...]
                       ) -> AsyncIterator[str]:
    """The first field of every row, skipping a header row named like one of `headers`."""
    first = True
    async for row in csv_rows(chunks):
        value = row[0] if row else ""
        if first and value.strip().lower() in headers:
            first = False
            continue
        first = False
        yield value
