"""Locales and time zones: which language a person reads, and dates, times and amounts written
for them with Babel (CLDR), in their own zone.

A locale is a BCP 47 tag (`fr-FR`, `de-AT`, `pt-BR`), stored canonical. What a person is
shown falls back along `fallback_chain`: `fr-CA` -> `fr` -> the organisation's default ->
English, and the first locale on the way that has the wording wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal, get_currency_precision
from pydantic import AfterValidator, Field

# The languages Amends ships wording for (messages, the coupon page, wallet passes). The
# console ships English and French.
SHIPPED = ("en", "fr", "de", "es", "nl")
CONSOLE = ("en", "fr")
DEFAULT = "en"


def canonical(tag: str) -> str:
    """`fr_ca`, `FR-ca` -> `fr-CA`; raises ValueError for what CLDR does not know (`xx`,
    `english`, an empty string)."""
    text = tag.strip().replace("_", "-")
    if not text or len(text) > 35:
        raise ValueError(f"{tag!r} is not a BCP 47 locale (e.g. fr-FR)")
    try:
        parsed = Locale.parse(text, sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(f"{tag!r} is not a locale we know (use a BCP 47 tag such as fr-FR)"
                         ) from None
    parts = [parsed.language]
    if parsed.script:
        parts.append(parsed.script)
    if parsed.territory:
        parts.append(parsed.territory)
    return "-".join(parts)


def check_time_zone(name: str) -> str:
    """An IANA zone name (`Europe/Paris`); raises ValueError otherwise."""
    if name not in _zones():
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Europe/Paris)")
    return name


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


# Request schemas use these: the value is checked and stored canonical.
LocaleTag = Annotated[str, Field(max_length=35, examples=["fr-FR"]),
                      AfterValidator(canonical)]
TimeZoneName = Annotated[str, Field(max_length=64, examples=["Europe/Paris"]),
                         AfterValidator(check_time_zone)]


def language_of(tag: str) -> str:
    return tag.split("-", 1)[0]


def fallback_chain(tag: str | None, default: str = DEFAULT) -> list[str]:
    """The locales to try for a person, most specific first: `fr-CA` with default `de` ->
    [`fr-CA`, `fr`, `de`, `en`]. An unknown or empty tag starts at the default."""
    chain: list[str] = []

    def add(candidate: str | None) -> None:
        if not candidate:
            return
        try:
            full = canonical(candidate)
        except ValueError:
            return
        parts = full.split("-")
        for n in range(len(parts), 0, -1):
            step = "-".join(parts[:n])
            if step not in chain:
                chain.append(step)

    add(tag)
    add(default)
    add(DEFAULT)
    return chain


def choose(tag: str | None, available: Iterable[str], default: str = DEFAULT) -> str:
    """The first locale of `tag`'s fallback chain that is `available` (the organisation's
    default, then English, when none is)."""
    offered = set(available)
    for candidate in fallback_chain(tag, default):
        if candidate in offered:
            return candidate
    return default if default in offered else DEFAULT


def from_accept_language(header: str | None, available: Iterable[str],
                         default: str = DEFAULT) -> str:
    """The browser's preferred language (`Accept-Language: fr-CH, fr;q=0.9, en;q=0.8`) among
    `available`, by quality then order."""
    offered = tuple(available)
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate((header or "").split(",")):
        name, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if name and name != "*" and quality > 0:
            weighted.append((-quality, position, name))
    for _, _, name in sorted(weighted):
        for candidate in fallback_chain(name, default="")[:2]:
            if candidate in offered:
                return candidate
    return default


def babel_locale(tag: str | None) -> Locale:
    try:
        return Locale.parse((tag or DEFAULT).replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse(DEFAULT)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def money(minor: int, currency: str, tag: str | None) -> str:
    """1000, EUR, fr-FR -> '10,00 €' (with the narrow spaces CLDR puts there)."""
    digits = get_currency_precision(currency)
    amount = Decimal(minor).scaleb(-digits)
    return format_currency(amount, currency, locale=babel_locale(tag))


def number(value: int | float | Decimal, tag: str | None) -> str:
    return format_decimal(value, locale=babel_locale(tag))


def date(moment: datetime, tag: str | None, time_zone: str | None) -> str:
    """'30 janvier 2027' in the reader's zone."""
    return format_date(moment.astimezone(zone(time_zone)), "long", locale=babel_locale(tag))


def time(moment: datetime, tag: str | None, time_zone: str | None) -> str:
    """'03:48' (or '3:48 AM') in the reader's zone."""
    return format_time(moment, "short", tzinfo=zone(time_zone), locale=babel_locale(tag))


def date_time(moment: datetime, tag: str | None, time_zone: str | None) -> str:
    """'30 janvier 2027, 03:48': the long date and short time joined as CLDR joins them for
    the locale, in the reader's zone."""
    locale = babel_locale(tag)
    pattern = str(locale.datetime_formats["long"])
    return (pattern.replace("{1}", date(moment, tag, time_zone))
            .replace("{0}", time(moment, tag, time_zone)))


def zone_label(moment: datetime, tag: str | None, time_zone: str | None) -> str:
    """The zone's short name where the reader may not be in it ('CET', 'UTC+1')."""
    return format_time(moment, "z", tzinfo=zone(time_zone), locale=babel_locale(tag))
