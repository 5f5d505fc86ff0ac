"""The hash-chained ledger: intact chains verify; any edited, inserted or deleted row is
detected and named — through the library and through the ``reemploi-ledger verify`` CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from server_world import World
from sqlalchemy import delete, insert, select, update

from reemploi.domain.custody import AssetState, Holder, Step, custody_event
from reemploi.domain.digital_link import giai_uri
from reemploi.server.db.tables import custody_events
from reemploi.server.ledger import NewEvent, append, verify
from reemploi.server.registry import Declaration, declare_asset


def add_events(world: World, n: int) -> None:
    with world.engine.begin() as conn:
        for i in range(n):
            declare_asset(
                conn,
                Declaration(
                    epc=giai_uri(f"9521234EXT{i:06d}"),
                    category="desktop",
                    owner_id="universite",
                    site_id="cp-smh-campus",
                ),
            )


def problems(world: World) -> list[tuple[int, str]]:
    with world.engine.connect() as conn:
        return [(p.position, p.kind) for p in verify(conn)]


def cli(world: World) -> subprocess.CompletedProcess[str]:
    url = world.engine.url.render_as_string(hide_password=False)
    return subprocess.run(
        [sys.executable, "-m", "reemploi.server.ledger_cli", "verify", "--database-url", url],
        capture_output=True,
        text=True,
        check=False,
    )


def test_intact_ledger_verifies_and_cli_says_so(world: World) -> None:
    add_events(world, 4)
    assert problems(world) == []
    proc = cli(world)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Registre intact : 7 événements" in proc.stdout


def test_edited_document_is_named_by_position_and_event_id(world: World) -> None:
    add_events(world, 3)
    with world.engine.begin() as conn:
        row = conn.execute(select(custody_events).where(custody_events.c.position == 4)).one()
        doc = json.loads(row.document)
        doc["bizLocation"] = {"id": "https://id.gs1.org/414/9521234001016"}
        conn.execute(
            update(custody_events)
            .where(custody_events.c.position == 4)
            .values(document=json.dumps(doc, sort_keys=True, separators=(",", ":")))
        )
    found = problems(world)
    assert (4, "edited") in found and (4, "document_edited") in found
    assert all(position == 4 for position, _ in found)
    proc = cli(world)
    assert proc.returncode == 1
    assert "position 4" in proc.stdout and row.event_id in proc.stdout


def test_edited_state_column_with_recomputed_event_hash_is_still_detected(world: World) -> None:
    add_events(world, 2)
    with world.engine.begin() as conn:
        conn.execute(
            update(custody_events)
            .where(custody_events.c.position == 2)
            .values(event_hash="ni:///sha-256;" + "0" * 64 + "?ver=CBV2.0")
        )
    assert (2, "edited") in problems(world)


def test_deleted_middle_row_is_detected_where_the_gap_is(world: World) -> None:
    add_events(world, 4)
    with world.engine.begin() as conn:
        conn.execute(delete(custody_events).where(custody_events.c.position == 3))
    found = problems(world)
    assert (4, "deleted") in found and (4, "inserted_or_reordered") in found


def test_deleted_last_row_is_detected_by_the_head(world: World) -> None:
    add_events(world, 2)
    with world.engine.begin() as conn:
        conn.execute(delete(custody_events).where(custody_events.c.position == 5))
    assert problems(world) == [(4, "head_mismatch")]


def test_inserted_row_is_detected(world: World) -> None:
    add_events(world, 2)
    with world.engine.begin() as conn:
        last = conn.execute(
            select(custody_events).order_by(custody_events.c.position.desc()).limit(1)
        ).one()
        forged = dict(last._mapping)
        forged["position"] = last.position + 1
        forged["event_id"] = "urn:uuid:00000000-0000-4000-8000-000000000000"
        forged["prev_hash"] = last.entry_hash
        conn.execute(insert(custody_events).values(**forged))
    kinds = {kind for _, kind in problems(world)}
    assert {"edited", "document_edited", "head_mismatch"} <= kinds


def test_appending_after_verification_keeps_the_chain(world: World) -> None:
    with world.engine.begin() as conn:
        site = "https://id.gs1.org/414/9521234001016"
        holder = Holder("https://id.gs1.org/417/9521234000013", site)
        when = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
        document = custody_event(
            Step.COLLECT,
            epcs=[giai_uri("9521234LAP000001")],
            when=when,
            holder_from=holder,
            holder_to=holder,
            read_point=site,
            event_id="urn:uuid:11111111-1111-4111-8111-111111111111",
        )
        positions = append(
            conn,
            [
                NewEvent(
                    document,
                    when,
                    when,
                    None,
                    "collect",
                    "declared",
                    AssetState.COLLECTED.value,
                    None,
                    "cp-grenoble-hdv",
                )
            ],
        )
    assert positions == [4]
    assert problems(world) == []


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("step", "recycle"),
        ("state_to", "sold"),
        ("state_from", "listed"),
        ("site_to", "recyclage-domene"),
        ("site_from", "tri-sassenage"),
        ("event_time", datetime(2020, 1, 1, tzinfo=UTC)),
        ("recorded_at", datetime(2020, 1, 1, tzinfo=UTC)),
        ("event_id", "urn:uuid:22222222-2222-4222-8222-222222222222"),
    ],
)
def test_editing_any_single_column_of_a_row_is_caught(
    world: World, column: str, value: object
) -> None:
    with world.engine.begin() as conn:
        conn.execute(
            update(custody_events).where(custody_events.c.position == 2).values({column: value})
        )
    found = problems(world)
    assert found and all(position == 2 for position, _ in found), found


def test_concurrent_writers_never_read_the_same_ledger_head(world: World) -> None:
    """Writers appending at once (ingest and a declaration, say) all succeed and the chain
    stays intact: on SQLite each transaction takes the write lock as it begins, on
    PostgreSQL the head row is locked FOR UPDATE. Without that, two writers read the same
    head and one fails on the position's uniqueness."""
    import threading

    site = "https://id.gs1.org/414/9521234001016"
    holder = Holder("https://id.gs1.org/417/9521234000013", site)
    errors: list[BaseException] = []

    def writer(prefix: int) -> None:
        try:
            for i in range(60):
                when = datetime.now(UTC)
                document = custody_event(
                    Step.COLLECT,
                    epcs=[giai_uri("9521234LAP000001")],
                    when=when,
                    holder_from=holder,
                    holder_to=holder,
                    read_point=site,
                    event_id=f"urn:uuid:{prefix:08x}-0000-4000-8000-{i:012x}",
                )
                event = NewEvent(
                    document,
                    when,
                    when,
                    None,
                    "collect",
                    "declared",
                    "collected",
                    None,
                    "cp-grenoble-hdv",
                )
                with world.engine.begin() as conn:
                    append(conn, [event])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [repr(e)[:200] for e in errors] == []
    assert problems(world) == []
    with world.engine.connect() as conn:
        assert len(conn.execute(select(custody_events.c.position)).all()) == 3 + 240
