"""The demo's storyline: owners declare equipment at collection points, staff tap it at
the counter, workshops receive, inspect, wipe, refurbish and list it, some goes to the
recycler. Which tag to tap next is chosen from the live ledger, as a person would."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from reemploi.domain.custody import AssetState
from reemploi.domain.digital_link import giai_uri

from ..db.tables import assets
from ..registry import Declaration, declare_asset
from .territory import CATEGORY_MIX, DEVICES, RESOLVER, SITES


@dataclass(frozen=True)
class Tap:
    device: str
    site: str
    uri: str  # the Digital Link on the tag (NDEF URI record)


_S = AssetState
SITE_KIND = {s.id: s.kind for s in SITES}
OWNER_OF_SITE = {s.id: s.organisation_id for s in SITES}
# For each reader role: which states it takes, and from where (None = anywhere).
ROLE_SOURCES: dict[str, tuple[AssetState, ...]] = {
    "counter": (_S.DECLARED,),
    "dock": (_S.COLLECTED,),
    "diagnostic": (_S.RECEIVED,),
    "erasure": (_S.INSPECTED,),
    "repair": (_S.DATA_ERASED,),
    "shop": (_S.REFURBISHED,),
}


def label_uri(epc_giai: str) -> str:
    """The tag's URI: the asset's GIAI on the platform's resolver."""
    return giai_uri(epc_giai, RESOLVER)


class Storyline:
    def __init__(self, engine: Engine, seed: int | None = None) -> None:
        self.engine = engine
        self.rng = random.Random(seed)

    def next_serial(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(assets)).scalar_one()) + 1

    def declare(self, count: int = 1) -> list[str]:
        """An IT manager declares ``count`` items at a random collection point."""
        cps = [s for s in SITES if s.kind == "collection_point"]
        where = self.rng.choice(cps)
        made: list[str] = []
        with self.engine.begin() as conn:
            base = int(conn.execute(select(func.count()).select_from(assets)).scalar_one())
            for i in range(count):
                cat, _share, weight, models = self._category()
                giai = f"9521234{cat[:3].upper()}{base + i + 1:06d}"
                declare_asset(
                    conn,
                    Declaration(
                        epc=giai_uri(giai),
                        category=cat,
                        owner_id=where.organisation_id,
                        site_id=where.id,
                        description=self.rng.choice(models),
                        serial=f"SN{self.rng.randrange(10**8):08d}",
                        weight_kg=weight,
                    ),
                    datetime.now(UTC),
                )
                made.append(giai)
        return made

    def _category(self) -> tuple[str, float, float, list[str]]:
        r = self.rng.random()
        acc = 0.0
        for entry in CATEGORY_MIX:
            acc += entry[1]
            if r <= acc:
                return entry
        return CATEGORY_MIX[0]

    def next_tap(self) -> Tap | None:
        """Pick a reader and an item it would plausibly see now."""
        devices = list(DEVICES)
        self.rng.shuffle(devices)
        with self.engine.connect() as conn:
            for device in devices:
                kind = SITE_KIND[device.site_id]
                if kind == "recycler":
                    states: tuple[AssetState, ...] = (_S.INSPECTED,)
                    cond = assets.c.holder_site_id == "tri-sassenage"
                elif device.role == "counter":
                    states, cond = (
                        ROLE_SOURCES["counter"],
                        assets.c.holder_site_id == device.site_id,
                    )
                elif device.role == "dock":
                    states, cond = ROLE_SOURCES["dock"], assets.c.state == _S.COLLECTED.value
                else:
                    states = ROLE_SOURCES[device.role]
                    cond = assets.c.holder_site_id == device.site_id
                row = conn.execute(
                    select(assets.c.epc)
                    .where(cond, assets.c.state.in_([s.value for s in states]))
                    .order_by(assets.c.updated_at)
                    .limit(5)
                ).all()
                if row:
                    epc = self.rng.choice(row).epc
                    giai = epc.rsplit("/", 1)[1]
                    return Tap(device.id, device.site_id, label_uri(giai))
        return None
