"""Benchmark of PostgreSQL's reference checks on the ingest tables: the per-statement
triggers of migration 0011 beside the per-row foreign keys they replaced.

    .venv/bin/python bench/pg_references.py                  # 5 rounds, ~1 min
    .venv/bin/python bench/pg_references.py --quick --json out.json

Starts its own PostgreSQL (tests/support: 127.0.0.1, a free port, its defaults) with two
databases carrying the same territory and assets: one migrated to the head (triggers),
the other migrated then brought back to ``0010_assets_notify`` (the three foreign keys).
Then, alternating between the two in every round, the same writes on one connection each:

* small batches: one sighting and one custody event inserted, then committed — what a
  single tap costs the ledger writer's database (the worst case for a per-statement
  check: one row per statement);
* large batches: ``COPY`` of 1,000 sightings and 500 custody events, then a commit —
  what a burst costs it.

Measured: the CPU of each database's server process for its connection (``/proc``,
user + system), per batch; the tables report the median round and the ratio triggers /
foreign keys (below 1: the triggers cost less). Counts prove every row went in.
Exit status 1 when a count is wrong.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # tests/support: the throwaway services

import psycopg  # noqa: E402
from _cpu import cpu_seconds  # noqa: E402
from alembic import command  # noqa: E402
from support.postgres import Postgres  # noqa: E402

from reemploi.domain.digital_link import giai_uri  # noqa: E402
from reemploi.server.db.engine import alembic_config, make_engine, migrate  # noqa: E402
from reemploi.server.demo.territory import load_territory  # noqa: E402
from reemploi.server.registry import Declaration, declare_asset  # noqa: E402

SITE, READER = "cp-grenoble-hdv", "cp-grenoble-hdv-comptoir"
BEFORE = "0010_assets_notify"
SIGHTING = (
    "INSERT INTO sightings (key, device_id, seq, site_id, kind, data, received_at,"
    " asset_id, result) VALUES (%s, %s, %s, %s, 'nfc', '04AA', %s, %s, 'accepted')"
)
EVENT = (
    "INSERT INTO custody_events (position, event_id, event_hash, event_time, recorded_at,"
    " asset_id, step, state_to, site_to, document, prev_hash, entry_hash) VALUES"
    " (%s, %s, 'ni:///sha-256;banc', %s, %s, %s, 'collecting', 'collected', %s, '{}',"
    " %s, %s)"
)
COPY_SIGHTINGS = (
    "COPY sightings (key, device_id, seq, site_id, kind, data, received_at, asset_id,"
    " result) FROM STDIN"
)
COPY_EVENTS = (
    "COPY custody_events (position, event_id, event_hash, event_time, recorded_at,"
    " asset_id, step, state_to, site_to, document, prev_hash, entry_hash) FROM STDIN"
)
ZERO = "0" * 64
EVENT_TAIL = ("collecting", "collected", SITE, "{}", ZERO, ZERO)  # step … entry_hash


@dataclass
class Database:
    """One database under test, its connection and what it has been given so far."""

    name: str
    conn: psycopg.Connection[Any]
    backend: int
    assets: list[int]
    seq: int = 0
    position: int = 1_000_000
    small_us: list[float] = field(default_factory=list)
    large_ms: list[float] = field(default_factory=list)
    sightings: int = 0  # rows the table should hold (the staging's events included)
    events: int = 0

    def asset(self, n: int) -> int:
        return self.assets[n % len(self.assets)]


def prepare(pg: Postgres, name: str, foreign_keys: bool, asset_count: int) -> Database:
    url = pg.create_database(name)
    engine = make_engine(url)
    try:
        migrate(engine)
        now = datetime.now(UTC)
        with engine.begin() as conn:
            load_territory(conn)
            assets = [
                declare_asset(
                    conn,
                    Declaration(
                        epc=giai_uri(f"9521234BNC{n:06d}"),
                        category="laptop",
                        owner_id="ville-grenoble",
                        site_id=SITE,
                    ),
                    now,
                )
                for n in range(asset_count)
            ]
        if foreign_keys:
            config = alembic_config(engine.url.render_as_string(hide_password=False))
            with engine.begin() as conn:
                config.attributes["connection"] = conn
                command.downgrade(config, BEFORE)
        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    finally:
        engine.dispose()
    conn = psycopg.connect(dsn)
    backend = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert backend is not None
    sightings, events = stored(conn)
    return Database(name, conn, int(backend[0]), assets, sightings=sightings, events=events)


def stored(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    """(sightings, custody events) in the database."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM sightings), (SELECT count(*) FROM custody_events)"
    ).fetchone()
    conn.commit()
    assert row is not None
    return int(row[0]), int(row[1])


def small(db: Database, batches: int) -> float:
    """µs of server CPU per batch of one sighting and one event."""
    now = datetime.now(UTC)
    start = cpu_seconds(db.backend)
    for _ in range(batches):
        db.seq += 1
        db.position += 1
        asset = db.asset(db.seq)
        db.conn.execute(
            SIGHTING, (f"{db.seq:032x}", READER, db.seq, SITE, now, asset), prepare=True
        )
        db.conn.execute(
            EVENT,
            (db.position, f"urn:uuid:banc-{db.position}", now, now, asset, SITE, ZERO, ZERO),
            prepare=True,
        )
        db.conn.commit()
    db.sightings += batches
    db.events += batches
    return (cpu_seconds(db.backend) - start) / batches * 1e6


def large(db: Database, batches: int, size: int) -> float:
    """ms of server CPU per ``COPY`` of ``size`` sightings and ``size // 2`` events."""
    now = datetime.now(UTC)
    start = cpu_seconds(db.backend)
    for _ in range(batches):
        with db.conn.cursor() as cur:
            with cur.copy(COPY_SIGHTINGS) as copy:
                for _ in range(size):
                    db.seq += 1
                    key, asset = f"{db.seq:032x}", db.asset(db.seq)
                    copy.write_row(
                        (key, READER, db.seq, SITE, "nfc", "04AA", now, asset, "accepted")
                    )
            with cur.copy(COPY_EVENTS) as copy:
                for _ in range(size // 2):
                    db.position += 1
                    eid, asset = f"urn:uuid:banc-{db.position}", db.asset(db.position)
                    copy.write_row(
                        (db.position, eid, "ni:///sha-256;banc", now, now, asset, *EVENT_TAIL)
                    )
        db.conn.commit()
    db.sightings += batches * size
    db.events += batches * (size // 2)
    return (cpu_seconds(db.backend) - start) / batches * 1e3


def _ratio(triggers: float, keys: float) -> str:
    """``triggers / keys``, or a dash when the clock's ticks (10 ms) saw no CPU at all."""
    return f"{triggers / keys:.2f}" if keys > 0 else "—"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--small", type=int, default=1500, help="small batches per round")
    parser.add_argument("--large", type=int, default=8, help="large batches per round")
    parser.add_argument("--size", type=int, default=1000, help="sightings per large batch")
    parser.add_argument("--assets", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="small numbers (smoke test)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.small, args.large, args.assets = 2, 100, 2, 200

    pg = Postgres().start()
    try:
        triggers = prepare(pg, "triggers", False, args.assets)
        keys = prepare(pg, "foreign_keys", True, args.assets)
        both = (triggers, keys)
        for db in both:  # warm-up: plans, caches, the plpgsql functions compiled
            small(db, max(args.small // 10, 10))
            large(db, 1, args.size)
        for n in range(args.rounds):
            for db in both if n % 2 == 0 else reversed(both):
                db.small_us.append(small(db, args.small))
                db.large_ms.append(large(db, args.large, args.size))
        ok = all(stored(db.conn) == (db.sightings, db.events) for db in both)
    finally:
        pg.close()

    def line(label: str, unit: str, pick: Callable[[Database], list[float]]) -> str:
        t, k = statistics.median(pick(triggers)), statistics.median(pick(keys))
        rounds = ", ".join(_ratio(a, b) for a, b in zip(pick(triggers), pick(keys), strict=True))
        return f"| {label} | {t:.1f} {unit} | {k:.1f} {unit} | {_ratio(t, k)} | {rounds} |"

    print(
        "Contrôle des références sur PostgreSQL — déclencheurs par ordre (0011) / clés "
        "étrangères par ligne (0010) / reference checks: per-statement triggers vs "
        "per-row foreign keys"
    )
    print(f"{args.rounds} manches / rounds ; CPU du serveur par lot / server CPU per batch\n")
    print(
        "| lot / batch | déclencheurs / triggers | clés étrangères / foreign keys"
        " | × (médianes / medians) | × par manche / per round |"
    )
    print("|---|---|---|---|---|")
    print(line("1 observation + 1 événement / 1 sighting + 1 event", "µs", lambda d: d.small_us))
    print(
        line(
            f"COPY {args.size} observations + {args.size // 2} événements",
            "ms",
            lambda d: d.large_ms,
        )
    )
    print(
        "\nComptes / counts: "
        + ("toutes les lignes présentes / every row stored ✓" if ok else "ÉCART / MISMATCH ✗")
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {db.name: {"small_us": db.small_us, "large_ms": db.large_ms} for db in both}
                | {"counts_ok": ok},
                indent=2,
            )
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
