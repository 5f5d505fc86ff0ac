"""``assets import``: a CSV, GLPI or Snipe-IT export → assets and a tagging plan.

Every problem is reported with its line number; when there is any, nothing is written
(a dry run never writes). Column names are matched without case or accents.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, field

from reemploi.domain.checkdigit import has_valid_check_digit
from reemploi.domain.digital_link import giai_uri
from reemploi.domain.errors import InvalidIdentifier

__all__ = ["FORMATS", "ImportProblem", "ImportReport", "ImportedAsset", "import_assets"]

MAX_GIAI = 30

# format -> logical field -> accepted column names (normalised: lower case, no accents)
FORMATS: dict[str, dict[str, tuple[str, ...]]] = {
    "csv": {
        "reference": ("reference", "asset_ref", "inventaire"),
        "giai": ("giai",),
        "name": ("name", "nom", "libelle"),
        "serial": ("serial", "numero de serie", "serie"),
        "category": ("category", "categorie", "type"),
        "gln": ("gln", "site_gln"),
    },
    "glpi": {
        "reference": ("numero d'inventaire", "inventory number", "otherserial"),
        "name": ("nom", "name"),
        "serial": ("numero de serie", "serial number", "serial"),
        "category": ("type", "types"),
        "model": ("modele", "model"),
        "manufacturer": ("fabricant", "manufacturer"),
    },
    "snipeit": {
        "reference": ("asset tag", "asset_tag"),
        "name": ("name", "asset name"),
        "serial": ("serial", "serial number"),
        "category": ("category",),
        "model": ("model", "model name"),
        "manufacturer": ("manufacturer",),
    },
}


@dataclass(frozen=True)
class ImportedAsset:
    line: int
    giai: str
    uri: str
    name: str
    serial: str
    category: str
    gln: str


@dataclass(frozen=True)
class ImportProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"ligne {self.line} : {self.message}"


@dataclass
class ImportReport:
    assets: list[ImportedAsset] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.assets)

    def plan(self) -> list[dict[str, str]]:
        """The tagging plan: one entry per asset, each ``pending`` until verified."""
        return [
            {"giai": a.giai, "uri": a.uri, "name": a.name, "status": "pending"} for a in self.assets
        ]


def _key(name: str) -> str:
    text = unicodedata.normalize("NFKD", name.strip().lower().lstrip("\ufeff"))
    return "".join(ch for ch in text if not unicodedata.combining(ch)).replace("’", "'")


def _columns(header: list[str], fmt: str) -> dict[str, int]:
    positions = {_key(name): index for index, name in enumerate(header)}
    found: dict[str, int] = {}
    for logical, names in FORMATS[fmt].items():
        for name in names:
            if name in positions:
                found[logical] = positions[name]
                break
    return found


def import_assets(
    text: str, fmt: str, company_prefix: str, domain: str = "https://id.gs1.org"
) -> ImportReport:
    """Read ``text`` (whole file) as format ``fmt``; GIAI = company prefix + reference."""
    if fmt not in FORMATS:
        raise ValueError(f"format inconnu {fmt!r} (attendu : {', '.join(FORMATS)})")
    report = ImportReport()
    if not company_prefix.isdigit() or not 6 <= len(company_prefix) <= 12:
        report.problems.append(ImportProblem(0, "préfixe d'entreprise GS1 : 6 à 12 chiffres"))
        return report
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter))
    if not rows:
        report.problems.append(ImportProblem(1, "fichier vide"))
        return report
    header = rows[0]
    columns = _columns(header, fmt)
    if "reference" not in columns and "giai" not in columns:
        expected = " / ".join(FORMATS[fmt]["reference"])
        report.problems.append(
            ImportProblem(1, f"colonne de référence absente (attendu : {expected})")
        )
        return report
    seen_giai: dict[str, int] = {}
    seen_serial: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            report.problems.append(
                ImportProblem(number, f"{len(row)} colonnes au lieu de {len(header)}")
            )
            continue

        def cell(logical: str, row: list[str] = row) -> str:
            index = columns.get(logical)
            return row[index].strip() if index is not None else ""

        giai = cell("giai")
        if giai:
            if not giai.startswith(company_prefix):
                report.problems.append(
                    ImportProblem(number, f"GIAI {giai} ne commence pas par {company_prefix}")
                )
                continue
        else:
            reference = cell("reference")
            if not reference:
                report.problems.append(ImportProblem(number, "référence d'inventaire vide"))
                continue
            giai = company_prefix + reference
        if len(giai) > MAX_GIAI:
            report.problems.append(
                ImportProblem(number, f"GIAI {giai} : {len(giai)} caractères (30 au plus)")
            )
            continue
        try:
            uri = giai_uri(giai, domain)
        except InvalidIdentifier as exc:
            report.problems.append(ImportProblem(number, f"GIAI {giai} invalide : {exc}"))
            continue
        gln = cell("gln")
        if gln and (len(gln) != 13 or not gln.isdigit() or not has_valid_check_digit(gln)):
            report.problems.append(
                ImportProblem(number, f"GLN {gln} : 13 chiffres avec clé de contrôle GS1 exacte")
            )
            continue
        serial = cell("serial")
        if giai in seen_giai:
            report.problems.append(
                ImportProblem(number, f"GIAI {giai} en double (déjà ligne {seen_giai[giai]})")
            )
            continue
        if serial and serial in seen_serial:
            report.problems.append(
                ImportProblem(
                    number, f"numéro de série {serial} en double (déjà ligne {seen_serial[serial]})"
                )
            )
            continue
        seen_giai[giai] = number
        if serial:
            seen_serial[serial] = number
        name = cell("name") or " ".join(p for p in (cell("manufacturer"), cell("model")) if p)
        report.assets.append(ImportedAsset(number, giai, uri, name, serial, cell("category"), gln))
    if not report.assets and not report.problems:
        report.problems.append(ImportProblem(2, "aucune ligne de données"))
    return report
