"""GS1 mod-10 check digits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reemploi.domain.checkdigit import gs1_check_digit, has_valid_check_digit
from reemploi.domain.errors import InvalidIdentifier

digits = st.text(alphabet="0123456789", min_size=1, max_size=40)


@pytest.mark.parametrize("bad", ["", "12a4", " 123", "١٢٣", "12.3", "-1"])
def test_check_digit_refuses_anything_but_ascii_digits(bad: str) -> None:
    with pytest.raises(InvalidIdentifier, match="ASCII digits"):
        gs1_check_digit(bad)


@pytest.mark.parametrize("bad", ["", "7", "12a4", "٠٠", "40123450000５4"])
def test_has_valid_check_digit_is_false_for_malformed_codes(bad: str) -> None:
    assert has_valid_check_digit(bad) is False


def test_has_valid_check_digit_spots_a_wrong_last_digit() -> None:
    assert has_valid_check_digit("4012345000054")
    assert not has_valid_check_digit("4012345000055")


@given(digits)
def test_appending_the_check_digit_always_validates(data: str) -> None:
    check = gs1_check_digit(data)
    assert check in "0123456789" and len(check) == 1
    assert has_valid_check_digit(data + check)


@given(digits, st.integers(min_value=0, max_value=39), st.integers(min_value=1, max_value=9))
def test_any_single_digit_error_is_detected(data: str, position: int, delta: int) -> None:
    code = data + gs1_check_digit(data)
    index = position % len(code)
    wrong = str((int(code[index]) + delta) % 10)
    assert not has_valid_check_digit(code[:index] + wrong + code[index + 1 :])


@given(digits)
def test_leading_zeros_do_not_change_the_check_digit(data: str) -> None:
    assert gs1_check_digit("0" + data) == gs1_check_digit(data)
    assert gs1_check_digit("00" + data) == gs1_check_digit(data)
