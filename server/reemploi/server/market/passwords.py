"""Password hashing with Argon2id (argon2-cffi, maintained), parameters from RFC 9106.

The cost comes from :class:`~.config.MarketSettings` (production defaults: RFC 9106's
low-memory profile). Tests may lower it through their settings object; a hash records
its own parameters, so verification always uses the cost it was made with.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

DEFAULT_HASHER = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4)
MIN_LENGTH = 10

# Verified against when the account does not exist, so that timing does not tell.
_DUMMY = DEFAULT_HASHER.hash("réemploi-compte-inexistant")


def password_hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def hash_password(password: str, hasher: PasswordHasher | None = None) -> str:
    return (hasher or DEFAULT_HASHER).hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return DEFAULT_HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str, hasher: PasswordHasher | None = None) -> bool:
    return (hasher or DEFAULT_HASHER).check_needs_rehash(stored)
