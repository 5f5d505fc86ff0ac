"""The benchmark's table (French first, English beside) and the target verdicts."""

from __future__ import annotations

from typing import Any

from _fleet import percentile
from _trace import render as render_stages

BURST = "burst"
CEILING = "ceiling"
THROUGHPUT_RATIO_TARGET = 0.8
P99_TARGET_MS = 3.0
P99_TARGET_RATE = 1000

LABELS = {
    "ceiling": "plafond brut / raw ceiling (paho + SQLite FULL)",
    "real-sqlite": "système réel / real system (SQLite FULL)",
    "real-postgres": "système réel / real system (PostgreSQL)",
}


def _find(measures: list[Any], system: str, phase: str) -> Any | None:
    for m in measures:
        if m.system == system and m.phase == phase:
            return m
    return None


def targets(measures: list[Any]) -> list[dict[str, Any]]:
    """Each target for each real system: value, threshold, met (bool)."""
    out: list[dict[str, Any]] = []
    ceiling = _find(measures, CEILING, BURST)
    systems = sorted({m.system for m in measures if m.system != CEILING})
    for system in systems:
        real = _find(measures, system, BURST)
        if real is not None and ceiling is not None:
            ratio = real.run.throughput / max(ceiling.run.throughput, 1e-9)
            out.append(
                {
                    "system": system,
                    "target": f"débit ≥ {THROUGHPUT_RATIO_TARGET}× plafond",
                    "value": round(ratio, 3),
                    "met": ratio >= THROUGHPUT_RATIO_TARGET,
                }
            )
        paced = _find(measures, system, f"paced-{P99_TARGET_RATE}")
        if paced is not None:
            p99 = percentile(paced.run.latencies_ms, 99)
            out.append(
                {
                    "system": system,
                    "target": f"p99 ≤ {P99_TARGET_MS} ms à {P99_TARGET_RATE}/s",
                    "value": round(p99, 3),
                    "met": p99 <= P99_TARGET_MS,
                }
            )
    return out


def _latency(m: Any | None) -> str:
    if m is None:
        return "—"
    lat = m.run.latencies_ms
    return f"{percentile(lat, 50):.2f} / {percentile(lat, 99):.2f}"


def _stages(measures: list[Any]) -> list[str]:
    """With --trace: each traced phase's latency by stage, then a blank line."""
    out: list[str] = []
    for m in measures:
        if m.stages:
            title = f"Latence par étape / latency by stage — {m.system}, {m.phase}:"
            out += render_stages(title, m.stages)
    return [*out, ""] if out else []


def _cpu(m: Any | None) -> str:
    if m is None or m.cpu is None:
        return "—"
    system, readers, broker = m.cpu.per_scan_us(m.run.scans)
    return f"{system:.0f} / {readers:.0f} / {broker:.0f}"


def _counts(measures: list[Any], system: str) -> str:
    parts = []
    for m in measures:
        if m.system != system:
            continue
        run = m.run
        text = f"{run.acked_once}/{run.scans} acks, {run.acked_twice} doubles, {m.stored} lignes"
        if m.events is not None:
            text += f", {m.events} év."
        parts.append(text + (" ✗" if m.problems else " ✓"))
    return " | ".join(parts)


def render_table(measures: list[Any], context: dict[str, Any]) -> str:
    systems = [s for s in LABELS if any(m.system == s for m in measures)]
    rates = context["rates"]
    ceiling = _find(measures, CEILING, BURST)
    head = [
        "système / system",
        f"débit max / max throughput ({context['scans']} lectures), /s",
        "× plafond / ceiling",
        *[f"p50 / p99 à {r}/s (ms)" for r in rates],
    ]
    rows: list[list[str]] = []
    for system in systems:
        burst = _find(measures, system, BURST)
        tput = burst.run.throughput if burst else float("nan")
        ratio = tput / ceiling.run.throughput if ceiling and burst else float("nan")
        rows.append(
            [
                LABELS[system],
                f"{tput:,.0f}".replace(",", " "),
                f"{ratio:.2f}",
                *[_latency(_find(measures, system, f"paced-{r}")) for r in rates],
            ]
        )
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [
        "",
        "Ingestion durable / durable ingest — lecture → Mosquitto → registre → ack",
        f"{context['readers']} lecteurs, QoS 1, TCP_NODELAY ; {context['broker']} ;"
        f" écriture du registre / ledger writer : {context.get('writer', 'process')} ;"
        f" {context['machine']} ; {context['when']}",
        "",
        line(head),
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
        *[line(r) for r in rows],
        "",
        "Comptes (par phase : débit, puis chaque rythme) / counts (per phase):",
        *[f"  {s}: {_counts(measures, s)}" for s in systems],
        "",
        "CPU par lecture, phase de débit (µs) : système testé / lecteurs simulés / broker —"
        " CPU per scan, throughput phase:",
        *[f"  {s}: {_cpu(_find(measures, s, BURST))}" for s in systems],
        "",
        *_stages(measures),
        "Objectifs / targets:",
    ]
    for t in targets(measures):
        verdict = "atteint / met" if t["met"] else "NON atteint / not met"
        out.append(f"  {t['system']}: {t['target']} → {t['value']} : {verdict}")
    bad = [m for m in measures if m.problems]
    for m in bad:
        out.append(f"  ERREUR {m.system} {m.phase}: {'; '.join(m.problems)}")
    if not bad:
        out.append("  Rien de perdu ni de doublé / nothing lost or doubled.")
    return "\n".join(out) + "\n"
