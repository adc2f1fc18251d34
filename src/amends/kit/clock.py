"""One clock for the whole application, so tests move time forward without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time in UTC, with an offset that tests (and only tests) advance."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        if self._frozen is not None:
            return self._frozen
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        if self._frozen is not None:
            self._frozen += delta
        else:
            self._offset += delta

    def freeze(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("freeze() needs a timezone-aware datetime")
        self._frozen = at.astimezone(UTC)

    def reset(self) -> None:
        self._offset = timedelta()
        self._frozen = None


clock = Clock()


def utcnow() -> datetime:
    return clock.now()
