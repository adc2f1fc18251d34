"""An e-mail's bytes, written directly: text and HTML as multipart/alternative (RFC 2046),
UTF-8 bodies in quoted-printable (RFC 2045), headers outside ASCII as encoded words
(RFC 2047), folded at 78 characters (RFC 5322).

`email.message.EmailMessage` builds the same message, but parses and folds every header
through its header registry: about a millisecond a message, more than sending it over a kept
connection. An incident sends a million of them.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from email.header import Header
from email.utils import formatdate

_BREAKS = re.compile(r"[\r\n]+")
# What a display name cannot hold unquoted (RFC 5322 3.2.3 `specials`).
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')


@dataclass(frozen=True, slots=True)
class Mail:
    from_name: str
    from_address: str
    to: str
    subject: str
    message_id: str  # without the angle brackets
    text: str
    html: str | None
    reply_to: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # more, ASCII (X-Amends-Delivery)


def _line(value: str) -> str:
    """A header value on one line: a line break in it would start a header of its own."""
    return _BREAKS.sub(" ", value)


def _ascii(value: str) -> bool:
    return value.isascii()


def _unstructured(name: str, value: str) -> str:
    """`Name: value`, folded; encoded words when the value is not ASCII."""
    value = _line(value)
    if _ascii(value) and len(name) + 2 + len(value) <= 78:
        return f"{name}: {value}"  # most subjects: nothing to encode or fold
    charset = "us-ascii" if _ascii(value) else "utf-8"
    return f"{name}: " + Header(value, charset, header_name=name).encode(linesep="\r\n")


def _address(name: str, display_name: str, address: str) -> str:
    """`Name: "Display, Name" <address>`; a display name outside ASCII as encoded words (an
    address outside ASCII is written as it is: it travels with SMTPUTF8)."""
    display_name, address = _line(display_name).strip(), _line(address)
    if not display_name:
        return f"{name}: {address}"
    if not _ascii(display_name):
        shown = Header(display_name, "utf-8", header_name=name).encode(linesep="\r\n")
    elif _SPECIALS.search(display_name):
        shown = '"' + display_name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        shown = display_name
    return f"{name}: {shown} <{address}>"


def _body(content: str) -> bytes:
    """UTF-8 in quoted-printable, CRLF line ends (the last line's too), lines of at most 76
    characters; an `=` in the content is written `=3D`, so the text never holds a boundary
    that starts with `=`."""
    data = content.replace("\r\n", "\n").replace("\r", "\n").encode()
    if not data.endswith(b"\n"):
        data += b"\n"  # the last line ends too, as `EmailMessage.set_content` writes it
    encoded = binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)
    return encoded.replace(b"\n", b"\r\n")


def needs_smtputf8(mail: Mail) -> bool:
    """An address outside ASCII can only travel with SMTPUTF8 (RFC 6531)."""
    return not (_ascii(mail.from_address) and _ascii(mail.to)
                and _ascii(mail.reply_to or ""))


def build(mail: Mail) -> bytes:
    headers = [
        _address("From", mail.from_name, mail.from_address),
        f"To: {_line(mail.to)}",
    ]
    if mail.reply_to:
        headers.append(f"Reply-To: {_line(mail.reply_to)}")
    headers += [
        _unstructured("Subject", mail.subject),
        f"Message-ID: <{_line(mail.message_id)}>",
        f"Date: {formatdate(usegmt=True)}",
        *(f"{name}: {_line(value)}" for name, value in mail.headers),
        "MIME-Version: 1.0",
    ]
    text_part = (b'Content-Type: text/plain; charset="utf-8"\r\n'
                 b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + _body(mail.text))
    if mail.html is None:
        head = "\r\n".join(headers).encode() + b"\r\n"
        return head + text_part
    boundary = f"==amends-{binascii.hexlify(mail.message_id.encode()[:24]).decode()}=="
    headers.append(f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"')
    separator = f"\r\n--{boundary}\r\n".encode()
    html_part = (b'Content-Type: text/html; charset="utf-8"\r\n'
                 b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + _body(mail.html))
    return (("\r\n".join(headers) + "\r\n\r\n").encode() + separator.lstrip(b"\r\n")
            + text_part + separator + html_part + f"\r\n--{boundary}--\r\n".encode())
