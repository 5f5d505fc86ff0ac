#!/usr/bin/env bash
# Manufacturing outputs of the reader board, generated with kicad-cli (KiCad 9) into
# hardware/kicad/reader/build/ (git-ignored): Gerbers + drill (zipped for the PCB house),
# BOM CSV with manufacturer part numbers and indicative prices, pick-and-place CSV,
# schematic PDF, and the BOM cost summary.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
project="$root/hardware/kicad/reader"
out="${1:-$project/build}"

if ! command -v kicad-cli >/dev/null 2>&1; then
    echo "hardware-outputs.sh: kicad-cli not found; run scripts/install-kicad.sh (or make test)" >&2
    exit 1
fi

# kicad-cli writes its settings under HOME: use a throwaway one.
kicad_home="$(mktemp -d)"
trap 'rm -rf "$kicad_home"' EXIT
kcli() { HOME="$kicad_home" kicad-cli "$@"; }

rm -rf "$out"
mkdir -p "$out/gerbers"
pcb="$project/reader.kicad_pcb"
sch="$project/reader.kicad_sch"

kcli pcb export gerbers --output "$out/gerbers/" \
    --layers F.Cu,B.Cu,F.Paste,F.SilkS,B.SilkS,F.Mask,B.Mask,Edge.Cuts "$pcb" >/dev/null
kcli pcb export drill --output "$out/gerbers/" --format excellon --excellon-separate-th \
    --generate-map --map-format gerberx2 "$pcb" >/dev/null
kcli pcb export pos --output "$out/reader-pos.csv" --format csv --units mm --side front \
    --exclude-dnp "$pcb" >/dev/null
kcli sch export bom --output "$out/reader-bom.csv" \
    --fields 'Reference,Value,Footprint,${QUANTITY},Manufacturer,MPN,Price_EUR' \
    --labels 'Références,Valeur,Empreinte,Quantité,Fabricant,Référence fabricant,Prix unitaire indicatif (EUR)' \
    --group-by 'Value,Footprint,MPN' --exclude-dnp "$sch" >/dev/null
kcli sch export pdf --output "$out/reader-schematic.pdf" "$sch" >/dev/null

(cd "$out/gerbers" && python3 - <<'PY'
import pathlib, zipfile
with zipfile.ZipFile("../reader-gerbers.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for f in sorted(pathlib.Path(".").iterdir()):
        z.write(f, f.name)
PY
)

python3 - "$out/reader-bom.csv" "$out/bom-cost.txt" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8")))
total = 0.0
missing = []
for row in rows[1:]:
    refs, qty, price = row[0], int(row[3]), row[6]
    if not price:
        missing.append(refs)
        continue
    total += qty * float(price)
text = f"Coût indicatif des composants par carte (quantité 10, HT) : {total:.2f} EUR\n"
if missing:
    text += "Sans prix : " + "; ".join(missing) + "\n"
open(sys.argv[2], "w", encoding="utf-8").write(text)
print(text, end="")
PY
echo "outputs in $out"
