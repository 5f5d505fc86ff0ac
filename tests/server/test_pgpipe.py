"""PostgreSQL's batched pipeline (db/pgpipe.py, through FastSQL.pipelined): a run of
statements leaves in one write; values and rows are what psycopg's cursor stores and
reads; the first error is raised, nothing after it runs, and the connection and its
prepared statements stay usable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import Connection, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from support.relay import Relay

from reemploi.server.db import pgpipe
from reemploi.server.db.fastpath import FastSQL

WHEN = datetime(2026, 11, 30, 8, 15, 1, 234567, tzinfo=UTC)
ROW = {
    "id": 7,
    "big": 2**53 + 1,
    "label": "guillemets « é » 'q' \"dq\" \\ tab\there",
    "at": WHEN,
    "raw": b"\x00\xff\\x",
    "flag": True,
    "price": Decimal("12.50"),
    "missing": None,
}
COLUMNS = ", ".join(ROW)
VALUES = ", ".join(f":{name}" for name in ROW)


@pytest.fixture
def conn(postgres_database_url: str) -> Iterator[Connection]:
    engine = create_engine(postgres_database_url)
    try:
        with engine.connect() as connection:
            pgpipe.own_statements(_driver(connection))  # as the ingest writer's connection
            connection.exec_driver_sql(
                "CREATE TABLE t (id int PRIMARY KEY, big bigint, label text, "
                "at timestamptz, raw bytea, flag boolean, price numeric(8, 2), missing text)"
            )
            connection.commit()
            yield connection
    finally:
        engine.dispose()


def _driver(conn: Connection) -> psycopg.Connection[object]:
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    return driver


def test_a_run_of_statements_leaves_in_one_write(postgres_database_url: str) -> None:
    """Twelve statements and a COMMIT reach the server in one write, their answers come
    back together (psycopg's own pipeline writes after every statement)."""
    url = make_url(postgres_database_url)
    assert url.host is not None and url.port is not None
    relay = Relay(url.host, url.port)
    engine = create_engine(url.set(port=relay.port), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (id int PRIMARY KEY, label text)")
            conn.commit()
            with conn.begin():
                fast = FastSQL(conn)
                with fast.transaction():
                    before = relay.from_client
                    with fast.pipelined():
                        for i in range(12):
                            fast.run(
                                "INSERT INTO t (id, label) VALUES (:i, :l)", {"i": i, "l": "é"}
                            )
                        fast.commit_here()
                    written = relay.from_client - before
            assert written == 1
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 12
    finally:
        engine.dispose()


def test_values_and_rows_are_what_the_cursor_stores_and_reads(conn: Connection) -> None:
    with conn.begin():
        fast = FastSQL(conn)
        with fast.pipelined():
            fast.run(f"INSERT INTO t ({COLUMNS}) VALUES ({VALUES})", ROW)
            read = fast.later(f"SELECT {COLUMNS} FROM t WHERE id = :id", {"id": ROW["id"]})
            empty = fast.later("SELECT id FROM t WHERE id = :id", {"id": -1})
        assert read.rows() == [tuple(ROW.values())]
        assert empty.rows() == []
        cursor = _driver(conn).cursor()
        cursor.execute(f"SELECT {COLUMNS} FROM t WHERE id = %s", (ROW["id"],))
        assert cursor.fetchall() == read.rows()


def test_a_read_inside_the_block_sends_what_is_queued(conn: Connection) -> None:
    """:meth:`FastSQL.rows` inside the block needs its answer: what was queued before it
    goes out with it; what comes after goes at the block's end."""
    with conn.begin():
        fast = FastSQL(conn)
        with fast.pipelined():
            fast.run(f"INSERT INTO t ({COLUMNS}) VALUES ({VALUES})", ROW)
            assert fast.rows("SELECT count(*) FROM t") == [(1,)]
            fast.run(f"INSERT INTO t ({COLUMNS}) VALUES ({VALUES})", {**ROW, "id": 8})
            later = fast.later("SELECT id FROM t ORDER BY id")
        assert later.rows() == [(7,), (8,)]


def test_outside_autocommit_the_statements_are_in_the_callers_transaction(
    conn: Connection,
) -> None:
    """Like psycopg's cursor, the pipeline opens the transaction the driver would have
    opened: a rollback takes back what it wrote."""
    with conn.begin() as transaction:
        fast = FastSQL(conn)
        with fast.pipelined():
            fast.run(f"INSERT INTO t ({COLUMNS}) VALUES ({VALUES})", ROW)
        assert fast.rows("SELECT count(*) FROM t") == [(1,)]
        transaction.rollback()
    assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0


def test_the_first_error_is_raised_and_nothing_after_it_runs(conn: Connection) -> None:
    insert = f"INSERT INTO t ({COLUMNS}) VALUES ({VALUES})"
    with conn.begin():
        FastSQL(conn).run(insert, ROW)
    fast = FastSQL(conn)
    with (
        pytest.raises(psycopg.errors.UniqueViolation),
        conn.begin(),
        fast.transaction(),
        fast.pipelined(),
    ):
        fast.run(insert, {**ROW, "id": 1})
        fast.run(insert, ROW)  # the same id again
        fast.run(insert, {**ROW, "id": 2})
        fast.commit_here()
    assert conn.exec_driver_sql("SELECT id FROM t ORDER BY id").scalars().all() == [7]
    conn.rollback()
    with conn.begin():  # the connection is usable again, in and out of a pipeline
        fast = FastSQL(conn)
        with fast.pipelined():
            fast.run(insert, {**ROW, "id": 3})
        assert fast.rows("SELECT count(*) FROM t") == [(2,)]


def _prepared(conn: Connection) -> list[str]:
    """The pipeline's statements prepared on this connection's session."""
    names = list(
        conn.exec_driver_sql(
            "SELECT name FROM pg_prepared_statements WHERE name LIKE 'reemploi_%%'"
        ).scalars()
    )
    conn.rollback()
    return names


def test_statements_are_prepared_from_their_second_use_and_kept_within_bounds(
    conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pgpipe, "PREPARED_MAX", 3)
    fast = FastSQL(conn)
    with conn.begin(), fast.pipelined():
        fast.run("SELECT :n::int", {"n": 1})
    assert _prepared(conn) == []
    with conn.begin(), fast.pipelined():
        fast.run("SELECT :n::int", {"n": 2})
    assert len(_prepared(conn)) == 1
    for k in range(6):  # six more statements, each used twice
        for _ in range(2):
            with conn.begin(), fast.pipelined():
                assert fast.rows(f"SELECT :n::int + {k}", {"n": 1}) == [(1 + k,)]
    assert len(_prepared(conn)) == 3


def test_a_statement_whose_preparation_was_aborted_is_prepared_again(
    conn: Connection,
) -> None:
    """An error before a statement's ``Parse`` aborts the Parse too: the pipeline must not
    believe it prepared, or every later use would fail."""
    query = "SELECT count(*) FROM t WHERE id > :n"
    fast = FastSQL(conn)
    with conn.begin(), fast.pipelined():
        fast.run(query, {"n": 0})  # first use: unnamed
    with pytest.raises(psycopg.errors.DivisionByZero), conn.begin(), fast.pipelined():
        fast.run("SELECT 1 / :z::int", {"z": 0})
        fast.run(query, {"n": 0})  # second use: Parse, aborted by the error above
    for n in range(3):
        with conn.begin(), fast.pipelined():
            assert fast.rows(query, {"n": n}) == [(0,)]
    assert len(_prepared(conn)) == 1


def test_numbered_parameters_keep_one_number_per_name() -> None:
    assert pgpipe.numbered("SELECT :a, :b, :a, x::int") == (
        b"SELECT $1, $2, $1, x::int",
        ("a", "b"),
    )


def test_where_psycopg_prepares_its_own_statements_the_pipeline_prepares_none(
    postgres_database_url: str,
) -> None:
    """psycopg sends ``DEALLOCATE ALL`` at a rollback once it has prepared statements of
    its own: on such a connection the pipeline's statements run unnamed, and keep
    working after the rollback."""
    engine = create_engine(postgres_database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            assert _driver(conn).prepare_threshold is not None
            fast = FastSQL(conn)
            for n in range(8):
                conn.exec_driver_sql("SELECT %(n)s::int", {"n": n})  # psycopg prepares it
                with fast.pipelined():
                    assert fast.rows("SELECT :n::int + 1", {"n": n}) == [(n + 1,)]
                conn.rollback()  # psycopg: DEALLOCATE ALL
            assert _prepared(conn) == []
    finally:
        engine.dispose()


def test_a_connection_handed_over_keeps_the_pipelines_statements_across_rollbacks(
    postgres_database_url: str,
) -> None:
    """A pooled connection on which psycopg had prepared statements of its own: once
    handed to the pipeline, a rollback no longer removes the pipeline's statements."""
    engine = create_engine(postgres_database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            for n in range(8):  # psycopg prepares it from its fifth use
                conn.exec_driver_sql("SELECT %(n)s::int", {"n": n})
            conn.commit()  # (a rollback would make psycopg forget it)
            pgpipe.own_statements(_driver(conn))
            fast = FastSQL(conn)
            for n in range(4):  # prepared from the second
                if n == 2:
                    with conn.begin() as transaction:
                        conn.exec_driver_sql("SELECT 1")
                        transaction.rollback()
                with conn.begin(), fast.pipelined():
                    assert fast.rows("SELECT :n::int + 1", {"n": n}) == [(n + 1,)]
            assert len(_prepared(conn)) == 1
    finally:
        engine.dispose()
