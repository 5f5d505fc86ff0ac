"""Environmental impact factors, kept as data with their source.

Manufacturing footprint per device (kg CO2e), ADEME / Arcep, « Évaluation de l'impact
environnemental du numérique en France » (2022), as summarised in
../shared/design/STANDARDS.md §5. Reusing a device avoids making a new one: the platform
counts the factor once, when the reuse completes (sale or donation).
"""

from __future__ import annotations

SOURCE = "ADEME / Arcep 2022, empreinte de fabrication (kg CO2e par équipement)"

MANUFACTURING_KG_CO2E: dict[str, float] = {
    "laptop": 170.0,
    "desktop": 203.0,
    "screen": 65.0,
    "phone": 83.0,
    "tablet": 56.0,
}

REUSE_COMPLETING_STEPS = frozenset({"sell", "donate"})
RECYCLING_STEPS = frozenset({"recycle", "dismantle"})


def co2e_avoided_kg(category: str, step: str) -> float:
    """kg CO2e avoided by ``step`` on an asset of ``category`` (0 unless it completes a
    reuse, or when the category has no published factor)."""
    if step not in REUSE_COMPLETING_STEPS:
        return 0.0
    return MANUFACTURING_KG_CO2E.get(category, 0.0)


def outcome(step: str) -> str:
    """``reuse``, ``recycling`` or ``chain`` (still on its way) for a custody step."""
    if step in REUSE_COMPLETING_STEPS:
        return "reuse"
    if step in RECYCLING_STEPS:
        return "recycling"
    return "chain"
