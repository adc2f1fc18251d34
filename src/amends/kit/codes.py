"""Coupon codes: unguessable, readable, with a check character.

Crockford base32 (0-9, A-Z without I, L, O, U) carries the random part: 14 characters, 70 bits
from `secrets`. The check character makes the weighted sum of all characters, weights 1..n, a
multiple of 37. Because 37 is prime and larger than any character value (0-32), changing one
character, or swapping two adjacent different ones, always breaks that sum: every single typo
and every adjacent transposition is caught. The check character takes one of 33 values, the 32
digits and `U`; codes whose check would need one of the four other values are drawn again.
An optional organisation prefix is part of the checked characters.

Input is normalised the way people type: any case, dashes and spaces ignored, O read as 0, and
I or L read as 1.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_ALPHABET = ALPHABET + "U"
MODULUS = 37
RANDOM_LENGTH = 14
GROUP = 5
_VALUE = {ch: i for i, ch in enumerate(CHECK_ALPHABET)}
_TRANSLATE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-_.]+")
PREFIX_PATTERN = re.compile(r"^[0-9A-HJKMNP-TV-Z]{1,6}$")


def _check_value(body: str) -> int:
    total = sum((i + 1) * _VALUE[ch] for i, ch in enumerate(body))
    weight = len(body) + 1
    # weight * check = -total (mod 37)
    return (-total * pow(weight, -1, MODULUS)) % MODULUS


def generate(prefix: str = "") -> str:
    """A new normalised code (no separators): prefix + 14 random characters + check."""
    if prefix and not PREFIX_PATTERN.match(prefix):
        raise ValueError("a prefix is 1-6 Crockford base32 characters")
    while True:
        body = random_reference(prefix, RANDOM_LENGTH)
        check = _check_value(body)
        if check < len(CHECK_ALPHABET):
            return body + CHECK_ALPHABET[check]


def random_reference(prefix: str, length: int = 12) -> str:
    """A random reference people can read out (`C-7KQ4M2XD9RTW`): `length` Crockford
    characters, 5 bits each (12 give 60 bits: a repeat among a million is about 1 in 2
    million)."""
    bits = secrets.randbits(5 * length)
    return prefix + "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(length))


def normalise(text: str) -> str:
    """What a person typed, in canonical form (upper case, no separators, O->0, I/L->1)."""
    return _SEPARATORS.sub("", text).upper().translate(_TRANSLATE)


def is_valid(code: str) -> bool:
    """True when a normalised code's check character matches."""
    if len(code) < 2 or any(ch not in _VALUE for ch in code):
        return False
    body, check = code[:-1], code[-1]
    if any(ch not in ALPHABET for ch in body):
        return False
    return sum((i + 1) * _VALUE[ch] for i, ch in enumerate(code)) % MODULUS == 0 and \
        _VALUE[check] == _check_value(body)


def display(code: str, prefix: str = "") -> str:
    """Grouped for reading: `PFX-7KQ4M-2XD9R-TW3K8`."""
    body = code[len(prefix):] if prefix and code.startswith(prefix) else code
    groups = [body[i:i + GROUP] for i in range(0, len(body), GROUP)]
    return "-".join(([prefix] if prefix and code.startswith(prefix) else []) + groups)


def external_form(text: str) -> str:
    """Codes from a till's own pool: upper case, separators removed, letters kept as they are."""
    return _SEPARATORS.sub("", text).upper()


# What `external_form` does to ASCII, as one `bytes.translate` for text holding many codes, one
# a line: the separators that `_SEPARATORS` matches (but the newline) removed, letters upper.
_ASCII_SEPARATORS = bytes(c for c in range(128) if c != 0x0A and _SEPARATORS.match(chr(c)))
_ASCII_UPPER = bytes.maketrans(b"abcdefghijklmnopqrstuvwxyz", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def external_forms(lines: bytes) -> bytes:
    """`external_form` of each line of ASCII text, all at once."""
    return lines.translate(_ASCII_UPPER, _ASCII_SEPARATORS)
