"""OpenID Connect sign-in for organisations that have their own identity provider.

Authorization code flow with PKCE (RFC 7636, S256) and a nonce, as a confidential
client (``client_secret_post``) or a public one (no secret, PKCE only). The protocol
pieces come from maintained libraries: Authlib builds the authorisation request and
checks the provider's discovery document, joserfc verifies the ID token's signature
against the provider's published keys (JWKS) and its claims (``iss``, ``aud``,
``azp``, ``exp``, ``iat``, ``nonce``). This module does HTTP (httpx), no database.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token, is_secure_transport
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from .errors import N_, MarketError

SIGNING_ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
LEEWAY_S = 60  # clock skew allowed between the provider and us
CACHE_S = 3600.0  # discovery document and keys are fetched again after an hour

# Where providers send the browser back (declared at each provider).
RETURN_PATH = "/m/oidc/retour"


def return_url(base: str) -> str:
    """The return address under the platform's address ``base``."""
    return base.rstrip("/") + RETURN_PATH


class OidcRefused(MarketError):
    """The provider's answer cannot be trusted or names nobody we know; ``reason`` says
    which check failed (kept in logs and tests, the message is for people)."""

    status = 401

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class OidcUnavailable(MarketError):
    """The provider cannot be reached or answers nonsense."""

    status = 502


@dataclass(frozen=True)
class Provider:
    organisation_id: str
    issuer: str
    client_id: str
    client_secret: str | None


@dataclass(frozen=True)
class Endpoints:
    authorization: str
    token: str
    jwks: str


@dataclass(frozen=True)
class AuthorisationRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str


def issuer_is_acceptable(issuer: str) -> bool:
    """HTTPS, or plain HTTP on the loopback only (a provider run for a test)."""
    return is_secure_transport(issuer) and "?" not in issuer and "#" not in issuer


class ProviderDirectory:
    """Discovery documents and signing keys of providers, fetched over HTTP and cached."""

    def __init__(self, timeout_s: float = 10.0) -> None:
        self._timeout = timeout_s
        self._lock = threading.Lock()
        self._endpoints: dict[str, tuple[float, Endpoints]] = {}
        self._keys: dict[str, tuple[float, KeySet]] = {}

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            reply = httpx.get(url, timeout=self._timeout, follow_redirects=False)
            reply.raise_for_status()
            data = reply.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcUnavailable(
                N_("Your organisation's sign-in service does not answer: try again later.")
            ) from exc
        if not isinstance(data, dict):
            raise OidcUnavailable(N_("Your organisation's sign-in service answers nonsense."))
        return data

    def endpoints(self, issuer: str) -> Endpoints:
        with self._lock:
            cached = self._endpoints.get(issuer)
        if cached and time.monotonic() - cached[0] < CACHE_S:
            return cached[1]
        data = self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        metadata = OpenIDProviderMetadata(data)
        try:
            metadata.validate()
        except ValueError as exc:
            raise OidcUnavailable(
                N_("Your organisation's sign-in service answers nonsense.")
            ) from exc
        if metadata["issuer"] != issuer:  # OpenID Connect Discovery 1.0, section 4.3
            raise OidcUnavailable(N_("Your organisation's sign-in service answers nonsense."))
        found = Endpoints(
            metadata["authorization_endpoint"], metadata["token_endpoint"], metadata["jwks_uri"]
        )
        if not all(is_secure_transport(u) for u in (found.authorization, found.token, found.jwks)):
            raise OidcUnavailable(N_("Your organisation's sign-in service answers nonsense."))
        with self._lock:
            self._endpoints[issuer] = (time.monotonic(), found)
        return found

    def keys(self, issuer: str, *, refresh: bool = False) -> KeySet:
        with self._lock:
            cached = self._keys.get(issuer)
        if cached and not refresh and time.monotonic() - cached[0] < CACHE_S:
            return cached[1]
        data = self._get_json(self.endpoints(issuer).jwks)
        try:
            keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise OidcUnavailable(
                N_("Your organisation's sign-in service answers nonsense.")
            ) from exc
        with self._lock:
            self._keys[issuer] = (time.monotonic(), keys)
        return keys


def authorisation_request(
    provider: Provider, endpoints: Endpoints, redirect_uri: str
) -> AuthorisationRequest:
    """A fresh request: random state, nonce and PKCE verifier (S256 challenge sent)."""
    state = generate_token(43)
    nonce = generate_token(43)
    verifier = generate_token(64)  # RFC 7636: 43 to 128 characters
    url = prepare_grant_uri(
        endpoints.authorization,
        client_id=provider.client_id,
        response_type="code",
        redirect_uri=redirect_uri,
        scope="openid email profile",
        state=state,
        nonce=nonce,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    return AuthorisationRequest(url, state, nonce, verifier)


def exchange_code(
    provider: Provider,
    endpoints: Endpoints,
    *,
    code: str,
    code_verifier: str,
    redirect_uri: str,
    timeout_s: float = 10.0,
) -> str:
    """Trade the authorisation code for tokens at the token endpoint; return the ID token."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": provider.client_id,
        "code_verifier": code_verifier,
    }
    if provider.client_secret:
        form["client_secret"] = provider.client_secret
    try:
        reply = httpx.post(
            endpoints.token,
            data=form,
            headers={"Accept": "application/json"},
            timeout=timeout_s,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        raise OidcUnavailable(
            N_("Your organisation's sign-in service does not answer: try again later.")
        ) from exc
    try:
        body = reply.json()
    except ValueError:
        body = {}
    if reply.status_code != 200 or not isinstance(body, dict):
        raise OidcRefused(
            "token_endpoint",
            N_("Your organisation's sign-in service refused the sign-in: start again."),
        )
    id_token = body.get("id_token")
    if not isinstance(id_token, str):
        raise OidcRefused(
            "no_id_token", N_("Your organisation's sign-in service sent no identity.")
        )
    return id_token


_CLAIM_REASONS = {
    "iss": ("issuer", N_("The identity was issued by another service: sign-in refused.")),
    "aud": ("audience", N_("The identity was issued for another application: sign-in refused.")),
    "azp": ("audience", N_("The identity was issued for another application: sign-in refused.")),
    "nonce": ("nonce", N_("The identity does not answer this sign-in request: start again.")),
    "exp": ("expired", N_("The identity has expired: start again.")),
    "iat": ("issued_at", N_("The identity is dated in the future: sign-in refused.")),
    "sub": ("subject", N_("Your organisation's sign-in service sent no identity.")),
}


def verify_id_token(
    id_token: str,
    keys: KeySet,
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    now: int | None = None,
) -> dict[str, Any]:
    """Check the ID token's signature and claims (OpenID Connect Core 1.0, 3.1.3.7)."""
    try:
        token = jwt.decode(id_token, keys, algorithms=list(SIGNING_ALGORITHMS))
    except InvalidKeyIdError as exc:  # the caller fetches the keys again once
        raise OidcRefused(
            "unknown_key", N_("The identity's signature is not valid: sign-in refused.")
        ) from exc
    except BadSignatureError as exc:
        raise OidcRefused(
            "signature", N_("The identity's signature is not valid: sign-in refused.")
        ) from exc
    except (JoseError, ValueError) as exc:
        raise OidcRefused(
            "malformed", N_("The identity's signature is not valid: sign-in refused.")
        ) from exc
    claims = token.claims
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=LEEWAY_S,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != client_id:
            raise InvalidClaimError("azp")
    except ExpiredTokenError as exc:
        raise OidcRefused(*_CLAIM_REASONS["exp"]) from exc
    except (InvalidClaimError, MissingClaimError) as exc:
        name = exc.claim.split(",")[0]
        reason, message = _CLAIM_REASONS.get(
            name, ("claims", N_("The identity's signature is not valid: sign-in refused."))
        )
        raise OidcRefused(reason, message) from exc
    return dict(claims)


def verify_with_fresh_keys(
    directory: ProviderDirectory, provider: Provider, id_token: str, nonce: str
) -> dict[str, Any]:
    """Verify with the cached keys; on an unknown key id, fetch the keys once more (the
    provider may have rotated them)."""
    try:
        keys = directory.keys(provider.issuer)
        return verify_id_token(
            id_token, keys, issuer=provider.issuer, client_id=provider.client_id, nonce=nonce
        )
    except OidcRefused as exc:
        if exc.reason != "unknown_key":
            raise
    keys = directory.keys(provider.issuer, refresh=True)
    return verify_id_token(
        id_token, keys, issuer=provider.issuer, client_id=provider.client_id, nonce=nonce
    )


def verified_email(claims: dict[str, Any]) -> str:
    """The e-mail address the provider vouches for, or a refusal (deny by default)."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise OidcRefused(
            "no_email", N_("Your organisation's sign-in service did not give your e-mail address.")
        )
    if claims.get("email_verified") not in (True, "true"):
        raise OidcRefused(
            "email_unverified",
            N_("Your organisation's sign-in service has not verified your e-mail address."),
        )
    return email.strip().lower()
