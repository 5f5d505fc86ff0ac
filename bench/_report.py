"""The benchmark's table (French first, English beside) and the target verdicts."""

from __future__ import annotations

import statistics
from typing import Any

from _fleet import percentile
from _trace import render as render_stages

BURST = "burst"
CEILING = "ceiling"
CEILING_POSTGRES = "ceiling-postgres"  # --postgres: PostgreSQL's own floor, not a target
CEILINGS = (CEILING, CEILING_POSTGRES)
THROUGHPUT_RATIO_TARGET = 0.8
P99_TARGET_MS = 3.0
P99_TARGET_RATE = 1000

LABELS = {
    "ceiling": "plafond brut / raw ceiling (paho + SQLite FULL)",
    "ceiling-postgres": "plafond brut PostgreSQL / raw ceiling (paho + PostgreSQL)",
    "real-sqlite": "système réel / real system (SQLite FULL)",
    "real-postgres": "système réel / real system (PostgreSQL)",
}


def _rounds(measures: list[Any], system: str, kind: str) -> list[Any]:
    return sorted(
        (m for m in measures if m.system == system and m.phase == kind), key=lambda m: m.round
    )


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def _p99(m: Any) -> float:
    return percentile(m.run.latencies_ms, 99)


def _ratios(measures: list[Any], system: str) -> list[float]:
    """Throughput ÷ the ceiling's, round by round (each ceiling ran just before)."""
    ceilings = {m.round: m for m in _rounds(measures, CEILING, BURST)}
    return [
        m.run.throughput / max(ceilings[m.round].run.throughput, 1e-9)
        for m in _rounds(measures, system, BURST)
        if m.round in ceilings
    ]


def targets(measures: list[Any]) -> list[dict[str, Any]]:
    """Each target for each real system: the median over rounds, each round's value,
    threshold, met (bool)."""
    out: list[dict[str, Any]] = []
    systems = sorted({m.system for m in measures if m.system not in CEILINGS})
    for system in systems:
        ratios = _ratios(measures, system)
        if ratios:
            value = _median(ratios)
            out.append(
                {
                    "system": system,
                    "target": f"débit ≥ {THROUGHPUT_RATIO_TARGET}× plafond",
                    "value": round(value, 3),
                    "rounds": [round(r, 3) for r in ratios],
                    "met": value >= THROUGHPUT_RATIO_TARGET,
                }
            )
        paced = _rounds(measures, system, f"paced-{P99_TARGET_RATE}")
        if paced:
            p99s = [_p99(m) for m in paced]
            value = _median(p99s)
            out.append(
                {
                    "system": system,
                    "target": f"p99 ≤ {P99_TARGET_MS} ms à {P99_TARGET_RATE}/s",
                    "value": round(value, 3),
                    "rounds": [round(v, 3) for v in p99s],
                    "met": value <= P99_TARGET_MS,
                }
            )
    return out


def references(measures: list[Any]) -> list[dict[str, Any]]:
    """With --postgres: the PostgreSQL ceiling's p99 at the target's rate — the least
    latency any system committing each batch to PostgreSQL gets on this host (median
    over rounds, each round's value)."""
    paced = _rounds(measures, CEILING_POSTGRES, f"paced-{P99_TARGET_RATE}")
    if not paced:
        return []
    p99s = [_p99(m) for m in paced]
    return [
        {
            "system": CEILING_POSTGRES,
            "figure": f"p99 à {P99_TARGET_RATE}/s",
            "value": round(_median(p99s), 3),
            "rounds": [round(v, 3) for v in p99s],
            "above_target": _median(p99s) > P99_TARGET_MS,
        }
    ]


def _each_round(values: list[float]) -> str:
    """`` (médiane de / median of a, b, c)`` after a median of several rounds."""
    if len(values) < 2:
        return ""
    return " (médiane de / median of " + ", ".join(str(v) for v in values) + ")"


def _latency(rounds: list[Any]) -> str:
    if not rounds:
        return "—"
    p50 = _median([percentile(m.run.latencies_ms, 50) for m in rounds])
    return f"{p50:.2f} / {_median([_p99(m) for m in rounds]):.2f}"


def _median_round(rounds: list[Any]) -> Any | None:
    """The round whose p99 is the median one (the lower middle for an even count)."""
    ordered = sorted(rounds, key=_p99)
    return ordered[(len(ordered) - 1) // 2] if ordered else None


def _transport(context: dict[str, Any]) -> str:
    if context.get("postgres_transport") == "unix socket":
        return "sa socket Unix (même hôte)"
    return "TCP sur 127.0.0.1"


def _stages(measures: list[Any]) -> list[str]:
    """With --trace: latency by stage of each traced phase (its median round)."""
    out: list[str] = []
    keys = sorted(
        {(m.system, m.phase) for m in measures if m.stages},
        key=lambda k: (k[0], int(k[1].rsplit("-", 1)[-1])),  # paced-500 before paced-1000
    )
    for system, kind in keys:
        m = _median_round([r for r in _rounds(measures, system, kind) if r.stages])
        if m is not None:
            title = f"Latence par étape / latency by stage — {system}, {kind} (manche {m.round}):"
            out += render_stages(title, m.stages)
    return [*out, ""] if out else []


def _cpu(rounds: list[Any]) -> str:
    per_scan = [m.cpu.per_scan_us(m.run.scans) for m in rounds if m.cpu is not None]
    if not per_scan:
        return "—"
    system, readers, broker, database = (_median([c[i] for c in per_scan]) for i in range(4))
    shown = f"{system:.0f} / {readers:.0f} / {broker:.0f}"
    return shown + (f" / {database:.0f}" if database else "")


def _per_round(measures: list[Any], systems: list[str], rates: list[int]) -> list[str]:
    rounds = sorted({m.round for m in measures})
    if len(rounds) < 2:
        return []
    by = {(m.system, m.phase, m.round): m for m in measures}
    out = ["Par manche / per round (débit /s, × plafond ; p99 ms à chaque rythme):"]
    for number in rounds:
        ceiling = by.get((CEILING, BURST, number))
        cells = []
        for system in systems:
            burst = by.get((system, BURST, number))
            text = f"{system} {burst.run.throughput:,.0f}".replace(",", " ") if burst else system
            if burst is not None and ceiling is not None and system != CEILING:
                text += f" ({burst.run.throughput / ceiling.run.throughput:.2f})"
            for rate in rates:
                paced = by.get((system, f"paced-{rate}", number))
                if paced is not None:
                    text += f", {_p99(paced):.2f}"
            cells.append(text)
        out.append(f"  {number}: " + " | ".join(cells))
    return [*out, ""]


TAIL_THRESHOLDS_MS = (1.0, 2.0, 3.0)


def tail_shares(latencies_ms: list[float]) -> list[float]:
    """Share (%) of the acks at or above each of :data:`TAIL_THRESHOLDS_MS`."""
    n = max(len(latencies_ms), 1)
    return [100.0 * sum(1 for x in latencies_ms if x >= t) / n for t in TAIL_THRESHOLDS_MS]


def _tail_shape(measures: list[Any], systems: list[str], rate: int) -> list[str]:
    """What a p99 is made of, at ``rate``: the share of acks past 1, 2 and 3 ms (median
    over rounds). A p99 over the target can come from a few long stalls (a small share
    past 2 ms, all of it past 3) or from a second mode of slow batches (a large share past
    2 ms): the two call for different remedies."""
    rows = []
    for system in systems:
        rounds = _rounds(measures, system, f"paced-{rate}")
        if not rounds:
            continue
        shares = [tail_shares(m.run.latencies_ms) for m in rounds]
        cells = [_median([s[i] for s in shares]) for i in range(len(TAIL_THRESHOLDS_MS))]
        text = " ; ".join(
            f"≥ {t:g} ms {c:.1f} %" for t, c in zip(TAIL_THRESHOLDS_MS, cells, strict=True)
        )
        rows.append(f"  {system}: {text}")
    if not rows:
        return []
    title = (
        f"Forme de la traîne à {rate}/s (part des acks au-delà de chaque seuil, médiane des"
        f" manches) / shape of the tail at {rate}/s (share of acks past each threshold,"
        " median of the rounds):"
    )
    return [title, *rows, ""]


def _outside(measures: list[Any], systems: list[str], rate: int) -> list[str]:
    """The rest of the machine during the phases at ``rate``: CPU of every process outside
    the bench and of the kernel's work no process is charged for (interrupts, softirqs:
    the loopback network, block I/O), and time stolen by the hypervisor, µs per scan
    (= ms per second at 1000/s), median of the rounds. Not zero on a quiet host, but a
    service left running or a busy neighbour shows here before it is taken for the
    system's latency."""
    rows = []
    for system in systems:
        rounds = [m for m in _rounds(measures, system, f"paced-{rate}") if m.cpu is not None]
        if not rounds:
            continue
        values = [m.cpu.outside_per_scan_us(m.run.scans) for m in rounds]
        outside, steal = (_median([v[i] for v in values]) for i in range(2))
        rows.append(f"  {system}: {outside:.0f} / {steal:.0f}")
    if not rows:
        return []
    title = (
        f"Hors banc à {rate}/s (µs par lecture, médiane des manches) : autres processus et"
        " travail du noyau hors processus (interruptions, E/S) / temps volé par"
        f" l'hyperviseur — outside the bench at {rate}/s (µs per scan, median of the"
        " rounds): other processes and the kernel's own work (interrupts, I/O) / time"
        " stolen by the hypervisor:"
    )
    return [title, *rows, ""]


def _collector(measures: list[Any], systems: list[str]) -> list[str]:
    """What the systems' garbage collectors did during the phases (bench/_sut.py,
    GcWatch): a full collection stops a system for tens of ms, which its p99 would show
    as its own slowness. Every system freezes its start-up heap first."""
    known = [m for m in measures if m.gc is not None]
    if not known:
        return []
    unfrozen = sorted({m.system for m in known if not m.gc.get("frozen")})
    parts = []
    for system in systems:
        full = [m for m in known if m.system == system and m.gc.get("full_collections")]
        if full:
            count = sum(m.gc["full_collections"] for m in full)
            ms = sum(m.gc["full_ms"] for m in full)
            phases = ", ".join(f"{m.phase} #{m.round}" for m in full)
            parts.append(f"{system} {count} ({ms:.0f} ms ; {phases})")
    text = "; ".join(parts) if parts else "aucune / none"
    lines = [
        "Ramasse-miettes des systèmes testés, collections complètes pendant les phases /"
        f" systems' garbage collector, full collections during the phases: {text}"
    ]
    if unfrozen:
        lines.append(
            "  tas de démarrage NON gelé / start-up heap NOT frozen: " + ", ".join(unfrozen)
        )
    return [*lines, ""]


def _probe(context: dict[str, Any]) -> list[str]:
    """The host's speed at the start and end of the run (bench/_cpu.cpu_probe_ms)."""
    probe = context.get("cpu_probe_ms")
    if not probe:
        return []
    (c0, m0), (c1, m1) = probe["start"], probe["end"]
    return [
        "Étalon processeur (Python fixe, à comparer d'un passage à l'autre) : calcul"
        f" {c0:.1f} → {c1:.1f} ms, mémoire {m0:.1f} → {m1:.1f} ms (début → fin) / CPU"
        " probe (fixed Python, to compare between runs): compute, memory (start → end)"
    ]


def _wakeups(context: dict[str, Any]) -> list[str]:
    """What waking a process cost at the start and end of the run (bench/_cpu.wakeup_probe):
    the late wake-ups of the host land on some scans of every system."""
    probe = context.get("wakeup_probe")
    if not probe:
        return []
    a, b = probe["start"], probe["end"]
    return [
        f"Sonde de réveil (aller-retour entre deux processus, un par ms, {a['round_trips']}"
        f" fois) : p50 {a['p50_us']:.0f} → {b['p50_us']:.0f} µs, p99 {a['p99_us']:.0f} →"
        f" {b['p99_us']:.0f} µs, ≥ 1 ms : {a['slow']} → {b['slow']} (début → fin) / wake-up"
        " probe (round trip between two processes, one per ms): p50, p99, round trips of"
        " 1 ms or more (start → end)"
    ]


def _idle(context: dict[str, Any]) -> list[str]:
    """How idle cores wait (bench/_cpu.idle_policy): it sets the cost of every wake-up."""
    idle = context.get("cpu_idle")
    if not idle or not idle.get("driver"):
        return []
    poll = idle.get("halt_poll_ns")
    polling = (
        f", attente active avant l'arrêt {poll / 1000:g} µs / halt polling {poll / 1000:g} µs"
        if poll is not None
        else ""
    )
    return [
        f"Veille des cœurs / CPU idle : {idle['driver']} ({idle.get('governor') or '?'})" + polling
    ]


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
    head = [
        "système / system",
        f"débit max / max throughput ({context['scans']} lectures), /s"
        + (" — médiane / median" if len({m.round for m in measures}) > 1 else ""),
        "× plafond / ceiling",
        *[f"p50 / p99 à {r}/s (ms)" for r in rates],
    ]
    rows: list[list[str]] = []
    for system in systems:
        tput = _median([m.run.throughput for m in _rounds(measures, system, BURST)])
        ratio = 1.0 if system == CEILING else _median(_ratios(measures, system))
        rows.append(
            [
                LABELS[system],
                f"{tput:,.0f}".replace(",", " "),
                f"{ratio:.2f}",
                *[_latency(_rounds(measures, system, f"paced-{r}")) for r in rates],
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
        *_probe(context),
        *_wakeups(context),
        *_idle(context),
        f"Rythmes / paced: {context['paced_seconds']:g} s mesurées après"
        f" {context.get('warmup_seconds', 0):g} s de mise en route au même rythme (lectures"
        " acquittées et comptées, hors latences) / measured after a warm-up at the same pace"
        " (acked and counted, not in the latencies)",
        *(
            [
                f"PostgreSQL : réglages par défaut, joint par {_transport(context)}, journal"
                f" recyclé avant mesure ({context['postgres_wal_segments_ready']} segments),"
                " tables nettoyées (VACUUM ANALYZE) après la préparation de chaque phase /"
                " defaults, write-ahead log recycled before measuring, as in a cluster in"
                " service, tables vacuumed and analysed after each phase's staging"
            ]
            if context.get("postgres_wal_segments_ready")
            else []
        ),
        "",
        line(head),
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
        *[line(r) for r in rows],
        "",
        "Comptes (par phase : débit, puis chaque rythme) / counts (per phase):",
        *[f"  {s}: {_counts(measures, s)}" for s in systems],
        "",
        "CPU par lecture, phase de débit (µs) : système testé / lecteurs simulés / broker"
        " [/ serveur PostgreSQL] — CPU per scan, throughput phase: system under test /"
        " simulated readers / broker [/ PostgreSQL server]:",
        *[f"  {s}: {_cpu(_rounds(measures, s, BURST))}" for s in systems],
        "",
        *_per_round(measures, systems, rates),
        *(_tail_shape(measures, systems, max(rates)) if rates else []),
        *(_outside(measures, systems, max(rates)) if rates else []),
        *_collector(measures, systems),
        *_stages(measures),
        "Objectifs / targets:",
    ]
    for t in targets(measures):
        verdict = "atteint / met" if t["met"] else "NON atteint / not met"
        each = _each_round(t["rounds"])
        out.append(f"  {t['system']}: {t['target']} → {t['value']}{each} : {verdict}")
    for r in references(measures):
        each = _each_round(r["rounds"])
        where = (
            "au-dessus de l'objectif, même pour ce plafond qui ne fait que valider en base /"
            " above the target even for this ceiling, which only commits"
            if r["above_target"]
            else "sous l'objectif / below the target"
        )
        out.append(
            f"  repère / reference — {r['system']}: {r['figure']} → {r['value']}{each} : {where}"
        )
    bad = [m for m in measures if m.problems]
    for m in bad:
        out.append(f"  ERREUR {m.system} {m.phase} (manche {m.round}): {'; '.join(m.problems)}")
    if not bad:
        out.append("  Rien de perdu ni de doublé / nothing lost or doubled.")
    return "\n".join(out) + "\n"
