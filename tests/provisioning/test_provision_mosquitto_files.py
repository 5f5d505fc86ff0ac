"""Password file and ACL text: byte-compatible with mosquitto_passwd, least privilege."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from reemploi.protocol.wire import MalformedMessage
from reemploi.provisioning.mosquitto_files import (
    MqttAccount,
    acl_text,
    hash_password,
    verify_password_line,
)


def test_hash_matches_mosquitto_passwd(tmp_path: Path) -> None:
    program = shutil.which("mosquitto_passwd")
    assert program, "mosquitto_passwd missing: run scripts/install-test-services.sh"
    password_file = tmp_path / "passwd"
    subprocess.run([program, "-c", "-b", str(password_file), "lecteur-a", "s3cret é"], check=True)
    line = password_file.read_text().strip()
    user, encoded = line.split(":", 1)
    _, scheme, iterations, salt, _digest = encoded.split("$")
    assert (user, scheme) == ("lecteur-a", "7")
    ours = hash_password("s3cret é", int(iterations), base64.b64decode(salt))
    assert ours == encoded
    assert verify_password_line(line, "lecteur-a", "s3cret é")
    assert not verify_password_line(line, "lecteur-a", "s3cret e")
    assert not verify_password_line(line, "lecteur-b", "s3cret é")


def test_fresh_hashes_are_salted() -> None:
    assert hash_password("x") != hash_password("x")


def test_acl_gives_a_reader_only_its_own_five_topics() -> None:
    text = acl_text(
        [
            MqttAccount("reemploi-platform", "$7$h", "platform"),
            MqttAccount("lecteur-a", "$7$h", "reader", "site-1"),
        ]
    )
    block = text.split("user lecteur-a\n", 1)[1].strip().splitlines()
    assert block == [
        "topic write reemploi/v1/site-1/lecteur-a/scan",
        "topic write reemploi/v1/site-1/lecteur-a/status",
        "topic write reemploi/v1/site-1/lecteur-a/report",
        "topic read reemploi/v1/site-1/lecteur-a/ack",
        "topic read reemploi/v1/site-1/lecteur-a/cmd",
    ]
    assert "pattern" not in text and "%c" not in text
    platform = text.split("user reemploi-platform\n", 1)[1].split("\n\n", 1)[0]
    assert "topic read reemploi/v1/+/+/report" in platform.splitlines()


def test_acl_refuses_an_invalid_site_id() -> None:
    with pytest.raises(MalformedMessage):
        acl_text([MqttAccount("lecteur-a", "$7$h", "reader", "Site/1")])
