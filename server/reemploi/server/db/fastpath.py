"""The ingest's hot path in plain SQL on the DB-API cursor, inside SQLAlchemy's transaction.

Building and compiling SQLAlchemy statements cost about ten times more than running them
on SQLite; the ingest runs the same handful of statements for every batch, so it writes
them once here, in the subset of SQL that SQLite and PostgreSQL share, with ``:name``
parameters (rewritten to ``%(name)s`` for psycopg's cursor, or ``$1…`` for the batched
pipeline of :mod:`.pgpipe`). Values go through the columns' own
SQLAlchemy bind processors, so what is stored is exactly what SQLAlchemy would store and
read back (the ledger's verification depends on it). On PostgreSQL, the rows of a write
go in one statement: several ``VALUES`` rows (a batch of a few rows) or its bulk forms,
``COPY`` and ``unnest()`` (from :data:`BULK_MIN_ROWS` rows); SQLite writes row by row
(no round trips, no per-statement triggers). Everything else keeps SQLAlchemy.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Any

from sqlalchemy import Column, Connection, Table

from . import pgpipe

_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE (no transaction open)

# From this many rows, PostgreSQL gets one COPY (inserts) or one statement over arrays
# (updates) instead of one statement per row. Per row, an INSERT costs the writer
# ≈ 20 µs of Python (a Bind and an Execute message each) and the server ≈ 10 µs (an
# executor run each) more than a row of COPY (bench/ingest.py --postgres, batches of
# hundreds of scans); COPY cannot go in a pipeline, so a small batch, whose latency is
# its round trips, keeps its INSERTs (see ROWS_PER_STATEMENT) in its one pipeline.
BULK_MIN_ROWS = 16

# Below BULK_MIN_ROWS (or inside a pipeline, where COPY cannot go), PostgreSQL gets the
# rows in statements of up to this many: an INSERT with one ``VALUES`` row per row, an
# ``UPDATE … FROM (VALUES …)``. One execution, and one run of the statement-level
# reference triggers (migration 0011), instead of one per row: measured on ingest
# batches of 8 and 12 scans (half of them first taps), the server's CPU ×0.75–0.79, the
# batch's time ×0.91 (docs/benchmarks.md, twenty-fourth session). Their values go untyped
# (:meth:`pgpipe.Pipeline.send`), so that one prepared statement per row count serves
# every batch.
ROWS_PER_STATEMENT = BULK_MIN_ROWS


@lru_cache(maxsize=256)
def _for_driver(sql: str, postgres: bool) -> str:
    return pgpipe.NAMED_PARAMETER.sub(r"%(\1)s", sql) if postgres else sql


class FastSQL:
    """``FastSQL(conn)``: run pre-written SQL on the connection's DB-API cursor."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect
        self.postgres = conn.dialect.name == "postgresql"
        driver = conn.connection.driver_connection
        assert driver is not None
        self._driver = driver
        self.cursor = driver.cursor()
        self._owning = self._begin_pending = False
        self._pipe: pgpipe.Pipeline | None = None  # inside pipelined(), PostgreSQL
        self._sent: pgpipe.SentCopy | None = None  # a COPY whose answer is not read yet

    def bulk(self, rows: int) -> bool:
        """True when ``rows`` rows are written in bulk (PostgreSQL, :data:`BULK_MIN_ROWS`
        or more): :meth:`insert` then uses COPY, which must run outside
        :meth:`pipelined`."""
        return self.postgres and rows >= BULK_MIN_ROWS

    def pipelined(self, enabled: bool = True) -> AbstractContextManager[Any]:
        """PostgreSQL: the statements run inside go out together, without waiting for
        each other's answer (libpq's pipeline mode, :mod:`.pgpipe`): queued, then
        written in one go when an answer is needed — a read's :meth:`Later.rows` or
        :meth:`rows`, or the block's end — so a run of statements costs one round trip.
        An error surfaces at the latest when the block ends. SQLite: nothing changes
        (no round trips). Only for this class's statements: SQLAlchemy's own
        ``conn.execute`` cannot run inside. A block inside another adds nothing."""
        if not (self.postgres and enabled) or self._pipe is not None:
            return contextlib.nullcontext()
        self.settle()
        return self._pipelined()

    @contextlib.contextmanager
    def _pipelined(self) -> Iterator[None]:
        with pgpipe.Pipeline(self._driver) as pipe:
            self._pipe = pipe
            try:
                yield
            finally:
                self._pipe = None

    def settle(self) -> None:
        """Read the answer to a COPY sent by ``insert(…, answer_later=True)`` (raising
        its error); every statement of this class does it first (:meth:`begin_now`)."""
        sent, self._sent = self._sent, None
        if sent is not None:
            sent.answer()

    def _execute(
        self, sql: str, params: Mapping[str, Any] | None = None, typed: bool = True
    ) -> None:
        """One statement: queued in the pipeline (``typed``: see
        :meth:`pgpipe.Pipeline.send`), else run on the cursor."""
        if self._pipe is not None:
            self._pipe.send(sql, params, typed)
        else:
            self.cursor.execute(_for_driver(sql, self.postgres), params or {})

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """The caller's transaction, with PostgreSQL's ``BEGIN`` and ``COMMIT`` sent by
        this class instead of by the driver, so that each shares a round trip with other
        statements: ``BEGIN`` goes out just before this class's first statement (in the
        same pipeline), ``COMMIT`` where :meth:`commit_here` is called (at the end of the
        last pipeline). psycopg sends ``BEGIN`` on its own and waits for it, and
        ``COMMIT`` on its own: two round trips fewer per transaction.

        Inside SQLAlchemy's ``conn.begin()``; SQLAlchemy's own statements must come after
        :meth:`begin_now` (a read before it runs as its own statement, which under READ
        COMMITTED sees what it would have seen inside). On an error the transaction is
        rolled back; a block that did not call :meth:`commit_here` is committed on exit.
        SQLite, or a connection already in a transaction: the driver's usual way."""
        driver = self._driver
        if not self.postgres or driver.info.transaction_status != _IDLE:
            yield
            return
        driver.autocommit = True  # the driver sends no BEGIN: this class does
        self._owning = self._begin_pending = True
        try:
            yield
            self.settle()
            if driver.info.transaction_status != _IDLE:
                driver.commit()
        except BaseException:
            with contextlib.suppress(Exception):  # a lost connection: keep the first error
                self.settle()  # an answer still owed is read before the ROLLBACK
            with contextlib.suppress(Exception):
                driver.rollback()  # ROLLBACK when a transaction is open
            raise
        finally:
            self._owning = self._begin_pending = False
            if not driver.closed and driver.info.transaction_status == _IDLE:
                driver.autocommit = False
            else:  # lost, or stuck in a transaction: never to be used again
                self.conn.invalidate()

    def begin_now(self) -> None:
        """Open the transaction now if :meth:`transaction` has not sent ``BEGIN`` yet,
        after reading the answer still owed to a COPY (:meth:`settle`). Every statement
        of this class does it first; call it before SQLAlchemy statements that must be
        inside the transaction (they need the connection free too)."""
        self.settle()
        if self._begin_pending:
            self._begin_pending = False
            self._execute("BEGIN")

    def commit_here(self) -> None:
        """Inside :meth:`transaction` (PostgreSQL): queue ``COMMIT`` now, typically as the
        last statement of the last pipeline; nothing may be written after it."""
        if self._owning:
            self.begin_now()
            self._execute("COMMIT")

    def later(self, sql: str, params: Mapping[str, Any] | None = None) -> Later:
        """Queue a read and take its rows when needed: inside :meth:`pipelined`,
        PostgreSQL answers every statement queued in the block in one round trip (the
        first :meth:`Later.rows`, or the block's end). Elsewhere, or on SQLite, the rows
        are read at once."""
        if self._pipe is None:
            return Later(self.rows(sql, params))
        self.begin_now()
        return Later(self._pipe.send(sql, params))

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        self.begin_now()
        if self._pipe is not None:
            return self._pipe.send(sql, params).rows()
        self.cursor.execute(_for_driver(sql, self.postgres), params or {})
        return list(self.cursor.fetchall())

    def run(self, sql: str, params: Mapping[str, Any] | None = None, typed: bool = True) -> None:
        self.begin_now()
        self._execute(sql, params, typed)

    def run_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        self.begin_now()
        if self._pipe is not None:
            for row in rows:
                self._pipe.send(sql, row)
        else:
            self.cursor.executemany(_for_driver(sql, self.postgres), rows)

    def insert(
        self, table: Table, rows: Sequence[Mapping[str, Any]], answer_later: bool = False
    ) -> None:
        """Insert ``rows`` (the same columns in each, values as SQLAlchemy takes them) into
        ``table``: on PostgreSQL one COPY when :meth:`bulk` and not inside
        :meth:`pipelined`, else one INSERT per :data:`ROWS_PER_STATEMENT` rows; on SQLite
        one INSERT per row. What is stored is the same either way. ``answer_later``, inside
        :meth:`transaction`: the COPY's answer is read by the next statement (at the
        latest by the transaction's end), so that the server stores the rows while the
        caller works; its error, if any, is raised there. Elsewhere it is read at once
        (nothing else would read it before the driver's next command)."""
        if not rows:
            return
        columns = tuple(rows[0])
        prepared = self.prepared(table, rows)
        if not self.postgres:
            self.run_many(_insert_sql(table.name, columns), prepared)
            return
        if not self.bulk(len(rows)) or self._pipe is not None:
            for chunk in _chunks(prepared):
                if len(chunk) == 1:
                    self.run(_insert_sql(table.name, columns), chunk[0])
                else:
                    sql = _insert_values_sql(table.name, columns, len(chunk))
                    self.run(sql, _positional(chunk, columns), typed=False)
            return
        self.begin_now()
        sent = pgpipe.SentCopy(self.cursor) if answer_later and self._owning else None
        types = _binary_copy_types(table, columns, self.dialect)
        with self.cursor.copy(
            _copy_sql(table.name, columns, types is not None), writer=sent
        ) as copy:
            if types is not None:
                copy.set_types(types)
            for row in prepared:
                copy.write_row([row[name] for name in columns])
        self._sent = sent

    def update(self, table: Table, key: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """``UPDATE table SET <the rows' other columns> WHERE key = <the row's>`` for each
        of ``rows`` (same columns in each, one row per key). PostgreSQL: when
        :meth:`bulk`, one statement joining ``unnest()`` of one array per column, else
        one joining a ``VALUES`` list per :data:`ROWS_PER_STATEMENT` rows (both can go in
        a pipeline); SQLite: one statement per row. A value too long for its column is
        refused, as by a one-row UPDATE (the values are cast to the column's type
        without its length, the assignment checks it)."""
        if not rows:
            return
        columns = tuple(rows[0])
        if key not in columns:
            raise ValueError(f"update of {table.name}: no {key!r} in the rows")
        prepared = self.prepared(table, rows)
        if not self.postgres or len(prepared) == 1:
            self.run_many(_update_sql(table.name, key, columns), prepared)
            return
        if len({row[key] for row in prepared}) != len(prepared):
            raise ValueError(f"update of {table.name}: the same {key} twice")
        if not self.bulk(len(rows)):
            for chunk in _chunks(prepared):
                sql = _update_values_sql(table, key, columns, len(chunk), self.dialect)
                self.run(sql, _positional(chunk, columns), typed=False)
            return
        self.run(
            _update_unnest_sql(table, key, columns, self.dialect),
            {f"a{i}": [row[name] for row in prepared] for i, name in enumerate(columns)},
        )

    def prepared(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Rows with every value passed through its column's bind processor (only the
        columns that have one, e.g. SQLite's datetimes, are touched)."""
        if not rows:
            return []
        procs = _processors(table, tuple(rows[0]), self.dialect.name, self.dialect)
        out: list[dict[str, Any]] = []
        for row in rows:
            item = dict(row)
            for name, proc in procs:
                value = item[name]
                if value is not None:
                    item[name] = proc(value)
            out.append(item)
        return out


class Later:
    """The rows of a read sent by :meth:`FastSQL.later`: read already, or the pipeline's
    answer (asking for them sends what the pipeline has queued)."""

    __slots__ = ("_source",)

    def __init__(self, source: list[tuple[Any, ...]] | pgpipe.Answer) -> None:
        self._source = source

    def rows(self) -> list[tuple[Any, ...]]:
        source = self._source
        return source if isinstance(source, list) else source.rows()


def in_list(prefix: str, values: Iterable[Any]) -> tuple[str, dict[str, Any]]:
    """``(":p0, :p1, …", {"p0": …})`` for an ``IN (…)`` list."""
    params = {f"{prefix}{i}": value for i, value in enumerate(values)}
    return ", ".join(":" + name for name in params), params


@lru_cache(maxsize=64)
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(columns)
    values = ", ".join(":" + c for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({values})"


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        yield rows[start : start + ROWS_PER_STATEMENT]


def _positional(rows: Sequence[Mapping[str, Any]], columns: tuple[str, ...]) -> dict[str, Any]:
    """The parameters of a statement of several rows: ``p<row>_<column's index>``."""
    return {f"p{i}_{j}": row[name] for i, row in enumerate(rows) for j, name in enumerate(columns)}


@lru_cache(maxsize=256)
def _insert_values_sql(table: str, columns: tuple[str, ...], n: int) -> str:
    """An INSERT of ``n`` rows (parameters as :func:`_positional`). PostgreSQL gives each
    untyped value its target column's type, as for one row."""
    width = range(len(columns))
    values = ", ".join("(" + ", ".join(f":p{i}_{j}" for j in width) + ")" for i in range(n))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}"


_LENGTH = re.compile(r"\([^)]*\)")


@lru_cache(maxsize=64)
def _cast_types(table: Table, columns: tuple[str, ...], dialect: Any) -> tuple[str, ...]:
    """The columns' PostgreSQL types without their length or precision (``VARCHAR(32)``
    → ``VARCHAR``): an explicit cast to ``varchar(32)`` would cut a longer value where the
    assignment to the column refuses it."""
    return tuple(_LENGTH.sub("", table.c[name].type.compile(dialect)) for name in columns)


@lru_cache(maxsize=256)
def _update_values_sql(
    table: Table, key: str, columns: tuple[str, ...], n: int, dialect: Any
) -> str:
    """PostgreSQL only: an UPDATE of ``n`` rows joining a ``VALUES`` list (parameters as
    :func:`_positional`), each value cast to its column's type."""
    types = _cast_types(table, columns, dialect)
    values = ", ".join(
        "(" + ", ".join(f":p{i}_{j}::{t}" for j, t in enumerate(types)) + ")" for i in range(n)
    )
    sets = ", ".join(f"{c} = u.{c}" for c in columns if c != key)
    return (
        f"UPDATE {table.name} SET {sets} FROM (VALUES {values}) AS u({', '.join(columns)}) "
        f"WHERE {table.name}.{key} = u.{key}"
    )


@lru_cache(maxsize=64)
def _copy_sql(table: str, columns: tuple[str, ...], binary: bool) -> str:
    return f"COPY {table} ({', '.join(columns)}) FROM STDIN" + (
        " (FORMAT BINARY)" if binary else ""
    )


# A COPY goes in PostgreSQL's binary format when every column's type is one of these (the
# SQLAlchemy type as compiled for PostgreSQL, without its length → PostgreSQL's type):
# the server then reads each value as it is stored instead of parsing its text (dates
# above all), and the client writes it without formatting and escaping it. Measured on a
# 1,000-scan ingest batch (sightings and events): the server's CPU −11 %, the writer's
# −17 % (three pairs, bench/ingest.py's workload). Values must then be of the column's
# Python type: ``str`` for text, ``int`` for integers, an aware ``datetime`` for
# ``timestamptz`` (a naive one is refused by the driver, the COPY cancelled).
_BINARY_COPY_TYPES = {
    "VARCHAR": "varchar",
    "TEXT": "text",
    "INTEGER": "int4",
    "BIGINT": "int8",
    "BOOLEAN": "bool",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
}


@lru_cache(maxsize=64)
def _binary_copy_types(
    table: Table, columns: tuple[str, ...], dialect: Any
) -> tuple[str, ...] | None:
    """The PostgreSQL types of a binary COPY of ``columns``, or None: text COPY (a type
    not in :data:`_BINARY_COPY_TYPES`)."""
    types = [
        _BINARY_COPY_TYPES.get(table.c[name].type.compile(dialect).split("(")[0])
        for name in columns
    ]
    return None if None in types else tuple(t for t in types if t is not None)


@lru_cache(maxsize=64)
def _update_sql(table: str, key: str, columns: tuple[str, ...]) -> str:
    sets = ", ".join(f"{c} = :{c}" for c in columns if c != key)
    return f"UPDATE {table} SET {sets} WHERE {key} = :{key}"


@lru_cache(maxsize=64)
def _update_unnest_sql(table: Table, key: str, columns: tuple[str, ...], dialect: Any) -> str:
    """PostgreSQL only; ``:a0, :a1, …`` are the columns' arrays, cast to their types
    (worked out once per table and columns)."""
    types = _cast_types(table, columns, dialect)
    sets = ", ".join(f"{c} = u.{c}" for c in columns if c != key)
    arrays = ", ".join(f":a{i}::{t}[]" for i, t in enumerate(types))
    names = ", ".join(columns)
    return (
        f"UPDATE {table.name} SET {sets} FROM unnest({arrays}) AS u({names}) "
        f"WHERE {table.name}.{key} = u.{key}"
    )


_PROCESSORS: dict[tuple[str, str, str], Callable[[Any], Any]] = {}


def _identity(value: Any) -> Any:
    return value


_ROW_PROCESSORS: dict[tuple[str, tuple[str, ...], str], list[tuple[str, Callable[[Any], Any]]]] = {}


def _processors(
    table: Table, names: tuple[str, ...], dialect_name: str, dialect: Any
) -> list[tuple[str, Callable[[Any], Any]]]:
    """The (column, processor) pairs of a row shape that need one, worked out once."""
    key = (table.name, names, dialect_name)
    found = _ROW_PROCESSORS.get(key)
    if found is None:
        found = [
            (name, proc)
            for name in names
            if (proc := _processor(table.c[name], dialect_name, dialect)) is not _identity
        ]
        _ROW_PROCESSORS[key] = found
    return found


def _processor(column: Column[Any], dialect_name: str, dialect: Any) -> Callable[[Any], Any]:
    key = (column.table.name if column.table is not None else "", column.name, dialect_name)
    found = _PROCESSORS.get(key)
    if found is None:
        impl = column.type.dialect_impl(dialect)
        found = impl.bind_processor(dialect) or _identity
        _PROCESSORS[key] = found
    return found
