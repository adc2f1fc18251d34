"""Message templates (Jinja2, in a bounded sandbox: `sandbox.py`): the apology, the gesture in
words, the code, the expiry written out and the coupon page link. Organisations override the
built-in wording per kind, channel, language and incentive."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from amends.config import get_settings
from amends.delivery.sandbox import (
    InvalidTemplate,
    TemplateTooComplex,
    TemplateTooLarge,
    render_all,
)

__all__ = ["InvalidTemplate", "Rendered", "TemplateTooComplex", "TemplateTooLarge", "render",
           "render_async"]

GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€")


GESTURE_TEXT = (
    "Hello {{ customer_name }},\n\n"
    "{{ apology }}\n\n"
    "As an apology, here is {{ gesture }}. Your code: {{ code }}\n"
    "It is valid until {{ expires }}.\n\n"
    "Show it at the till or enter it at checkout: {{ page_url }}\n"
    "{% if terms %}\nTerms: {{ terms }}\n{% endif %}"
)
GESTURE_HTML = (
    "<p>Hello {{ customer_name }},</p><p>{{ apology }}</p>"
    "<p>As an apology, here is <strong>{{ gesture }}</strong>.</p>"
    "<p style=\"font-size:1.4em;letter-spacing:.08em\"><strong>{{ code }}</strong></p>"
    "<p>Valid until {{ expires }}.</p>"
    "<p><a href=\"{{ page_url }}\">Open your coupon</a> to show it at the till or use it "
    "online.</p>{% if terms %}<p><small>{{ terms }}</small></p>{% endif %}"
)
SHORT_TEXT = (
    "{{ apology }} As an apology: {{ gesture }}, code {{ code }}, valid until {{ expires }}. "
    "{{ page_url }}"
)
REMINDER_TEXT = (
    "Hello {{ customer_name }}, a reminder: {{ gesture }} (code {{ code }}) expires on "
    "{{ expires }}. {{ page_url }}"
)
APOLOGY_TEXT = (
    "Hello {{ customer_name }}, {{ apology }} {{ detail }} We are on it and will keep you "
    "posted (case {{ case_reference }})."
)
PROGRESS_TEXT = (
    "Hello {{ customer_name }}, an update on case {{ case_reference }}: {{ detail }} We have not "
    "forgotten you and will write again soon."
)
FEEDBACK_TEXT = (
    "Hello {{ customer_name }}, we hope case {{ case_reference }} is now put right. How did we "
    "do? {% if page_url %}Tell us here: {{ page_url }}{% else %}Just reply to this message."
    "{% endif %}"
)
THANK_YOU_TEXT = (
    "Hello {{ customer_name }}, thank you for shopping with us again.{% if code %} A small "
    "thank-you: {{ gesture }}, code {{ code }}, valid until {{ expires }}. {{ page_url }}"
    "{% endif %}"
)
SUBJECTS = {"apology": "We are sorry: there is a problem with your order",
            "progress": "An update on your case {{ case_reference }}",
            "feedback": "How did we do?", "thank_you": "Thank you"}
TEXTS = {"apology": APOLOGY_TEXT, "progress": PROGRESS_TEXT, "feedback": FEEDBACK_TEXT,
         "thank_you": THANK_YOU_TEXT, "reminder": REMINDER_TEXT}
DEFAULTS: dict[tuple[str, str], tuple[str, str, str | None]] = {
    ("gesture", "email"): ("We are sorry: {{ gesture }} for you", GESTURE_TEXT, GESTURE_HTML),
    ("gesture", "helpdesk"): ("", GESTURE_TEXT, None),
    ("gesture", "webhook"): ("", GESTURE_TEXT, None),
    ("gesture", "copy"): ("", GESTURE_TEXT, None),
    ("gesture", "sms"): ("", SHORT_TEXT, None),
    ("gesture", "whatsapp"): ("", SHORT_TEXT, None),
    ("reminder", "email"): ("Your {{ gesture }} expires on {{ expires }}", REMINDER_TEXT, None),
}
DEFAULT_APOLOGY = "We are sorry we let you down, and we want to make it right."


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str | None


def default_template(kind: str, channel: str) -> tuple[str, str, str | None]:
    if (kind, channel) in DEFAULTS:
        return DEFAULTS[(kind, channel)]
    if kind in TEXTS:
        return (SUBJECTS.get(kind, "") if channel == "email" else "", TEXTS[kind], None)
    return "", SHORT_TEXT, None


SUBJECT_CHARS = 300
BUILT_IN = frozenset({*(part for parts in DEFAULTS.values() for part in parts if part),
                      *TEXTS.values(), *SUBJECTS.values(), ""})
# Organisations' templates render on these threads, never on the event loop; two, so that
# heavy templates queue behind each other instead of taking every thread of the default pool
# (which resolves host names and hashes passwords).
_renderers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="amends-templates")


def render(subject: str, text: str, html: str | None, context: dict[str, Any]) -> Rendered:
    """Render a message within the bounds of `template_max_output_chars` and
    `template_max_seconds`; raises `InvalidTemplate`, `TemplateTooLarge` or
    `TemplateTooComplex` (all 422) saying why it does not render."""
    settings = get_settings()
    sources = [(subject, False), (text, False)] + ([(html, True)] if html else [])
    rendered = render_all(sources, context, limit=settings.template_max_output_chars,
                          seconds=settings.template_max_seconds)
    # A subject is one line (an e-mail header) and fits its column.
    subject = " ".join(rendered[0].split())
    if len(subject) > SUBJECT_CHARS:
        raise TemplateTooLarge(f"The subject renders {len(subject):,} characters; at most "
                               f"{SUBJECT_CHARS}.")
    return Rendered(subject=subject, text=rendered[1].strip(),
                    html=rendered[2] if html else None)


async def render_async(subject: str, text: str, html: str | None, context: dict[str, Any]
                       ) -> Rendered:
    """`render` off the event loop, so a heavy template never holds up other requests; the
    built-in wording (ours, and tiny) renders inline."""
    if {subject, text, html or ""} <= BUILT_IN:
        return render(subject, text, html, context)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_renderers, partial(render, subject, text, html, context))


def money(minor: int, currency: str) -> str:
    return f"{minor / 100:,.2f} {currency}"


def gesture_in_words(kind: str, value: int, currency: str, *, sku: str | None = None,
                     days: int | None = None, balance: int | None = None) -> str:
    if kind == "percent_off":
        return f"{value}% off your next order"
    if kind == "amount_off":
        return f"{money(value, currency)} off your next order"
    if kind == "gift_card":
        return f"a gift card worth {money(balance if balance is not None else value, currency)}"
    if kind == "free_item":
        return f"a free item ({sku})" if sku else "a free item"
    months = round(days / 30) if days else None
    return f"free shipping for {months} months" if months and months > 1 else "free shipping"


def expiry_in_words(expires_at: datetime) -> str:
    return f"{expires_at:%A %-d %B %Y}, {expires_at:%H:%M} UTC"


def sms_segments(text: str) -> dict[str, Any]:
    """GSM-7 when every character fits it (extended ones count twice), else UCS-2."""
    if all(ch in GSM7 or ch in GSM7_EXTENDED for ch in text):
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
        single, multi, encoding = 70, 67, "UCS-2"
    segments = 1 if units <= single else -(-units // multi)
    return {"encoding": encoding, "characters": units, "segments": segments}
