# MFRC522 driver + ISO 14443 + NTAG/ISO-DEP against the register-level simulator.
import json

from reader.mfrc522 import Mfrc522, crc_a
from reader.nfc_reader import NfcReader
from reader.sim.mfrc522_chip import RfField, SimulatedMfrc522, SimulatedPin, SimulatedSpi
from reader.sim.tags import Ntag21x, Ntag424Dna, TypeATag

UID7 = bytes.fromhex("04A2B3C4D5E6F7")
UID4 = bytes.fromhex("DEADBEEF")
SUN = "https://ntag.nxp.com/424?e=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086"


def make(garbage=False):
    field = RfField()
    chip = SimulatedMfrc522(field, garbage=garbage)
    reader = NfcReader(Mfrc522(SimulatedSpi(chip), SimulatedPin(1)), holdoff_ms=1000)
    return field, chip, reader


def test_crc_a_matches_iso14443_example(p):
    # ISO/IEC 14443-3 annex B: CRC_A of 00 00 is 1E A0
    assert crc_a(b"\x00\x00") == b"\xa0\x1e", crc_a(b"\x00\x00")
    # HLTA 50 00 -> 57 CD (well-known frame 50 00 57 CD)
    assert crc_a(b"\x50\x00") == b"\x57\xcd"


def test_empty_field_reads_nothing_and_counts_no_error(p):
    field, chip, reader = make()
    assert reader.poll() is None
    assert reader.ready and sum(reader.errors.values()) == 0, reader.errors


def test_ntag213_with_label_uri_gives_ndef_uri(p):
    with open(p["root"] + "/tests/vectors/ndef.json") as f:
        vectors = json.load(f)["valid"]
    field, chip, reader = make()
    for case in vectors:
        tlv = bytes.fromhex(case["tlv_hex"])
        if len(tlv) > 144:
            tag = Ntag21x(UID7, tlv, "NTAG215")
        else:
            tag = Ntag21x(UID7, tlv)
        field.place(tag)
        reader._last_uid = None
        read = reader.poll()
        field.remove()
        assert read is not None, (case["note"], reader.errors)
        if case["uri"].startswith("http"):
            assert (read.kind, read.data) == ("ndef_uri", case["uri"]), read
        else:
            assert read.kind == "nfc_uid" and read.data == "04A2B3C4D5E6F7", read


def test_models_are_told_apart_by_get_version(p):
    field, chip, reader = make()
    for model in ("NTAG213", "NTAG215", "NTAG216"):
        field.place(Ntag21x.with_uri(UID7, "https://id.gs1.org/8004/4012345ABC345", model))
        reader._last_uid = None
        read = reader.poll()
        field.remove()
        assert read.model == model, (model, read.model)


def test_same_tag_held_on_reader_is_reported_once(p):
    field, chip, reader = make()
    field.place(Ntag21x.with_uri(UID7, "https://id.gs1.org/8004/1"))
    assert reader.poll() is not None
    assert reader.poll() is None and reader.poll() is None
    assert reader.reads == 1


def test_four_byte_uid_tag_without_ndef_gives_uid(p):
    field, chip, reader = make()
    tag = TypeATag(UID4)
    tag.sak = 0x08  # MIFARE Classic: UID only (a hint, never a proof)
    field.place(tag)
    read = reader.poll()
    assert (read.kind, read.data) == ("nfc_uid", "DEADBEEF"), read


def test_ten_byte_uid_cascade(p):
    field, chip, reader = make()
    uid = bytes(range(1, 11))
    field.place(TypeATag(uid))
    read = reader.poll()
    assert read.data == "0102030405060708090A", read


def test_ntag424_sun_url_reaches_us_untouched_through_chaining(p):
    field, chip, reader = make()
    tag = Ntag424Dna(UID7, SUN, wtx=True)
    field.place(tag)
    read = reader.poll()
    assert read is not None, reader.errors
    assert (read.kind, read.data) == ("sun_url", SUN), read
    # the 258-byte READ BINARY answer cannot fit one 64-byte frame: chaining was used
    assert field.frames > 12, field.frames


def test_long_uri_on_ntag424(p):
    field, chip, reader = make()
    uri = "https://id.gs1.org/8004/4012345" + "X" * 200
    field.place(Ntag424Dna(UID7, uri))
    assert reader.poll().data == uri


def test_two_tags_collide_and_it_is_counted(p):
    field, chip, reader = make()
    field.place(Ntag21x.with_uri(UID7, "https://a.example/1"))
    field.place(Ntag21x.with_uri(bytes.fromhex("04112233445566"), "https://a.example/2"))
    assert reader.poll() is None
    assert reader.errors["collision"] == 1, reader.errors


def test_bad_crc_from_tag_is_counted(p):
    field, chip, reader = make()
    field.place(Ntag21x.with_uri(UID7, "https://a.example/1", corrupt_crc=True))
    assert reader.poll() is None
    assert reader.errors["crc"] == 1, reader.errors


def test_tag_removed_mid_read_is_counted_then_read_again(p):
    field, chip, reader = make()
    tag = Ntag21x.with_uri(UID7, "https://id.gs1.org/8004/" + "Z" * 100, answer_frames=9)
    field.place(tag)
    assert reader.poll() is None
    assert reader.errors["removed"] == 1, reader.errors
    field.place(Ntag21x.with_uri(UID7, "https://id.gs1.org/8004/" + "Z" * 100))
    assert reader.poll().kind == "ndef_uri"


def test_malformed_ndef_falls_back_to_uid(p):
    field, chip, reader = make()
    field.place(Ntag21x(UID7, bytes.fromhex("0320d101")))
    read = reader.poll()
    assert (read.kind, read.data) == ("nfc_uid", "04A2B3C4D5E6F7"), read
    assert reader.errors["ndef"] == 1


def test_garbage_on_spi_never_raises(p):
    field, chip, reader = make(garbage=True)
    field.place(Ntag21x.with_uri(UID7, "https://a.example/1"))
    for _ in range(200):
        assert reader.poll() is None or True
    assert sum(reader.errors.values()) > 0, reader.errors


def test_missing_chip_is_counted_and_retried(p):
    field, chip, reader = make()
    chip.version = 0x00
    chip.regs[0x37] = 0x00
    assert reader.poll() is None and not reader.ready
    assert reader.errors["chip"] == 1
    chip.version = 0x92
    chip.regs[0x37] = 0x92
    field.place(Ntag21x.with_uri(UID7, "https://a.example/1"))
    assert reader.poll().data == "https://a.example/1"
