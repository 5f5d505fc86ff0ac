"""NTAG 424 DNA Secure Unique NFC (SUN) message verification, pure (no I/O).

A SUN tag rewrites its NDEF URL at every tap: it mirrors the encrypted PICC data
(UID + read counter) and a truncated CMAC into query parameters. Only the server,
which holds the keys, can check it (STANDARDS.md §3, NXP AN12196):

1. ``PICCData = AES-128-CBC-decrypt(K_meta, IV=0, e)`` → tag byte, UID (7), counter
   (3 bytes, little-endian);
2. ``SV2 = 3CC300010080 ‖ UID ‖ counter`` → session key ``AES-CMAC(K_file, SV2)``;
3. ``MAC`` = odd-indexed bytes of ``AES-CMAC(session key, MAC input)``, the MAC input
   being the URL text between the MAC-input offset and the MAC offset (often empty).

On top of the cryptography, :func:`verify_sun_url` applies Réemploi's rules, in this
order: the PICC data must mirror UID and counter; the UID must be 7 bytes; the MAC is
compared in constant time; the counter must be greater than the last one accepted
for that UID. Per-tag ``K_file`` keys are diversified from a master key with NXP
AN10922 (AES-128, CMAC based), so one leaked tag key opens no other tag.

Every refusal raises :class:`SunRejected` with a stable ``reason_code`` and a French
message; nothing else escapes for bad input. The caller stores ``reading.counter`` as
the new last counter for ``reading.uid`` only after it has accepted the scan.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

__all__ = [
    "DEFAULT_SYSTEM_IDENTIFIER",
    "REASON_BAD_MAC",
    "REASON_BAD_PICC",
    "REASON_MALFORMED",
    "REASON_REPLAYED",
    "REASON_UID_LENGTH",
    "SUN_REASON_CODES",
    "SunKeys",
    "SunLayout",
    "SunReading",
    "SunRejected",
    "aes_cmac",
    "check_counter",
    "decrypt_picc_data",
    "diversify_key_an10922",
    "session_mac_key",
    "sign_sun_url",
    "sun_mac",
    "verify_sun_url",
]

KEY_BYTES: Final = 16
BLOCK: Final = 16
UID_BYTES: Final = 7
MAX_COUNTER: Final = 0xFFFFFF
MAX_URL_CHARS: Final = 2048

REASON_MALFORMED: Final = "sun_malformed"
REASON_BAD_PICC: Final = "sun_bad_picc"
REASON_UID_LENGTH: Final = "sun_uid_length"
REASON_BAD_MAC: Final = "sun_bad_mac"
REASON_REPLAYED: Final = "sun_replayed"
SUN_REASON_CODES: Final = (
    REASON_MALFORMED,
    REASON_BAD_PICC,
    REASON_UID_LENGTH,
    REASON_BAD_MAC,
    REASON_REPLAYED,
)

# PICCDataTag: bit 7 = UID mirrored, bit 6 = counter mirrored, low nibble = UID length.
_TAG_UID_MIRRORED: Final = 0x80
_TAG_COUNTER_MIRRORED: Final = 0x40
_SV2_PREFIX: Final = bytes.fromhex("3CC300010080")
_SV1_PREFIX: Final = bytes.fromhex("C33C00010080")
_ZERO_IV: Final = bytes(BLOCK)
_AN10922_AES128: Final = 0x01

# System identifier mixed into every diversified key (AN10922 "SystemIdentifier").
DEFAULT_SYSTEM_IDENTIFIER: Final = b"REEMPLOI"


class SunRejected(ValueError):
    """A SUN URL is refused: forged, copied, replayed, or not a SUN URL at all.

    ``reason_code`` is one of :data:`SUN_REASON_CODES` (stable, for acks and logs);
    ``message_fr`` says what was wrong, in French, for the person at the reader.
    """

    def __init__(self, reason_code: str, message_fr: str) -> None:
        super().__init__(f"{reason_code}: {message_fr}")
        self.reason_code = reason_code
        self.message_fr = message_fr


@dataclass(frozen=True)
class SunKeys:
    """The keys needed to check the SUN URLs of one batch of tags.

    ``meta_read_key`` (SDMMetaReadKey) decrypts the PICC data; it is shared by the
    batch because the UID is only known after decryption. The SDMFileRead key is
    either diversified per tag from ``file_read_master_key`` (the normal case) or,
    when ``diversify`` is false, used as it is (vectors, factory-default tags).
    """

    meta_read_key: bytes
    file_read_master_key: bytes
    diversify: bool = True
    system_identifier: bytes = DEFAULT_SYSTEM_IDENTIFIER

    def __post_init__(self) -> None:
        for name in ("meta_read_key", "file_read_master_key"):
            if len(getattr(self, name)) != KEY_BYTES:
                raise ValueError(f"{name} must be {KEY_BYTES} bytes")
        if not 1 <= len(self.system_identifier) <= 31 - UID_BYTES - 1:
            raise ValueError("system_identifier must be 1..23 bytes")

    def file_read_key(self, uid: bytes) -> bytes:
        """The SDMFileRead key programmed into the tag with this UID."""
        if not self.diversify:
            return self.file_read_master_key
        return diversify_key_an10922(
            self.file_read_master_key, uid + b"\x03" + self.system_identifier
        )


@dataclass(frozen=True)
class SunLayout:
    """Where the tag mirrors its data in the URL (query parameter names).

    ``mac_input_param``: when set, the MAC covers the URL text from the start of that
    parameter's value up to the start of the MAC value (SDMMACInputOffset); when
    ``None`` the MAC input is empty. ``enc_param``: optional encrypted file data.
    """

    picc_param: str = "e"
    mac_param: str = "c"
    mac_input_param: str | None = None
    enc_param: str | None = None


@dataclass(frozen=True)
class SunReading:
    """A SUN URL that passed every check."""

    uid: str  # 7 bytes, upper-case hex
    counter: int  # SDMReadCtr, 0..0xFFFFFF
    picc_data_tag: int
    base_url: str  # the URL without the SUN parameters: the tag's Digital Link
    file_data: bytes | None  # decrypted SDM file data, when the layout has one


# ---------------------------------------------------------------- primitives


def _aes_ecb_encrypt(key: bytes, block: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return encryptor.update(block) + encryptor.finalize()


def _aes_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def _aes_cbc_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def aes_cmac(key: bytes, message: bytes) -> bytes:
    """AES-128-CMAC (NIST SP 800-38B / RFC 4493)."""
    mac = CMAC(algorithms.AES(key))
    mac.update(message)
    return mac.finalize()


def _double(block: bytes) -> bytes:
    value = int.from_bytes(block, "big") << 1
    if value >> 128:
        value = (value & ((1 << 128) - 1)) ^ 0x87
    return value.to_bytes(BLOCK, "big")


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def diversify_key_an10922(master_key: bytes, diversification_input: bytes) -> bytes:
    """NXP AN10922 AES-128 key diversification.

    ``D = 0x01 ‖ M`` padded with ``80 00…`` to 32 bytes (K2) or, when M is 31 bytes,
    left as it is (K1); the key is the last block of AES-CBC-MAC over ``D`` with the
    subkey XORed into its last block. Unlike plain CMAC, a short D is still padded to
    two blocks.
    """
    if len(master_key) != KEY_BYTES:
        raise ValueError("master key must be 16 bytes")
    if not 1 <= len(diversification_input) <= 31:
        raise ValueError("diversification input must be 1..31 bytes")
    subkey_1 = _double(_aes_ecb_encrypt(master_key, bytes(BLOCK)))
    subkey_2 = _double(subkey_1)
    data = bytes([_AN10922_AES128]) + diversification_input
    if len(data) == 2 * BLOCK:
        last_key = subkey_1
    else:
        data = data + b"\x80" + bytes(2 * BLOCK - len(data) - 1)
        last_key = subkey_2
    data = data[:BLOCK] + _xor(data[BLOCK:], last_key)
    return _aes_cbc_encrypt(master_key, _ZERO_IV, data)[BLOCK:]


def decrypt_picc_data(meta_read_key: bytes, encrypted: bytes) -> bytes:
    """The 16 plain bytes of PICC data: tag byte, UID, counter (LSB first), padding."""
    if len(encrypted) != BLOCK:
        raise ValueError("PICC data must be 16 bytes")
    return _aes_cbc_decrypt(meta_read_key, _ZERO_IV, encrypted)


def _session_vector(prefix: bytes, uid: bytes, counter: int) -> bytes:
    vector = prefix + uid + counter.to_bytes(3, "little")
    return vector + bytes(BLOCK - len(vector) % BLOCK) if len(vector) % BLOCK else vector


def session_mac_key(file_read_key: bytes, uid: bytes, counter: int) -> bytes:
    """K_SesSDMFileReadMAC = AES-CMAC(K_SDMFileRead, SV2)."""
    return aes_cmac(file_read_key, _session_vector(_SV2_PREFIX, uid, counter))


def sun_mac(file_read_key: bytes, uid: bytes, counter: int, mac_input: bytes) -> bytes:
    """The 8-byte SDMMAC: odd-indexed bytes of the CMAC under the session key."""
    full = aes_cmac(session_mac_key(file_read_key, uid, counter), mac_input)
    return full[1::2]


def _decrypt_file_data(file_read_key: bytes, uid: bytes, counter: int, enc: bytes) -> bytes:
    session_key = aes_cmac(file_read_key, _session_vector(_SV1_PREFIX, uid, counter))
    iv = _aes_ecb_encrypt(session_key, counter.to_bytes(3, "little") + bytes(13))
    return _aes_cbc_decrypt(session_key, iv, enc)


# ---------------------------------------------------------------- URL handling


def _hex_param(params: dict[str, str], name: str, nbytes: int | None) -> bytes:
    value = params.get(name)
    if value is None:
        raise SunRejected(REASON_MALFORMED, f"paramètre « {name} » absent de l'URL SUN")
    length_ok = len(value) == 2 * nbytes if nbytes else (len(value) % 32 == 0 and value)
    if not length_ok:
        raise SunRejected(REASON_MALFORMED, f"paramètre « {name} » de longueur inattendue")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise SunRejected(REASON_MALFORMED, f"paramètre « {name} » non hexadécimal") from None


def _value_offset(url: str, query_start: int, name: str) -> int:
    """Offset in ``url`` of the first character of parameter ``name``'s value."""
    position = query_start
    for part in url[query_start:].split("&"):
        key = part.split("=", 1)[0]
        if key == name and "=" in part:
            return position + len(key) + 1
        position += len(part) + 1
    raise SunRejected(REASON_MALFORMED, f"paramètre « {name} » absent de l'URL SUN")


def _split_url(url: str, layout: SunLayout) -> tuple[dict[str, str], str, int]:
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
        raise SunRejected(REASON_MALFORMED, "URL SUN absente ou trop longue")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise SunRejected(REASON_MALFORMED, "URL SUN illisible") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SunRejected(REASON_MALFORMED, "l'URL SUN doit commencer par https://")
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise SunRejected(REASON_MALFORMED, f"paramètre « {key} » répété")
        params[key] = value
    sun_names = {layout.picc_param, layout.mac_param, layout.enc_param}
    kept = "&".join(f"{k}={v}" if v else k for k, v in pairs if k not in sun_names)
    base_url = urlunsplit((parts.scheme, parts.netloc, parts.path, kept, ""))
    query_start = url.index("?") + 1 if "?" in url else len(url)
    return params, base_url, query_start


# ---------------------------------------------------------------- verification


def check_counter(counter: int, last_counter: int | None) -> None:
    """The replay rule: ``counter`` must be greater than the last one accepted.

    For callers that learn the UID from :func:`verify_sun_url` (called with
    ``last_counter=None``, the MAC already checked) and then read the UID's last
    counter inside their own transaction.
    """
    if last_counter is not None and counter <= last_counter:
        raise SunRejected(
            REASON_REPLAYED,
            f"compteur {counter} déjà vu (dernier accepté : {last_counter}) : lecture rejouée",
        )


def verify_sun_url(
    url: str,
    keys: SunKeys,
    last_counter: int | None,
    layout: SunLayout | None = None,
) -> SunReading:
    """Check a SUN URL; return what it proves or raise :class:`SunRejected`.

    ``last_counter`` is the highest counter already accepted for this tag's UID
    (``None`` for a tag never seen); a counter not greater than it is a replay.
    """
    layout = layout or SunLayout()
    params, base_url, query_start = _split_url(url, layout)
    encrypted_picc = _hex_param(params, layout.picc_param, BLOCK)
    received_mac = _hex_param(params, layout.mac_param, 8)
    plain = decrypt_picc_data(keys.meta_read_key, encrypted_picc)
    tag = plain[0]
    mirrored = _TAG_UID_MIRRORED | _TAG_COUNTER_MIRRORED
    if tag & mirrored != mirrored:
        raise SunRejected(
            REASON_BAD_PICC,
            "données PICC illisibles : clé de lecture erronée ou étiquette contrefaite",
        )
    if tag & 0x0F != UID_BYTES:
        raise SunRejected(
            REASON_UID_LENGTH,
            f"UID de {tag & 0x0F} octets : seules les étiquettes à UID de 7 octets sont admises",
        )
    uid = plain[1 : 1 + UID_BYTES]
    counter = int.from_bytes(plain[1 + UID_BYTES : 4 + UID_BYTES], "little")

    mac_offset = _value_offset(url, query_start, layout.mac_param)
    if layout.mac_input_param is None:
        mac_input = b""
    else:
        input_offset = _value_offset(url, query_start, layout.mac_input_param)
        if input_offset > mac_offset:
            raise SunRejected(REASON_MALFORMED, "le MAC précède les données qu'il couvre")
        mac_input = url[input_offset:mac_offset].encode("ascii", "replace")
    file_read_key = keys.file_read_key(uid)
    expected = sun_mac(file_read_key, uid, counter, mac_input)
    if not hmac.compare_digest(expected, received_mac):
        raise SunRejected(
            REASON_BAD_MAC, "signature de l'étiquette invalide : étiquette copiée ou modifiée"
        )
    check_counter(counter, last_counter)
    file_data = None
    if layout.enc_param is not None:
        enc = _hex_param(params, layout.enc_param, None)
        file_data = _decrypt_file_data(file_read_key, uid, counter, enc)
    return SunReading(
        uid=uid.hex().upper(),
        counter=counter,
        picc_data_tag=tag,
        base_url=base_url,
        file_data=file_data,
    )


def sign_sun_url(
    base_url: str,
    uid: bytes,
    counter: int,
    keys: SunKeys,
    padding: bytes = bytes(5),
    layout: SunLayout | None = None,
) -> str:
    """What a tag programmed with ``keys`` would show: ``base_url`` plus PICC and MAC.

    For tests, vectors and the tag simulator; the MAC input is empty, so the layout
    must not set ``mac_input_param`` or ``enc_param``.
    """
    layout = layout or SunLayout()
    if layout.mac_input_param is not None or layout.enc_param is not None:
        raise ValueError("sign_sun_url only builds URLs with an empty MAC input")
    if len(uid) != UID_BYTES or not 0 <= counter <= MAX_COUNTER or len(padding) != 5:
        raise ValueError("uid must be 7 bytes, counter 0..0xFFFFFF, padding 5 bytes")
    tag = _TAG_UID_MIRRORED | _TAG_COUNTER_MIRRORED | UID_BYTES
    plain = bytes([tag]) + uid + counter.to_bytes(3, "little") + padding
    encrypted = _aes_cbc_encrypt(keys.meta_read_key, _ZERO_IV, plain)
    mac = sun_mac(keys.file_read_key(uid), uid, counter, b"")
    separator = "&" if "?" in base_url else "?"
    return (
        f"{base_url}{separator}{layout.picc_param}={encrypted.hex().upper()}"
        f"&{layout.mac_param}={mac.hex().upper()}"
    )
