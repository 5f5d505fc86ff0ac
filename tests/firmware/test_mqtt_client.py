"""The firmware's MQTT client under the real MicroPython unix port, against a real
Mosquitto: exact packet bytes, QoS 1, last will, keepalive, refused credentials, TLS."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import DEVICE_PASSWORD, DEVICE_USER, closed_port
from support.services import Mosquitto

pytestmark = pytest.mark.micropython


def test_client_on_plain_anonymous_broker(run_mp: Callable[..., str], mosquitto: Mosquitto) -> None:
    out = run_mp(
        "mqtt_link_tests",
        {
            "host": mosquitto.host,
            "port": mosquitto.port,
            "topic_prefix": "test/plain",
            "closed_port": closed_port(),
        },
    )
    assert "ok test_last_will_is_published_retained_when_link_dies" in out
    assert "ok test_publish_qos1_round_trip_and_subscription" in out


def test_client_over_tls_with_password_and_acl(
    run_mp: Callable[..., str], secure_broker: Mosquitto, tls_files: dict[str, Path]
) -> None:
    out = run_mp(
        "mqtt_link_tests",
        {
            "host": secure_broker.host,
            "port": secure_broker.port,
            "tls_port": secure_broker.tls_port,
            "cafile": str(tls_files["ca"]),
            "user": DEVICE_USER,
            "password": DEVICE_PASSWORD,
            "topic_prefix": "test/" + DEVICE_USER,
            "closed_port": closed_port(),
            # one identity per device: client ids are replaced by the user name, so only
            # one connection at a time; run the single-connection tests
            "only": [
                "test_keepalive_pings_keep_an_idle_link_up",
                "test_bad_credentials_are_refused_with_code",
                "test_packets_are_byte_exact",
            ],
        },
    )
    assert "ok test_bad_credentials_are_refused_with_code" in out
