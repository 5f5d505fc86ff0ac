"""label_specs JSON companions, golden vectors and code say the same thing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reemploi.protocol.ble import EddystoneTlm, encode_eddystone_tlm, parse_eddystone
from reemploi.protocol.ndef import uri_from_tlv, uri_tlv
from reemploi.provisioning.eddystone import (
    SSCC_NAMESPACE_MARKER,
    NotALotBeacon,
    lot_beacon_from_frame,
    lot_uid_frame,
)
from reemploi.provisioning.labels import LAYOUTS
from reemploi.provisioning.ntag21x import (
    ACCESS_WRITE_PROTECTED,
    EMPTY_NDEF_PAGE,
    FIRST_USER_PAGE,
    MODELS,
    FactoryDefaults,
    plan_asset_tag,
    tag_password,
)

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "label_specs"


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


NTAG_SPEC = _json(SPECS / "asset-tag-ntag21x.json")
NTAG_VECTORS = _json(ROOT / "tests/vectors/label_ntag21x.json")
BEACON_SPEC = _json(SPECS / "lot-beacon-eddystone.json")
BEACON_VECTORS = _json(ROOT / "tests/vectors/label_eddystone.json")


def test_every_spec_has_its_companion_and_is_listed_in_the_index() -> None:
    index = (SPECS / "README.md").read_text()
    for companion in SPECS.glob("*.json"):
        spec = _json(companion)
        assert (ROOT / spec["spec"]).exists()
        assert Path(spec["spec"]).name in index


@pytest.mark.parametrize("name", sorted(MODELS))
def test_ntag_memory_map_matches_companion(name: str) -> None:
    model, spec = MODELS[name], NTAG_SPEC["models"][name]
    assert f"{model.version_byte:02X}" == spec["get_version_byte6"]
    assert model.pages == spec["pages"]
    assert model.user_last_page == spec["user_last_page"]
    assert model.user_bytes == spec["user_bytes"]
    assert model.capability_container.hex().upper() == spec["capability_container"]
    assert model.ndef_capacity == spec["ndef_capacity"]
    for field in ("dynamic_lock_page", "cfg0_page", "cfg1_page", "pwd_page", "pack_page"):
        assert getattr(model, field) == spec[field], field


def test_ntag_policy_matches_companion() -> None:
    policy = NTAG_SPEC["password_policy"]
    assert FIRST_USER_PAGE == NTAG_SPEC["first_user_page"] == policy["auth0"]
    assert EMPTY_NDEF_PAGE.hex().upper() == NTAG_SPEC["empty_ndef_page"]
    assert f"{ACCESS_WRITE_PROTECTED:02X}" == policy["access_byte"]
    defaults = FactoryDefaults()
    assert defaults.cfg0.hex().upper() == policy["factory_defaults"]["cfg0"]
    assert defaults.cfg1.hex().upper() == policy["factory_defaults"]["cfg1"]
    plan = plan_asset_tag(
        MODELS["NTAG213"], "https://id.gs1.org/8004/4012345A", (bytes(4), bytes(2))
    )
    order = list(dict.fromkeys(w.purpose for w in plan.writes))
    assert order == NTAG_SPEC["write_order"]


def test_nfcpy_tlv_from_standards() -> None:
    check = NTAG_VECTORS["nfcpy_check"]
    assert uri_tlv(check["uri"]).hex().upper() == check["tlv"]


def test_tag_password_vector() -> None:
    pwd, pack = tag_password(
        NTAG_VECTORS["secret_ascii"].encode(), bytes.fromhex(NTAG_VECTORS["uid"])
    )
    assert (pwd.hex().upper(), pack.hex().upper()) == (NTAG_VECTORS["pwd"], NTAG_VECTORS["pack"])


@pytest.mark.parametrize("vector", NTAG_VECTORS["tags"], ids=lambda v: v["model"])
def test_ntag_page_image_vectors(vector: dict[str, Any]) -> None:
    password = (bytes.fromhex(NTAG_VECTORS["pwd"]), bytes.fromhex(NTAG_VECTORS["pack"]))
    plan = plan_asset_tag(MODELS[vector["model"]], vector["uri"], password)
    assert [[w.page, w.data.hex().upper(), w.purpose] for w in plan.writes] == vector["writes"]
    expected = {int(k): bytes.fromhex(v) for k, v in vector["expected_pages"].items()}
    assert plan.expected_pages() == expected
    area = b"".join(plan.data_pages[p] for p in sorted(plan.data_pages))
    assert uri_from_tlv(area) == vector["uri"]


def test_identifier_too_long_for_ntag213_is_refused_but_fits_ntag215() -> None:
    uri = NTAG_VECTORS["too_long_for_ntag213"]["uri"]
    with pytest.raises(ValueError, match="NTAG213"):
        plan_asset_tag(MODELS["NTAG213"], uri)
    assert plan_asset_tag(MODELS["NTAG215"], uri).uri == uri


def test_beacon_spec_matches_code() -> None:
    assert SSCC_NAMESPACE_MARKER.hex().upper() == BEACON_SPEC["uid_frame"]["namespace"]["marker"]


@pytest.mark.parametrize("vector", BEACON_VECTORS["uid_frames"], ids=lambda v: v["sscc"])
def test_lot_beacon_vectors(vector: dict[str, Any]) -> None:
    frame = lot_uid_frame(vector["sscc"], vector["beacon_number"], vector["tx_power_0m"])
    assert frame.hex().upper() == vector["frame"]
    # Independent check of the namespace: the 17 digits as an integer.
    assert int.from_bytes(frame[4:12], "big") == int(vector["sscc"][:17])
    beacon = lot_beacon_from_frame(bytes.fromhex(vector["frame"]))
    assert beacon.sscc == vector["sscc"]
    assert beacon.beacon_number == vector["beacon_number"]
    assert beacon.tx_power_0m == vector["tx_power_0m"]


@pytest.mark.parametrize("refused", BEACON_VECTORS["refused"], ids=lambda v: v["why"])
def test_lot_beacon_refuses_bad_sscc(refused: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        lot_uid_frame(refused["sscc"])


def test_foreign_eddystone_namespace_is_not_a_lot() -> None:
    frame = bytes.fromhex("00EC") + bytes(10) + bytes(6) + bytes(2)
    with pytest.raises(NotALotBeacon):
        lot_beacon_from_frame(frame)


def test_tlm_vector() -> None:
    vector = BEACON_VECTORS["tlm_frames"][0]
    tlm = EddystoneTlm(
        vector["battery_mv"],
        vector["temperature_raw_8_8"],
        vector["adv_count"],
        vector["uptime_ds"],
    )
    assert encode_eddystone_tlm(tlm).hex().upper() == vector["frame"]
    assert parse_eddystone(bytes.fromhex(vector["frame"])) == tlm


def test_label_layouts_match_companion() -> None:
    spec = _json(SPECS / "printed-labels.json")["layouts"]
    assert set(spec) == set(LAYOUTS)
    for name, layout in LAYOUTS.items():
        entry = spec[name]
        assert [layout.page_width_mm, layout.page_height_mm] == entry["page_mm"]
        assert [layout.label_width_mm, layout.label_height_mm] == entry["label_mm"]
        assert [layout.columns, layout.rows] == entry["grid"]
        assert [layout.margin_left_mm, layout.margin_top_mm] == entry["margin_mm"]
        assert [layout.pitch_x_mm, layout.pitch_y_mm] == entry["pitch_mm"]
        # Every label lies inside the page.
        for index in range(layout.per_page):
            x, y = layout.origin_mm(index)
            assert x >= 0 and y >= -0.01
            assert x + layout.label_width_mm <= layout.page_width_mm + 0.01
