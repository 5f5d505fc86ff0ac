"""Secrets kept in the database encrypted (Fernet: AES-128-CBC with HMAC-SHA256), with a
key that lives only in the server's environment (``REEMPLOI_MARKET_SECRETS_KEY``). A copy
of the database, a backup or a read-only SQL access gives no organisation's client secret.

Without a key, nothing secret can be stored (public clients, PKCE only, still work). A
value stored in clear by an earlier version is still read; it is encrypted the next time
it is saved.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from .errors import N_, InvalidInput, MarketError

PREFIX = "fernet:"


class SecretUnreadable(MarketError):
    status = 503  # the server's configuration, not the request, is at fault


def check_key(key: str) -> None:
    """Raises ValueError unless ``key`` is a Fernet key (32 url-safe base64 bytes)."""
    try:
        Fernet(key.encode())
    except (ValueError, TypeError) as exc:
        raise ValueError(
            "REEMPLOI_MARKET_SECRETS_KEY : clé Fernet attendue (32 octets en base64 url), "
            "par exemple la sortie de « python -c 'from cryptography.fernet import Fernet;"
            " print(Fernet.generate_key().decode())' »"
        ) from exc


class SecretBox:
    def __init__(self, key: str | None) -> None:
        self._fernet = Fernet(key.encode()) if key else None

    def seal(self, secret: str, field: str = "client_secret") -> str:
        """The text to store for ``secret``; refused (field by field) without a key."""
        if self._fernet is None:
            raise InvalidInput(
                N_("Please correct the highlighted fields."),
                fields={
                    field: N_(
                        "This server cannot keep a secret: its administrator must set"
                        " REEMPLOI_MARKET_SECRETS_KEY."
                    )
                },
            )
        return PREFIX + self._fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        """The secret behind ``stored`` (a value from before encryption: as it is)."""
        if not stored.startswith(PREFIX):
            return stored
        if self._fernet is None:
            raise SecretUnreadable(
                N_("The sign-in service's secret cannot be read: the server has no key.")
            )
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise SecretUnreadable(
                N_("The sign-in service's secret cannot be read with the server's key.")
            ) from exc
