"""Password hashing with Argon2id (argon2-cffi, maintained), parameters from RFC 9106."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()  # Argon2id, RFC 9106 low-memory profile
MIN_LENGTH = 10

# Verified against when the account does not exist, so that timing does not tell.
_DUMMY = _HASHER.hash("réemploi-compte-inexistant")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)
