"""One-time claim codes for readers: shown once on the claim label, stored hashed."""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["claim_code_hash", "claim_code_matches", "claim_url", "new_claim_code"]

# Crockford base32 without I, L, O, U: nothing to confuse when typed by hand.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GROUPS = 3
GROUP_LENGTH = 4  # 12 symbols = 60 bits


def new_claim_code() -> str:
    """``XXXX-XXXX-XXXX``, 60 random bits."""
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_LENGTH))
    return "-".join(symbols[i : i + GROUP_LENGTH] for i in range(0, len(symbols), GROUP_LENGTH))


def _normalised(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "").replace("O", "0")


def claim_code_hash(code: str) -> str:
    return hashlib.sha256(b"reemploi-claim-v1\n" + _normalised(code).encode()).hexdigest()


def claim_code_matches(code: str, stored_hash: str) -> bool:
    return hmac.compare_digest(claim_code_hash(code), stored_hash)


def claim_url(platform_url: str, device_id: str, code: str) -> str:
    """What the claim label's QR holds: the platform's claim page for this reader."""
    return f"{platform_url.rstrip('/')}/claim/{device_id}?code={code}"
