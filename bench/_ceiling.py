"""The raw ceiling: a bare paho subscriber that does only the durable part of the job.

Same broker, same subscription, same session and acknowledgement discipline as the
real ingest (QoS 1, persistent session, ``manual_ack``, TCP_NODELAY), same group commit
(one writer thread commits whatever is queued, up to ``batch_max``), then one protocol
v1 ack per scan on the device's ack topic, published after the commit. What it does
*not* do: validate the message, deduplicate, resolve the tag, apply the site's rule,
build and hash-chain an EPCIS event, update projections. It stores plain rows
(device, seq, key, payload) in SQLite with ``synchronous=FULL`` — the reference of the
issue's targets — or, with ``--postgres``, in PostgreSQL with its defaults, one statement
per batch (its own transaction, committed durably: the fewest round trips a batch can
take), to show what PostgreSQL alone allows on the same host.
"""

from __future__ import annotations

import json
import queue
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as mqtt
import psycopg

from reemploi.protocol import wire
from reemploi.server.ingest.mqtt import BrokerAddress, make_client

SCAN_TOPIC = "reemploi/v1/+/+/scan"

# One stored scan: device, seq, key, payload.
RawRow = tuple[str, int, str, bytes]


class RawWriter(Protocol):
    def commit(self, rows: list[RawRow]) -> None: ...

    def close(self) -> None: ...


class RawStore(Protocol):
    """Where the ceiling commits its rows: :meth:`prepare` once, :meth:`open` in the
    writer thread, :meth:`counts` after the run."""

    def prepare(self) -> None: ...

    def open(self) -> RawWriter: ...

    def counts(self) -> tuple[int, int]: ...


class SqliteStore:
    """A SQLite file in WAL mode, ``synchronous=FULL``; a batch is one transaction."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path

    def prepare(self) -> None:
        db = sqlite3.connect(self.db_path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS raw_scans (id INTEGER PRIMARY KEY, device TEXT NOT NULL,"
            " seq INTEGER NOT NULL, key TEXT NOT NULL, payload BLOB NOT NULL)"
        )
        db.commit()
        db.close()

    def open(self) -> RawWriter:
        return _SqliteWriter(self.db_path)

    def counts(self) -> tuple[int, int]:
        db = sqlite3.connect(self.db_path)
        try:
            rows = db.execute("SELECT count(*) FROM raw_scans").fetchone()[0]
            distinct = db.execute(
                "SELECT count(*) FROM (SELECT DISTINCT device, seq FROM raw_scans)"
            ).fetchone()[0]
        finally:
            db.close()
        return int(rows), int(distinct)


class _SqliteWriter:
    def __init__(self, db_path: Path) -> None:
        self.db = sqlite3.connect(db_path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")

    def commit(self, rows: list[RawRow]) -> None:
        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT INTO raw_scans (device, seq, key, payload) VALUES (?,?,?,?)", rows
        )
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()


_TABLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresStore:
    """A table of its own in PostgreSQL (server defaults: ``synchronous_commit`` on); a
    batch is one ``INSERT … SELECT FROM unnest(…)`` in autocommit, i.e. one round trip
    and one durable commit."""

    def __init__(self, conninfo: str, table: str) -> None:
        if not _TABLE.fullmatch(table):
            raise ValueError(f"nom de table refusé : {table!r}")
        self.conninfo = conninfo
        self.table = table

    def prepare(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} (id bigserial PRIMARY KEY,"
                " device text NOT NULL, seq bigint NOT NULL, key text NOT NULL,"
                " payload bytea NOT NULL)"
            )

    def open(self) -> RawWriter:
        return _PostgresWriter(self.conninfo, self.table)

    def counts(self) -> tuple[int, int]:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            row = conn.execute(
                f"SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT device, seq"
                f" FROM {self.table}) AS d) FROM {self.table}"
            ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])


class _PostgresWriter:
    def __init__(self, conninfo: str, table: str) -> None:
        self.conn = psycopg.connect(conninfo, autocommit=True)
        self.sql = (
            f"INSERT INTO {table} (device, seq, key, payload) SELECT * FROM"
            " unnest(%s::text[], %s::bigint[], %s::text[], %s::bytea[])"
        )

    def commit(self, rows: list[RawRow]) -> None:
        self.conn.execute(self.sql, [list(column) for column in zip(*rows, strict=True)])

    def close(self) -> None:
        self.conn.close()


class RawCeiling:
    def __init__(
        self, address: BrokerAddress, store: RawStore, client_id: str, batch_max: int = 2000
    ) -> None:
        self.address = address
        self.store = store
        self.batch_max = batch_max
        self.queue: queue.Queue[tuple[str, bytes, int] | None] = queue.Queue()
        self.connected = threading.Event()
        self.batches = 0
        self.client = make_client(address, client_id, clean_session=False, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self._writer = threading.Thread(target=self._write_loop, name="ceiling-writer")
        store.prepare()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, _r: Any, _p: Any) -> None:
        client.subscribe(SCAN_TOPIC, qos=1)
        self.connected.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.queue.put((msg.topic, bytes(msg.payload), msg.mid))

    def _write_loop(self) -> None:
        db = self.store.open()
        try:
            while True:
                first = self.queue.get()
                if first is None:
                    return
                items = [first]
                stop = False
                while len(items) < self.batch_max:
                    try:
                        nxt = self.queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stop = True
                        break
                    items.append(nxt)
                self._commit(db, items)
                if stop:
                    return
        finally:
            db.close()

    def _commit(self, db: RawWriter, items: list[tuple[str, bytes, int]]) -> None:
        rows: list[RawRow] = []
        acks = []
        for topic, payload, _mid in items:
            obj = json.loads(payload)
            rows.append((obj["device"], obj["seq"], obj["key"], payload))
            acks.append(
                (
                    topic[: -len("scan")] + "ack",
                    wire.encode_ack(wire.Ack(obj["seq"], obj["key"], wire.RESULT_ACCEPTED)),
                )
            )
        db.commit(rows)
        for topic, payload in acks:
            self.client.publish(topic, payload, qos=1)
        for _topic, _payload, mid in items:
            self.client.ack(mid, 1)
        self.batches += 1

    def start(self) -> None:
        self._writer.start()
        self.client.connect(self.address.host, self.address.port, keepalive=30)
        self.client.loop_start()
        if not self.connected.wait(10):
            raise RuntimeError("plafond brut : pas de connexion au broker")

    def stop(self) -> None:
        self.queue.put(None)
        self._writer.join(timeout=30)
        self.client.disconnect()
        self.client.loop_stop()

    def counts(self) -> tuple[int, int]:
        """(rows, distinct (device, seq)) stored so far."""
        return self.store.counts()


def forget_session(address: BrokerAddress, client_id: str) -> None:
    """Drop a persistent session (and the messages queued for it) after a run."""
    connected = threading.Event()
    client = make_client(address, client_id, clean_session=True)
    client.on_connect = lambda *_a: connected.set()
    client.connect(address.host, address.port, keepalive=10)
    client.loop_start()
    try:
        if not connected.wait(10):
            raise RuntimeError(f"session {client_id} : pas de connexion au broker")
    finally:
        client.disconnect()
        client.loop_stop()
