"""A small two-layer grid maze router (A* with turn and via costs).

Tracks are Manhattan (horizontal/vertical) on a 0.25 mm grid. Every obstacle is
rasterised, per track width class, into the cells where a track centre of another net
would violate the clearance; so every route found respects the clearance by
construction. KiCad's DRC checks the result independently.
"""

from __future__ import annotations

import heapq
import math
from array import array
from dataclasses import dataclass, field

PITCH = 0.25
CLEARANCE = 0.2
MARGIN = 0.01  # safety added to every clearance
EDGE_CLEARANCE = 0.5
VIA_DIAMETER = 0.6
VIA_DRILL = 0.3
WIDTHS = {"signal": 0.25, "medium": 0.4, "power": 0.5}
BLOCKED = -1

Shape = tuple  # ("rect", cx, cy, hw, hh) | ("circle", cx, cy, r) | ("seg", x1, y1, x2, y2, hw)


class RoutingError(RuntimeError):
    """A net could not be routed with the current placement."""


def _distance(shape: Shape, x: float, y: float) -> float:
    kind = shape[0]
    if kind == "rect":
        _, cx, cy, hw, hh = shape
        dx, dy = max(abs(x - cx) - hw, 0.0), max(abs(y - cy) - hh, 0.0)
        return math.hypot(dx, dy)
    if kind == "circle":
        _, cx, cy, r = shape
        return max(math.hypot(x - cx, y - cy) - r, 0.0)
    _, x1, y1, x2, y2, hw = shape
    vx, vy = x2 - x1, y2 - y1
    length2 = vx * vx + vy * vy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((x - x1) * vx + (y - y1) * vy) / length2))
    return max(math.hypot(x - (x1 + t * vx), y - (y1 + t * vy)) - hw, 0.0)


def _extent(shape: Shape) -> tuple[float, float, float, float]:
    kind = shape[0]
    if kind == "rect":
        return shape[1] - shape[3], shape[2] - shape[4], shape[1] + shape[3], shape[2] + shape[4]
    if kind == "circle":
        return shape[1] - shape[3], shape[2] - shape[3], shape[1] + shape[3], shape[2] + shape[3]
    hw = shape[5]
    return min(shape[1], shape[3]) - hw, min(shape[2], shape[4]) - hw, max(shape[1], shape[3]) + hw, \
        max(shape[2], shape[4]) + hw


def _shrunk(shape: Shape, by: float) -> Shape:
    """The shape reduced by ``by`` on every side: a track ending inside it overlaps the pad well."""
    if shape[0] == "rect":
        return ("rect", shape[1], shape[2], max(shape[3] - by, 0.0), max(shape[4] - by, 0.0))
    if shape[0] == "circle":
        return ("circle", shape[1], shape[2], max(shape[3] - by, 0.0))
    return (*shape[:5], max(shape[5] - by, 0.0))


@dataclass
class Route:
    net: int
    segments: list[tuple[float, float, float, float, float, int]] = field(default_factory=list)  # x1,y1,x2,y2,w,layer
    vias: list[tuple[float, float]] = field(default_factory=list)


class Router:
    def __init__(self, width: float, height: float) -> None:
        self.nx, self.ny = int(round(width / PITCH)) + 1, int(round(height / PITCH)) + 1
        n = self.nx * self.ny
        self.maps = {(c, layer): array("i", bytes(4 * n)) for c in WIDTHS for layer in (0, 1)}
        self.via_map = array("i", bytes(4 * n))
        self.no_via = bytearray(n)  # inside an SMD pad
        self.tht_net = array("i", bytes(4 * n))  # cells inside a through-hole pad -> net
        self.near_hole = bytearray(n)  # a via drilled here would be too close to a hole
        self.width, self.height = width, height
        for c, w in WIDTHS.items():
            self._block_edges(self.maps[c, 0], EDGE_CLEARANCE + w / 2)
            self._block_edges(self.maps[c, 1], EDGE_CLEARANCE + w / 2)
        self._block_edges(self.via_map, EDGE_CLEARANCE + VIA_DIAMETER / 2)

    # -- geometry ----------------------------------------------------------------------------
    def xy(self, idx: int) -> tuple[float, float]:
        return (idx % self.nx) * PITCH, (idx // self.nx) * PITCH

    def cells_near(self, shape: Shape, reach: float):
        x1, y1, x2, y2 = _extent(shape)
        i1, i2 = max(0, math.floor((x1 - reach) / PITCH)), min(self.nx - 1, math.ceil((x2 + reach) / PITCH))
        j1, j2 = max(0, math.floor((y1 - reach) / PITCH)), min(self.ny - 1, math.ceil((y2 + reach) / PITCH))
        for j in range(j1, j2 + 1):
            for i in range(i1, i2 + 1):
                d = _distance(shape, i * PITCH, j * PITCH)
                if d < reach:
                    yield j * self.nx + i, d

    def _block_edges(self, grid: array, reach: float) -> None:
        for j in range(self.ny):
            for i in range(self.nx):
                x, y = i * PITCH, j * PITCH
                if min(x, y, self.width - x, self.height - y) < reach:
                    grid[j * self.nx + i] = BLOCKED

    @staticmethod
    def _mark(grid: array, idx: int, net: int) -> None:
        cur = grid[idx]
        if cur == 0:
            grid[idx] = net
        elif cur != net:
            grid[idx] = BLOCKED

    def add_obstacle(self, shape: Shape, net: int, layers: tuple[int, ...], clearance: float = CLEARANCE) -> None:
        """Copper (or a hole) of ``net`` (0 = no net, blocks everyone) on ``layers``."""
        owner = net if net > 0 else BLOCKED
        for layer in layers:
            for c, w in WIDTHS.items():
                grid = self.maps[c, layer]
                for idx, _ in self.cells_near(shape, clearance + w / 2 + MARGIN):
                    self._mark(grid, idx, owner)
        for idx, _ in self.cells_near(shape, clearance + VIA_DIAMETER / 2 + MARGIN):
            self._mark(self.via_map, idx, owner)

    def add_keepout(self, shape: Shape, layers: tuple[int, ...], vias: bool = True) -> None:
        for layer in layers:
            for c, w in WIDTHS.items():
                for idx, _ in self.cells_near(shape, w / 2 + MARGIN):
                    self.maps[c, layer][idx] = BLOCKED
        if vias:
            for idx, _ in self.cells_near(shape, VIA_DIAMETER / 2 + MARGIN):
                self.via_map[idx] = BLOCKED

    def pad_cells(self, shape: Shape, net: int, layers: tuple[int, ...], smd: bool) -> list[tuple[int, int]]:
        """Register a pad; return its terminal cells (layer, idx)."""
        self.add_obstacle(shape, net, layers)
        cells: list[tuple[int, int]] = []
        for idx, d in self.cells_near(_shrunk(shape, 0.1), 1e-9):
            if d > 0:
                continue
            if smd:
                self.no_via[idx] = 1
            else:
                self.tht_net[idx] = net
            for layer in layers:
                cells.append((layer, idx))
        return cells

    # -- search ------------------------------------------------------------------------------
    def _passable(self, cls: str, layer: int, idx: int, net: int) -> bool:
        v = self.maps[cls, layer][idx]
        return v == 0 or v == net

    def _via_ok(self, cls: str, idx: int, net: int) -> bool:
        if self.tht_net[idx] == net:
            return True
        v = self.via_map[idx]
        return (v == 0 or v == net) and not self.no_via[idx] and self.tht_net[idx] == 0 \
            and not self.near_hole[idx]

    def add_hole(self, x: float, y: float, radius: float) -> None:
        """A drilled hole: no via centre closer than the hole-to-hole distance (0.25 mm)."""
        for idx, _ in self.cells_near(("circle", x, y, radius), 0.25 + VIA_DRILL / 2 + MARGIN):
            self.near_hole[idx] = 1

    def search(self, net: int, cls: str, sources: list[tuple[int, int]], targets: set[tuple[int, int]],
               max_expand: int = 400_000) -> list[tuple[int, int]]:
        nx, n = self.nx, self.nx * self.ny
        txs = [t[1] % nx for t in targets]
        tys = [t[1] // nx for t in targets]
        bx1, bx2, by1, by2 = min(txs), max(txs), min(tys), max(tys)

        def h(idx: int) -> float:
            i, j = idx % nx, idx // nx
            return max(bx1 - i, 0, i - bx2) + max(by1 - j, 0, j - by2)

        target_keys = {layer * n + idx for layer, idx in targets}
        best: dict[int, float] = {}
        parent: dict[int, int] = {}
        heap: list[tuple[float, float, int]] = []
        for layer, idx in sources:
            if not self._passable(cls, layer, idx, net):
                continue
            state = (layer * n + idx) * 5 + 4
            best[state] = 0.0
            parent[state] = -1
            heapq.heappush(heap, (h(idx), 0.0, state))
        steps = ((1, 0, 0), (-1, 0, 1), (nx, 1, 2), (-nx, 1, 3))
        expanded = 0
        while heap:
            _, g, state = heapq.heappop(heap)
            if g > best.get(state, math.inf):
                continue
            key, direction = divmod(state, 5)
            layer, idx = divmod(key, n)
            if key in target_keys:
                return self._unwind(parent, state, n)
            expanded += 1
            if expanded > max_expand:
                break
            i = idx % nx
            for delta, vertical, d in steps:
                if (delta == 1 and i == nx - 1) or (delta == -1 and i == 0):
                    continue
                nidx = idx + delta
                if nidx < 0 or nidx >= n or not self._passable(cls, layer, nidx, net):
                    continue
                cost = 1.0 if vertical == layer else 1.6
                if direction != 4 and direction != d:
                    cost += 2.0
                self._relax(heap, best, parent, state, ((layer * n + nidx) * 5) + d, g + cost, h(nidx))
            other = 1 - layer
            if self._via_ok(cls, idx, net) and self._passable(cls, other, idx, net):
                cost = 0.0 if self.tht_net[idx] == net else 12.0
                self._relax(heap, best, parent, state, ((other * n + idx) * 5) + 4, g + cost, h(idx))
        raise RoutingError(f"net {net}: no path ({expanded} cells explored)")

    @staticmethod
    def _relax(heap, best, parent, state, nstate, g, hv) -> None:
        if g < best.get(nstate, math.inf):
            best[nstate] = g
            parent[nstate] = state
            heapq.heappush(heap, (g + hv, g, nstate))

    @staticmethod
    def _unwind(parent: dict[int, int], state: int, n: int) -> list[tuple[int, int]]:
        path = []
        while state != -1:
            layer, idx = divmod(state // 5, n)
            if not path or path[-1] != (layer, idx):
                path.append((layer, idx))
            state = parent[state]
        path.reverse()
        return path

    # -- committing ---------------------------------------------------------------------------
    def commit(self, net: int, cls: str, path: list[tuple[int, int]], route: Route) -> None:
        w = WIDTHS[cls]
        run_start = 0
        for k in range(1, len(path) + 1):
            end_of_run = k == len(path) or path[k][0] != path[run_start][0] or \
                (k - run_start >= 2 and not self._collinear(path[run_start][1], path[k - 1][1], path[k][1]))
            if not end_of_run:
                continue
            a, b = path[run_start][1], path[k - 1][1]
            layer = path[run_start][0]
            if a != b:
                (x1, y1), (x2, y2) = self.xy(a), self.xy(b)
                route.segments.append((x1, y1, x2, y2, w, layer))
                self.add_obstacle(("seg", x1, y1, x2, y2, w / 2), net, (layer,))
            if k < len(path) and path[k][0] != layer:
                x, y = self.xy(path[k][1])
                if self.tht_net[path[k][1]] != net:
                    route.vias.append((x, y))
                    self.add_obstacle(("circle", x, y, VIA_DIAMETER / 2), net, (0, 1))
                    self.add_hole(x, y, VIA_DRILL / 2)
                run_start = k
            else:
                run_start = k - 1 if k < len(path) else k
        # a run restarting at a corner reuses the corner cell, see _collinear

    def _collinear(self, a: int, b: int, c: int) -> bool:
        ax, ay = a % self.nx, a // self.nx
        bx, by = b % self.nx, b // self.nx
        cx, cy = c % self.nx, c // self.nx
        return (ax == bx == cx) or (ay == by == cy)
