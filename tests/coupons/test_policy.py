from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from amends.coupons import policy

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "value", "order", "extra", "expected"),
    [
        ("percent_off", 10, 12345, {}, 1235),  # 1234.5 rounds half up
        ("percent_off", 100, 5000, {}, 5000),
        ("amount_off", 1000, 5000, {}, 1000),
        ("amount_off", 1000, 600, {}, 600),  # never more than the order
        ("free_item", 2500, 9000, {}, 2500),
        ("gift_card", 5000, 3000, {"balance": 1200}, 1200),
        ("gift_card", 5000, 3000, {"balance": 4000}, 3000),
        ("free_shipping", 495, 3000, {}, 495),
        ("free_shipping", 495, 3000, {"shipping_amount": 699}, 699),
        ("amount_off", 1000, 0, {}, 0),
    ],
)
def test_discounts(kind: str, value: int, order: int, extra: dict[str, int],
                   expected: int) -> None:
    assert policy.discount(kind, value, order, **extra) == expected


def test_a_percentage_is_valued_on_the_average_order() -> None:
    assert policy.face_value("percent_off", 20, average_order_value=6000) == 1200
    assert policy.face_value("amount_off", 700, average_order_value=6000) == 700


def test_expiry_is_the_earlier_of_days_and_a_fixed_date() -> None:
    assert policy.expiry(NOW, validity_days=30, valid_until=None) == NOW + timedelta(days=30)
    end = NOW + timedelta(days=3)
    assert policy.expiry(NOW, validity_days=30, valid_until=end) == end
    with pytest.raises(ValueError, match="validity"):
        policy.expiry(NOW, validity_days=None, valid_until=None)


def test_status_shown_to_people() -> None:
    later, earlier = NOW + timedelta(days=1), NOW - timedelta(days=1)
    assert policy.display_status("active", later, NOW) == "active"
    assert policy.display_status("active", earlier, NOW) == "expired"
    assert policy.display_status("redeemed", earlier, NOW) == "redeemed"
    assert policy.display_status("reserved", later, NOW, reserved_until=earlier) == "active"
    assert policy.display_status("reserved", later, NOW, reserved_until=later) == "reserved"
