"""The gateway's MQTT client for the central broker, and why a connection failed.

:func:`make_central_client` builds the client with the gateway's own identity (password
or client certificate), TLS and its offline last will. :func:`connack_problem` and
:func:`connect_problem` turn a refused CONNACK (MQTT 5 reason code) or a failed
connection (TLS, network) into a :class:`LinkProblem`: a sentence for people, French
first, and the alarm it raises, if any (a broker that is simply down is an outage, not
an alarm: the queue's age tells it).
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from reemploi.protocol.wire import offline_status, topic

from .health import ALARM_CENTRAL_AUTH, ALARM_CENTRAL_TLS
from .settings import GatewaySettings

__all__ = [
    "ALARM_CENTRAL_AUTH", "ALARM_CENTRAL_TLS", "LinkProblem", "connack_problem",
    "connect_problem", "make_central_client",
]  # fmt: skip


# MQTT 5 CONNACK reason codes a broker uses to refuse an identity
_IDENTITY_CODES = {
    0x85: ("identifiant de client refusé (gateway_id)", "client identifier not valid"),
    0x86: (
        "nom d'utilisateur ou mot de passe refusé (central_username / central_password)",
        "bad user name or password",
    ),
    0x87: (
        "identité de la passerelle refusée : mot de passe ou certificat non reconnu, "
        "ou compte non autorisé",
        "not authorized: password or certificate not recognised, or account not allowed",
    ),
    0x8A: ("passerelle bannie par le broker central", "banned by the central broker"),
    0x8C: ("méthode d'authentification refusée", "bad authentication method"),
}
_OTHER_CODES = {
    0x84: ("version MQTT refusée (MQTT 5 requis)", "unsupported protocol version"),
    0x88: ("broker central indisponible", "server unavailable"),
    0x89: ("broker central surchargé", "server busy"),
    0x9F: ("trop de connexions, réessai plus tard", "connection rate exceeded"),
}


@dataclass(frozen=True)
class LinkProblem:
    text: str  # French first, then English, for health and `status`
    alarm: str | None = None


def connack_problem(reason_code: Any) -> LinkProblem:
    """A refused CONNACK (paho's ``ReasonCode``, or a plain int)."""
    value = int(getattr(reason_code, "value", reason_code))
    name = reason_code.getName() if hasattr(reason_code, "getName") else str(value)
    if value in _IDENTITY_CODES:
        fr, en = _IDENTITY_CODES[value]
        return LinkProblem(f"le broker central refuse la connexion : {fr} / {en} "
                           f"(0x{value:02X} {name})", ALARM_CENTRAL_AUTH)  # fmt: skip
    fr, en = _OTHER_CODES.get(value, ("connexion refusée", "connection refused"))
    return LinkProblem(f"broker central : {fr} / central broker: {en} (0x{value:02X} {name})")


def connect_problem(exc: BaseException | None) -> LinkProblem:
    """A connection that failed before any CONNACK: TLS, name resolution, network."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = exc.verify_message or str(exc)
        return LinkProblem(
            f"certificat du broker central non vérifié ({why}) : vérifier central_cafile / "
            f"central broker certificate not verified: check central_cafile",
            ALARM_CENTRAL_TLS,
        )
    if isinstance(exc, ssl.SSLError):
        why = exc.reason or str(exc)
        return LinkProblem(
            f"échec TLS avec le broker central ({why}) : certificat client refusé ? / "
            f"TLS handshake failed: client certificate refused?",
            ALARM_CENTRAL_TLS,
        )
    if isinstance(exc, ConnectionRefusedError):
        return LinkProblem("broker central injoignable (connexion refusée) / connection refused")
    if isinstance(exc, socket.gaierror):
        return LinkProblem(f"nom du broker central inconnu / unknown host: {exc}")
    if isinstance(exc, TimeoutError):
        return LinkProblem("broker central : délai dépassé / central broker: timed out")
    return LinkProblem(f"broker central injoignable / unreachable: {exc}")


def make_central_client(s: GatewaySettings) -> mqtt.Client:
    """The central-side client: MQTT 5, the gateway's identity, TLS, offline last will."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=s.gateway_id, protocol=mqtt.MQTTv5)
    if s.central_password is not None:
        c.username_pw_set(s.central_username, s.central_password.get_secret_value())
    else:
        c.username_pw_set(s.central_username)
    if s.central_tls:
        c.tls_set(
            ca_certs=str(s.central_cafile) if s.central_cafile else None,
            certfile=str(s.central_certfile) if s.central_certfile else None,
            keyfile=str(s.central_keyfile) if s.central_keyfile else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
    status_topic = topic(s.site, s.gateway_id, "status")
    c.will_set(status_topic, offline_status(s.gateway_id), qos=1, retain=True)
    return c
