"""What Mosquitto 2.0 really does when a reader SUBSCRIBEs to another reader's ``ack``.

With ``acl_file`` the SUBSCRIBE is always granted, whatever the ACL says — ``topic read``
(what provisioning writes), ``pattern read``, ``topic readwrite``, an explicit ``topic
deny`` or ``per_listener_settings true`` — in MQTT 5 and 3.1.1 alike: Mosquitto 2.0's
built-in ACL check returns success for SUBSCRIBE/UNSUBSCRIBE before it looks at the
rules, and applies them when a message is delivered. Nothing addressed to another reader
is ever delivered. Only a plugin can refuse the SUBSCRIBE itself; the dynamic-security
plugin shipped with Mosquitto 2.0 does (SUBACK 0x87 / 0x80). Documented in
docs/provisioning.md and label_specs/README.md; these tests keep that statement true.
"""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from paho.mqtt.enums import MQTTProtocolVersion
from support.mqtt_probe import MqttProbe
from support.processes import (
    ServiceProcess,
    chown_tree,
    find_program,
    free_port,
    make_service_folder,
    port_accepts,
    running_as_root,
    system_user_exists,
)

from reemploi.protocol.wire import topic
from reemploi.provisioning.mosquitto_files import (
    MqttAccount,
    acl_text,
    hash_password,
    password_file_text,
)

pytestmark = pytest.mark.mosquitto

PASSWORD = "mot-de-passe-de-test"
SPY, VICTIM, PLATFORM = "lecteur-a", "lecteur-b", "reemploi-platform"
VICTIM_ACK = topic("site-1", VICTIM, "ack")
GRANTED_QOS1 = 0x01
NOT_AUTHORIZED_V5 = 0x87
FAILURE_V311 = 0x80
DYNSEC = Path("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so")

GENERATED_ACL = acl_text(
    [
        MqttAccount(PLATFORM, "", "platform"),
        MqttAccount(SPY, "", "reader", "site-1"),
        MqttAccount(VICTIM, "", "reader", "site-1"),
    ]
)
PLATFORM_ACL = f"user {PLATFORM}\ntopic write reemploi/v1/+/+/ack\n\n"

ACL_VARIANTS = {
    "topic-read (généré)": GENERATED_ACL,
    "pattern-read": PLATFORM_ACL + "pattern read reemploi/v1/+/%u/ack\n",
    "topic-readwrite": PLATFORM_ACL
    + "".join(
        f"user {user}\ntopic readwrite {topic('site-1', user, 'ack')}\n\n" for user in (SPY, VICTIM)
    ),
    "topic-deny": GENERATED_ACL + f"\nuser {SPY}\ntopic deny {VICTIM_ACK}\n",
}


@dataclass
class Broker:
    port: int
    process: ServiceProcess
    folder: Path


def _start(name: str, settings: str, files: dict[str, str]) -> Broker:
    owner = "mosquitto" if running_as_root() and system_user_exists("mosquitto") else None
    folder = make_service_folder(f"suback-{name}")
    for file_name, text in files.items():
        (folder / file_name).write_text(text)
    port = free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(settings.format(folder=folder, port=port))
    if owner:
        chown_tree(folder, owner)
    process = ServiceProcess(
        "mosquitto",
        [find_program("mosquitto", "/usr/sbin/mosquitto"), "-c", str(conf)],
        log_path=folder / "mosquitto.log",
    )
    process.start(lambda: port_accepts(port), timeout=15)
    return Broker(port, process, folder)


def _passwd() -> str:
    accounts = [MqttAccount(u, hash_password(PASSWORD), "reader") for u in (SPY, VICTIM, PLATFORM)]
    return password_file_text(accounts)


ACL_FILE_CONF = """\
per_listener_settings false
allow_anonymous false
password_file {folder}/passwd
acl_file {folder}/acl
persistence false
listener {port} 127.0.0.1
use_username_as_clientid true
"""
PER_LISTENER_CONF = """\
per_listener_settings true
persistence false
listener {port} 127.0.0.1
allow_anonymous false
password_file {folder}/passwd
acl_file {folder}/acl
use_username_as_clientid true
"""


def _dynsec_client(username: str, role: str) -> dict[str, object]:
    """A dynamic-security client with its PBKDF2-SHA512 password (as mosquitto_ctrl does)."""
    salt = hashlib.sha256(username.encode()).digest()[:12]
    digest = hashlib.pbkdf2_hmac("sha512", PASSWORD.encode(), salt, 101, 64)
    return {
        "username": username,
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": 101,
        "roles": [{"rolename": role}],
    }


def _dynsec_json() -> str:
    def reader_role(user: str) -> dict[str, object]:
        own_ack = topic("site-1", user, "ack")
        return {
            "rolename": user,
            "acls": [
                {"acltype": "subscribeLiteral", "topic": own_ack, "allow": True},
                {"acltype": "publishClientReceive", "topic": own_ack, "allow": True},
            ],
        }

    platform = {
        "rolename": PLATFORM,
        "acls": [{"acltype": "publishClientSend", "topic": "reemploi/v1/+/+/ack", "allow": True}],
    }
    document = {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": [_dynsec_client(u, u) for u in (SPY, VICTIM, PLATFORM)],
        "groups": [],
        "roles": [reader_role(SPY), reader_role(VICTIM), platform],
    }
    return json.dumps(document, indent=2)


DYNSEC_CONF = (
    """\
per_listener_settings false
allow_anonymous false
persistence false
"""
    + f"plugin {DYNSEC}\n"
    + """plugin_opt_config_file {folder}/dynamic-security.json
listener {port} 127.0.0.1
"""
)


@pytest.fixture
def started() -> Iterator[list[Broker]]:
    brokers: list[Broker] = []
    yield brokers
    for broker in brokers:
        broker.process.stop()
        shutil.rmtree(broker.folder, ignore_errors=True)


def _probe(broker: Broker, user: str, protocol: MQTTProtocolVersion) -> MqttProbe:
    return MqttProbe(
        "127.0.0.1", broker.port, client_id=user, username=user, password=PASSWORD,
        protocol=protocol,
    )  # fmt: skip


def _spy_on_victim(broker: Broker, protocol: MQTTProtocolVersion) -> tuple[int, bool]:
    """(SUBACK code of the spy's SUBSCRIBE to the victim's ack, was anything delivered)."""
    with _probe(broker, SPY, protocol) as spy, _probe(broker, VICTIM, protocol) as victim:
        suback = spy.subscribe(VICTIM_ACK).value
        assert victim.subscribe(VICTIM_ACK).value == GRANTED_QOS1
        with _probe(broker, PLATFORM, protocol) as platform:
            platform.publish(VICTIM_ACK, b"ack pour lecteur-b")
        assert victim.next_message(timeout=5).payload == b"ack pour lecteur-b"  # delivery works
        try:
            spy.next_message(timeout=0.5)
        except queue.Empty:
            return suback, False
        return suback, True


PROTOCOLS = [MQTTProtocolVersion.MQTTv5, MQTTProtocolVersion.MQTTv311]


@pytest.mark.parametrize("variant", sorted(ACL_VARIANTS))
def test_acl_file_grants_the_subscribe_but_delivers_nothing(
    variant: str, started: list[Broker]
) -> None:
    files = {"passwd": _passwd(), "acl": ACL_VARIANTS[variant]}
    started.append(_start(variant, ACL_FILE_CONF, files))
    for protocol in PROTOCOLS:
        assert _spy_on_victim(started[-1], protocol) == (GRANTED_QOS1, False), protocol


def test_per_listener_acl_file_behaves_the_same(started: list[Broker]) -> None:
    files = {"passwd": _passwd(), "acl": GENERATED_ACL}
    started.append(_start("per-listener", PER_LISTENER_CONF, files))
    for protocol in PROTOCOLS:
        assert _spy_on_victim(started[-1], protocol) == (GRANTED_QOS1, False), protocol


def test_only_a_plugin_refuses_the_subscribe_itself(started: list[Broker]) -> None:
    if not DYNSEC.exists():
        pytest.fail(f"{DYNSEC} missing: the mosquitto package ships it (Debian, 2.0)")
    started.append(_start("dynsec", DYNSEC_CONF, {"dynamic-security.json": _dynsec_json()}))
    expected = {
        MQTTProtocolVersion.MQTTv5: NOT_AUTHORIZED_V5,
        MQTTProtocolVersion.MQTTv311: FAILURE_V311,
    }
    for protocol in PROTOCOLS:
        assert _spy_on_victim(started[-1], protocol) == (expected[protocol], False), protocol
