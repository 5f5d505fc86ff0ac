# MFRC522 driver + ISO 14443 + NTAG/ISO-DEP against the register-level simulator.
import json

from reader.mfrc522 import Mfrc522, crc_a
from reader.nfc_reader import NfcReader, uid_hex
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


def flip(uid, bit):
    """``uid`` with one bit changed (bit 0 = LSB of the first byte)."""
    out = bytearray(uid)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def anticollision_frames(chip):
    """(SEL, NVB) of every ANTICOLLISION frame the driver sent (SELECTs left out)."""
    frames = []
    real = chip.field.exchange

    def spy(frame, last_bits):
        if len(frame) >= 2 and frame[0] in (0x93, 0x95, 0x97) and frame[1] != 0x70:
            frames.append((frame[0], frame[1], last_bits))
        return real(frame, last_bits)

    chip.field.exchange = spy
    return frames


def test_two_tags_differing_at_one_known_bit_are_resolved_and_read_in_turn(p):
    # 7-byte UIDs equal in cascade level 1; level 2 (UID bytes 3..6) differs at UID bit
    # 35 only = bit 11 of the CL2 part (byte 1, bit 3): the reader must learn 11 bits,
    # send them with the colliding bit set to 1 (NVB 0x34 = 3 bytes + 4 bits) and
    # select the tag that has a 1 there.
    low = UID7  # D5 = 1101 0101: bit 3 is 0
    high = flip(UID7, 35)  # DD: bit 3 is 1
    assert high == bytes.fromhex("04A2B3C4DDE6F7")
    field, chip, reader = make()
    sent = anticollision_frames(chip)
    field.place(Ntag21x.with_uri(low, "https://id.gs1.org/8004/4012345LOW"))
    field.place(Ntag21x.with_uri(high, "https://id.gs1.org/8004/4012345HIGH"))
    first = reader.poll()
    assert first is not None, reader.errors
    assert first.uid == uid_hex(high) and first.data.endswith("HIGH"), first
    assert sent == [(0x93, 0x20, 0), (0x95, 0x20, 0), (0x95, 0x34, 4)], sent
    assert reader.collisions_resolved == 1 and reader.errors["collision"] == 0, reader.errors
    # the first tag is halted: the next poll finds the other one alone
    second = reader.poll()
    assert second is not None and second.uid == uid_hex(low) and second.data.endswith("LOW"), second
    assert reader.poll() is None  # both halted, still on the antenna
    assert sum(reader.errors.values()) == 0, reader.errors


def test_collision_on_the_first_bit_and_on_several_bits(p):
    for a, b, rounds in (
        (bytes.fromhex("DEADBEEF"), flip(bytes.fromhex("DEADBEEF"), 0), 1),  # bit 1
        (bytes.fromhex("DEADBEEF"), flip(bytes.fromhex("DEADBEEF"), 31), 1),  # bit 32
        (bytes.fromhex("10203040"), bytes.fromhex("1F2F3F4F"), 1),  # first differing bit wins
    ):
        field, chip, reader = make()
        for uid in (a, b):
            tag = TypeATag(uid)
            tag.sak = 0x08
            field.place(tag)
        got = [reader.poll(), reader.poll()]
        assert None not in got, reader.errors
        uids = [bytes.fromhex(r.uid) for r in got]
        assert sorted(uids) == sorted([a, b]), uids
        assert reader.collisions_resolved == rounds, reader.collisions_resolved
        # the tag with a 1 at the first differing bit is selected first
        byte = 0
        while a[byte] == b[byte]:
            byte += 1
        bit = 0
        while not (a[byte] ^ b[byte]) >> bit & 1:
            bit += 1
        assert uids[0][byte] >> bit & 1 == 1, (uids, byte, bit)


def test_three_tags_need_several_rounds(p):
    # UIDs 00.., 01.., 03..: the first poll resolves bit 1 then bit 2 (two rounds)
    uids = [bytes((x, 0x11, 0x22, 0x33)) for x in (0x00, 0x01, 0x03)]
    field, chip, reader = make()
    for uid in uids:
        tag = TypeATag(uid)
        tag.sak = 0x08
        field.place(tag)
    order = []
    for _ in range(3):
        read = reader.poll()
        assert read is not None, reader.errors
        order.append(bytes.fromhex(read.uid))
    assert order == [uids[2], uids[1], uids[0]], order
    assert reader.collisions_resolved == 3, reader.collisions_resolved  # 2 + 1 + 0
    assert reader.poll() is None


def test_ntag213_and_ntag424_together_despite_atqa_collision(p):
    # ATQA 44 00 and 44 03 collide on REQA: that collision is expected, not an error
    field, chip, reader = make()
    field.place(Ntag21x.with_uri(UID7, "https://id.gs1.org/8004/4012345ABC345"))
    field.place(Ntag424Dna(bytes.fromhex("04A2B3C4D5E6F6"), SUN))
    kinds = sorted(r.kind for r in (reader.poll(), reader.poll()))
    assert kinds == ["ndef_uri", "sun_url"], (kinds, reader.errors)
    assert reader.errors["collision"] == 0, reader.errors


def test_collision_the_chip_cannot_place_is_counted_not_fatal(p):
    field, chip, reader = make()
    for uid in (UID4, flip(UID4, 5)):
        tag = TypeATag(uid)
        tag.sak = 0x08
        field.place(tag)
    real = chip._receive_bits

    def unplaced(answers, rx_align):
        data, bits, position = real(answers, rx_align)
        return data, bits, 40 if position else 0  # beyond CollPos: CollPosNotValid

    chip._receive_bits = unplaced
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
