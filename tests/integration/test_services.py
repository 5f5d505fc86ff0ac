"""The real services the suite relies on start, work, restart and go away."""

from __future__ import annotations

import json
import queue
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import psycopg
import pytest
import sqlalchemy
from support.lifecycle import running, start_or_fail
from support.mqtt_probe import MqttProbe
from support.processes import find_program
from support.services import (
    INSTALL_HINT,
    InfluxDB1,
    Mosquitto,
    MosquittoSettings,
    MosquittoTls,
    Postgres,
    ServiceNotInstalledError,
    ServiceStartError,
    free_port,
    pid_is_alive,
)

NOT_AUTHORIZED = 135  # MQTT 5 reason code 0x87


# --- Mosquitto ---------------------------------------------------------------------------


def test_mosquitto_delivers_a_qos1_message_to_a_subscriber(mosquitto: Mosquitto) -> None:
    with (
        MqttProbe(mosquitto.host, mosquitto.port, client_id="sub-1") as subscriber,
        MqttProbe(mosquitto.host, mosquitto.port, client_id="pub-1") as publisher,
    ):
        assert subscriber.subscribe("reemploi/test/qos1", qos=1).value == 0x01  # granted QoS 1
        assert publisher.publish("reemploi/test/qos1", b"scan-42", qos=1).value == 0
        received = subscriber.next_message()
    assert (received.topic, received.payload, received.qos) == ("reemploi/test/qos1", b"scan-42", 1)


def test_mosquitto_restarts_on_the_same_port_and_keeps_retained_messages(
    fresh_mosquitto: Mosquitto,
) -> None:
    port, first_pid = fresh_mosquitto.port, fresh_mosquitto.pid
    with MqttProbe(fresh_mosquitto.host, port, client_id="before") as client:
        stored = client.publish("reemploi/test/retained", b"kept", qos=1, retain=True)
        assert not stored.is_failure, str(stored)  # 16 "No matching subscribers" is fine

    fresh_mosquitto.restart()

    assert fresh_mosquitto.port == port
    assert fresh_mosquitto.pid != first_pid
    assert first_pid is not None and not pid_is_alive(first_pid)
    with MqttProbe(fresh_mosquitto.host, port, client_id="after") as client:
        assert client.connect_reason is not None and client.connect_reason.value == 0
        client.subscribe("reemploi/test/retained", qos=1)
        received = client.next_message()
    assert (received.payload, received.retain) == (b"kept", True)


def test_a_paho_client_reconnects_after_the_broker_restarts(fresh_mosquitto: Mosquitto) -> None:
    with MqttProbe(fresh_mosquitto.host, fresh_mosquitto.port, client_id="survivor") as client:
        client.subscribe("reemploi/test/loop", qos=1)
        fresh_mosquitto.restart()
        client.client.reconnect()  # do not wait for paho's back-off
        deadline = time.monotonic() + 10
        while not client.client.is_connected():
            assert time.monotonic() < deadline, "paho did not reconnect"
            time.sleep(0.05)
        client.subscribe("reemploi/test/loop", qos=1)
        assert client.publish("reemploi/test/loop", b"again", qos=1).value == 0
        assert client.next_message().payload == b"again"


ACL = """\
# readers publish only under their own client id (= user name, forced by the listener)
pattern write readers/%c/#
user backend
topic read readers/#
"""


def test_mosquitto_acl_lets_a_reader_publish_only_on_its_own_topic(
    make_mosquitto: Callable[[MosquittoSettings], Mosquitto],
) -> None:
    broker = make_mosquitto(
        MosquittoSettings(
            allow_anonymous=False,
            passwords={"reader-1": "pw-one", "reader-2": "pw-two", "backend": "pw-backend"},
            acl=ACL,
            use_username_as_clientid=True,
        )
    )
    with (
        MqttProbe(broker.host, broker.port, username="backend", password="pw-backend") as backend,
        # Pretends to be reader-2: the broker must use the user name as client id.
        MqttProbe(
            broker.host, broker.port, client_id="reader-2", username="reader-1", password="pw-one"
        ) as reader,
    ):
        backend.subscribe("readers/#", qos=1)
        allowed = reader.publish("readers/reader-1/scan", b"ok", qos=1)
        refused = reader.publish("readers/reader-2/scan", b"spoofed", qos=1)
        assert allowed.value == 0
        assert refused.value == NOT_AUTHORIZED, str(refused)
        assert backend.next_message().topic == "readers/reader-1/scan"
        with pytest.raises(queue.Empty):
            backend.next_message(timeout=0.5)


def test_mosquitto_refuses_a_wrong_password_and_anonymous_clients(
    make_mosquitto: Callable[[MosquittoSettings], Mosquitto],
) -> None:
    broker = make_mosquitto(
        MosquittoSettings(allow_anonymous=False, passwords={"reader-1": "pw-one"}, acl=ACL)
    )
    for username, password in (("reader-1", "wrong"), (None, None)):
        probe = MqttProbe(broker.host, broker.port, username=username, password=password)
        try:
            reason = probe.connect()
        finally:
            probe.close()
        assert reason.is_failure, f"{username!r} was let in"


def _make_server_certificate(folder: Path) -> MosquittoTls:
    """A CA and a server certificate for 127.0.0.1, made with the openssl command."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=reemploi-test-ca")  # fmt: skip
    openssl("req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1")  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2",
            "-extfile", "san.ext")  # fmt: skip
    return MosquittoTls(folder / "ca.pem", folder / "server.pem", folder / "server.key")


def test_mosquitto_tls_listener_serves_a_verified_client(
    make_mosquitto: Callable[[MosquittoSettings], Mosquitto], tmp_path: Path
) -> None:
    tls = _make_server_certificate(tmp_path)
    broker = make_mosquitto(MosquittoSettings(tls=tls))
    assert broker.tls_port is not None and broker.tls_port != broker.port
    with MqttProbe(broker.host, broker.tls_port, tls_ca=tls.cafile) as client:
        client.subscribe("reemploi/test/tls", qos=1)
        assert client.publish("reemploi/test/tls", b"secret", qos=1).value == 0
        assert client.next_message().payload == b"secret"
    with pytest.raises(OSError):  # a TLS client on the plain port: no handshake
        MqttProbe(broker.host, broker.port, tls_ca=tls.cafile).connect()


def test_mosquitto_start_failure_reports_the_log_tail() -> None:
    broker = Mosquitto(MosquittoSettings(extra_lines=("no_such_option true",)))
    try:
        with pytest.raises(ServiceStartError, match="no_such_option"):
            broker.start(timeout=10)
        assert not broker.is_running()
    finally:
        broker.close()


# --- PostgreSQL ------------------------------------------------------------------------


def test_postgres_url_works_with_sqlalchemy_and_psycopg(postgres: Postgres) -> None:
    assert postgres.url.startswith("postgresql+psycopg://reemploi:")
    engine = sqlalchemy.create_engine(postgres.url)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("CREATE TABLE scans (id serial PRIMARY KEY, tag text)"))
            conn.execute(sqlalchemy.text("INSERT INTO scans (tag) VALUES ('04A1B2C3')"))
    finally:
        engine.dispose()
    with psycopg.connect(postgres.conninfo) as conn:
        rows = conn.execute("SELECT id, tag FROM scans").fetchall()
        fsync = conn.execute("SHOW fsync").fetchone()
        user = conn.execute("SELECT current_user").fetchone()
    assert rows == [(1, "04A1B2C3")]
    assert fsync == ("on",)
    assert user == ("reemploi",)


def test_postgres_socket_urls_reach_the_same_database_without_tcp(postgres: Postgres) -> None:
    """``socket_url`` / ``socket_conninfo``: the cluster's Unix socket (the bench's
    ``--postgres-socket``), not 127.0.0.1."""
    with psycopg.connect(postgres.conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS via_socket (tag text)")
        conn.execute("INSERT INTO via_socket VALUES ('04A1B2C3')")
        assert conn.execute("SELECT host(inet_server_addr())").fetchone() == ("127.0.0.1",)
    with psycopg.connect(postgres.socket_conninfo) as conn:
        assert conn.execute("SELECT inet_server_addr()").fetchone() == (None,)  # no TCP
        assert conn.execute("SELECT current_user").fetchone() == ("reemploi",)
        assert conn.execute("SELECT tag FROM via_socket").fetchall() == [("04A1B2C3",)]
    engine = sqlalchemy.create_engine(postgres.socket_url)
    try:
        with engine.connect() as conn:
            found = conn.execute(sqlalchemy.text("SELECT tag FROM via_socket")).scalars().all()
            addr = conn.execute(sqlalchemy.text("SELECT inet_server_addr()")).scalar()
        assert (found, addr) == (["04A1B2C3"], None)
    finally:
        engine.dispose()


def test_postgres_checks_passwords(postgres: Postgres) -> None:
    wrong = postgres.conninfo.replace(postgres.password, "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=5)


def test_postgres_database_url_gives_an_empty_database(postgres_database_url: str) -> None:
    engine = sqlalchemy.create_engine(postgres_database_url)
    try:
        assert sqlalchemy.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


# --- InfluxDB 1.x ----------------------------------------------------------------------


def test_influxdb_stores_a_line_protocol_point_and_returns_it(influxdb: InfluxDB1) -> None:
    influxdb.create_database("reemploi_test")
    written = httpx.post(
        f"{influxdb.url}/write",
        params={"db": "reemploi_test", "precision": "s"},
        content=b"scans,reader=reader-1 count=3i 1700000000\n",
    )
    assert written.status_code == 204, written.text
    answer = httpx.get(
        f"{influxdb.url}/query",
        params={"db": "reemploi_test", "q": "SELECT count, reader FROM scans"},
    )
    assert answer.status_code == 200
    series = json.loads(answer.text)["results"][0]["series"][0]
    assert series["columns"] == ["time", "count", "reader"]
    assert series["values"] == [["2023-11-14T22:13:20Z", 3, "reader-1"]]


# --- Life cycle: every process is gone afterwards, failures are loud ---------------------


@pytest.mark.parametrize("service_class", [Mosquitto, Postgres, InfluxDB1])
def test_the_fixture_lifecycle_stops_the_service_process(
    service_class: type[Mosquitto | Postgres | InfluxDB1],
) -> None:
    lifecycle = running(service_class)
    service = next(lifecycle)
    pid = service.pid
    assert pid is not None and pid_is_alive(pid)
    folder = service.folder
    lifecycle.close()  # what pytest does at the end of the fixture's scope
    assert not pid_is_alive(pid)
    assert not folder.exists()


def test_a_missing_program_fails_the_test_instead_of_skipping_it() -> None:
    def missing() -> Mosquitto:
        find_program("reemploi-no-such-broker")
        raise AssertionError("unreachable")

    with pytest.raises(pytest.fail.Exception) as failure:
        start_or_fail(missing)
    assert INSTALL_HINT in str(failure.value)
    with pytest.raises(ServiceNotInstalledError):
        find_program("reemploi-no-such-broker")


def test_free_port_is_bindable_and_not_a_default_service_port() -> None:
    port = free_port()
    assert port not in {1883, 5432, 8086, 8088}
    assert 1024 < port < 65536


def test_mqtt_protocol_constant_is_v5_by_default(mosquitto: Mosquitto) -> None:
    with MqttProbe(mosquitto.host, mosquitto.port) as probe:
        assert probe.client.protocol == mqtt.MQTTv5
