"""Where ingest batches are written: in this process, or in a writer process of its own.

The MQTT side of ingest (receiving scans, publishing acks, acknowledging deliveries) takes
about a quarter of the CPU of a scan, the ledger side (decoding, deduplicating, resolving,
chaining events, committing) the rest (≈ 40 and ≈ 110 µs under ``bench/ingest.py``). In
one Python process they take turns on one interpreter lock; :class:`ProcessWriter` moves
the ledger side to a child process, so the two halves run on two cores.
:class:`LocalWriter` keeps everything in the calling process (tests, in-memory
databases, the simplest deployments).

Both follow one protocol: ``submit(batch)`` then ``collect()`` for its result, at most
one batch in flight. Between the two, the caller can publish the acks of the batch
before, so the writer is never idle while acks go out.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import pickle
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection as Pipe
from typing import Any, Literal, Protocol

from sqlalchemy import Connection

from ..db import pgpipe
from ..db.checkpoint import Checkpointer, is_sqlite
from ..db.engine import is_memory_database, make_engine
from ..ledger import Head
from ..registry import Registry
from .memory import RECALL_MAX_SCANS, AssetRow
from .pipeline import BatchResult, Incoming, IngestOptions, IngestPipeline, Outgoing

log = logging.getLogger("reemploi.ingest.writer")

# One received message, as the MQTT thread queues it: topic, payload, time of receipt.
Received = tuple[str, bytes, datetime]

# What one writer of a HybridWriter tells the other before its next batch: the assets
# it committed since (as the memory keeps them) and the chain's head (None: unchanged).
Hint = tuple[list[AssetRow], Head | None]

# At most this many assets go in a hint (the most recent): a writer that handled a long
# run of batches alone does not make the other's next batch carry thousands (≈ 0.15 µs
# each, measured: 0.1 to pickle and unpickle, 0.05 to learn); an asset left out is only
# read again or found stale once.
HINT_MAX_ASSETS = 256


class WriteFailed(Exception):
    """The batch was not committed; submit it again (nothing of it was kept)."""


class BatchWriter(Protocol):
    def start(self) -> None: ...

    def submit(self, batch: Sequence[Received]) -> None: ...

    def collect(self) -> BatchResult:
        """The result of the batch submitted last; raises :class:`WriteFailed`."""
        ...

    def pending_fileno(self) -> int | None:
        """A file descriptor that becomes readable when the submitted batch's result is
        ready, for the caller's ``select``; None when :meth:`collect` does the work
        itself (a synchronous writer) or nothing is submitted."""
        ...

    def overdue(self) -> bool:
        """The submitted batch is past the writer's time limit: :meth:`collect` now
        reports the failure instead of waiting."""
        ...

    def tend(self) -> None:
        """Nothing submitted for a while: keep up with the database's notices to the
        writer's memory (see ingest/memory.py), so they do not pile up."""
        ...

    def stop(self) -> None: ...


class LocalWriter:
    """Writes in the calling thread, on one long-lived connection (no pool round trip per
    batch), dropped and opened again after a failed batch; with SQLite, a background
    checkpointer keeps the write-ahead log short."""

    def __init__(self, pipeline: IngestPipeline, checkpoint: bool = True) -> None:
        self.pipeline = pipeline
        engine = pipeline.engine
        self.checkpointer = Checkpointer(engine) if checkpoint and is_sqlite(engine) else None
        self._conn: Connection | None = None
        self._batch: Sequence[Received] = ()

    def start(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.start()
        try:  # warm the caches on the connection the batches will use
            self.pipeline.rehearse(self._connection())
        except Exception:  # not needed to work: the first batch is only slower
            log.warning("ingest rehearsal failed", exc_info=True)
            self._drop_connection()

    def submit(self, batch: Sequence[Received]) -> None:
        self._batch = batch

    def pending_fileno(self) -> int | None:
        return None  # collect() writes the batch

    def overdue(self) -> bool:
        return False

    def tend(self) -> None:
        if self._conn is None:
            return
        try:
            self.pipeline.catch_up(self._conn)
        except Exception:  # the connection is broken: the next batch opens another
            log.warning("ingest writer connection lost while idle", exc_info=True)
            self._drop_connection()

    def collect(self) -> BatchResult:
        batch, self._batch = self._batch, ()
        try:
            conn = self._connection()
            self.pipeline.catch_up(conn)
            return self.pipeline.process([Incoming(*item) for item in batch], conn)
        except Exception as exc:  # database down, connection broken: keep nothing, retry
            self._drop_connection()
            raise WriteFailed(f"écriture du registre impossible : {exc!r}"[:300]) from exc

    def stop(self) -> None:
        self._drop_connection()
        if self.checkpointer is not None:
            self.checkpointer.stop()

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self.pipeline.engine.connect()
            pgpipe.own_statements(conn.connection.driver_connection)  # see db/pgpipe.py
            try:
                self.pipeline.attach(conn)  # the memory starts from the database
            except Exception:  # half marked as a writer's: never back to the pool
                with contextlib.suppress(Exception):
                    conn.invalidate()
                    conn.close()
                raise
            self._conn = conn
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.invalidate()
                self._conn.close()
            self._conn = None


@dataclass(frozen=True)
class WriterSpec:
    """What a writer process needs to build its own pipeline (it shares no object with
    the parent: everything here is pickled)."""

    database_url: str
    sqlite_synchronous: str = "FULL"
    options: IngestOptions = field(default_factory=IngestOptions)
    registry_ttl_s: float = 10.0


_READY = b"ready"
TEND_EVERY_S = 1.0  # an idle writer catches up with the database's notices this often
_STOP = b"stop"


class ProcessWriter:
    """Writes in a child process (``spawn``: a fresh interpreter, no inherited threads or
    sockets) that owns its engine, registry cache and :class:`LocalWriter`. Batches go
    over a pipe as pickled tuples; results come back the same way. A child that dies is
    started again, and the batch it held is submitted again by the caller (idempotency
    keys make a batch committed just before the death harmless: it is acked as already
    recorded)."""

    def __init__(
        self, spec: WriterSpec, start_timeout_s: float = 60.0, batch_timeout_s: float = 300.0
    ) -> None:
        self.spec = spec
        self.start_timeout_s = start_timeout_s
        # A writer silent this long is stuck (a lock never granted, a frozen process): it
        # is killed and started again, and the batch submitted again.
        self.batch_timeout_s = batch_timeout_s
        self.restarts = 0
        self._ctx = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._pipe: Pipe | None = None
        self._pending = False
        self._submitted_at = 0.0
        self._started = False

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        if self._process is not None and self._process.is_alive():
            return
        self._kill()
        if self._started:
            self.restarts += 1
            log.warning("ingest writer process started again (%d)", self.restarts)
        self._started = True
        ours, theirs = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=child_main, args=(theirs, self.spec), name="reemploi-ingest-writer", daemon=True
        )
        process.start()
        theirs.close()
        self._process, self._pipe = process, ours
        try:
            ready = ours.poll(self.start_timeout_s) and ours.recv_bytes() == _READY
        except (OSError, EOFError):
            ready = False
        if not ready:
            code = process.exitcode
            self._kill()
            raise WriteFailed(f"le processus d'écriture du registre n'a pas démarré (code {code})")

    def submit(self, batch: Sequence[Received], hint: Hint | None = None) -> None:
        """``hint``: what the other writer of a :class:`HybridWriter` committed since
        this one's last batch, learnt by the child before it writes ``batch``."""
        if self._process is not None and not self._process.is_alive():
            code = self._process.exitcode
            self._kill()
            raise WriteFailed(f"le processus d'écriture du registre s'est arrêté (code {code})")
        if self._process is None:
            self.start()
        assert self._pipe is not None
        try:
            self._pipe.send_bytes(pickle.dumps((batch, hint), pickle.HIGHEST_PROTOCOL))
            self._submitted_at = time.monotonic()
        except OSError as exc:
            self._kill()
            raise WriteFailed(f"processus d'écriture du registre injoignable : {exc!r}") from exc
        self._pending = True

    def pending_fileno(self) -> int | None:
        return self._pipe.fileno() if self._pending and self._pipe is not None else None

    def overdue(self) -> bool:
        return self._pending and time.monotonic() > self._submitted_at + self.batch_timeout_s

    def tend(self) -> None:
        pass  # the writer process tends its own connection while it waits

    def collect(self) -> BatchResult:
        if not self._pending or self._pipe is None:
            raise WriteFailed("aucun lot en cours d'écriture")
        self._pending = False
        try:
            remaining = self._submitted_at + self.batch_timeout_s - time.monotonic()
            if not self._pipe.poll(max(0.0, remaining)):
                self._kill()
                raise WriteFailed(
                    "le processus d'écriture du registre ne répond plus"
                    f" ({self.batch_timeout_s:.0f} s) : arrêté, il redémarre"
                )
            reply = pickle.loads(self._pipe.recv_bytes())
        except (OSError, EOFError) as exc:
            self._kill()
            raise WriteFailed(
                "le processus d'écriture du registre s'est arrêté pendant un lot"
            ) from exc
        if reply[0] != "ok":
            raise WriteFailed(reply[1])
        _ok, acks, live, counts, statuses, assets, head = reply
        return BatchResult([Outgoing(t, p) for t, p in acks], live, counts, statuses, assets, head)

    def stop(self, timeout_s: float = 30.0) -> None:
        if self._process is None:
            return
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                self._pipe.send_bytes(_STOP)
        self._process.join(timeout_s)
        self._kill()

    def _kill(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        if self._pipe is not None:
            self._pipe.close()
        self._process = None
        self._pipe = None
        self._pending = False


class HybridWriter:
    """Small batches written here, large ones by the writer process: a scan arriving
    alone (a quiet hour, a few readers) is committed without the round trip to the
    other process and its two wake-ups (≈ 0.5 ms of its ack latency at 1,000 scans/s
    under ``bench/ingest.py``), a burst is written on the other core. One batch at a
    time either way, so the two never write at once; one of them checkpoints (the
    process).

    On PostgreSQL each writer remembers the assets and the chain's head it committed, to
    skip a batch's reads (ingest/memory.py), and the database does not announce an
    ingest writer's changes: each tells the other what it committed, so that the batch
    after a switch does not find its memory stale and is not done twice — the moment a
    burst turns small batches into large ones, or back."""

    def __init__(self, local: LocalWriter, remote: ProcessWriter, local_max: int = 8) -> None:
        self.local = local
        self.remote = remote
        self.local_max = local_max
        self.local_batches = 0
        self.remote_batches = 0
        self._active: BatchWriter | None = None
        # what the local writer committed since the process's last batch, by EPC
        self._for_remote: dict[str, AssetRow] = {}
        self._head_for_remote: Head | None = None

    def start(self) -> None:
        self.local.start()
        self.remote.start()

    def submit(self, batch: Sequence[Received]) -> None:
        if len(batch) <= self.local_max:
            self._active = self.local
            self.local.submit(batch)
            self.local_batches += 1
            return
        self._active = self.remote
        hint: Hint | None = None
        # a batch of more than RECALL_MAX_SCANS reads its assets and the head whatever
        # is remembered: the hint waits for a batch that will use it
        recalls = len(batch) <= RECALL_MAX_SCANS
        if recalls and (self._for_remote or self._head_for_remote is not None):
            hint = (list(self._for_remote.values()), self._head_for_remote)
            self._for_remote, self._head_for_remote = {}, None
        self.remote.submit(batch, hint)
        self.remote_batches += 1

    def pending_fileno(self) -> int | None:
        return self._active.pending_fileno() if self._active is not None else None

    def overdue(self) -> bool:
        return self._active is not None and self._active.overdue()

    def tend(self) -> None:
        self.local.tend()

    def collect(self) -> BatchResult:
        if self._active is None:
            raise WriteFailed("aucun lot en cours d'écriture")
        active, self._active = self._active, None
        result = active.collect()
        if active is self.remote:
            self.local.pipeline.learn(result.assets, result.head)
            # what the process just committed is newer than what waited for it
            for row in result.assets:
                self._for_remote.pop(row[1], None)
            if result.head is not None:
                self._head_for_remote = None
            return result
        pending = self._for_remote
        for row in result.assets:
            pending.pop(row[1], None)  # the latest last
            pending[row[1]] = row
        while len(pending) > HINT_MAX_ASSETS:
            del pending[next(iter(pending))]
        if result.head is not None:
            self._head_for_remote = result.head
        return result

    def stop(self) -> None:
        self.remote.stop()
        self.local.stop()


WriterKind = Literal["hybrid", "process", "local"]


def make_writer(
    kind: WriterKind, pipeline: IngestPipeline, spec: WriterSpec, local_max: int = 8
) -> BatchWriter:
    """The ledger writer ``kind`` names (``REEMPLOI_INGEST_WRITER``): ``pipeline`` writes
    in this process, ``spec`` builds the writer process. A database in memory is always
    written here: no other process can open it."""
    if kind == "local" or is_memory_database(pipeline.engine):
        return LocalWriter(pipeline)
    remote = ProcessWriter(spec)
    if kind == "process":
        return remote
    return HybridWriter(LocalWriter(pipeline, checkpoint=False), remote, local_max)


def child_main(pipe: Pipe, spec: WriterSpec) -> None:
    """The writer process: one :class:`LocalWriter`, fed batch by batch over ``pipe``."""
    from ..runtime import settle_after_startup

    # Ctrl-C and a service manager's SIGTERM reach the whole process group: the parent
    # alone decides when to stop (it drains its queue, then sends _STOP); a parent gone
    # for good closes the pipe, which ends this loop too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    engine = make_engine(spec.database_url, spec.sqlite_synchronous)
    writer = LocalWriter(IngestPipeline(engine, Registry(spec.registry_ttl_s), spec.options))
    writer.start()
    settle_after_startup()
    pipe.send_bytes(_READY)
    try:
        while True:
            while not pipe.poll(TEND_EVERY_S):
                writer.tend()
            try:
                data = pipe.recv_bytes()
            except (EOFError, OSError):
                return  # the parent is gone
            if data == _STOP:
                return
            batch, hint = pickle.loads(data)
            if hint is not None:
                writer.tend()  # the database's notices first: the hint is newer
                writer.pipeline.learn(*hint)
            writer.submit(batch)
            try:
                result = writer.collect()
                reply: tuple[Any, ...] = (
                    "ok",
                    [(ack.topic, ack.payload) for ack in result.acks],
                    result.live,
                    result.counts,
                    result.statuses,
                    result.assets,
                    result.head,
                )
            except WriteFailed as exc:
                log.exception("ingest batch failed")
                reply = ("failed", str(exc))
            pipe.send_bytes(pickle.dumps(reply, pickle.HIGHEST_PROTOCOL))
    finally:
        writer.stop()
        engine.dispose()
