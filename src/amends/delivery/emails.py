"""The shipped messages as Jinja2 sources: a message's paragraphs (`wording`) become the
plain text and the HTML of an e-mail, and its SMS forms the short texts.

The HTML is a table layout with inline styles only: many e-mail clients drop `<style>`
blocks, and older ones ignore `<div>` widths, so tables carry the layout, `bgcolor` backs up
the background colours, and the button is a link in a coloured cell (the "bulletproof
button"). The logo is an absolute URL (clients do not resolve relative ones).
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

from amends.delivery.wording import COUPON_KINDS, If, Message, Paragraph, Wording, wording

# E-mail channels get subject, text and HTML; the others one text.
SMS_CHANNELS = ("sms", "whatsapp")
FONT = "Arial,Helvetica,sans-serif"
_FRENCH_SPACE = re.compile(r" ([:;?!»])")


def _typography(text: str, language: str) -> str:
    """French puts a non-breaking space before : ; ? ! and inside « »."""
    if language != "fr":
        return text
    return _FRENCH_SPACE.sub("\u00a0\\1", text).replace("« ", "«\u00a0")


def _html_text(text: str) -> str:
    """Wording as HTML: escaped (it holds no markup, only Jinja2 fields), lines kept."""
    return html.escape(text, quote=False).replace("\n", "<br>")


def _text_paragraph(paragraph: Paragraph) -> str:
    if isinstance(paragraph, If):
        return f"{{% if {paragraph.variable} %}}{paragraph.text}\n\n{{% endif %}}"
    return f"{paragraph}\n\n"


def _html_paragraph(paragraph: Paragraph) -> str:
    text = paragraph.text if isinstance(paragraph, If) else paragraph
    block = f'<p style="margin:0 0 16px;">{_html_text(text)}</p>\n'
    if isinstance(paragraph, If):
        return f"{{% if {paragraph.variable} %}}{block}{{% endif %}}"
    return block


def _shows_coupon(kind: str) -> bool:
    return kind in COUPON_KINDS or kind == "thank_you"


def _text(words: Wording, message: Message, kind: str) -> str:
    parts = ["{{ greeting }}\n\n", *(_text_paragraph(p) for p in message.body)]
    if _shows_coupon(kind):
        parts.append(
            f"{{% if code %}}{words.code_label} {{{{ code }}}}\n{words.valid_until}\n\n"
            f"{words.how_to_use} {{{{ page_url }}}}\n\n"
            f"{{% if terms %}}{words.terms_label} {{{{ terms }}}}\n\n{{% endif %}}{{% endif %}}")
    elif message.button:
        parts.append(f"{{% if page_url %}}{message.button}: {{{{ page_url }}}}\n\n{{% endif %}}")
    parts.extend(_text_paragraph(p) for p in message.after)
    parts.append(f"{words.sign_off}\n")
    parts.append(
        "{% if support_email or support_phone or support_url %}\n--\n"
        f"{words.questions}\n"
        "{% if support_email %}{{ support_email }}\n{% endif %}"
        "{% if support_phone %}{{ support_phone }}\n{% endif %}"
        "{% if support_url %}{{ support_url }}\n{% endif %}{% endif %}")
    return "".join(parts)


def _button(label: str) -> str:
    return (
        '<table role="presentation" cellpadding="0" cellspacing="0" border="0" '
        'style="margin:8px 0 24px;"><tr><td align="center" bgcolor="{{ brand_color }}" '
        'style="border-radius:6px;background:{{ brand_color }};">'
        '<a href="{{ page_url }}" style="display:inline-block;padding:14px 28px;'
        f"font:bold 16px {FONT};color:{{{{ brand_text_color }}}};text-decoration:none;"
        f'border-radius:6px;">{_html_text(label)}</a></td></tr></table>\n')


def _coupon_block(words: Wording) -> str:
    return (
        "{% if code %}"
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        'style="margin:8px 0 24px;border:2px dashed {{ brand_color }};border-radius:8px;">'
        '<tr><td align="center" style="padding:20px 8px;">'
        f'<p style="margin:0;font:14px/1.4 {FONT};color:#4b5563;">'
        f"{_html_text(words.code_label)}</p>"
        # Small enough for a 17-character code on one line of a phone's screen: a code
        # broken over two lines is read wrongly at the till.
        '<p style="margin:6px 0;font:bold 22px/1.3 \'Courier New\',Courier,monospace;'
        'letter-spacing:1px;white-space:nowrap;color:#111827;">{{ code }}</p>'
        f'<p style="margin:0;font:14px/1.4 {FONT};color:#374151;">'
        f"{_html_text(words.valid_until)}</p>"
        "</td></tr></table>\n"
        f'<p style="margin:0 0 8px;">{_html_text(words.how_to_use)}</p>\n'
        f"{_button(words.open_coupon)}"
        '{% if terms %}<p style="margin:0 0 16px;font-size:13px;color:#6b7280;">'
        f"{_html_text(words.terms_label)} {{{{ terms }}}}</p>{{% endif %}}"
        "{% endif %}\n")


def layout(words: Wording, content: str, *, footer: bool = True) -> str:
    """The e-mail around `content`: the brand's header (logo or name on its colour), the
    greeting, the content, the sign-off and the support contact."""
    contact = (
        "{% if support_email or support_phone or support_url %}"
        '<tr><td style="padding:16px 32px 24px;border-top:1px solid #e5e7eb;'
        f'font:13px/1.5 {FONT};color:#6b7280;">{_html_text(words.questions)}<br>'
        '{% if support_email %}<a href="mailto:{{ support_email }}" style="color:#374151;">'
        "{{ support_email }}</a><br>{% endif %}"
        '{% if support_phone %}<a href="tel:{{ support_phone|replace(" ", "") }}" '
        'style="color:#374151;">'
        "{{ support_phone }}</a><br>{% endif %}"
        '{% if support_url %}<a href="{{ support_url }}" style="color:#374151;">'
        "{{ support_url }}</a>{% endif %}"
        "</td></tr>{% endif %}\n") if footer else ""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{words.locale}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>{{ brand }}</title>\n</head>\n"
        '<body style="margin:0;padding:0;background:#f3f4f6;">\n'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        'bgcolor="#f3f4f6" style="background:#f3f4f6;">\n'
        '<tr><td align="center" style="padding:24px 12px;">\n'
        '<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0" '
        'bgcolor="#ffffff" style="width:100%;max-width:600px;background:#ffffff;'
        'border-radius:8px;">\n'
        '<tr><td bgcolor="{{ brand_color }}" style="background:{{ brand_color }};'
        'padding:20px 32px;border-radius:8px 8px 0 0;">'
        '{% if logo_url %}<img src="{{ logo_url }}" alt="{{ brand }}" height="40" '
        'style="display:block;height:40px;width:auto;border:0;">'
        f'{{% else %}}<span style="font:bold 20px/1.2 {FONT};'
        'color:{{ brand_text_color }};">{{ brand }}</span>{% endif %}'
        "</td></tr>\n"
        f'<tr><td style="padding:32px;font:16px/1.5 {FONT};color:#1f2937;">\n'
        '<p style="margin:0 0 16px;">{{ greeting }}</p>\n'
        f"{content}"
        f'<p style="margin:24px 0 0;">{_html_text(words.sign_off)}</p>\n'
        "</td></tr>\n"
        f"{contact}"
        "</table>\n</td></tr>\n</table>\n</body>\n</html>\n")


def _html(words: Wording, message: Message, kind: str) -> str:
    content = "".join(_html_paragraph(p) for p in message.body)
    if _shows_coupon(kind):
        content += _coupon_block(words)
    elif message.button:
        content += f"{{% if page_url %}}{_button(message.button)}{{% endif %}}"
    content += "".join(_html_paragraph(p) for p in message.after)
    return layout(words, content)


@lru_cache(maxsize=512)
def shipped(kind: str, channel: str, language: str) -> tuple[str, str, str | None]:
    """The shipped (subject, text, html) of a kind on a channel in a shipped language; the
    SMS and WhatsApp text is the short form, the e-mail has both parts."""
    words = wording(language)
    message = words.messages[kind]
    language = words.locale
    if channel in SMS_CHANNELS:
        return "", _typography(message.sms, language), None
    text = _typography(_text(words, message, kind), language)
    if channel != "email":
        return "", text, None
    return (_typography(message.subject, language), text,
            _typography(_html(words, message, kind), language))


@lru_cache(maxsize=64)
def shorter_sms(kind: str, language: str) -> str:
    """The SMS kept to the essentials (code, expiry, link) for a budget of segments."""
    words = wording(language)
    return _typography(words.messages[kind].sms_short, words.locale)


@lru_cache(maxsize=128)
def note(kind: str, language: str) -> tuple[str, str, str]:
    """A staff note's (subject, text, html) in a shipped language."""
    words = wording(language)
    message = words.notes[kind]
    text = ("{{ greeting }}\n\n" + "".join(_text_paragraph(p) for p in message.body)
            + f"{{% if link_url %}}{message.link}: {{{{ link_url }}}}\n{{% endif %}}")
    content = "".join(_html_paragraph(p) for p in message.body)
    content += ("{% if link_url %}" + _button(message.link).replace("page_url", "link_url")
                + "{% endif %}")
    return (_typography(message.subject, words.locale), _typography(text, words.locale),
            _typography(_staff_layout(words, content), words.locale))


def _staff_layout(words: Wording, content: str) -> str:
    return layout(words, content, footer=False).replace(
        f'<p style="margin:24px 0 0;">{_html_text(words.sign_off)}</p>\n', "")
