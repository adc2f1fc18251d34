"""The wording Amends ships for every message, one module per language (`en`, `fr`, `de`,
`es`, `nl`), each written for its readers rather than translated word for word.

A message is written once, as paragraphs and its SMS forms; `delivery.emails` builds the
e-mail's plain text and HTML from the same paragraphs, so the two parts never say different
things. Organisations override any of it per kind, channel and locale (`message_templates`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module

from babel.lists import format_list

from amends.kit.locale import SHIPPED

# What customers receive, and the notes members of staff receive.
KINDS = ("gesture", "reminder", "apology", "incident_apology", "progress", "feedback",
         "thank_you", "reinstatement")
NOTES = ("approval_needed", "approval_granted", "approval_refused", "case_opened",
         "invitation", "password_reset")
# The messages that carry a coupon's code (the others may, as a thank-you gesture).
COUPON_KINDS = frozenset({"gesture", "reminder", "reinstatement"})


@dataclass(frozen=True, slots=True)
class If:
    """A paragraph shown only when `variable` is not empty (e.g. the gesture of a
    thank-you)."""

    variable: str
    text: str


Paragraph = str | If


@dataclass(frozen=True, slots=True)
class Message:
    """One kind of message in one language (Jinja2 sources, rendered in the sandbox).

    `body` comes before the coupon's block (the code, its expiry, the button), `after`
    after it; `sms` is the SMS or WhatsApp text and `sms_short` what is sent instead when
    `sms` is over the organisation's segment budget: the code, the expiry and the link,
    without the pleasantries."""

    subject: str
    body: tuple[Paragraph, ...]
    sms: str
    sms_short: str
    after: tuple[Paragraph, ...] = ()
    button: str | None = None  # a button to the page when there is no coupon block


@dataclass(frozen=True, slots=True)
class Note:
    """A note to a member of staff: subject, paragraphs and the label of its link."""

    subject: str
    body: tuple[Paragraph, ...]
    link: str


@dataclass(frozen=True, slots=True)
class Gestures:
    """A gesture in words; `{percent}`, `{amount}`, `{sku}` and `{months}` are filled in
    with numbers and amounts already formatted for the locale."""

    percent_off: str
    amount_off: str
    gift_card: str
    free_item: str
    free_item_named: str
    free_shipping: str
    free_shipping_months: str


@dataclass(frozen=True, slots=True)
class Wording:
    locale: str
    hello: str  # "{name}" is the customer's name
    hello_nameless: str
    default_apology: str
    # Joins the expiry's date and time as a sentence reads them: "30 janvier 2027 à 03:48".
    expiry_at: Callable[[str, str], str]
    gestures: Gestures
    code_label: str
    valid_until: str
    how_to_use: str
    open_coupon: str
    terms_label: str
    sign_off: str
    questions: str
    messages: dict[str, Message]
    notes: dict[str, Note]
    # Sentences that features put in a message (`Phrase`), with `{name}` fields.
    phrases: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Phrase:
    """A sentence written in the reader's language when the message is rendered, e.g.
    Phrase("parcel_late", {"parcel": "1Z999"}). A value may itself be a phrase (written in
    the same language) or a tuple of them, joined as the language lists things ("A, B and
    C", "A, B et C")."""

    key: str
    values: dict[str, PhraseValue] = field(default_factory=dict)


PhraseValue = str | Phrase | tuple[str | Phrase, ...]


def wording(language: str) -> Wording:
    """The shipped wording of a language (`fr`), English for one not shipped."""
    return _loaded.get(language) or _loaded["en"]


def phrase(value: PhraseValue, language: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, tuple):
        shipped = language if language in _loaded else "en"
        return format_list([phrase(part, language) for part in value], locale=shipped)
    return wording(language).phrases[value.key].format(
        **{name: phrase(part, language) for name, part in value.values.items()})


_loaded: dict[str, Wording] = {
    language: import_module(f"amends.delivery.wording.{language}").WORDING
    for language in SHIPPED}
