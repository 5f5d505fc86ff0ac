"""SUN (NTAG 424 DNA) verification: AN12196 public vectors, our own vectors, fuzzing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reemploi.domain.sun import (
    SUN_REASON_CODES,
    SunKeys,
    SunLayout,
    SunRejected,
    aes_cmac,
    check_counter,
    decrypt_picc_data,
    diversify_key_an10922,
    session_mac_key,
    sign_sun_url,
    verify_sun_url,
)

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = json.loads((ROOT.parent / "shared/vectors/public_vectors.json").read_text())
OWN = json.loads((ROOT / "tests/vectors/sun.json").read_text())
ZERO_KEYS = SunKeys(bytes(16), bytes(16), diversify=False)


def _public_sun_vectors() -> list[dict[str, Any]]:
    return [v for v in PUBLIC["vectors"] if str(v["id"]).startswith("an12196")]


def _own_keys() -> SunKeys:
    keys = OWN["keys"]
    return SunKeys(
        bytes.fromhex(keys["meta_read_key"]),
        bytes.fromhex(keys["file_read_master_key"]),
        system_identifier=keys["system_identifier_ascii"].encode("ascii"),
    )


def test_public_vectors_are_present() -> None:
    assert len(_public_sun_vectors()) >= 2


def test_an12196_page12_intermediate_values_match() -> None:
    vector = next(v for v in _public_sun_vectors() if v["id"] == "an12196_p12")
    expected = vector["expected"]
    plain = decrypt_picc_data(bytes(16), bytes.fromhex(vector["picc_enc_data"]))
    assert plain.hex().upper() == expected["picc_plaintext"]
    uid = bytes.fromhex(expected["uid"])
    key = session_mac_key(bytes(16), uid, expected["read_ctr"])
    assert key.hex().upper() == expected["k_ses_sdm_file_read_mac"]
    assert aes_cmac(key, b"").hex().upper() == expected["full_cmac"]


def test_an12196_page12_url_is_accepted() -> None:
    vector = next(v for v in _public_sun_vectors() if v["id"] == "an12196_p12")
    reading = verify_sun_url(vector["url"], ZERO_KEYS, None)
    assert reading.uid == vector["expected"]["uid"]
    assert reading.counter == vector["expected"]["read_ctr"] == 61
    assert reading.picc_data_tag == 0xC7
    assert reading.base_url == "https://ntag.nxp.com/424"


def _p18_url(mac: str) -> str:
    vector = next(v for v in _public_sun_vectors() if v["id"] == "an12196_p18_tampered_mac")
    return (
        "https://sdm.nfcdeveloper.com/tag?picc_data="
        + vector["picc_enc_data"]
        + "&enc="
        + vector["enc_file_data"]
        + "&cmac="
        + mac
    )


P18_LAYOUT = SunLayout(
    picc_param="picc_data", mac_param="cmac", mac_input_param="enc", enc_param="enc"
)


def test_an12196_page18_tampered_mac_is_refused() -> None:
    vector = next(v for v in _public_sun_vectors() if v["id"] == "an12196_p18_tampered_mac")
    assert vector["expected"]["valid"] is False
    with pytest.raises(SunRejected) as caught:
        verify_sun_url(_p18_url(vector["sdmmac"]), ZERO_KEYS, None, P18_LAYOUT)
    assert caught.value.reason_code == "sun_bad_mac"
    assert "copiée" in caught.value.message_fr


def test_an12196_page18_correct_mac_covers_file_data_and_decrypts_it() -> None:
    # The vector's note gives the correct MAC; the MAC input is "<enc>&cmac=".
    reading = verify_sun_url(_p18_url("ECC1E7F6C6C73BF6"), ZERO_KEYS, None, P18_LAYOUT)
    assert reading.uid == "04958CAA5C5E80"
    assert reading.file_data == b"x" * 16
    # Changing one character of the covered file data breaks the MAC.
    tampered = _p18_url("ECC1E7F6C6C73BF6").replace("&enc=C", "&enc=D")
    with pytest.raises(SunRejected, match="sun_bad_mac"):
        verify_sun_url(tampered, ZERO_KEYS, None, P18_LAYOUT)


@pytest.mark.parametrize("case", OWN["diversification"], ids=lambda c: c["id"])
def test_an10922_diversification_vectors(case: dict[str, str]) -> None:
    key = diversify_key_an10922(bytes.fromhex(case["master_key"]), bytes.fromhex(case["input"]))
    assert key.hex().upper() == case["expected"]


@pytest.mark.parametrize("length", range(16, 31))
def test_an10922_equals_plain_cmac_when_input_spans_two_blocks(length: int) -> None:
    master = bytes(range(16))
    data = bytes(range(100, 100 + length))
    assert diversify_key_an10922(master, data) == aes_cmac(master, b"\x01" + data)


def test_an10922_pads_short_input_to_two_blocks_unlike_cmac() -> None:
    master = bytes(range(16))
    assert diversify_key_an10922(master, b"\x04") != aes_cmac(master, b"\x01\x04")


def test_tag_keys_differ_per_uid() -> None:
    keys = _own_keys()
    one = keys.file_read_key(bytes.fromhex("04A1B2C3D4E5F6"))
    two = keys.file_read_key(bytes.fromhex("04A1B2C3D4E5F7"))
    assert one != two and keys.file_read_master_key not in (one, two)


@pytest.mark.parametrize("vector", OWN["vectors"], ids=lambda v: v["id"])
def test_own_vectors(vector: dict[str, Any]) -> None:
    expected = vector["expected"]
    if expected["valid"]:
        reading = verify_sun_url(vector["url"], _own_keys(), vector["last_counter"])
        assert reading.uid == expected["uid"]
        assert reading.counter == expected["counter"]
        assert reading.base_url == expected["base_url"]
    else:
        with pytest.raises(SunRejected) as caught:
            verify_sun_url(vector["url"], _own_keys(), vector["last_counter"])
        assert caught.value.reason_code == expected["reason"]


def test_own_vectors_cover_every_reason_code() -> None:
    reasons = {v["expected"].get("reason") for v in OWN["vectors"]}
    assert set(SUN_REASON_CODES) <= reasons


def test_replay_rule_accepts_only_a_greater_counter() -> None:
    keys = _own_keys()
    url = sign_sun_url("https://id.gs1.org/8004/4012345X1", bytes(7), 10, keys)
    assert verify_sun_url(url, keys, None).counter == 10
    assert verify_sun_url(url, keys, 9).counter == 10
    for last in (10, 11, 0xFFFFFF):
        with pytest.raises(SunRejected, match="sun_replayed"):
            verify_sun_url(url, keys, last)


def test_mac_checked_before_counter_so_a_forgery_is_not_called_a_replay() -> None:
    keys = _own_keys()
    url = sign_sun_url("https://id.gs1.org/8004/4012345X1", bytes(7), 3, keys)
    forged = url[:-2] + ("00" if url[-2:] != "00" else "11")
    with pytest.raises(SunRejected, match="sun_bad_mac"):
        verify_sun_url(forged, keys, 50)


def test_other_query_parameters_are_kept_in_base_url() -> None:
    keys = _own_keys()
    url = sign_sun_url("https://id.example.org/8004/4012345A?linkType=all", bytes(7), 1, keys)
    assert verify_sun_url(url, keys, None).base_url == (
        "https://id.example.org/8004/4012345A?linkType=all"
    )


def test_repeated_parameter_is_malformed() -> None:
    keys = _own_keys()
    url = sign_sun_url("https://id.gs1.org/8004/4012345A", bytes(7), 1, keys)
    with pytest.raises(SunRejected, match="sun_malformed"):
        verify_sun_url(url + "&c=0000000000000000", keys, None)


@settings(max_examples=60, deadline=None)
@given(
    uid=st.binary(min_size=7, max_size=7),
    counter=st.integers(0, 0xFFFFFF),
    position=st.integers(0, 47),
)
def test_any_flipped_hex_digit_is_refused(uid: bytes, counter: int, position: int) -> None:
    keys = _own_keys()
    url = sign_sun_url("https://id.gs1.org/8004/4012345A", uid, counter, keys)
    assert verify_sun_url(url, keys, None).counter == counter
    head, sun = url.split("?e=")
    # 32 hex digits of PICC data, "&c=", 16 hex digits of MAC: flip one digit.
    digits = [i for i, ch in enumerate(sun) if ch not in "&c="]
    index = digits[position % len(digits)]
    flipped = "0" if sun[index] != "0" else "F"
    forged = head + "?e=" + sun[:index] + flipped + sun[index + 1 :]
    with pytest.raises(SunRejected) as caught:
        verify_sun_url(forged, keys, None)
    assert caught.value.reason_code in ("sun_bad_mac", "sun_bad_picc", "sun_uid_length")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_only_sunrejected_escapes(text: str) -> None:
    try:
        verify_sun_url(text, ZERO_KEYS, None)
    except SunRejected as rejected:
        assert rejected.reason_code in SUN_REASON_CODES


@settings(max_examples=200, deadline=None)
@given(
    e=st.text(alphabet="0123456789abcdefABCDEFxyz%&=", max_size=40),
    c=st.text(alphabet="0123456789abcdefABCDEF%&=", max_size=20),
)
def test_fuzz_parameters_only_sunrejected_escapes(e: str, c: str) -> None:
    try:
        verify_sun_url(f"https://ntag.nxp.com/424?e={e}&c={c}", ZERO_KEYS, 0)
    except SunRejected as rejected:
        assert rejected.reason_code in SUN_REASON_CODES


def test_keys_must_be_16_bytes() -> None:
    with pytest.raises(ValueError):
        SunKeys(bytes(15), bytes(16))


def test_two_step_counter_check_for_ingest() -> None:
    keys = _own_keys()
    url = sign_sun_url("https://id.gs1.org/8004/4012345X1", bytes(7), 7, keys)
    reading = verify_sun_url(url, keys, None)
    check_counter(reading.counter, 6)
    with pytest.raises(SunRejected, match="sun_replayed"):
        check_counter(reading.counter, 7)
