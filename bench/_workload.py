"""What the simulated readers tap, and the database the real system needs for it.

Ten readers of the demo territory (four collection-point counters, two docks and a
diagnostic bench at the sorting centre and the workshops, one erasure station) tap the
NDEF URI of enrolled assets. A *first* tap of an asset by a reader is a custody step
(collect, receive, inspect, erase) and chains an event; a *repeat* tap of an asset the
same reader already handled is kept as a sighting, acked ``accepted`` with the reason
``already_recorded``, and chains nothing.

Each reader's assets must be in the state its step starts from, so they are declared at
a collection point and walked up to that state *before* the measurement, through the real
ingest pipeline (``IngestPipeline.process``, no broker) with sequence numbers far above
the ones the fleet uses.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from reemploi.domain.digital_link import giai_uri
from reemploi.protocol import wire
from reemploi.server.db.engine import make_engine, migrate
from reemploi.server.db.tables import custody_events, dead_letters, sightings
from reemploi.server.demo.flows import label_uri
from reemploi.server.demo.territory import DEVICES, SITES, load_territory
from reemploi.server.ingest.pipeline import Incoming, IngestOptions, IngestPipeline
from reemploi.server.registry import (
    Declaration,
    Registry,
    declare_asset,
)

STAGING_SEQ = 10**12  # staging scans use sequence numbers far above the fleet's
SITE_OF_DEVICE = {d.id: d.site_id for d in DEVICES}
OWNER_OF_SITE = {s.id: s.organisation_id for s in SITES}
COLLECTION_COUNTER = {
    "cp-grenoble-hdv": "cp-grenoble-hdv-comptoir",
    "cp-echirolles-mdh": "cp-echirolles-mdh-comptoir",
    "cp-smh-campus": "cp-smh-campus-comptoir",
    "cp-fontaine-decheterie": "cp-fontaine-comptoir",
}
CATEGORIES = ("laptop", "desktop", "screen", "phone")


@dataclass(frozen=True)
class ReaderRole:
    device: str
    # Readers that walk the asset to this reader's starting state, after "collect".
    staging: tuple[str, ...]
    home: str | None = None  # the collection point where its assets are declared


READERS: tuple[ReaderRole, ...] = (
    ReaderRole("cp-grenoble-hdv-comptoir", (), "cp-grenoble-hdv"),
    ReaderRole("cp-echirolles-mdh-comptoir", (), "cp-echirolles-mdh"),
    ReaderRole("cp-smh-campus-comptoir", (), "cp-smh-campus"),
    ReaderRole("cp-fontaine-comptoir", (), "cp-fontaine-decheterie"),
    ReaderRole("tri-sassenage-quai", ("collect",)),
    ReaderRole("tri-sassenage-diag", ("collect", "tri-sassenage-quai")),
    ReaderRole("atelier-pdc-quai", ("collect",)),
    ReaderRole("atelier-pdc-effacement", ("collect", "atelier-pdc-quai", "atelier-pdc-diag")),
    ReaderRole("atelier-meylan-quai", ("collect",)),
    ReaderRole("atelier-meylan-diag", ("collect", "atelier-meylan-quai")),
)


@dataclass(frozen=True)
class Tap:
    uri: str
    first: bool  # True: a custody step (chains an event); False: a repeat tap


@dataclass
class ReaderPlan:
    device: str
    site: str
    taps: list[Tap] = field(default_factory=list)
    new_assets: list[tuple[str, str]] = field(default_factory=list)  # (giai, home site)


@dataclass
class Plan:
    """The taps of one phase, reader by reader, and the assets they need."""

    name: str
    readers: list[ReaderPlan]

    @property
    def scans(self) -> int:
        return sum(len(r.taps) for r in self.readers)

    @property
    def first_taps(self) -> int:
        return sum(1 for r in self.readers for t in r.taps if t.first)


def make_plan(name: str, scans: int, readers: int, first_share: float, seed: int) -> Plan:
    """``scans`` taps spread evenly over ``readers``; about ``first_share`` of them are
    first taps, the rest repeat one of the reader's last 20 assets (a double tap, a
    check at the bench)."""
    if not 1 <= readers <= len(READERS):
        raise ValueError(f"--readers doit être entre 1 et {len(READERS)}")
    rng = random.Random(f"{seed}-{name}")
    cps = sorted(COLLECTION_COUNTER)
    # GIAIs unique per plan: burst-1 → 9521234BBURST1…, paced-1000-2 → 9521234BPACED10002…
    code = "".join(ch for ch in name if ch.isalnum())[-12:].upper()
    plans: list[ReaderPlan] = []
    for index, role in enumerate(READERS[:readers]):
        plan = ReaderPlan(role.device, SITE_OF_DEVICE[role.device])
        count = scans // readers + (1 if index < scans % readers else 0)
        recent: list[str] = []
        for _ in range(count):
            if not recent or rng.random() < first_share:
                n = len(plan.new_assets)
                giai = f"9521234B{code}{index:02d}{n:07d}"
                home = role.home or cps[n % len(cps)]
                plan.new_assets.append((giai, home))
                uri = label_uri(giai)
                plan.taps.append(Tap(uri, True))
                recent = [*recent[-19:], uri]
            else:
                plan.taps.append(Tap(rng.choice(recent), False))
        plans.append(plan)
    return Plan(name, plans)


def open_database(url: str, sqlite_synchronous: str = "FULL") -> Engine:
    """Engine on a migrated database holding the demo territory (organisations, sites,
    readers)."""
    engine = make_engine(url, sqlite_synchronous=sqlite_synchronous)
    migrate(engine)
    with engine.begin() as conn:
        load_territory(conn)
    return engine


def stage(
    engine: Engine, plans: Sequence[Plan], seqs: dict[str, int] | None = None, batch: int = 1000
) -> None:
    """Declare every asset the plans tap first, and walk it to its reader's start state.
    ``seqs``: each staging reader's next sequence number, kept by the caller from one
    call to the next on the same database (else numbers start again and are refused as
    replays)."""
    when = datetime.now(UTC)
    with engine.begin() as conn:
        for plan in plans:
            for reader in plan.readers:
                for i, (giai, home) in enumerate(reader.new_assets):
                    declare_asset(
                        conn,
                        Declaration(
                            epc=giai_uri(giai),
                            category=CATEGORIES[i % len(CATEGORIES)],
                            owner_id=OWNER_OF_SITE[home],
                            site_id=home,
                        ),
                        when,
                    )
    pipeline = IngestPipeline(engine, Registry(ttl_s=3600), IngestOptions())
    seqs = {} if seqs is None else seqs
    roles = {r.device: r for r in READERS}
    depth = max(len(r.staging) for r in READERS)
    for level in range(depth):
        messages: list[Incoming] = []
        for plan in plans:
            for reader in plan.readers:
                path = roles[reader.device].staging
                if level >= len(path):
                    continue
                for giai, home in reader.new_assets:
                    device = COLLECTION_COUNTER[home] if path[level] == "collect" else path[level]
                    seq = seqs.get(device, STAGING_SEQ)
                    seqs[device] = seq + 1
                    scan = wire.Scan(device, seq, wire.KIND_NDEF_URI, label_uri(giai))
                    messages.append(
                        Incoming(
                            wire.topic(SITE_OF_DEVICE[device], device, "scan"),
                            wire.encode_scan(scan),
                            datetime.now(UTC),
                        )
                    )
        for start in range(0, len(messages), batch):
            result = pipeline.process(messages[start : start + batch])
            wrong = [a for a in result.acks if b'"accepted","reason":null' not in a.payload]
            if wrong:
                raise RuntimeError(f"staging refused: {wrong[0].payload!r}")


def settle(engine: Engine) -> None:
    """PostgreSQL: the staging's changes vacuumed and analysed now, as autovacuum would
    on its next visit (once a minute) — else that visit can fall in the measured phase
    that follows. SQLite has no such background work."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE)")


@dataclass(frozen=True)
class LedgerCounts:
    sightings: int
    events: int
    dead_letters: int

    def minus(self, other: LedgerCounts) -> LedgerCounts:
        return LedgerCounts(
            self.sightings - other.sightings,
            self.events - other.events,
            self.dead_letters - other.dead_letters,
        )


def ledger_counts(engine: Engine) -> LedgerCounts:
    with engine.connect() as conn:

        def count(table: object) -> int:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]

        return LedgerCounts(count(sightings), count(custody_events), count(dead_letters))
