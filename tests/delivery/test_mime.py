"""The e-mail's bytes read back, by Python's own e-mail parser, as what was meant."""

from __future__ import annotations

from email import message_from_bytes, policy

from amends.delivery.mime import Mail, build, needs_smtputf8


def _read(mail: Mail) -> object:
    return message_from_bytes(build(mail), policy=policy.default)


def _lines(content: str) -> str:
    return content.replace("\r\n", "\n")  # SMTP carries CRLF line ends


def test_names_subjects_and_bodies_outside_ascii_read_back_as_written() -> None:
    subject = "Toutes nos excuses : 10,00 € de réduction sur votre prochaine commande " * 3
    mail = Mail(from_name="Maison Robert, Paris", from_address="care@maison.example",
                to="ann@example.com", reply_to="help@maison.example", subject=subject.strip(),
                message_id="0190abcd@maison.example",
                text="Bonjour Ann,\n.\nUne ligne = un point.\n" + "é" * 200,
                html="<p>Bonjour <b>Ann</b> = 10,00\u00a0€</p>",
                headers=(("X-Amends-Delivery", "0190abcd"),))
    raw = build(mail)
    assert raw.isascii()
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    read = message_from_bytes(raw, policy=policy.default)
    assert read["Subject"] == subject.strip()
    assert read["From"].addresses[0].display_name == "Maison Robert, Paris"
    assert read["From"].addresses[0].addr_spec == "care@maison.example"
    assert read["Reply-To"] == "help@maison.example"
    assert read["Message-ID"] == "<0190abcd@maison.example>"
    assert read["X-Amends-Delivery"] == "0190abcd"
    plain, html = read.get_body(("plain",)), read.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert _lines(plain.get_content()) == mail.text + "\n"
    assert _lines(html.get_content()) == f"{mail.html}\n"
    assert not needs_smtputf8(mail)


def test_a_brand_name_outside_ascii_and_a_line_break_in_a_subject_stay_in_their_header() -> None:
    mail = Mail(from_name="Café Müller", from_address="care@cafe.example", to="b@example.com",
                subject="Sorry\r\nBcc: everyone@example.com", message_id="1@cafe.example",
                text="Hi", html=None)
    read = _read(mail)
    assert read["From"].addresses[0].display_name == "Café Müller"  # type: ignore[index]
    assert read["Bcc"] is None  # type: ignore[index]
    assert read["Subject"] == "Sorry Bcc: everyone@example.com"  # type: ignore[index]
    assert _lines(read.get_content()) == "Hi\n"  # type: ignore[attr-defined]


def test_an_address_outside_ascii_travels_with_smtputf8() -> None:
    mail = Mail(from_name="", from_address="care@shop.example", to="jürgen@beispiel.de",
                subject="Hallo", message_id="2@shop.example", text="Hallo", html=None)
    assert needs_smtputf8(mail)


def test_a_short_subject_is_written_as_it_is_and_a_long_one_is_folded() -> None:
    short = Mail(from_name="Shop", from_address="care@shop.example", to="a@example.com",
                 subject="Sorry about your order", message_id="3@shop.example", text="Hi",
                 html=None)
    assert b"\r\nSubject: Sorry about your order\r\n" in build(short)
    long = Mail(from_name="Shop", from_address="care@shop.example", to="a@example.com",
                subject=("Sorry " * 30).strip(), message_id="4@shop.example", text="Hi", html=None)
    raw = build(long)
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    assert _read(long)["Subject"] == ("Sorry " * 30).strip()  # type: ignore[index]
