"""Bad tags and bad moments, on the register-level path (firmware MFRC522 driver and
simulator): a tag pulled away at every frame of a write, or right after a page is
programmed but before its ACK; a tag already holding another asset, protected by another
installation, or locked for good; a radio exchange with a broken CRC. Each is refused
precisely, never reads as another asset afterwards, and is never recorded as done."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from reemploi.protocol.ndef import uri_tlv
from reemploi.provisioning.cli import main
from reemploi.provisioning.firmware_nfc import SimulatedReader, load_firmware_nfc, simulated_reader
from reemploi.provisioning.ntag21x import MODELS
from reemploi.provisioning.tag_link import TagError, TagGone, TagNak
from reemploi.provisioning.tag_writer import (
    TagAlreadyWritten,
    TagLocked,
    TagProtected,
    read_tag,
    verify_asset_tag,
    write_asset_tag,
)

UID = bytes.fromhex("04A1B2C3D4E5F6")
URI = "https://id.gs1.org/8004/4012345ABC345"
OTHER = "https://id.gs1.org/8004/4012345XYZ9"
SECRET = b"secret-des-etiquettes"

load_firmware_nfc()  # puts firmware/lib on the path
NFC_READER: Any = importlib.import_module("reader.nfc_reader")
MFRC522: Any = importlib.import_module("reader.mfrc522")
CHIP_SIM: Any = importlib.import_module("reader.sim.mfrc522_chip")


def _frames_for_a_full_write() -> int:
    sim = simulated_reader(UID)
    write_asset_tag(sim.link, URI, SECRET)
    return int(sim.tag.frames)


def _site_reader_sees(sim: SimulatedReader) -> tuple[str, str]:
    """Tap the tag on a site reader's firmware: what would it report?"""
    sim.field.remove(sim.tag)
    chip = CHIP_SIM.SimulatedMfrc522(sim.field)
    reader = NFC_READER.NfcReader(
        MFRC522.Mfrc522(CHIP_SIM.SimulatedSpi(chip), CHIP_SIM.SimulatedPin(1))
    )
    sim.put_back()
    read = reader.poll()
    assert read is not None, reader.errors
    return read.kind, read.data


def test_tag_pulled_away_at_every_frame_never_reads_as_another_asset() -> None:
    total = _frames_for_a_full_write()
    assert total > 40
    states: set[str | None] = set()
    for frames in range(total):
        sim = simulated_reader(UID)
        sim.tag.answer_frames = frames  # the tag hears this many frames, then is gone
        with pytest.raises(TagGone, match="retirée du lecteur"):
            write_asset_tag(sim.link, URI, SECRET)
        sim.put_back()
        state = read_tag(sim.link)
        assert state.uri in (None, URI), (frames, state.uri)  # empty or whole, never torn
        states.add(state.uri)
        kind, data = _site_reader_sees(sim)
        assert (kind, data) in (("nfc_uid", UID.hex().upper()), ("ndef_uri", URI)), frames
        # Laid on the reader again, the very same command finishes the job.
        sim.put_back()
        report = write_asset_tag(sim.link, URI, SECRET)
        assert report.uri == URI and report.protected
        assert verify_asset_tag(sim.link, URI, SECRET).uri == URI
    assert states == {None, URI}  # both outcomes happen along the way


@pytest.mark.parametrize("writes", range(1, 16))
def test_tag_pulled_after_a_page_is_programmed_but_before_its_ack(writes: int) -> None:
    sim = simulated_reader(UID)
    sim.tag.vanish_after_writes = writes
    with pytest.raises(TagGone):
        write_asset_tag(sim.link, URI, SECRET)
    assert sim.tag.writes == writes  # the page was programmed all the same
    sim.put_back()
    assert read_tag(sim.link).uri in (None, URI)
    report = write_asset_tag(sim.link, URI, SECRET)
    # Once AUTH0 (the 15th write, last) is on the tag, nothing needs writing again.
    assert report.written is (writes < 15)
    assert verify_asset_tag(sim.link, URI, SECRET).protected


def test_interrupted_cli_write_is_not_recorded_as_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps([{"uri": URI, "giai": "4012345ABC345", "status": "pending"}]))
    argv = ["tag", "write", "--uri", URI, "--no-password", "--plan", str(plan)]
    code = main([*argv, "--sim-removal-after", "20"])
    err = capsys.readouterr().err
    assert code == 1 and "Refusé : étiquette retirée du lecteur pendant WRITE page" in err
    assert json.loads(plan.read_text())[0]["status"] == "pending"
    assert main(argv) == 0
    assert json.loads(plan.read_text())[0]["status"] == "done"


def test_tag_of_another_asset_is_refused_and_left_untouched() -> None:
    sim = simulated_reader(UID, tlv=uri_tlv(OTHER))
    before = bytes(sim.tag.memory)
    with pytest.raises(TagAlreadyWritten) as refused:
        write_asset_tag(sim.link, URI, SECRET)
    assert refused.value.existing == OTHER
    assert "porte déjà https://id.gs1.org/8004/4012345XYZ9" in str(refused.value)
    assert sim.tag.writes == 0 and bytes(sim.tag.memory) == before
    assert write_asset_tag(sim.link, URI, SECRET, force=True).uri == URI


def test_same_identifier_again_writes_nothing() -> None:
    sim = simulated_reader(UID)
    write_asset_tag(sim.link, URI, SECRET)
    writes = sim.tag.writes
    assert write_asset_tag(sim.link, URI, SECRET).written is False
    assert sim.tag.writes == writes


def test_tag_protected_by_another_installation_is_refused_untouched() -> None:
    sim = simulated_reader(UID)
    write_asset_tag(sim.link, URI, SECRET)
    before, writes = bytes(sim.tag.memory), sim.tag.writes
    with pytest.raises(TagProtected, match="autre installation"):
        write_asset_tag(sim.link, OTHER, b"un-autre-secret", force=True)
    with pytest.raises(TagProtected, match="secret d'étiquettes requis"):
        write_asset_tag(sim.link, OTHER, None, force=True)
    assert bytes(sim.tag.memory) == before and sim.tag.writes == writes


@pytest.mark.parametrize(
    ("model", "page", "lock_bits"),
    [
        ("NTAG213", 2, b"\x00\x00\xf0\x00"),  # static lock bits of pages 4-7
        ("NTAG213", 2, b"\x00\x00\xff\xff"),  # every static lock bit
        ("NTAG215", MODELS["NTAG215"].dynamic_lock_page, b"\x01\x00\x00\x00"),  # pages 16-31
    ],
)
def test_locked_tag_is_refused_before_any_write(model: str, page: int, lock_bits: bytes) -> None:
    sim = simulated_reader(UID, model)
    sim.link.write(page, lock_bits)  # what a phone app's "make read-only" does, on air
    writes = sim.tag.writes
    with pytest.raises(TagLocked, match="verrouillée définitivement"):
        write_asset_tag(sim.link, URI, SECRET)
    assert sim.tag.writes == writes
    # The tag itself refuses the locked pages (NAK, then back to IDLE), whatever we try.
    locked_page = 4 if page == 2 else 16
    before = bytes(sim.tag.memory)
    with pytest.raises(TagNak):
        sim.link.write(locked_page, b"\x03\x00\xfe\x00")
    assert bytes(sim.tag.memory) == before
    sim.link.write(2, b"\x00\x00\x00\x00")  # lock bits are one-way: writing 0 clears none
    assert sim.tag.memory[10:12] == before[10:12]


def test_broken_crc_from_the_tag_is_an_error_not_a_success() -> None:
    sim = simulated_reader(UID)
    sim.tag.corrupt_crc = True
    with pytest.raises(TagError, match="échange radio perturbé"):
        write_asset_tag(sim.link, URI, SECRET)
    assert sim.tag.writes == 0
