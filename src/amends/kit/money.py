"""Money is integer minor units everywhere; people type and read major units."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def parse_major(text: str) -> int | None:
    """'42', '42.5' or '42,50' to minor units (4250); empty is None. Raises ValueError for
    anything that is not a non-negative amount with at most two decimals."""
    cleaned = text.strip().replace(" ", "").replace(",", ".")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(text) from None
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        raise ValueError(text)
    return int(value * 100)


def format_minor(minor: int | None, currency: str = "") -> str:
    """123456 -> '1,234.56 EUR'; None -> '—'."""
    if minor is None:
        return "—"
    return f"{minor / 100:,.2f} {currency}".strip()


# ISO 4217 currencies whose minor unit is not a hundredth (all others have two decimals).
MINOR_UNIT_DIGITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
                     "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


def minor_digits(currency: str) -> int:
    """How many decimals the currency's minor unit has: 2 for EUR, 0 for JPY, 3 for KWD."""
    return MINOR_UNIT_DIGITS.get(currency, 2)
