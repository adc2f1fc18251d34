"""Every shipped message renders in every shipped language, with nothing of the template and
no English left over; SMS are counted by the GSM-7 tables of 3GPP TS 23.038."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from amends.delivery import emails, templates
from amends.delivery.sandbox import render_all
from amends.delivery.staff import NOTE_FIELDS
from amends.delivery.templates import sms_segments
from amends.delivery.wording import COUPON_KINDS, KINDS, NOTES, wording
from amends.kit.locale import SHIPPED

CHANNELS = ("email", "sms", "whatsapp", "helpdesk", "webhook", "copy")
# Words that give away English wording left in another language. Left out: "code" (the word
# in French, German and Dutch too; Spanish writes "código", checked below), "note" (French)
# and "open" (Dutch).
ENGLISH = ("hello", "your", "valid until", "thank you", "thanks", "sorry", "please",
           "order", "expires", "gift card", "free shipping", "we are", "reminder",
           "update", "kind regards", "apology", "show it", "checkout", "the", "and",
           "with", "you", "request", "approval", "customer", "case", "parcel", "rule",
           "granted", "refused", "reason")


def _values(language: str, **more: Any) -> dict[str, Any]:
    return {**templates.sample_context(language), **more}


def _english_left(text: str, inserted: dict[str, Any], language: str) -> list[str]:
    for value in inserted.values():  # the code, the brand, URLs and addresses we put in
        if isinstance(value, str) and value:
            text = text.replace(value, " ")
    text = re.sub(r"<[^>]+>", " ", text)  # HTML tags and their inline styles
    words = ENGLISH + (("code",) if language == "es" else ())
    return [w for w in words if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text, re.I)]


@pytest.mark.parametrize("language", SHIPPED)
@pytest.mark.parametrize("kind", KINDS)
def test_every_shipped_message_renders_in_every_language_without_english_left_over(
    kind: str, language: str
) -> None:
    cases = [_values(language)]
    if kind == "thank_you":  # with and without a gesture
        cases.append(_values(language, code="", gesture="", expires="", page_url=""))
    for context in cases:
        for channel in CHANNELS:
            subject, text, html = templates.default_template(kind, channel, language)
            rendered = templates.render(subject, text, html, context)
            parts = [rendered.subject, rendered.text, rendered.html or ""]
            for part in parts:
                assert "{{" not in part
                assert "{%" not in part
                assert "}}" not in part
            if channel == "email":
                assert rendered.subject
                assert rendered.html
                assert f'<html lang="{language}">' in rendered.html
                assert context["greeting"] in rendered.text
                if context["code"] and kind in (*COUPON_KINDS, "thank_you"):
                    assert context["code"] in rendered.text
                    assert context["code"] in rendered.html
                    assert context["expires"] in rendered.text
            if language != "en":
                for part in parts:
                    assert _english_left(part, context, language) == [], (channel, part)
        if language != "en":
            short = templates.render("", emails.shorter_sms(kind, language), None, context)
            assert _english_left(short.text, context, language) == []


@pytest.mark.parametrize("language", SHIPPED)
@pytest.mark.parametrize("note", NOTES)
def test_every_staff_note_renders_in_every_language(note: str, language: str) -> None:
    words = wording(language)
    context = {**templates.sample_context(language), **dict.fromkeys(NOTE_FIELDS, "X-1"),
               "greeting": words.hello.format(name="Sam"), "link_url": "https://a.example/x",
               "amount": "500,00 €", "deadline": "30 janvier 2027 à 03:48",
               "opened": "30 janvier 2027 à 03:48", "why": "X-1"}
    subject, text, html = emails.note(note, language)
    rendered = templates.render(subject, text, html, context)
    for part in (rendered.subject, rendered.text, rendered.html or ""):
        assert "{{" not in part
        assert "{%" not in part
        if language != "en":
            assert _english_left(part, context, language) == [], part
    assert "https://a.example/x" in rendered.text


def test_the_english_wording_stays_as_customers_and_staff_know_it() -> None:
    context = _values("en", gesture="free shipping for 6 months")
    subjects = {kind: templates.render(*templates.default_template(kind, "email", "en"),
                                       context).subject for kind in KINDS}
    assert subjects["gesture"] == "We are sorry: free shipping for 6 months for you"
    assert subjects["feedback"] == "How did we do?"
    assert subjects["thank_you"] == "Thank you"
    assert "problem" in subjects["apology"]


def test_the_gesture_reads_naturally_in_each_language() -> None:
    def words(kind: str, tag: str, **more: Any) -> str:
        return templates.gesture_in_words(kind, more.pop("value", 1000), "EUR", locale=tag,
                                          **more)

    assert words("amount_off", "fr-FR") == "10,00\u00a0€ de réduction sur votre prochaine " \
                                           "commande"
    assert words("percent_off", "fr", value=15) == "15\u00a0% de réduction sur votre " \
                                                    "prochaine commande"
    assert words("gift_card", "de", balance=2500) == "einen Geschenkgutschein über 25,00\u00a0€"
    assert words("free_item", "es", sku="TAZA-1") == "un artículo gratis (TAZA-1)"
    assert words("free_shipping", "nl", days=180) == "6 maanden gratis verzending"
    assert words("amount_off", "en") == "€10.00 off your next order"


def test_the_expiry_is_written_in_the_readers_language_and_zone() -> None:
    moment = datetime(2027, 1, 30, 2, 48, tzinfo=UTC)
    assert templates.expiry_in_words(moment, "fr-FR", "Europe/Paris") == \
        "30 janvier 2027 à 03:48"
    assert templates.expiry_in_words(moment, "de", "Europe/Berlin") == \
        "30. Januar 2027 um 03:48 Uhr"
    assert templates.expiry_in_words(moment, "es", "Europe/Madrid") == \
        "30 de enero de 2027 a las 3:48"
    assert templates.expiry_in_words(moment.replace(hour=0), "es", "Europe/Madrid") == \
        "30 de enero de 2027 a la 1:48"
    assert templates.expiry_in_words(moment, "nl", "Europe/Amsterdam") == \
        "30 januari 2027 om 03:48 uur"
    # Without a zone of their own a reader is told the time is UTC.
    assert templates.expiry_in_words(moment, "en-GB", None) == "30 January 2027 at 02:48 UTC"


def test_the_gsm7_tables_are_those_of_3gpp_23_038() -> None:
    assert len(templates.GSM7_BASIC) == 128
    assert len(templates.GSM7) == 127  # every code but the escape, each once
    assert templates.GSM7_BASIC.index("Ç") == 0x09
    assert templates.GSM7_BASIC.index("à") == 0x7F
    assert templates.GSM7_BASIC.index("§") == 0x5F
    assert templates.GSM7_BASIC.index("¤") == 0x24
    assert set("\f^{}\\[~]|€") == templates.GSM7_EXTENDED
    assert sms_segments("Ça va")["encoding"] == "GSM-7"
    assert sms_segments("ça va")["encoding"] == "UCS-2"
    assert sms_segments("Désolé")["encoding"] == "GSM-7"
    assert sms_segments("fête")["encoding"] == "UCS-2"
    assert sms_segments("Grüße aus Köln")["encoding"] == "GSM-7"
    assert sms_segments("Ñandú, ¿qué?")["encoding"] == "UCS-2"  # ú and é fine, but not both
    assert sms_segments("Ñandu ¿qué?")["encoding"] == "GSM-7"


def test_sms_segments_never_split_an_escape_or_a_surrogate_pair() -> None:
    assert sms_segments("a" * 160) == {"encoding": "GSM-7", "characters": 160, "segments": 1}
    assert sms_segments("a" * 158 + "€") == {"encoding": "GSM-7", "characters": 160,
                                              "segments": 1}
    assert sms_segments("a" * 161)["segments"] == 2
    # 152 septets then an escape pair: the pair starts the second segment.
    assert sms_segments("a" * 152 + "€" + "a" * 152)["segments"] == 3
    assert sms_segments("a" * 152 + "€" + "a" * 151)["segments"] == 2
    assert sms_segments("✓" * 70)["segments"] == 1
    assert sms_segments("✓" * 71)["segments"] == 2
    assert sms_segments("✓" * 66 + "😀" + "✓" * 66)["segments"] == 3
    assert sms_segments("✓" * 65 + "😀" + "✓" * 67)["segments"] == 2


def test_typographic_spaces_and_quotes_do_not_make_an_sms_unicode() -> None:
    text = templates.sms_text("10,00\u00a0€ jusqu\u2019au 30 janvier\u202f!")
    assert text == "10,00 € jusqu'au 30 janvier !"
    assert sms_segments(text)["encoding"] == "GSM-7"


def test_a_shipped_email_renders_well_within_the_output_bound() -> None:
    subject, text, html = templates.default_template("gesture", "email", "fr")
    rendered = render_all([(subject, False), (text, False), (html or "", True)],
                          templates.sample_context("fr"), limit=20_000, seconds=1.0)
    assert all(len(part) < 20_000 for part in rendered)
