"""Ingest of one batch of MQTT messages in one transaction.

Bytes in, acks out: every message of the batch is decoded, deduplicated by idempotency
key, resolved to an asset, turned into a custody step by the site's rule, and written
(sighting, chained event, asset projection, dead letters, counters) in a single
transaction. Acks are returned to the caller, who publishes them only after the commit.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from reemploi.domain.custody import (
    TRANSITIONS,
    AssetState,
    Holder,
    Step,
    custody_event,
)
from reemploi.domain.event_shape import custody_shape
from reemploi.domain.sun import SunKeys
from reemploi.protocol import gateway_msgs, wire

from .. import ledger
from ..db import pgpipe
from ..db.fastpath import FastSQL, Later, in_list
from ..db.tables import assets, dead_letters, devices, lot_movements, sightings
from ..registry import Registry, Site
from .counters import bump
from .device_messages import DeviceMessages
from .event_ids import EVENT_IDS
from .lots import lot_movement, split_topic
from .memory import (
    CHANNEL,
    RECALL_MAX_SCANS,
    AssetRow,
    KnownAsset,
    WriterMemory,
    assets_guard,
    head_guard,
    is_stale,
    preload_query,
)
from .resolve import Resolution, TagResolver, canonical_giai
from .rules import event_time, tap_step

log = logging.getLogger("reemploi.ingest")


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes
    received_at: datetime


@dataclass(frozen=True)
class Outgoing:
    """An ack to publish after the commit."""

    topic: str
    payload: bytes


@dataclass(frozen=True)
class LiveEvent:
    """What the web page's live feed shows for one recorded custody event."""

    position: int
    time: str
    asset_id: int
    epc: str
    category: str
    step: str
    state: str
    site_from: str | None
    site_to: str


@dataclass
class BatchResult:
    acks: list[Outgoing] = field(default_factory=list)
    live: list[LiveEvent] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    statuses: list[tuple[str, wire.Status, datetime]] = field(default_factory=list)
    # What the writer remembered from this commit (PostgreSQL, see ingest/memory.py):
    # the assets as committed and the chain's head (None: unchanged), for the other
    # writer of a HybridWriter (IngestPipeline.learn).
    assets: list[AssetRow] = field(default_factory=list)
    head: ledger.Head | None = None


@dataclass
class _AssetView:
    id: int
    epc: str
    category: str
    state: AssetState
    holder_org: str
    holder_site: str


@dataclass(frozen=True)
class IngestOptions:
    clock_tolerance_s: int = 300
    clock_max_age_s: int = 7 * 24 * 3600
    sun_keys: SunKeys | None = None  # anti-clone tags refused when not configured
    # PostgreSQL: how many assets the writer remembers to skip a batch's reads (see
    # ingest/memory.py); 0: every batch reads.
    remembered_assets: int = 50_000


def _guess_ack_fields(payload: bytes) -> tuple[int, str]:
    """Best effort ``(seq, key)`` from a payload we could not decode, to refuse it."""
    try:
        obj = json.loads(payload[: wire.MAX_MESSAGE_BYTES])
        seq = obj.get("seq") if isinstance(obj, dict) else None
        key = obj.get("key") if isinstance(obj, dict) else None
    except (ValueError, UnicodeDecodeError, AttributeError):
        return 0, "0" * 32
    seq = seq if isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0 else 0
    key = key if isinstance(key, str) and len(key) == 32 else "0" * 32
    return min(seq, wire.MAX_SEQ), key


class IngestPipeline:
    def __init__(self, engine: Engine, registry: Registry, options: IngestOptions) -> None:
        self.engine = engine
        self.registry = registry
        self.options = options
        self.resolver = TagResolver(options.sun_keys)
        remember = engine.dialect.name == "postgresql" and options.remembered_assets > 0
        self.memory = WriterMemory(options.remembered_assets) if remember else None
        self._notices: list[str] = []  # announced changes not yet in the memory

    # ------------------------------------------------------------------ entry point

    def process(self, batch: Sequence[Incoming], conn: Connection | None = None) -> BatchResult:
        """One transaction for ``batch``: on ``conn`` when given (a long-lived writer
        connection, outside any transaction), else on a connection from the pool."""
        if conn is None:
            with self.engine.connect() as fresh:
                return self.process(batch, fresh)
        memory = self.memory
        result = _Batch(self, batch, memory)
        try:
            result.commit(conn)
        except Exception as exc:
            if memory is None:
                raise
            if not (result.remembered and is_stale(exc)):
                memory.forget()
                raise
            memory.forget(result.guarded)
            # what the batch took from memory was stale: done again, reads first
            memory.stale += 1
            log.info("ingest batch done again with its reads: %s", str(exc).strip()[:200])
            result = _Batch(self, batch, None)
            result.count("memory_stale")  # seen by operators in /api/ingest/stats
            result.commit(conn)
        if memory is not None:
            out = result.out
            out.assets, out.head = result.asset_rows(), result.new_head
            memory.remember_rows(out.assets, out.head)
        return result.out

    def learn(self, assets: Iterable[AssetRow], head: ledger.Head | None) -> None:
        """What another ingest writer committed after this one's last batch (the other
        half of a :class:`~.writer.HybridWriter`, whose changes the database does not
        announce: ingest writers send no notices): the assets as it committed them and
        the chain's head (None: unchanged), into the memory. Without it, this writer's
        next batch would find its memory stale and be done twice (ingest/memory.py).
        Only a hint, like everything remembered: each batch checks what it relies on."""
        memory = self.memory
        if memory is None:
            return
        memory.remember_rows(assets, head)

    def attach(self, conn: Connection) -> int:
        """A writer's new connection (PostgreSQL): its memory starts from the assets
        still in hand, the most recently changed first, and the chain's head, and it
        listens for the changes other writers commit (see ingest/memory.py); returns
        how many assets. Nothing to do without a memory. The connection is marked as an
        ingest writer's for the rest of its life (its own changes are not announced):
        it must not go back to a pool, and :class:`~.writer.LocalWriter` discards its
        own."""
        memory = self.memory
        if memory is None:
            return 0
        driver = pgpipe.psycopg_of(conn.connection.driver_connection)
        with conn.begin():  # listening first: nothing changed after the load is missed
            conn.exec_driver_sql("SET reemploi.writer = 'ingest'")  # no notices of ours
            conn.exec_driver_sql(f"LISTEN {CHANNEL}")
        driver.add_notify_handler(self._notified)
        self._notices.clear()  # a previous connection's: the load below is newer
        sql, params = preload_query(memory.assets_max)
        with conn.begin():
            fast = FastSQL(conn)
            with fast.pipelined():
                head = ledger.read_head(fast)
                rows = fast.later(sql, params)
            memory.load((KnownAsset.of(row) for row in rows.rows()), ledger.Head.of(head.rows()))
        return len(memory)

    def catch_up(self, conn: Connection) -> int:
        """Before a batch, and now and then when idle: the changes announced since (see
        :meth:`attach`) brought into the memory, in the order they were committed,
        without waiting for any; how many."""
        memory = self.memory
        if memory is None:
            return 0
        pgpipe.take_notifies(conn.connection.driver_connection)
        notices, self._notices = self._notices, []
        for payload in notices:
            memory.notified(payload)
        return len(notices)

    def _notified(self, notice: Any) -> None:
        # Kept for catch_up: a notice read with a batch's answers may be of a change
        # committed after the batch, which the batch's own remembering must not hide.
        if notice.channel == CHANNEL:
            self._notices.append(notice.payload)

    def rehearse(self, conn: Connection, devices_max: int = 16) -> int:
        """Run a batch through the whole ingest code in a transaction that is rolled
        back: nothing is written, but the first real batch after a start no longer pays
        for cold caches (SQLAlchemy's compiled statements, the registry, this
        connection's pages of the hot tables and indexes) — about 10 ms for a fresh
        writer process, measured under ``bench/ingest.py --trace``. One scan per enrolled
        device (up to ``devices_max``) of the first asset's link; returns how many."""
        now = datetime.now(UTC)
        with conn.begin() as transaction:
            readers = conn.execute(
                select(devices.c.id, devices.c.site_id)
                .where(devices.c.revoked.is_(False))
                .order_by(devices.c.id)
                .limit(devices_max)
            ).all()
            link = conn.execute(select(assets.c.epc).order_by(assets.c.id).limit(1)).scalar()
            batch = [
                Incoming(
                    wire.topic(site_id, device_id, "scan"),
                    wire.encode_scan(
                        wire.Scan(
                            device_id,
                            wire.MAX_SEQ,
                            wire.KIND_NDEF_URI,
                            link or "https://id.gs1.org/8004/0000REHEARSAL",
                            None,
                            int(now.timestamp() * 1000),
                        )
                    ),
                    now,
                )
                for device_id, site_id in readers
            ]
            if batch:
                _Batch(self, batch).run(conn)
            transaction.rollback()
        return len(batch)


class _Batch(DeviceMessages):
    """The work of one transaction; private to :class:`IngestPipeline`."""

    def __init__(
        self,
        pipeline: IngestPipeline,
        batch: Sequence[Incoming],
        memory: WriterMemory | None = None,
    ) -> None:
        self.p = pipeline
        self.memory = memory  # None: every read is done
        self.guarded: list[KnownAsset] = []  # the remembered assets it relies on
        self.recalled_head: ledger.Head | None = None  # the remembered head it relies on
        self.new_head: ledger.Head | None = None  # the chain's head once committed
        self.batch = batch
        self.out = BatchResult()
        self.refs = pipeline.registry.view()  # devices, sites, organisations of this batch
        self.sighting_rows: list[dict[str, Any]] = []
        self.dead_rows: list[dict[str, Any]] = []
        self.events: list[ledger.NewEvent] = []
        self.event_sighting: list[int] = []  # index into sighting_rows per event
        self.status_rows: dict[str, dict[str, Any]] = {}
        self.report_rows: dict[str, dict[str, Any]] = {}  # latest report per device
        self.asset_views: dict[int, _AssetView] = {}
        self.asset_by_epc: dict[str, int] = {}  # prefetched for the batch's GIAI links
        self.epc_of_data: dict[str, str | None] = {}
        self.touched: set[int] = set()
        self.lot_rows: list[dict[str, Any]] = []
        self.lot_keys: set[str] = set()
        self.lot_seqs: set[tuple[str, int]] = set()
        self._fast: FastSQL | None = None
        self.head: Later | None = None  # the chain's head, when read with the scans

    # ------------------------------------------------------------------ helpers

    @property
    def remembered(self) -> bool:
        """The batch's reads were skipped (see :meth:`recall`): its writes check."""
        return self.recalled_head is not None

    def commit(self, conn: Connection) -> None:
        """The whole batch in one transaction on ``conn``."""
        with conn.begin(), self.fast(conn).transaction():
            self.run(conn)

    def fast(self, conn: Connection) -> FastSQL:
        """The batch's DB-API cursor for the hot statements (see db/fastpath.py)."""
        if self._fast is None:
            self._fast = FastSQL(conn)
        return self._fast

    def count(self, name: str, n: int = 1) -> None:
        self.out.counts[name] += n

    def dead(self, msg: Incoming, reason: str, detail: str, device: str | None) -> None:
        self.dead_rows.append(
            {
                "received_at": msg.received_at,
                "topic": msg.topic[:300],
                "payload": bytes(msg.payload),
                "reason": reason,
                "detail": detail[:300],
                "device_id": device,
            }
        )
        self.count("dead_letter")
        self.count("dead_letter:" + reason)

    def ack(self, site: str, device: str, ack: wire.Ack) -> None:
        self.out.acks.append(Outgoing(_ack_topic(site, device), wire.encode_ack(ack)))

    # ------------------------------------------------------------------ the batch

    def run(self, conn: Connection) -> None:
        registry = self.refs
        scans: list[tuple[Incoming, str, wire.Scan]] = []
        for msg in self.batch:
            self.count("messages")
            try:
                site, device_id, kind = split_topic(msg.topic)
            except wire.MalformedMessage as exc:
                self.dead(msg, exc.reason, exc.detail, None)
                continue
            device = registry.device(conn, device_id)
            if device is None or device.revoked:
                self.dead(msg, "unknown_device", f"appareil inconnu ou révoqué : {device_id}", None)
                continue
            if device.site_id != site:
                self.dead(
                    msg, "site_mismatch", f"{device_id} est rattaché à {device.site_id}", device_id
                )
                if kind == "scan":
                    seq, key = _guess_ack_fields(msg.payload)
                    self.ack(
                        site, device_id, wire.Ack(seq, key, wire.RESULT_REJECTED, "site_mismatch")
                    )
                continue
            if kind == "status":
                self.status(msg, site, device_id)
                continue
            if kind == "report":
                self.report(msg, device_id)
                continue
            if kind == gateway_msgs.KIND_LOT:
                lot_movement(self, conn, msg, site, device_id)
                continue
            if kind == gateway_msgs.KIND_EVIDENCE:
                self.evidence(msg, device_id)
                continue
            if kind != "scan":
                self.dead(msg, "bad_topic", f"type de message non traité : {kind}", device_id)
                continue
            try:
                scan = wire.decode_scan(msg.payload)
            except wire.MalformedMessage as exc:
                self.dead(msg, exc.reason, exc.detail, device_id)
                seq, key = _guess_ack_fields(msg.payload)
                self.ack(site, device_id, wire.Ack(seq, key, wire.RESULT_REJECTED, exc.reason))
                continue
            if scan.device != device_id:
                self.dead(
                    msg, "device_mismatch", f"sujet {device_id}, message {scan.device}", device_id
                )
                self.ack(
                    site,
                    device_id,
                    wire.Ack(scan.seq, scan.key, wire.RESULT_REJECTED, "device_mismatch"),
                )
                continue
            scans.append((msg, site, scan))
        if scans:
            self.scans(conn, scans)
        self.write(conn)

    # ------------------------------------------------------------------ scans

    def scans(self, conn: Connection, scans: list[tuple[Incoming, str, wire.Scan]]) -> None:
        # A scan's key is the digest of (device, seq, kind, data), checked on decoding:
        # the sighting stored under (device, seq), if any, tells a duplicate (same key)
        # from a replayed sequence number (other key). One query: runs of each device's
        # sequence numbers (a superset of the batch's pairs: a few index range scans on
        # (device_id, seq) instead of one probe per scan).
        pairs = {(scan.device, scan.seq) for _, _, scan in scans}
        stored: dict[tuple[str, int], tuple[str, str, str | None]] = {}
        ranges: list[str] = []
        params: dict[str, Any] = {}
        for i, (device, low, high) in enumerate(seq_runs(pairs)):
            ranges.append(f"(device_id = :d{i} AND seq BETWEEN :lo{i} AND :hi{i})")
            params.update({f"d{i}": device, f"lo{i}": low, f"hi{i}": high})
        fast = self.fast(conn)
        if not self.recall([scan for _, _, scan in scans]):
            # The batch's reads in one pipeline (PostgreSQL: the transaction's BEGIN,
            # these three reads and their answers in one round trip instead of four): the
            # chain's head, locked, that the events will need; sightings already stored;
            # the assets behind the links. The head first: the reads below see the rows
            # of the writer that held it last.
            with fast.pipelined():
                self.head = ledger.read_head(fast)
                seen = fast.later(
                    "SELECT key, device_id, seq, result, reason FROM sightings "
                    f"WHERE {' OR '.join(ranges)}",
                    params,
                )
                linked = self.ask_assets(fast, [scan for _, _, scan in scans])
            for key, device, seq, result, reason in seen.rows():
                pair = (device, int(seq))
                if pair in pairs:
                    stored[pair] = (key, result, reason)
            if linked is not None:
                self.take_assets(linked)
        # else: no sighting is known to be stored; one that is makes the insert fail
        for msg, site, scan in scans:
            previous = stored.get((scan.device, scan.seq))
            if previous is not None and previous[0] == scan.key:
                self.count("duplicate")
                self.ack(
                    site, scan.device, wire.Ack(scan.seq, scan.key, previous[1], previous[2], True)
                )
                continue
            if previous is not None:
                self.dead(
                    msg,
                    "replayed_seq",
                    f"numéro {scan.seq} déjà utilisé par {scan.device}",
                    scan.device,
                )
                self.ack(
                    site,
                    scan.device,
                    wire.Ack(scan.seq, scan.key, wire.RESULT_REJECTED, "replayed_seq"),
                )
                continue
            result, reason = self.one_scan(conn, msg, site, scan)
            stored[(scan.device, scan.seq)] = (scan.key, result, reason)
            self.ack(site, scan.device, wire.Ack(scan.seq, scan.key, result, reason))

    def link_epcs(self, scans: list[wire.Scan]) -> set[str]:
        """The EPCs behind the batch's Digital Links (NDEF, QR)."""
        for scan in scans:
            if scan.kind in _LINK_KINDS and scan.data not in self.epc_of_data:
                self.epc_of_data[scan.data] = canonical_giai(scan.data)
        return {epc for epc in self.epc_of_data.values() if epc is not None}

    def recall(self, scans: list[wire.Scan]) -> bool:
        """Take the chain's head and the assets behind ``scans`` from the writer's memory
        instead of reading them (see ingest/memory.py): only when every scan is a
        Digital Link to a remembered asset (other tags are resolved by reads)."""
        memory = self.memory
        head = memory.head if memory is not None else None
        if memory is None or head is None or len(scans) > RECALL_MAX_SCANS:
            return False
        if any(scan.kind not in _LINK_KINDS for scan in scans):
            return False
        found = [memory.asset(epc) for epc in sorted(self.link_epcs(scans))]
        knowns = [known for known in found if known is not None]
        if len(knowns) != len(found):
            return False
        for known in knowns:
            self.asset_by_epc[known.epc] = known.id
            self.asset_views[known.id] = _AssetView(
                known.id,
                known.epc,
                known.category,
                AssetState(known.state),
                known.holder_org,
                known.holder_site,
            )
            self.guarded.append(known)
        self.recalled_head = head
        self.head = Later([(head.count, head.last_hash)])
        memory.batches += 1
        return True

    def asset_rows(self) -> list[AssetRow]:
        """The assets this batch read or wrote, as committed (once it is), as the
        writer's memory keeps them."""
        return [
            (v.id, v.epc, v.category, v.state.value, v.holder_org, v.holder_site)
            for v in self.asset_views.values()
        ]

    def ask_assets(self, fast: FastSQL, scans: list[wire.Scan]) -> Later | None:
        """Send one read for the assets behind the batch's Digital Links (NDEF, QR)
        instead of two per scan (None when there are none); the batch writes assets only
        at the end, so the views :meth:`take_assets` builds from it are the ones
        :meth:`asset_view` would have read."""
        epcs = self.link_epcs(scans)
        if not epcs:
            return None
        epc_list, epc_params = in_list("e", epcs)
        return fast.later(
            "SELECT id, epc, category, state, holder_org_id, holder_site_id FROM assets "
            f"WHERE epc IN ({epc_list})",
            epc_params,
        )

    def take_assets(self, found: Later) -> None:
        for asset_id, epc, category, state, holder_org, holder_site in found.rows():
            self.asset_by_epc[epc] = asset_id
            self.asset_views.setdefault(
                asset_id,
                _AssetView(asset_id, epc, category, AssetState(state), holder_org, holder_site),
            )

    def resolve(self, conn: Connection, kind: str, data: str) -> Resolution:
        """:meth:`TagResolver.resolve`, answered from the prefetch for Digital Links."""
        if kind in _LINK_KINDS and data in self.epc_of_data:
            epc = self.epc_of_data[data]
            if epc is None:
                return Resolution(None, "not_an_asset_link")
            found = self.asset_by_epc.get(epc)
            return Resolution(found, None if found else "unknown_tag")
        return self.p.resolver.resolve(conn, kind, data)

    def asset_view(self, conn: Connection, asset_id: int) -> _AssetView:
        view = self.asset_views.get(asset_id)
        if view is None:
            row = conn.execute(
                select(
                    assets.c.id,
                    assets.c.epc,
                    assets.c.category,
                    assets.c.state,
                    assets.c.holder_org_id,
                    assets.c.holder_site_id,
                ).where(assets.c.id == asset_id)
            ).one()
            view = _AssetView(
                row.id,
                row.epc,
                row.category,
                AssetState(row.state),
                row.holder_org_id,
                row.holder_site_id,
            )
            self.asset_views[asset_id] = view
        return view

    def one_scan(
        self, conn: Connection, msg: Incoming, site_id: str, scan: wire.Scan
    ) -> tuple[str, str | None]:
        registry = self.refs
        opts = self.p.options
        when, anomaly = event_time(
            scan.clock, msg.received_at, opts.clock_tolerance_s, opts.clock_max_age_s
        )
        if anomaly:
            self.count(anomaly)
        row: dict[str, Any] = {
            "key": scan.key,
            "device_id": scan.device,
            "seq": scan.seq,
            "site_id": site_id,
            "kind": scan.kind,
            "data": scan.data,
            "rssi": scan.rssi,
            "device_clock": scan.clock,
            "received_at": msg.received_at,
            "asset_id": None,
            "result": wire.RESULT_ACCEPTED,
            "reason": None,
            "event_position": None,
            "anomaly": anomaly,
        }
        self.sighting_rows.append(row)
        resolved = self.resolve(conn, scan.kind, scan.data)
        if resolved.refused:
            row["result"], row["reason"] = wire.RESULT_REJECTED, resolved.reason
            self.count(f"rejected:{resolved.reason}")
            return row["result"], row["reason"]
        if resolved.asset_id is None:
            row["result"], row["reason"] = wire.RESULT_UNKNOWN_TAG, resolved.reason
            self.count("unknown_tag")
            return row["result"], row["reason"]
        row["asset_id"] = resolved.asset_id
        device = registry.device(conn, scan.device)
        site = registry.site(conn, site_id)
        assert device is not None and site is not None
        step = tap_step(site.kind, device.role, device.tap_step)
        if step is None:
            self.count("accepted")
            return wire.RESULT_ACCEPTED, None
        view = self.asset_view(conn, resolved.asset_id)
        transition = TRANSITIONS.get((view.state, step))  # a lookup: repeat taps are common
        if transition is None:
            if view.holder_site == site_id and _already_done(view.state, step):
                row["reason"] = "already_recorded"
                self.count("accepted")
                return wire.RESULT_ACCEPTED, "already_recorded"
            row["result"], row["reason"] = wire.RESULT_REJECTED, "illegal_transition"
            self.count("rejected:illegal_transition")
            return row["result"], row["reason"]
        self.record_step(
            conn,
            view,
            step,
            transition.to_state,
            site,
            when,
            msg.received_at,
            len(self.sighting_rows) - 1,
        )  # counts event:<step>
        self.count("accepted")
        return wire.RESULT_ACCEPTED, None

    def record_step(
        self,
        conn: Connection,
        view: _AssetView,
        step: Step,
        new_state: AssetState,
        to_site: Site,
        when: datetime,
        received_at: datetime,
        sighting_index: int | None,
        to_org_id: str | None = None,
        read_point: str | None = None,
    ) -> None:
        """Queue the chained EPCIS event for ``step`` and move the asset's projection:
        custody goes from its current holder to ``to_org_id`` (default: the site's
        organisation) at ``to_site``."""
        registry = self.refs
        org = registry.organisation(conn, to_org_id or to_site.organisation_id)
        from_site = registry.site(conn, view.holder_site)
        from_org = registry.organisation(conn, view.holder_org)
        assert org is not None and from_site is not None and from_org is not None
        holder_from = _holder(from_org.pgln, from_site.gln)
        holder_to = _holder(org.pgln, to_site.gln)
        point = read_point or to_site.gln
        event_id = EVENT_IDS.urn()
        shape = custody_shape(step, holder_from, holder_to, point)
        if shape is not None:  # the usual case: text and hash from the shape's parts
            document = shape.document(epcs=[view.epc], when=when, event_id=event_id)
        else:
            document = custody_event(
                step,
                epcs=[view.epc],
                when=when,
                holder_from=holder_from,
                holder_to=holder_to,
                read_point=point,
                event_id=event_id,
            )
        self.events.append(
            ledger.NewEvent(
                document=document,
                event_time=when,
                recorded_at=received_at,
                asset_id=view.id,
                step=step.value,
                state_from=view.state.value,
                state_to=new_state.value,
                site_from=view.holder_site,
                site_to=to_site.id,
                shape=shape,
            )
        )
        self.event_sighting.append(-1 if sighting_index is None else sighting_index)
        view.state = new_state
        view.holder_site = to_site.id
        view.holder_org = org.id
        self.touched.add(view.id)
        self.count("event:" + step.value)

    # ------------------------------------------------------------------ write

    def place_events(self, positions: list[int]) -> None:
        """Each sighting that made an event points to the event's position."""
        for index, position in zip(self.event_sighting, positions, strict=True):
            if index >= 0:
                self.sighting_rows[index]["event_position"] = position

    def write(self, conn: Connection) -> None:
        now = datetime.now(UTC)
        fast = self.fast(conn)
        if self.dead_rows or self.lot_rows or self.status_rows or self.report_rows:
            fast.begin_now()  # SQLAlchemy's statements first, inside the transaction
            if self.dead_rows:
                conn.execute(insert(dead_letters), self.dead_rows)
            if self.lot_rows:
                conn.execute(insert(lot_movements), self.lot_rows)
            self.device_status(conn)
        # The hot writes and the COMMIT in one pipeline (PostgreSQL: one round trip
        # instead of one per statement and one for the COMMIT; the chain's head was read
        # with the scans). A large batch's events and sightings go by COPY, which cannot
        # run in a pipeline: only its last statements and the COMMIT share one.
        bulk = fast.bulk(len(self.sighting_rows))
        with fast.pipelined(enabled=not bulk):
            if self.remembered:  # the checks first; the head, then the assets (ledger.lock_head)
                if self.events:
                    assert self.recalled_head is not None
                    fast.run(*head_guard(self.recalled_head))
                if self.guarded:
                    fast.run(*assets_guard(self.guarded, lock=bool(self.touched)))
            # A large batch's sightings go first, their COPY answered later: the server
            # stores them while the events are rendered and chained (their positions
            # follow the head already read).
            head_first = self.head if bulk and self.events else None
            positions: list[int] = []
            if head_first is not None:
                positions = ledger.next_positions(head_first, len(self.events))
                self.place_events(positions)
                fast.insert(sightings, self.sighting_rows, answer_later=True)
            if self.events:
                appended = ledger.extend(fast, self.events, self.head)
                if head_first is not None and appended.positions != positions:
                    raise RuntimeError("positions du registre inattendues")  # never: one head
                positions, self.new_head = appended.positions, appended.head
            elif self.head is not None:
                self.new_head = ledger.Head.of(self.head.rows())  # answered already
            if head_first is None:
                self.place_events(positions)
                fast.insert(sightings, self.sighting_rows)
            with fast.pipelined(enabled=bulk):
                fast.update(
                    assets,
                    "id",
                    [
                        {
                            "id": v.id,
                            "state": v.state.value,
                            "holder_site_id": v.holder_site,
                            "holder_org_id": v.holder_org,
                            "updated_at": now,
                        }
                        for v in (self.asset_views[i] for i in sorted(self.touched))
                    ],
                )
                bump(fast, self.out.counts)
                fast.commit_here()
        for new, position in zip(self.events, positions, strict=True):
            view = self.asset_views[new.asset_id] if new.asset_id is not None else None
            if view is None:
                continue
            self.out.live.append(
                LiveEvent(
                    position=position,
                    time=new.event_time.isoformat(),
                    asset_id=view.id,
                    epc=view.epc,
                    category=view.category,
                    step=new.step,
                    state=new.state_to,
                    site_from=new.site_from,
                    site_to=new.site_to,
                )
            )


def seq_runs(pairs: Iterable[tuple[str, int]], gap: int = 64) -> list[tuple[str, int, int]]:
    """``(device, low, high)`` runs covering every pair; a new run starts where a device's
    numbers jump by more than ``gap`` (a queue flushed after an outage mixes old and new
    numbers: one range over both would read every sighting in between)."""
    runs: list[tuple[str, int, int]] = []
    for device, seq in sorted(pairs):
        if runs and runs[-1][0] == device and seq - runs[-1][2] <= gap:
            runs[-1] = (device, runs[-1][1], seq)
        else:
            runs.append((device, seq, seq))
    return runs


_LINK_KINDS = (wire.KIND_NDEF_URI, wire.KIND_QR)  # resolved by GIAI (see resolve.py)


@lru_cache(maxsize=1024)
def _holder(organisation: str, site: str) -> Holder:
    """One checked :class:`Holder` per (PGLN, GLN) pair: they repeat at every event."""
    return Holder(organisation, site)


@lru_cache(maxsize=4096)
def _ack_topic(site: str, device: str) -> str:
    return wire.topic(site, device, "ack")


# (step, state it leads to): a tap finding the asset already there is a repeat, not an error
_REACHED_BY = frozenset((step, t.to_state) for (_, step), t in TRANSITIONS.items())


def _already_done(state: AssetState, step: Step) -> bool:
    """A repeated tap: the asset is already in the state this step leads to."""
    return (step, state) in _REACHED_BY
