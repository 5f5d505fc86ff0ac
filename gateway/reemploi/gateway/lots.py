"""Lot arrival and departure from BLE beacon sightings, pure: the clock is passed in.

One small state machine per beacon, with RSSI hysteresis (a lot must come closer than
``enter_rssi`` to arrive and only counts as gone once nothing stronger than
``exit_rssi`` was heard for ``depart_after`` seconds) and dwell (the beacon must stay
strong for ``arrive_dwell`` seconds: a truck driving past the depot gate is not an
arrival). RSSI is smoothed with an exponential moving average so one lucky packet does
not decide anything.

Transitions::

    state     input                               next      emits
    --------  ----------------------------------  --------  --------
    absent    sighting, smoothed >= enter          arriving
    arriving  sighting, smoothed >= enter, dwell   present   arrived
    arriving  sighting, smoothed < exit            absent
    arriving  tick, silent for depart_after        absent
    present   sighting, smoothed >= exit           present   (refreshes last_strong)
    present   tick, no strong sighting for
              depart_after                         absent    departed

Times are seconds on a clock that never goes back (the adapter uses a monotonic clock);
a sighting earlier than the last sighting is treated as at the last one. Sightings carry
the time they were heard, so one may be handled just after a later ``tick``: ticks and
sightings keep separate clamps, and a tick never moves a sighting's time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ABSENT = "absent"
ARRIVING = "arriving"
PRESENT = "present"

ARRIVED = "arrived"
DEPARTED = "departed"


@dataclass(frozen=True)
class LotRules:
    enter_rssi: int = -75
    exit_rssi: int = -88
    arrive_dwell: float = 10.0
    depart_after: float = 60.0
    smoothing: float = 0.3  # weight of the newest RSSI in the moving average

    def __post_init__(self) -> None:
        if self.exit_rssi >= self.enter_rssi:
            raise ValueError("exit_rssi must be lower than enter_rssi (hysteresis)")
        if not 0 < self.smoothing <= 1:
            raise ValueError("smoothing must be in (0, 1]")


@dataclass(frozen=True)
class LotDecision:
    event: str  # arrived / departed
    beacon: str
    at: float  # tracker clock
    first_seen: float  # arrival: when the beacon became strong; departure: last strong
    rssi_peak: int
    sightings: int


@dataclass
class _Beacon:
    state: str = ABSENT
    smoothed: float | None = None
    since: float = 0.0
    last_heard: float = 0.0
    last_strong: float = 0.0
    peak: int = -127
    sightings: int = 0


@dataclass
class LotTracker:
    rules: LotRules = field(default_factory=LotRules)
    _beacons: dict[str, _Beacon] = field(default_factory=dict)
    _now: float = float("-inf")
    _tick_now: float = float("-inf")

    def sighting(self, beacon: str, rssi: int, now: float) -> list[LotDecision]:
        now = self._clock(now)
        b = self._beacons.setdefault(beacon, _Beacon())
        if b.smoothed is None or now - b.last_heard > self.rules.depart_after:
            b.smoothed = float(rssi)
        else:
            a = self.rules.smoothing
            b.smoothed = a * rssi + (1 - a) * b.smoothed
        b.last_heard = now
        b.sightings += 1
        b.peak = max(b.peak, rssi)
        r = self.rules
        if b.state == ABSENT:
            if b.smoothed >= r.enter_rssi:
                b.state, b.since, b.last_strong = ARRIVING, now, now
                b.peak, b.sightings = rssi, 1
            else:
                b.peak, b.sightings = -127, 0
            return []
        if b.state == ARRIVING:
            if b.smoothed < r.exit_rssi:
                self._reset(b)
                return []
            if b.smoothed >= r.enter_rssi:
                b.last_strong = now
                if now - b.since >= r.arrive_dwell:
                    b.state = PRESENT
                    return [LotDecision(ARRIVED, beacon, now, b.since, b.peak, b.sightings)]
            return []
        if b.smoothed >= r.exit_rssi:  # present
            b.last_strong = now
        return []

    def tick(self, now: float) -> list[LotDecision]:
        """Advance time: decides departures (and drops half-arrivals that went silent)."""
        self._tick_now = now = max(self._tick_now, now)
        decisions = []
        for beacon, b in list(self._beacons.items()):
            if b.state == PRESENT and now - b.last_strong >= self.rules.depart_after:
                decisions.append(
                    LotDecision(DEPARTED, beacon, now, b.last_strong, b.peak, b.sightings)
                )
                del self._beacons[beacon]
            elif (b.state == ARRIVING and now - b.last_heard >= self.rules.depart_after) or (
                b.state == ABSENT and now - b.last_heard >= self.rules.depart_after
            ):
                del self._beacons[beacon]
        return decisions

    def state_of(self, beacon: str) -> str:
        b = self._beacons.get(beacon)
        return b.state if b else ABSENT

    def present(self) -> list[str]:
        return sorted(k for k, b in self._beacons.items() if b.state == PRESENT)

    def _reset(self, b: _Beacon) -> None:
        b.state, b.peak, b.sightings = ABSENT, -127, 0

    def _clock(self, now: float) -> float:
        self._now = max(self._now, now)
        return self._now
