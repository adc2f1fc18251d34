"""The till's scanner reads back exactly the code the coupon page's barcode was drawn for."""

from __future__ import annotations

import pytest
import zxingcpp
from barcode.writer import ImageWriter

from amends.kit import codes
from amends.web.coupon_page import Code128


@pytest.mark.parametrize("code", [
    "9959HVCP36S32D2",  # a leading "99" pair: python-barcode 0.16.1 dropped it
    "99ABCDEFGHJKMN7", "999999ABCDE", "0012345678ABCD", "ABC99DEF12345",
    "AGXV4TD550EWKQB"])  # as `codes.generate()` makes them (fixed: every process collects it)
def test_a_barcode_scans_as_the_code_it_was_drawn_for(code: str) -> None:
    image = Code128(code, writer=ImageWriter()).render({"module_width": 0.4, "dpi": 200,
                                                        "write_text": False})
    assert [found.text for found in zxingcpp.read_barcodes(image)] == [code]


def test_a_freshly_generated_code_scans_as_itself() -> None:
    code = codes.generate()
    image = Code128(code, writer=ImageWriter()).render({"module_width": 0.4, "dpi": 200,
                                                        "write_text": False})
    assert [found.text for found in zxingcpp.read_barcodes(image)] == [code]
