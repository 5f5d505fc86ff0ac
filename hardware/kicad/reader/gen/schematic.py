"""Emit the hierarchical KiCad schematic (root sheet + one file per functional block)
and the project symbol library, from gen.design."""

from __future__ import annotations

from .design import PARTS, POWER_NETS, SHEETS, Part, sheets_of_net
from .sexpr import S, Sym, dumps, stable_uuid
from .symbols import GRID, PIN_LENGTH, SYMBOLS, Pin, Symbol

LIB = "reader"
PROJECT = "reader"
SCH_VERSION = 20250114
ROOT_UUID = stable_uuid("root-sheet")


def _font(size: float = 1.27, hide: bool = False, justify: tuple[str, ...] = ()) -> list[object]:
    eff: list[object] = [Sym("effects"), S("font", S("size", size, size))]
    if justify:
        eff.append(S("justify", *[Sym(j) for j in justify]))
    if hide:
        eff.append(S("hide", Sym("yes")))
    return eff


def _stroke(width: float = 0.254) -> list[object]:
    return S("stroke", S("width", width), S("type", Sym("default")))


def _pin_sexpr(pin: Symbol | Pin) -> list[object]:
    assert isinstance(pin, Pin)
    node: list[object] = [Sym("pin"), Sym(pin.etype), Sym("line"), S("at", pin.x, pin.y, pin.angle),
                          S("length", 0 if pin.hidden else PIN_LENGTH)]
    if pin.hidden:
        node.append(S("hide", Sym("yes")))
    node += [S("name", pin.name, _font()), S("number", pin.number, _font())]
    return node


def _graphics(sym: Symbol) -> list[list[object]]:
    x1, y1, x2, y2 = sym.body
    if sym.name == "GND":
        pts = [(0, 0), (0, -1.27), (1.27, -1.27), (0, -2.54), (-1.27, -1.27), (0, -1.27)]
        return [S("polyline", S("pts", *[S("xy", x, y) for x, y in pts]), _stroke(0), S("fill", S("type", Sym("none"))))]
    if sym.power:
        pts = [(0, 0), (0, 1.27), (-0.762, 1.27), (0.762, 1.27)] if sym.name != "PWR_FLAG" else \
            [(0, 0), (0, 1.27), (-1.016, 1.905), (0, 2.54), (1.016, 1.905), (0, 1.27)]
        return [S("polyline", S("pts", *[S("xy", x, y) for x, y in pts]), _stroke(0), S("fill", S("type", Sym("none"))))]
    fill = "background" if len(sym.pins) > 2 else "none"
    return [S("rectangle", S("start", x1, y2), S("end", x2, y1), _stroke(), S("fill", S("type", Sym(fill))))]


def symbol_definition(sym: Symbol, name: str) -> list[object]:
    """The (symbol ...) node of a library or of the schematic's lib_symbols."""
    base = name.split(":")[-1]
    node: list[object] = [Sym("symbol"), name]
    if sym.power:
        node.append(S("power"))
    if not sym.show_pin_names or sym.power:
        node.append(S("pin_numbers", S("hide", Sym("yes"))))
        node.append(S("pin_names", S("offset", 0), S("hide", Sym("yes"))))
    else:
        node.append(S("pin_names", S("offset", 0.508)))
    node += [S("exclude_from_sim", Sym("no")), S("in_bom", Sym("no" if sym.power else "yes")),
             S("on_board", Sym("no" if sym.power else "yes"))]
    top = sym.body[3]
    value = sym.name if sym.power and sym.name != "PWR_FLAG" else sym.name
    node += [
        S("property", "Reference", sym.prefix, S("at", 0, top + 1.27, 0), _font(hide=sym.power)),
        S("property", "Value", value, S("at", 0, sym.body[1] - 1.27, 0), _font(hide=sym.name == "PWR_FLAG")),
        S("property", "Footprint", "", S("at", 0, 0, 0), _font(hide=True)),
        S("property", "Datasheet", "~", S("at", 0, 0, 0), _font(hide=True)),
        S("property", "Description", sym.description, S("at", 0, 0, 0), _font(hide=True)),
    ]
    node.append([Sym("symbol"), f"{base}_0_1", *_graphics(sym)])
    if sym.pins:
        node.append([Sym("symbol"), f"{base}_1_1", *[_pin_sexpr(p) for p in sym.pins]])
    node.append(S("embedded_fonts", Sym("no")))
    return node


def symbol_library() -> str:
    body = [Sym("kicad_symbol_lib"), S("version", 20241209), S("generator", "reemploi_gen"),
            S("generator_version", "9.0")]
    body += [symbol_definition(sym, name) for name, sym in sorted(SYMBOLS.items())]
    return dumps(body) + "\n"


# ---------------------------------------------------------------------------------------------
# Placement on the sheet

def _cell_size(sym: Symbol) -> tuple[float, float]:
    x1, y1, x2, y2 = sym.body
    return (x2 - x1) + 2 * PIN_LENGTH + 30.48, (y2 - y1) + 2 * PIN_LENGTH + 15.24


def _snap(v: float) -> float:
    return round(v / GRID) * GRID


def _layout(parts: list[Part], page_width: float) -> dict[str, tuple[float, float]]:
    positions: dict[str, tuple[float, float]] = {}
    x, y, row_h = 25.4, 30.48, 0.0
    for part in parts:
        w, h = _cell_size(SYMBOLS[part.symbol])
        if x + w > page_width - 20 and x > 25.4:
            x, y, row_h = 25.4, y + row_h, 0.0
        positions[part.ref] = (_snap(x + w / 2), _snap(y + h / 2))
        x += w
        row_h = max(row_h, h)
    return positions


class SheetWriter:
    def __init__(self, key: str, title: str, page: int, sheet_uuid: str) -> None:
        self.key, self.title, self.page, self.sheet_uuid = key, title, page, sheet_uuid
        self.items: list[list[object]] = []
        self.power_count = 0

    @property
    def instance_path(self) -> str:
        return f"/{ROOT_UUID}/{self.sheet_uuid}"

    def _uid(self, *key: object) -> list[object]:
        return S("uuid", stable_uuid(self.key, *key))

    def place_part(self, part: Part, x: float, y: float, multi_sheet: dict[str, set[str]],
                   flagged: set[str]) -> None:
        sym = SYMBOLS[part.symbol]
        x1, y1, x2, y2 = sym.body
        props = [
            S("property", "Reference", part.ref, S("at", x, y - y2 - 1.27, 0), _font()),
            S("property", "Value", part.value, S("at", x, y - y1 + 1.27, 0), _font()),
            S("property", "Footprint", f"{LIB}:{part.footprint}", S("at", x, y, 0), _font(hide=True)),
            S("property", "Datasheet", "~", S("at", x, y, 0), _font(hide=True)),
            S("property", "Description", sym.description, S("at", x, y, 0), _font(hide=True)),
        ]
        if part.mpn:
            props += [
                S("property", "Manufacturer", part.manufacturer, S("at", x, y, 0), _font(hide=True)),
                S("property", "MPN", part.mpn, S("at", x, y, 0), _font(hide=True)),
                S("property", "Price_EUR", f"{part.price_eur:.2f}", S("at", x, y, 0), _font(hide=True)),
            ]
        node: list[object] = [
            Sym("symbol"), S("lib_id", f"{LIB}:{part.symbol}"), S("at", x, y, 0), S("unit", 1),
            S("exclude_from_sim", Sym("no")), S("in_bom", Sym("yes" if part.fitted else "no")),
            S("on_board", Sym("yes")), S("dnp", Sym("no")), S("fields_autoplaced", Sym("yes")),
            S("uuid", symbol_uuid(part.ref)), *props,
            *[S("pin", p.number, self._uid(part.ref, "pin", p.number)) for p in sym.pins],
            S("instances", S("project", PROJECT, S("path", self.instance_path, S("reference", part.ref),
                                                    S("unit", 1)))),
        ]
        self.items.append(node)
        for pin in sym.pins:
            px, py = x + pin.x, y - pin.y
            net = part.nets[pin.number]
            if net is None:
                if pin.etype != "no_connect":
                    self.items.append(S("no_connect", S("at", px, py), self._uid(part.ref, pin.number, "nc")))
            elif net in POWER_NETS:
                self.power_symbol(net, px, py)
                if net not in flagged and net != "+3V3" and part.sheet == "power":
                    flagged.add(net)
                    self.power_symbol("PWR_FLAG", px, py)
            else:
                angle = {0: 180, 180: 0, 270: 90, 90: 270}[pin.angle]
                justify = ("left", "bottom") if angle in (0, 90) else ("right", "bottom")
                if len(multi_sheet[net]) > 1:
                    self.items.append(S(
                        "global_label", net, S("shape", Sym("passive")), S("at", px, py, angle),
                        S("fields_autoplaced", Sym("yes")), _font(justify=(justify[0],)),
                        self._uid(part.ref, pin.number, "gl"),
                        S("property", "Intersheetrefs", "${INTERSHEET_REFS}", S("at", px, py, angle),
                          _font(hide=True, justify=(justify[0],))),
                    ))
                else:
                    self.items.append(S("label", net, S("at", px, py, angle), S("fields_autoplaced", Sym("yes")),
                                        _font(justify=justify), self._uid(part.ref, pin.number, "lbl")))

    def power_symbol(self, net: str, x: float, y: float) -> None:
        self.power_count += 1
        is_flag = net == "PWR_FLAG"
        ref = f"#{'FLG' if is_flag else 'PWR'}{self.page:01d}{self.power_count:02d}"
        uid = stable_uuid(self.key, "power", self.power_count)
        sym = SYMBOLS[net]
        self.items.append([
            Sym("symbol"), S("lib_id", f"{LIB}:{net}"), S("at", x, y, 0), S("unit", 1),
            S("exclude_from_sim", Sym("no")), S("in_bom", Sym("no")), S("on_board", Sym("no")), S("dnp", Sym("no")),
            S("uuid", uid),
            S("property", "Reference", ref, S("at", x, y + 3.81, 0), _font(hide=True)),
            S("property", "Value", net, S("at", x, y + (3.81 if net == "GND" else -2.54), 0), _font(hide=is_flag)),
            S("property", "Footprint", "", S("at", x, y, 0), _font(hide=True)),
            S("property", "Datasheet", "~", S("at", x, y, 0), _font(hide=True)),
            S("property", "Description", sym.description, S("at", x, y, 0), _font(hide=True)),
            S("pin", "1", S("uuid", stable_uuid(self.key, "power", self.power_count, "pin"))),
            S("instances", S("project", PROJECT, S("path", self.instance_path, S("reference", ref), S("unit", 1)))),
        ])

    def render(self, used_symbols: list[str]) -> str:
        lib = [symbol_definition(SYMBOLS[name], f"{LIB}:{name}") for name in sorted(set(used_symbols))]
        doc = [
            Sym("kicad_sch"), S("version", SCH_VERSION), S("generator", "eeschema"), S("generator_version", "9.0"),
            S("uuid", stable_uuid("file", self.key)), S("paper", "A3"),
            S("title_block", S("title", f"Lecteur Réemploi — {self.title}"), S("rev", "1"),
              S("company", "Réemploi — Grenoble-Alpes Métropole"),
              S("comment", 1, "Généré par hardware/kicad/reader/generate.py — ne pas éditer à la main")),
            [Sym("lib_symbols"), *lib], *self.items, S("embedded_fonts", Sym("no")),
        ]
        return dumps(doc) + "\n"


def symbol_uuid(ref: str) -> str:
    return stable_uuid("symbol", ref)


def sheet_uuid(key: str) -> str:
    return stable_uuid("sheet", key)


def render_root() -> str:
    items: list[list[object]] = []
    for i, (key, title) in enumerate(SHEETS):
        x, y, w, h = 30.48 + (i % 3) * 60.96, 40.64 + (i // 3) * 40.64, 45.72, 20.32
        items.append([
            Sym("sheet"), S("at", x, y), S("size", w, h), S("exclude_from_sim", Sym("no")),
            S("in_bom", Sym("yes")), S("on_board", Sym("yes")), S("dnp", Sym("no")),
            S("fields_autoplaced", Sym("yes")), S("stroke", S("width", 0.1524), S("type", Sym("solid"))),
            S("fill", S("color", 0, 0, 0, 0)), S("uuid", sheet_uuid(key)),
            S("property", "Sheetname", title, S("at", x, y - 0.7116, 0), _font(justify=("left", "bottom"))),
            S("property", "Sheetfile", f"{key}.kicad_sch", S("at", x, y + h + 0.5884, 0),
              _font(justify=("left", "top"))),
            S("instances", S("project", PROJECT, S("path", f"/{ROOT_UUID}", S("page", str(i + 2))))),
        ])
    items.append(S("text", "Lecteur NFC Réemploi — ESP32-WROOM-32E, RC522/PN532, USB-C.\n"
                   "Schéma généré : modifier gen/design.py puis relancer generate.py.",
                   S("exclude_from_sim", Sym("no")), S("at", 30.48, 20.32, 0), _font(1.524, justify=("left", "bottom")),
                   S("uuid", stable_uuid("root-text"))))
    doc = [
        Sym("kicad_sch"), S("version", SCH_VERSION), S("generator", "eeschema"), S("generator_version", "9.0"),
        S("uuid", ROOT_UUID), S("paper", "A4"),
        S("title_block", S("title", "Lecteur Réemploi"), S("rev", "1"),
          S("company", "Réemploi — Grenoble-Alpes Métropole")),
        S("lib_symbols"), *items,
        S("sheet_instances", S("path", "/", S("page", "1"))),
        S("embedded_fonts", Sym("no")),
    ]
    return dumps(doc) + "\n"


def render_all() -> dict[str, str]:
    """File name -> content for the root and the sub-sheets."""
    files = {f"{PROJECT}.kicad_sch": render_root()}
    multi = sheets_of_net()
    flagged: set[str] = set()
    for page, (key, title) in enumerate(SHEETS, start=2):
        parts = [p for p in PARTS if p.sheet == key]
        writer = SheetWriter(key, title, page, sheet_uuid(key))
        positions = _layout(parts, 420)
        used = [p.symbol for p in parts]
        for part in parts:
            writer.place_part(part, *positions[part.ref], multi, flagged)
        used += [n for n in POWER_NETS + ("PWR_FLAG",) if any(
            isinstance(i, list) and len(i) > 1 and i[1] == S("lib_id", f"{LIB}:{n}") for i in writer.items)]
        files[f"{key}.kicad_sch"] = writer.render(used)
    return files
