"""Message templates (Jinja2, in a bounded sandbox: `sandbox.py`): the apology, the gesture in
words, the code, the expiry written out and the coupon page link, in the reader's language.
The shipped wording is in `wording/` (built into e-mails by `emails.py`); organisations
override it per kind, channel, locale and incentive."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache, partial
from typing import Any

from babel.numbers import format_percent

from amends.config import get_settings
from amends.delivery import emails
from amends.delivery.sandbox import (
    InvalidTemplate,
    TemplateTooComplex,
    TemplateTooLarge,
    render_each,
)
from amends.delivery.wording import KINDS, wording
from amends.kit.locale import DEFAULT, babel_locale, date, language_of, money, number, time

__all__ = ["InvalidTemplate", "Rendered", "TemplateTooComplex", "TemplateTooLarge", "render",
           "render_async"]

# The GSM 03.38 default alphabet (3GPP TS 23.038, 6.2.1), in code order 0x00-0x7F; 0x1B is
# the escape to the extension table, not a character. Note 0x09 is the capital Ç: a small ç,
# like ê, â, î, ô or û, is not GSM-7 and makes the whole message UCS-2.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
GSM7 = frozenset(GSM7_BASIC) - {"\x1b"}
# The extension table (6.2.1.1): each is sent as the escape and a second septet.
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")
# Punctuation that has a GSM-7 look-alike: an SMS is written with it, so a typographic
# apostrophe or a non-breaking space does not turn a message into UCS-2 (and halve its
# length).
SMS_PLAIN = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ",
                           "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                           "\u201e": '"', "\u2013": "-", "\u2014": "-", "\u2026": "..."})


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str | None
    locale: str = DEFAULT  # the locale of the wording used


def default_template(kind: str, channel: str, language: str = "en"
                     ) -> tuple[str, str, str | None]:
    """The shipped (subject, text, html) of a kind on a channel in a shipped language."""
    return emails.shipped(kind if kind in KINDS else "gesture", channel, language)


SUBJECT_CHARS = 300
DEFAULT_APOLOGY = wording("en").default_apology


# Organisations' templates render on these threads, never on the event loop; two, so that
# heavy templates queue behind each other instead of taking every thread of the default pool
# (which resolves host names and hashes passwords).
_renderers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="amends-templates")


def render(subject: str, text: str, html: str | None, context: dict[str, Any]) -> Rendered:
    """Render a message within the bounds of `template_max_output_chars` and
    `template_max_seconds`; raises `InvalidTemplate`, `TemplateTooLarge` or
    `TemplateTooComplex` (all 422) saying why it does not render."""
    [rendered] = render_many(subject, text, html, [context])
    if isinstance(rendered, InvalidTemplate):
        raise rendered
    return rendered


def render_many(subject: str, text: str, html: str | None, contexts: Sequence[dict[str, Any]]
                ) -> list[Rendered | InvalidTemplate]:
    """`render` for each context (the message, or why it does not render), the template
    rendered once for the contexts that differ only in what it prints as it is
    (`sandbox.render_each`)."""
    settings = get_settings()
    sources = [(subject, False), (text, False)] + ([(html, True)] if html else [])
    results: list[Rendered | InvalidTemplate] = []
    for texts in render_each(sources, contexts, limit=settings.template_max_output_chars,
                             seconds=settings.template_max_seconds):
        if isinstance(texts, InvalidTemplate):
            results.append(texts)
            continue
        # A subject is one line (an e-mail header) and fits its column.
        line = _LINE_BREAKS.sub(" ", texts[0]).strip()
        if len(line) > SUBJECT_CHARS:
            results.append(TemplateTooLarge(f"The subject renders {len(line):,} characters; "
                                            f"at most {SUBJECT_CHARS}."))
            continue
        # Paragraphs left out (a thank-you without a gesture) leave no gap of blank lines.
        results.append(Rendered(subject=line, text=_BLANK_LINES.sub("\n\n", texts[1]).strip(),
                                html=texts[2] if html else None))
    return results


_BLANK_LINES = re.compile(r"\n{3,}")
# Runs of ordinary white space; a non-breaking space (French "excuses : ") is kept.
_LINE_BREAKS = re.compile(r"[ \t\r\n\f\v]+")


async def render_async(subject: str, text: str, html: str | None, context: dict[str, Any],
                       *, shipped: bool = False) -> Rendered:
    """`render` off the event loop, so a heavy template never holds up other requests; the
    shipped wording (ours, and small) renders inline."""
    if shipped:
        return render(subject, text, html, context)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_renderers, partial(render, subject, text, html, context))


async def render_many_async(subject: str, text: str, html: str | None,
                            contexts: Sequence[dict[str, Any]], *, shipped: bool = False
                            ) -> list[Rendered | InvalidTemplate]:
    """`render_many`, off the event loop unless the wording is shipped."""
    if shipped:
        return render_many(subject, text, html, contexts)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_renderers, partial(render_many, subject, text, html,
                                                          contexts))


# A message's gesture and expiry in words are the same for every customer of an incident's
# chunk who reads the same language: each is worked out once (both are pure).
@lru_cache(maxsize=2048)
def gesture_in_words(kind: str, value: int, currency: str, *, sku: str | None = None,
                     days: int | None = None, balance: int | None = None,
                     locale: str | None = None) -> str:
    """The gesture as a customer reads it: "10,00 € de réduction sur votre prochaine
    commande" for `fr-FR`; amounts and numbers formatted for `locale` (English by default)."""
    tag = locale or DEFAULT
    words = wording(language_of(tag)).gestures
    if kind == "percent_off":
        return words.percent_off.format(
            percent=format_percent(Decimal(value) / 100, locale=babel_locale(tag)))
    if kind == "amount_off":
        return words.amount_off.format(amount=money(value, currency, tag))
    if kind == "gift_card":
        return words.gift_card.format(
            amount=money(balance if balance is not None else value, currency, tag))
    if kind == "free_item":
        return words.free_item_named.format(sku=sku) if sku else words.free_item
    months = round(days / 30) if days else None
    if months and months > 1:
        return words.free_shipping_months.format(months=number(months, tag))
    return words.free_shipping


@dataclass(frozen=True, slots=True)
class Expiry:
    full: str  # "30 janvier 2027 à 03:48"
    date: str  # "30 janvier 2027"
    time: str  # "03:48"


@lru_cache(maxsize=2048)
def expiry(expires_at: datetime, locale: str | None, time_zone: str | None) -> Expiry:
    """The expiry in the reader's language and zone; the zone is named when it is UTC (a
    reader with no zone of their own cannot take the time for their local one)."""
    tag = locale or DEFAULT
    day = date(expires_at, tag, time_zone)
    clock = time(expires_at, tag, time_zone)
    if (time_zone or "UTC") == "UTC":
        clock = f"{clock} UTC"
    return Expiry(full=wording(language_of(tag)).expiry_at(day, clock), date=day, time=clock)


def expiry_in_words(expires_at: datetime, locale: str | None = None,
                    time_zone: str | None = None) -> str:
    return expiry(expires_at, locale, time_zone).full


def sms_text(text: str) -> str:
    """The text an SMS carries: typographic spaces and quotes as their GSM-7 look-alikes."""
    return text.translate(SMS_PLAIN)


def sms_segments(text: str) -> dict[str, Any]:
    """Encoding, length in code units and segments of an SMS (3GPP TS 23.038 / 23.040).

    GSM-7 when every character is in the default alphabet or its extension table (an
    extension character takes two septets); else UCS-2 (a character outside the Basic
    Multilingual Plane takes two units). One segment holds 160 septets or 70 units; a longer
    message is split into segments of 153 or 67 (the rest is the concatenation header), and
    an escape pair or a surrogate pair is never split across two segments."""
    if all(ch in GSM7 or ch in GSM7_EXTENDED for ch in text):
        sizes = [2 if ch in GSM7_EXTENDED else 1 for ch in text]
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        sizes = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        single, multi, encoding = 70, 67, "UCS-2"
    units = sum(sizes)
    if units <= single:
        return {"encoding": encoding, "characters": units, "segments": 1}
    segments, used = 1, 0
    for size in sizes:
        if used + size > multi:
            segments, used = segments + 1, 0
        used += size
    return {"encoding": encoding, "characters": units, "segments": segments}


def text_color_on(background: str) -> str:
    """White or near-black, whichever reads better on the brand's colour (WCAG relative
    luminance; the threshold where both have the same contrast)."""
    try:
        channels = [int(background[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    except ValueError:
        return "#ffffff"
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#111827" if luminance > 0.179 else "#ffffff"



SAMPLE_EXPIRY = datetime(2027, 1, 30, 2, 48, tzinfo=UTC)


def sample_context(locale: str = DEFAULT) -> dict[str, Any]:
    """Every variable a message may use, with sample values written for `locale` (a
    template is checked against them before it is saved)."""
    tag = locale or DEFAULT
    language = language_of(tag)
    words = wording(language)
    when = expiry(SAMPLE_EXPIRY, tag, "Europe/Paris")
    return {
        "greeting": words.hello.format(name="Ann"), "customer_name": "Ann",
        "apology": words.default_apology,
        "gesture": gesture_in_words("amount_off", 1000, "EUR", locale=tag),
        "code": "7KQ4M-2XD9R-TW3K8", "expires": when.full, "expires_date": when.date,
        "expires_time": when.time, "page_url": "https://amends.example/c/t",
        "terms": "", "case_reference": "C-1",
        "detail": words.phrases["parcel_late"].format(parcel="1Z999"),
        "brand": "Maison Robert", "brand_color": "#1f3a5f", "brand_text_color": "#ffffff",
        "logo_url": "", "support_email": "care@maison-robert.example",
        "support_phone": "+33 1 23 45 67 89", "support_url": "https://maison-robert.example",
    }
