"""The bridge: two paho-mqtt 2.x clients (local readers, central platform) and one loop.

paho's network threads only put events on a queue; one thread (:meth:`Bridge.run`) owns
the outbox, its SQLite file and every decision, so the pure pieces (outbox, dedup, lots)
never see a lock. The path of a scan:

1. the local broker delivers it (QoS 1, persistent session, *manual* ack);
2. it is classified (:mod:`intake`) and written to the outbox in a group commit;
3. only then is it acknowledged to the local broker;
4. it is published to the central broker (QoS 1, MQTT 5) in outbox order, within the
   in-flight window; its message id is tracked until the PUBACK;
5. a PUBACK deletes it from disk; a failure reason code holds it and raises an alarm.
"""

from __future__ import annotations

import contextlib
import functools
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from reemploi.protocol.gateway_msgs import (
    KIND_HEALTH,
    KIND_LOT,
    KIND_SIGHTING,
    LotMovement,
    Position,
    encode_health,
    encode_lot_movement,
    encode_sighting,
    gateway_topic,
)
from reemploi.protocol.wire import Status, encode_status, offline_status, topic

from . import health as health_mod
from .central_link import LinkProblem
from .dedup import SightingMerger
from .intake import EVIDENCE, FORWARD, REPORT, STATUS, classify
from .links import Links
from .lots import LotDecision, LotRules, LotTracker
from .outbox import DEFER_DISK, Outbox
from .outbox_store import NewMessage, OutboxStore, StoreError, StoreFull, entry_size
from .settings import GatewaySettings

FIRMWARE = "gateway-0.1"
# a lot decision, its wall-clock (at, first_seen) and the position, not yet on disk
_UnsavedLot = tuple[LotDecision, tuple[float, float], Position | None]
BATCH = 2000
# what a SIGHUP reload applies (the rest needs a restart)
RELOADABLE = (
    "central_host", "central_port", "central_username", "central_password", "central_tls",
    "central_cafile", "central_certfile", "central_keyfile",
)  # fmt: skip


class Bridge:
    def __init__(
        self,
        settings: GatewaySettings,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        reload_settings: Callable[[], GatewaySettings] | None = None,
    ) -> None:
        self.s = settings
        self.clock = clock
        self.monotonic = monotonic
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.store = OutboxStore(settings.outbox_path, settings.synchronous)
        self.outbox = Outbox(max_bytes=settings.outbox_max_bytes, window=settings.window)
        entries, held = self.store.load()
        self.outbox.restore(entries, held)
        self.merger = SightingMerger(settings.gateway_id, settings.dedup_window_s)
        self.lots = LotTracker(
            LotRules(
                settings.lot_enter_rssi,
                settings.lot_exit_rssi,
                settings.lot_arrive_dwell_s,
                settings.lot_depart_after_s,
            )
        )
        self.position: Position | None = None  # last gpsd fix, None when lost
        self._position_mono = 0.0
        self.extra = health_mod.Extra()
        self.events: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.stopping = threading.Event()
        self.started = clock()
        self._pending_status: dict[str, tuple[str, bytes]] = {}
        self._last_health = 0.0
        self._held_since: float | None = monotonic() if self.outbox.held else None
        self._held_check_at = 0.0
        self._to_delete: list[int] = []
        self._deleted_at = 0.0
        self._disk_retry_at = 0.0
        self._unsaved: list[NewMessage] = []  # own messages a full disk refused
        # lot decisions with wall-clock (at, first_seen) and position, not yet on disk
        self._unsaved_lots: list[_UnsavedLot] = []
        self.reload_requested = False  # set by SIGHUP: read the settings file again
        self._reload_settings = reload_settings
        self.links = Links(settings, self.events)

    @property
    def local(self) -> mqtt.Client:
        return self.links.local

    @property
    def central(self) -> mqtt.Client:
        return self.links.central

    def _status_topic(self) -> str:
        return topic(self.s.site, self.s.gateway_id, "status")

    # ------------------------------------------------------------ loop

    def run(self) -> None:
        """Connect both sides and forward until :attr:`stopping` is set."""
        self.links.start()
        try:
            while not self.stopping.is_set():
                self.step(timeout=0.05)
        finally:
            self.shutdown()

    def step(self, timeout: float = 0.05) -> None:
        """Handle queued events, publish what the window allows, run the timers."""
        if self.reload_requested:
            self.reload()
        events = self._drain(timeout)
        inbound: list[tuple[int, str, bytes]] = []
        delivered: list[int] = []
        for event in events:
            name = event[0]
            if name == "in":
                if event[4] == self.links.local_gen:  # else: redelivered after a reconnect
                    inbound.append((event[1], event[2], event[3]))
            elif name == "puback":
                if event[3] == self.links.central_gen:  # else: a handle of an old client
                    delivered += self._on_puback(event[1], event[2])
            else:
                if inbound:  # keep the order between link events and messages
                    self._take_in(inbound)
                    inbound = []
                self._on_event(event)
        if inbound:
            self._take_in(inbound)
        self._to_delete += delivered
        mono = self.monotonic()
        if self._to_delete and (len(self._to_delete) >= 1000 or mono - self._deleted_at >= 0.2):
            self._delete_delivered(mono)
        self._pump()
        self._timers()

    def _drain(self, timeout: float) -> list[tuple[Any, ...]]:
        try:
            events = [self.events.get(timeout=timeout)]
        except queue.Empty:
            return []
        while len(events) < BATCH:
            try:
                events.append(self.events.get_nowait())
            except queue.Empty:
                break
        return events

    def _on_event(self, event: tuple[Any, ...]) -> None:
        name = event[0]
        now = self.clock()
        if name == "link":
            up, info, gen = event[1], event[2], event[3]
            if gen != self.links.central_gen:
                return  # the client replaced by a reload
            self.outbox.link_changed(up, now)
            if up:
                self.extra.central_error = self.extra.central_alarm = None
                if isinstance(info, int) and info > 0:
                    self.outbox.window = min(self.s.window, info)
                for device_topic, payload in self._pending_status.values():
                    self.central.publish(device_topic, payload, qos=1, retain=True)
                self._pending_status.clear()
                self._publish_health(now)
            elif isinstance(info, LinkProblem):
                self.extra.central_error, self.extra.central_alarm = info.text, info.alarm
        elif name == "local_link":
            self.extra.local_link = event[1]
        elif name == "down":
            self.local.publish(event[1], event[2], qos=1)
            self.extra.downlink += 1
        elif name == "ble":
            at = event[3] if len(event) > 3 else self.monotonic()
            self._lot_decisions(self.lots.sighting(event[1], event[2], at))
        elif name == "gps":
            self.position, self._position_mono = event[1], self.monotonic()
            self.extra.gps_fix = self.position.mode if self.position is not None else None
        elif name == "call":
            event[1]()

    def reload(self) -> None:
        """SIGHUP: read the settings again; new central settings → a new central client.

        What was in flight on the old client is queued again (its handles are void); the
        central side drops a message it already had by its key. An invalid file changes
        nothing and is reported in health.
        """
        self.reload_requested = False
        if self._reload_settings is None:
            return
        try:
            fresh = self._reload_settings()
        except (ValueError, OSError) as exc:  # pydantic's ValidationError is a ValueError
            self.extra.reload_error = f"rechargement refusé / reload refused: {exc}"[:300]
            return
        self.extra.reload_error = None
        self.extra.reloads += 1
        update = {name: getattr(fresh, name) for name in RELOADABLE}
        if all(getattr(self.s, name) == value for name, value in update.items()):
            return
        self.s = self.s.model_copy(update=update)
        self.outbox.requeue_inflight()
        self.outbox.link_changed(False, self.clock())
        self.extra.central_error = self.extra.central_alarm = None
        self.links.replace_central(self.s)

    # ------------------------------------------------------------ inbound

    def _take_in(self, inbound: list[tuple[int, str, bytes]]) -> None:
        """Store reader messages, then ack them locally; or leave them on the local broker.

        Once one reader message is deferred (budget reached, or the disk refused it),
        every later one is deferred too, so that none overtakes it: they come back, in
        order, when :meth:`_resume_local` reconnects.
        """
        now = self.clock()
        to_store: list[NewMessage] = []
        store_mids: list[int] = []
        scans = []
        evidence = 0
        pending = 0
        for mid, msg_topic, payload in inbound:
            intake = classify(self.s.site, self.s.gateway_id, msg_topic, payload, now)
            if intake.action in (STATUS, REPORT):
                self._relay_status(msg_topic, payload, intake.action == REPORT)
                self.local.ack(mid, 1)
                continue
            assert intake.message is not None
            size = entry_size(intake.message.topic, intake.message.payload)
            if self.outbox.deferring or not self.outbox.fits(pending + size):
                self.outbox.defer_local()  # left unacked on the local broker
                continue
            pending += size
            to_store.append(intake.message)
            store_mids.append(mid)
            if intake.action == EVIDENCE:
                evidence += 1
            elif intake.action == FORWARD and intake.scan is not None:
                scans.append(intake.scan)
        if not to_store:
            return
        if not self._store(to_store, now):
            self.outbox.defer_local(len(to_store), DEFER_DISK)
            return
        for mid in store_mids:
            self.local.ack(mid, 1)
        self.extra.evidence += evidence
        for scan in scans:
            self._sightings(self.merger.add(scan, now))

    def _store(self, messages: list[NewMessage], now: float, budget: bool = True) -> bool:
        """Write, then queue; False (nothing written) when the disk is full."""
        if not messages:
            return True
        try:
            entries = self.store.add_many(messages)
        except StoreFull as exc:
            self._disk_full(exc)
            return False
        self._disk_ok()
        for entry in entries:
            if entry is None:
                self.outbox.duplicate_seen()
            else:
                self.outbox.accept(entry, now, budget=budget)
        return True

    def _disk_full(self, exc: StoreError) -> None:
        if not self.extra.disk_full:
            self._disk_retry_at = self.monotonic() + self.s.disk_retry_s
        self.extra.disk_full = True
        self.extra.disk_error = str(exc)[:200]

    def _disk_ok(self) -> None:
        self.extra.disk_full = False
        self.extra.disk_error = None

    def _resume_local(self) -> None:
        """Reconnect to the local broker: it redelivers what we left unacknowledged."""
        self.outbox.resumed()
        self.extra.local_resumes += 1
        self.links.reconnect_local()

    def _delete_delivered(self, mono: float) -> None:
        try:
            self.store.delete_delivered(self._to_delete)
        except StoreFull as exc:  # kept for later: a delete needs room in the WAL too
            self._disk_full(exc)
            self._deleted_at = mono + self.s.disk_retry_s
            return
        self._to_delete, self._deleted_at = [], mono

    def _relay_status(self, device_topic: str, payload: bytes, report: bool = False) -> None:
        """A reader's status or report: retained upstream; while the central link is down
        the latest one per topic waits in memory and goes up at reconnection."""
        if report:
            self.extra.reports_relayed += 1
        else:
            self.extra.status_relayed += 1
        if self.outbox.link_up:
            self.central.publish(device_topic, payload, qos=1, retain=True)
        else:
            self._pending_status[device_topic] = (device_topic, payload)

    def _sightings(self, sightings: list[Any]) -> None:
        merged = [s for s in sightings if len({w.device for w in s.witnesses}) > 1]
        if not merged:
            return
        self.extra.merged_sightings += len(merged)
        out = gateway_topic(self.s.site, self.s.gateway_id, KIND_SIGHTING)
        now = self.clock()
        self._unsaved += [NewMessage(s.key, out, encode_sighting(s), now) for s in merged]
        self._save_own()

    def _lot_decisions(self, decisions: list[LotDecision]) -> None:
        if not decisions:
            return
        now, mono = self.clock(), self.monotonic()
        position = self.position
        if position is not None and mono - self._position_mono > self.s.gps_max_age_s:
            position = None  # gpsd went quiet: an old fix would place the lot wrongly
        for d in decisions:  # tracker times (monotonic) to wall-clock seconds
            wall = (now - (mono - d.at), now - (mono - d.first_seen))
            self._unsaved_lots.append((d, wall, position))
        self.extra.lot_movements += len(decisions)
        self.extra.lots_present = tuple(self.lots.present())
        self._save_own()

    def _save_own(self) -> None:
        """Store the gateway's own messages, oldest first; a full disk keeps them for later."""
        now = self.clock()
        if self._unsaved:
            if not self._store(self._unsaved, now, budget=False):
                return
            self._unsaved = []
        while self._unsaved_lots:
            try:
                entry = self.store.add_numbered(
                    "lot_seq", functools.partial(self._lot_message, self._unsaved_lots[0], now)
                )
            except StoreFull as exc:
                self._disk_full(exc)
                return
            self._disk_ok()
            self._unsaved_lots.pop(0)
            if entry is not None:
                self.outbox.accept(entry, now, budget=False)

    def _lot_message(self, item: _UnsavedLot, now: float, seq: int) -> NewMessage:
        d, (at, first_seen), position = item
        move = LotMovement(
            gateway=self.s.gateway_id,
            seq=seq,
            event=d.event,
            beacon=d.beacon,
            mode=self.s.mode,
            at=int(at * 1000),
            first_seen=int(first_seen * 1000),
            rssi=d.rssi_peak if d.rssi_peak > -127 else None,
            sightings=d.sightings,
            position=position,
        )
        out = gateway_topic(self.s.site, self.s.gateway_id, KIND_LOT)
        return NewMessage(move.key, out, encode_lot_movement(move), now)

    # ------------------------------------------------------------ outbound

    def _pump(self) -> None:
        batch = self.outbox.next_batch(self.clock())
        if not batch:
            return
        messages = self.store.messages([e.id for e in batch])
        for entry in batch:
            out_topic, payload = messages[entry.id]
            info = self.central.publish(out_topic, payload, qos=1)
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                break  # paho refused to queue it (should not happen with no queue limit)
            self.outbox.sent(entry.id, info.mid)

    def _on_puback(self, mid: int, refusal: str | None) -> list[int]:
        if mid not in self.outbox.inflight_mids():
            return []  # a status, health or downlink publish
        if refusal is not None:
            entry = self.outbox.refused(mid)
            held_topic = self.store.messages([entry.id]).get(entry.id, ("?", b""))[0]
            self.extra.last_refusal = f"{held_topic}: {refusal}"
            with contextlib.suppress(StoreError):  # not persisted: retried after a restart
                self.store.hold([entry.id])
            self._held_since = self._held_since or self.monotonic()
            return []
        return [self.outbox.acked(mid).id]

    # ------------------------------------------------------------ timers and health

    def _timers(self) -> None:
        mono = self.monotonic()
        self._lot_decisions(self.lots.tick(mono))
        self._sightings(self.merger.close_due(self.clock()))
        if self.outbox.resume_due():
            self._resume_local()  # room again in the budget
        elif self.extra.disk_full and mono >= self._disk_retry_at:
            self._disk_retry_at = mono + self.s.disk_retry_s
            self._save_own()  # a write attempt
            if self.outbox.deferring == DEFER_DISK:
                self._resume_local()  # the redelivered messages try the disk again
        if self.outbox.held:
            self._held_timer(mono)
        if mono - self._last_health >= self.s.health_interval_s:
            self._publish_health(self.clock())

    def _held_timer(self, mono: float) -> None:
        """Retry refused messages after ``held_retry_s``, or at once when an operator ran
        ``reemploi-gateway replay --release-held`` (it clears the flags in the file)."""
        released = False
        if mono >= self._held_check_at:
            self._held_check_at = mono + 1.0
            with contextlib.suppress(StoreError):
                released = self.store.held_count() == 0
        due = self._held_since is not None and mono - self._held_since >= self.s.held_retry_s
        if released or due:
            self.extra.held_retries += 1
            self.outbox.retry_held()
            if not released:
                with contextlib.suppress(StoreError):  # a full disk: retried in memory
                    self.store.release_held()
            self._held_since = None

    def health(self, now: float | None = None) -> dict[str, Any]:
        return health_mod.snapshot(
            site=self.s.site,
            gateway=self.s.gateway_id,
            mode=self.s.mode,
            outbox=self.outbox,
            extra=self.extra,
            quarantine=self.store.quarantined,
            now=self.clock() if now is None else now,
            started=self.started,
        )

    def _publish_health(self, now: float) -> None:
        self._last_health = self.monotonic()
        report = self.health(now)
        health_mod.write_file(self.s.health_path, report)  # best effort (full disk)
        if not self.outbox.link_up:
            return
        status = Status(
            self.s.gateway_id,
            fw=FIRMWARE,
            uptime=report["uptime_s"],
            queue=report["queue"],
            drops=report["drops"],
            clock=report["at"],
        )
        self.central.publish(self._status_topic(), encode_status(status), qos=1, retain=True)
        health_topic = gateway_topic(self.s.site, self.s.gateway_id, KIND_HEALTH)
        self.central.publish(health_topic, encode_health(report), qos=1, retain=True)

    # ------------------------------------------------------------ stop

    def shutdown(self) -> None:
        """Clean stop: say offline (retained), disconnect, close the outbox."""
        try:
            self.events.put(("noop",))
            report = self.health()
            health_mod.write_file(self.s.health_path, {**report, "state": "offline"})
            if self.outbox.link_up:
                info = self.central.publish(
                    self._status_topic(), offline_status(self.s.gateway_id), qos=1, retain=True
                )
                info.wait_for_publish(2.0)
        finally:
            self.links.stop()
            with contextlib.suppress(StoreError):
                self.store.delete_delivered(self._to_delete)
            self.store.close()
