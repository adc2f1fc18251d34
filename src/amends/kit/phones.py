"""Phone numbers as people type them, read into the E.164 form customers' numbers are stored in
(`+33612345678`), with Google's libphonenumber rules (the `phonenumbers` package).

A number typed in national form ("06 12 34 56 78") is read in the countries the organisation
works in: the country of its time zone and those its locales name (`fr-FR`); when neither names
one, its default language's likeliest country. International forms (`+33 6…`, `0033 6…`) need
no country.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import phonenumbers
from babel.core import get_global

# What a typed phone number may contain: digits and the separators people put between them.
_TYPED = re.compile(r"^\+?[\d\s().\-/]{6,30}$")


def _territory(tag: str) -> str | None:
    """The country a BCP 47 tag names (`fr-FR` -> FR), or None (`fr`)."""
    for part in tag.replace("_", "-").split("-")[1:]:
        if len(part) == 2 and part.isalpha():
            return part.upper()
    return None


def _likeliest(tag: str) -> str | None:
    """The likeliest country of a language (`fr` -> FR, `en` -> US), after CLDR."""
    language = tag.replace("_", "-").split("-")[0].lower()
    likely = str(get_global("likely_subtags").get(language, ""))
    return _territory(likely)


def regions(*, time_zone: str | None, default_locale: str,
            locales: Iterable[str] = ()) -> list[str]:
    """The countries whose national format a number typed without its country code is read in,
    most likely first."""
    found: list[str] = []
    zone = str(get_global("zone_territories").get(time_zone or "", "") or "")
    if zone and zone != "001":
        found.append(zone)
    for tag in (default_locale, *locales):
        country = _territory(tag)
        if country:
            found.append(country)
    if not found:
        likeliest = _likeliest(default_locale)
        if likeliest:
            found.append(likeliest)
    return [r for r in dict.fromkeys(found)
            if r in phonenumbers.SUPPORTED_REGIONS]


def e164_candidates(text: str, countries: Sequence[str]) -> list[str]:
    """Every E.164 number `text` may be: itself when typed internationally (`+33 6 12 34 56 78`,
    `0033 6 12 34 56 78`), else the national number read in each of `countries`. Empty when
    `text` is no phone number."""
    typed = text.strip()
    if not _TYPED.match(typed):
        return []
    if typed.startswith("00"):
        typed = "+" + typed[2:]
    found: list[str] = []
    for region in (None,) if typed.startswith("+") else tuple(countries):
        try:
            number = phonenumbers.parse(typed, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            found.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return list(dict.fromkeys(found))
