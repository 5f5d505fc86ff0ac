"""A small OpenID Connect provider for the tests, on 127.0.0.1 (no public provider is
reachable here): discovery, authorisation endpoint (the person is already signed in at
the provider), token endpoint with PKCE (S256) and client authentication, JWKS, and
ID tokens signed with RS256 by joserfc.

``fault`` makes the next ID tokens wrong in one way: ``bad_signature`` (signed with
another key under the same key id), ``wrong_audience``, ``wrong_nonce``, ``expired``,
``wrong_issuer``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey


@dataclass
class Person:
    sub: str
    email: str
    email_verified: bool = True
    name: str = "Personne de test"


@dataclass
class LocalProvider:
    client_id: str = "reemploi-test"
    client_secret: str | None = "secret-de-test"
    person: Person = field(default_factory=lambda: Person("u-1", "agent@ville.example"))
    fault: str | None = None
    url: str = ""
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "cle-1", "use": "sig"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "cle-1", "use": "sig"})
        self._codes: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                return None

            def do_GET(self) -> None:
                provider.handle_get(self)

            def do_POST(self) -> None:
                provider.handle_post(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> LocalProvider:
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -------------------------------------------------------------- HTTP

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def handle_get(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        if parts.path == "/.well-known/openid-configuration":
            self._send(handler, 200, self.discovery())
        elif parts.path == "/jwks":
            self._send(handler, 200, {"keys": [self.key.as_dict(private=False)]})
        elif parts.path == "/authorize":
            self.authorize(handler, {k: v[0] for k, v in parse_qs(parts.query).items()})
        else:
            self._send(handler, 404, {"error": "not_found"})

    def handle_post(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(handler.rfile.read(length).decode()).items()}
        if urlsplit(handler.path).path != "/token":
            self._send(handler, 404, {"error": "not_found"})
            return
        status, body = self.token(form)
        self._send(handler, status, body)

    # -------------------------------------------------------------- protocol

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": self.url + "/authorize",
            "token_endpoint": self.url + "/token",
            "jwks_uri": self.url + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "none"],
        }

    def authorize(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        ok = (
            query.get("client_id") == self.client_id
            and query.get("response_type") == "code"
            and "openid" in query.get("scope", "").split()
            and query.get("code_challenge_method") == "S256"
            and query.get("code_challenge")
            and query.get("nonce")
            and query.get("redirect_uri")
        )
        if not ok:
            self._send(handler, 400, {"error": "invalid_request"})
            return
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = query
        target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
        handler.send_response(302)
        handler.send_header("Location", target)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        with self._lock:
            request = self._codes.pop(form.get("code", ""), None)  # single use
        if request is None or form.get("grant_type") != "authorization_code":
            return 400, {"error": "invalid_grant"}
        if form.get("client_id") != self.client_id or (
            self.client_secret is not None and form.get("client_secret") != self.client_secret
        ):
            return 401, {"error": "invalid_client"}
        if form.get("redirect_uri") != request["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if challenge != request["code_challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        return 200, {
            "access_token": secrets.token_urlsafe(16),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.id_token(request["nonce"]),
        }

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "sub": self.person.sub,
            "aud": self.client_id,
            "exp": now + 300,
            "iat": now,
            "nonce": nonce,
            "email": self.person.email,
            "email_verified": self.person.email_verified,
            "name": self.person.name,
        }
        key = self.key
        if self.fault == "bad_signature":
            key = self.other_key
        elif self.fault == "wrong_audience":
            claims["aud"] = "une-autre-application"
        elif self.fault == "wrong_nonce":
            claims["nonce"] = "pas-le-bon-nonce"
        elif self.fault == "expired":
            claims["iat"], claims["exp"] = now - 3600, now - 600
        elif self.fault == "wrong_issuer":
            claims["iss"] = "https://imposteur.example"
        return jwt.encode({"alg": "RS256", "kid": "cle-1"}, claims, key)
