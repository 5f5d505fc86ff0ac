"""PostgreSQL: a run of statements written to the server in one go (libpq pipeline mode).

psycopg's own pipeline sends each statement as soon as it is executed: a poll and a write
per statement, and the server wakes up to read each one. The ingest's batches are a dozen
short statements in two round trips; here they go into libpq's output buffer and leave
with the ``Sync`` in one write, and every answer up to it is read in one pass. Measured,
idle host (docs/benchmarks.md, eleventh session): the ingest's one-scan batch through
the whole pipeline costs its writer ≈ 235–275 µs of CPU instead of ≈ 405; the same twelve
statements alone, ≈ 80 µs of client CPU instead of ≈ 270 and ≈ 180 µs of server CPU
instead of ≈ 225.

Values are dumped and rows loaded by psycopg's own :class:`~psycopg.adapt.Transformer`,
in text format, so what is stored and read back is what psycopg's cursor stores and reads.
A statement is prepared on the connection from its second use (psycopg's cursor does it
from its fifth); each connection keeps at most :data:`PREPARED_MAX` of them. Only on a
connection where psycopg prepares nothing itself (``prepare_threshold = None``, as the
ingest writer's, see :func:`own_statements`): after a rollback, psycopg sends
``DEALLOCATE ALL`` when it holds prepared statements of its own, which would take ours
too. Elsewhere every statement runs unnamed (parsed and planned each time: ≈ 200 µs more
server CPU for the ingest's one-scan batch).
"""

from __future__ import annotations

import contextlib
import re
import select
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.copy import Writer

PREPARED_MAX = 128  # named statements kept per connection (older ones are deallocated)
_SEEN_MAX = 1024  # statements used once, remembered to be prepared at their second use
NAMED_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")  # ``:name``, not ``::type``
_TUPLES_OK = pq.ExecStatus.TUPLES_OK
_COMMAND_OK = pq.ExecStatus.COMMAND_OK
_FATAL_ERROR = pq.ExecStatus.FATAL_ERROR
_PIPELINE_SYNC = pq.ExecStatus.PIPELINE_SYNC
_PIPELINE_OFF = pq.PipelineStatus.OFF
_IDLE = pq.TransactionStatus.IDLE


@lru_cache(maxsize=256)
def numbered(sql: str) -> tuple[bytes, tuple[str, ...]]:
    """``:name`` parameters to libpq's ``$1, $2…`` (a name used twice keeps its number):
    the query's bytes and the names in order."""
    numbers: dict[str, int] = {}  # a batch's IN list has thousands: no scan per name

    def number(match: re.Match[str]) -> str:
        return f"${numbers.setdefault(match.group(1), len(numbers) + 1)}"

    return NAMED_PARAMETER.sub(number, sql).encode(), tuple(numbers)


class _Statements:
    """A connection's prepared statements (name by query and parameter types), and its
    transformer (it keeps the dumpers and loaders it has looked up)."""

    def __init__(self, driver: psycopg.Connection[Any]) -> None:
        self.tx = Transformer(driver)
        self.named: OrderedDict[tuple[bytes, tuple[int, ...]], bytes] = OrderedDict()
        self.seen: OrderedDict[tuple[bytes, tuple[int, ...]], None] = OrderedDict()
        self.counter = 0


_BY_CONNECTION: weakref.WeakKeyDictionary[Any, _Statements] = weakref.WeakKeyDictionary()
# Errors after which the connection's prepared statements are forgotten (prepared again
# under new names): one no longer exists (26000), or a table's change altered what one
# returns (0A000, "cached plan must not change result type").
_STALE = frozenset({"26000", "0A000"})
_CLOSE = psycopg.capabilities.has_send_close_prepared()


def own_statements(driver: object) -> None:
    """Hand the preparation of a psycopg connection's statements to :class:`Pipeline`
    (psycopg prepares none of its own from now on: see the module's text); any other
    driver's connection is left as it is. For a connection that runs mostly pipelines,
    like the ingest writer's."""
    if not isinstance(driver, psycopg.Connection) or driver.prepare_threshold is None:
        return
    # A pooled connection may hold statements psycopg prepared before: seeing DEALLOCATE
    # ALL go through, psycopg forgets them (run outside a transaction, which must not be
    # left open here); then it prepares no more.
    autocommit = driver.autocommit
    driver.autocommit = True
    try:
        driver.execute("DEALLOCATE ALL")
    finally:
        driver.autocommit = autocommit
    driver.prepare_threshold = None


class Answer:
    """What the server answered to one statement of a :class:`Pipeline` (its rows, for a
    read); asked before the ``Sync``, it sends it and reads every answer up to it."""

    __slots__ = ("_pipeline", "_rows", "done")

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline
        self._rows: list[tuple[Any, ...]] = []
        self.done = False

    def rows(self) -> list[tuple[Any, ...]]:
        if not self.done:
            self._pipeline.sync()
        return self._rows

    def answered(self, rows: list[tuple[Any, ...]] | None) -> None:
        if rows is not None:
            self._rows = rows
        self.done = True


class _Prepare:
    """The answer slot of a ``Parse`` sent by the pipeline itself."""

    __slots__ = ("key",)

    def __init__(self, key: tuple[bytes, tuple[int, ...]]) -> None:
        self.key = key


class _Socket:
    """Waiting on a libpq connection's socket in non-blocking mode (as psycopg keeps it):
    the pieces :class:`Pipeline` and :class:`SentCopy` share."""

    def __init__(self, driver: psycopg.Connection[Any]) -> None:
        self._driver = driver
        self._pg = driver.pgconn
        self._poll = select.poll()
        self._poll.register(self._pg.socket, select.POLLIN)

    def _wait(self, events: int) -> None:
        self._poll.modify(self._pg.socket, events)
        while not self._poll.poll():
            pass

    def _flush(self) -> None:
        """Send all that libpq holds (reading meanwhile: the server may be answering)."""
        pg = self._pg
        while pg.flush():  # the rest does not fit the socket yet
            self._wait(select.POLLIN | select.POLLOUT)
            pg.consume_input()

    def _next_result(self) -> pq.abc.PGresult | None:
        pg = self._pg
        while pg.is_busy():
            self._wait(select.POLLIN)
            pg.consume_input()
        return pg.get_result()


class Pipeline(_Socket):
    """``with Pipeline(driver) as p:`` — ``p.send(sql, params)`` queues a statement (``:name``
    parameters) and returns its :class:`Answer`; :meth:`sync` (or the block's end) sends
    everything queued and reads the answers. The first error of a run is raised once all
    its answers are read (the statements after it are not run: libpq's pipeline aborts
    them, and the caller's transaction rolls back)."""

    def __init__(self, driver: psycopg.Connection[Any]) -> None:
        super().__init__(driver)
        statements = _BY_CONNECTION.get(driver)
        if statements is None:
            statements = _BY_CONNECTION[driver] = _Statements(driver)
        self._statements = statements
        self._tx = statements.tx
        self._prepare = driver.prepare_threshold is None
        self._slots: list[Answer | _Prepare | None] = []  # one per command, in order
        self._synced = True  # nothing sent since the last Sync: the status is known

    def __enter__(self) -> Pipeline:
        self._pg.enter_pipeline_mode()
        return self

    def __exit__(self, kind: Any, error: Any, _tb: Any) -> None:
        try:
            if self._slots:
                if error is None:
                    self.sync()
                elif self._pg.status == pq.ConnStatus.OK:
                    # read what is owed; the caller's error is the one to keep
                    with contextlib.suppress(psycopg.Error):
                        self.sync()
        finally:
            if self._pg.status == pq.ConnStatus.OK and self._pg.pipeline_status != _PIPELINE_OFF:
                self._pg.exit_pipeline_mode()

    # ------------------------------------------------------------------ sending

    def send(self, sql: str, params: Mapping[str, Any] | None = None, typed: bool = True) -> Answer:
        """Queue ``sql`` with ``params``. ``typed=False``: the parameters go without their
        types (the server infers each from the statement: a column it is assigned to, a
        cast), so one prepared statement serves whatever Python types the values have —
        for a statement of many rows, where ``None`` or an integer's size in each row
        would otherwise make a new statement of almost every batch."""
        if self._synced:
            self._synced = False
            if not self._driver.autocommit and self._pg.transaction_status == _IDLE:
                # what psycopg's cursor does outside autocommit: open the transaction
                self._pg.send_query_params(b"BEGIN", None)
                self._slots.append(None)
        query, names = numbered(sql)
        if names:
            assert params is not None, f"no values for {names}"
            values = [params[name] for name in names]
            tx = self._tx
            dumped = tx.dump_sequence(values, [PyFormat.TEXT] * len(values))
            types: tuple[int, ...] = tuple(tx.types or ()) if typed else ()
            formats = tx.formats
        else:
            dumped, types, formats = None, (), None
        answer = Answer(self)
        name = self._name(query, types)
        if name is None:
            self._pg.send_query_params(query, dumped, types or None, formats)
        else:
            self._pg.send_query_prepared(name, dumped, formats)
        self._slots.append(answer)
        return answer

    def _name(self, query: bytes, types: tuple[int, ...]) -> bytes | None:
        """The prepared statement to run (queueing its ``Parse`` when new), or None: run
        unnamed (first use)."""
        if not self._prepare:
            return None
        known = self._statements
        key = (query, types)
        name = known.named.get(key)
        if name is not None:
            known.named.move_to_end(key)
            return name
        if key not in known.seen:
            known.seen[key] = None
            if len(known.seen) > _SEEN_MAX:
                known.seen.popitem(last=False)
            return None
        del known.seen[key]
        known.counter += 1
        name = b"reemploi_%d" % known.counter
        self._pg.send_prepare(name, query, types or None)
        self._slots.append(_Prepare(key))
        known.named[key] = name
        if len(known.named) > PREPARED_MAX:
            _, old = known.named.popitem(last=False)
            if _CLOSE:  # libpq 17+: a Close of a name the server lost is no error
                self._pg.send_close_prepared(old)
            else:
                self._pg.send_query_params(b"DEALLOCATE " + old, None)
            self._slots.append(None)
        return name

    # ------------------------------------------------------------------ answers

    def sync(self) -> None:
        """Send what is queued with a ``Sync`` and read every answer up to it."""
        pg = self._pg
        slots, self._slots = self._slots, []
        self._synced = True
        pg.pipeline_sync()
        self._flush()
        first: psycopg.Error | None = None
        results = self._results()
        for slot in slots:
            status: int = pq.ExecStatus.EMPTY_QUERY
            rows: list[tuple[Any, ...]] | None = None
            while (result := next(results)) is not None:
                status = result.status
                if status == _FATAL_ERROR and first is None:
                    first = psycopg.errors.error_from_result(
                        result, encoding=self._driver.info.encoding
                    )
                elif status == _TUPLES_OK and isinstance(slot, Answer):
                    self._tx.set_pgresult(result)
                    rows = self._tx.load_rows(0, result.ntuples, tuple)
            if isinstance(slot, Answer):
                slot.answered(rows)
            elif isinstance(slot, _Prepare) and status != _COMMAND_OK:
                self._statements.named.pop(slot.key, None)  # not prepared: again next time
        end = next(results)
        if end is None or end.status != _PIPELINE_SYNC:  # pragma: no cover - libpq's contract
            raise psycopg.InterfaceError("réponse inattendue du serveur après le Sync")
        if first is not None:
            if first.sqlstate in _STALE:
                self._statements.named.clear()
            raise first

    def _results(self) -> Iterator[pq.abc.PGresult | None]:
        while True:
            yield self._next_result()


class SentCopy(_Socket, Writer):
    """The writer of a ``COPY … FROM STDIN`` (``cursor.copy(sql, writer=SentCopy(cursor))``)
    that sends the end of the rows without waiting for the server's answer: the server
    stores them — parsing, constraints, indexes, about 10 µs a sighting on PostgreSQL 15
    with its two foreign keys — while the caller goes on with work of its own (the ingest
    renders its batch's events meanwhile); :meth:`answer` reads the answer and raises the
    COPY's error, if any. Nothing else may be sent on the connection before it.

    A COPY ended by an error of the caller (the ``with`` block raising) is cancelled and
    its answer read at once, as psycopg's own writer does."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        super().__init__(cursor.connection)
        self.pending = False  # the end is sent, the answer not read yet

    def write(self, data: Any) -> None:
        pg = self._pg
        while (queued := pg.put_copy_data(data)) == 0:  # libpq's buffer is full
            self._wait(select.POLLOUT)
        if queued < 0:
            raise psycopg.OperationalError(pg.error_message.decode(errors="replace"))

    def finish(self, exc: BaseException | None = None) -> None:
        pg = self._pg
        message = None
        if exc is not None:
            message = f"erreur côté client : {type(exc).__qualname__}".encode()
        while (queued := pg.put_copy_end(message)) == 0:
            self._wait(select.POLLOUT)
        if queued < 0:
            raise psycopg.OperationalError(pg.error_message.decode(errors="replace"))
        self._flush()
        self.pending = True
        if exc is not None:  # cancelled: the caller's error is the one to keep
            with contextlib.suppress(psycopg.Error):
                self.answer()

    def answer(self) -> None:
        """Wait for the server's answer to the COPY; raise its error (the transaction is
        then failed: roll it back)."""
        if not self.pending:
            return
        self.pending = False
        first: psycopg.Error | None = None
        while (result := self._next_result()) is not None:
            if result.status != _COMMAND_OK and first is None:
                first = psycopg.errors.error_from_result(
                    result, encoding=self._driver.info.encoding
                )
        if first is not None:
            raise first


def psycopg_of(driver: object) -> psycopg.Connection[Any]:
    """``driver`` (a DB-API connection, as SQLAlchemy hands it) as psycopg's."""
    if not isinstance(driver, psycopg.Connection):
        raise TypeError(f"not a psycopg connection: {type(driver).__name__}")
    return driver


def take_notifies(driver: object) -> int:
    """The notifications already on ``driver``'s socket handed to its notify handlers
    (``add_notify_handler``), without waiting for more (libpq's socket never blocks);
    how many. psycopg does the same whenever it reads an answer; this reads them when no
    statement is under way."""
    pgconn = psycopg_of(driver).pgconn
    pgconn.consume_input()
    handler = pgconn.notify_handler
    taken = 0
    while (notice := pgconn.notifies()) is not None:
        taken += 1
        if handler is not None:
            handler(notice)
    return taken
