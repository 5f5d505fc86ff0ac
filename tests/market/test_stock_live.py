"""Live stock, server side: the stock tables alone for the page's refresh (same filters),
and stock changes made in the marketplace (reservation, sale) published on the live feed
the stock page listens to (the ingest publishes taps on the same feed)."""

from __future__ import annotations

import asyncio
import json
import re

from reemploi.server.market.roles import Role

from .conftest import World
from .test_lots_vouchers_tap import ask_lot


def test_stock_rows_fragment_follows_the_filters(world: World) -> None:
    buyer = world.client(Role.COMPANY)
    rows = buyer.get("/m/stock/lignes?category=laptop&grade=A")
    assert rows.status_code == 200 and "<html" not in rows.text
    assert rows.headers["cache-control"] == "no-store"
    listed = re.findall(r'<tr data-row="(\d+)">', rows.text)
    assert len(listed) == 27  # 30 laptops less the solidarity share (10 %)
    none = buyer.get("/m/stock/lignes?category=laptop&grade=C")
    assert re.findall(r'<tr data-row="(\d+)">', none.text) == []
    page = buyer.get("/m/stock")
    assert 'data-live-rows="/m/stock/lignes"' in page.text and "stock-live.js" in page.text
    assert world.client(Role.CARRIER).get("/m/stock/lignes").status_code == 403


def test_reservation_and_sale_are_published_on_the_live_feed(world: World) -> None:
    hub = world.state.live  # type: ignore[attr-defined]
    buyer = world.client(Role.PUBLIC_BODY)
    lot = ask_lot(buyer, "lot-live-feed", 2)

    async def listen() -> list[dict[str, object]]:
        _loop, queue = entry = hub.subscribe()
        try:
            accepted = await asyncio.to_thread(buyer.post, f"/api/market/lots/{lot}/accept")
            assert accepted.status_code == 200
            first = json.loads(await asyncio.wait_for(queue.get(), 5))
            seller = world.client(Role.WORKSHOP)
            sold = await asyncio.to_thread(
                seller.post, f"/api/market/lots/{lot}/fulfil", json={"outcome": "sold"}
            )
            assert sold.status_code == 200
            second = json.loads(await asyncio.wait_for(queue.get(), 5))
            return [first, second]
        finally:
            hub.unsubscribe(entry)

    assert [m["type"] for m in asyncio.run(listen())] == ["stock", "stock"]
