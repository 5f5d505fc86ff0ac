"""HTTP routes: thin translations between HTTP and the read models."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import text

from reemploi.domain.custody import AssetState
from reemploi.domain.epcis import epcis_document

from .. import queries
from ..flows import health as flows_health
from .deps import ConnDep, StateDep

router = APIRouter(prefix="/api")

Limit = Annotated[int, Query(ge=1, le=1000, description="nombre maximal de lignes")]


@router.get("/health", summary="État du service")
def health(state: StateDep, conn: ConnDep) -> JSONResponse:
    db_ok = True
    try:
        conn.execute(text("SELECT 1"))
    except Exception:
        db_ok = False
    ingest = state.ingest
    mqtt: dict[str, Any] = {"configured": ingest is not None}
    if ingest is not None:
        mqtt.update(
            connected=ingest.connected.is_set(),
            queued=ingest.queue.qsize(),
            batches=ingest.batches,
            processed=ingest.processed,
            last_error=ingest.last_error,
        )
    series = flows_health(state.timeseries)
    ok = (
        db_ok
        and (ingest is None or ingest.connected.is_set())
        and series.get("status", "ok") in ("ok", "retrying")
    )
    body = {
        "status": "ok" if ok else "degraded",
        "database": db_ok,
        "mqtt": mqtt,
        "timeseries": series,
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/assets", summary="Rechercher des matériels")
def assets(
    conn: ConnDep,
    category: str | None = None,
    site: str | None = None,
    state: AssetState | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Limit = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    total, items = queries.list_assets(
        conn,
        category=category,
        site=site,
        state=state.value if state else None,
        q=q,
        limit=limit,
        offset=offset,
    )
    return {"total": total, "items": items}


@router.get("/assets/{ref:path}", summary="Un matériel, son détenteur et sa chaîne de garde")
def asset(conn: ConnDep, ref: str) -> dict[str, Any]:
    found = queries.get_asset(conn, ref)
    if found is None:
        raise HTTPException(404, f"Matériel introuvable : {ref}")
    return found


@router.get("/sites", summary="Sites du réseau")
def sites(conn: ConnDep) -> list[dict[str, Any]]:
    return queries.list_sites(conn)


@router.get("/stock", summary="Stock réemployable par site, catégorie et grade")
def stock(
    conn: ConnDep,
    category: str | None = None,
    site: str | None = None,
    grade: str | None = None,
) -> dict[str, Any]:
    rows = queries.stock(conn, category=category, site=site, grade=grade)
    return {"total": sum(r["units"] for r in rows), "items": rows}


@router.get("/events/recent", summary="Derniers événements de garde")
def recent(conn: ConnDep, limit: Limit = 30) -> list[dict[str, Any]]:
    return queries.recent_events(conn, limit)


@router.get("/epcis/events", summary="Export EPCIS 2.0 (EPCISDocument)")
def epcis_export(
    conn: ConnDep,
    asset_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> JSONResponse:
    events = queries.events_for_export(
        conn, asset_id=asset_id, since=since, until=until, limit=limit
    )
    document = epcis_document(events, datetime.now(UTC))
    return JSONResponse(document, media_type="application/ld+json")


@router.get("/ingest/stats", summary="Compteurs d'ingestion et motifs de refus")
def ingest_stats(conn: ConnDep) -> dict[str, Any]:
    return queries.ingest_stats(conn)


@router.get("/ingest/dead-letters", summary="Messages refusés, gardés comme preuve")
def dead_letters(
    conn: ConnDep, limit: Limit = 100, reason: str | None = None
) -> list[dict[str, Any]]:
    return queries.list_dead_letters(conn, limit, reason)


@router.get("/devices", summary="Lecteurs et passerelles")
def devices(conn: ConnDep) -> list[dict[str, Any]]:
    return queries.list_devices(conn)


@router.get("/live", summary="Flux en direct (server-sent events)")
async def live(state: StateDep) -> StreamingResponse:
    return StreamingResponse(
        state.live.stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


__all__ = ["asyncio", "router"]
