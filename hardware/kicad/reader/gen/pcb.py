"""Place the footprints, route the board and emit the .kicad_pcb and the footprint library."""

from __future__ import annotations

from .design import PARTS, POWER_NETS, Part, nets, sheets_of_net
from .footprints import FOOTPRINTS, Footprint, Pad
from .router import VIA_DIAMETER, VIA_DRILL, RoutingError, Route, Router
from .schematic import LIB, sheet_uuid, symbol_uuid
from .sexpr import S, Sym, dumps, stable_uuid
from .symbols import SYMBOLS

BOARD_W, BOARD_H = 60.0, 72.0
PCB_VERSION = 20240108  # KiCad 8 file format; KiCad 9 reads it and re-saves it natively
KEEPOUT_ANTENNA = (0.0, 0.0, BOARD_W, 8.5)  # no copper under/near the module antenna
SHEET_NAMES = {"power": "Alimentation USB-C", "mcu": "ESP32-WROOM-32E", "usb_serial": "USB-série CH340C",
               "nfc": "Lecteurs NFC", "ui": "LED et buzzer"}

F_LAYERS = ("F.Cu", "F.Paste", "F.Mask")
_SHEETS_OF_NET = sheets_of_net()


def _font(size: float = 1.0, thickness: float = 0.15, hide: bool = False) -> list[object]:
    eff: list[object] = [Sym("effects"), S("font", S("size", size, size), S("thickness", thickness))]
    return eff


def nc_net_name(part: Part, number: str) -> str:
    pin = SYMBOLS[part.symbol].pin(number)
    return f"unconnected-({part.ref}-{pin.name.replace('/', '{slash}')}-Pad{number})"


def kicad_net_name(net: str) -> str:
    """KiCad's name for a net: local labels are prefixed by their sheet path."""
    if net in POWER_NETS:
        return net
    sheets = _SHEETS_OF_NET[net]
    return net if len(sheets) > 1 else f"/{SHEET_NAMES[next(iter(sheets))]}/{net}"


def net_table() -> dict[str, int]:
    names = sorted(nets())
    for part in PARTS:
        names += [nc_net_name(part, n) for n, net in part.nets.items() if net is None]
    return {name: i + 1 for i, name in enumerate(names)}


def transform(at: tuple[float, float, float], x: float, y: float) -> tuple[float, float]:
    """Footprint-relative point -> board point (KiCad rotates counter-clockwise, y down)."""
    ax, ay, rot = at
    r = int(rot) % 360
    rx, ry = {0: (x, y), 90: (y, -x), 180: (-x, -y), 270: (-y, x)}[r]
    return round(ax + rx, 4), round(ay + ry, 4)


def pad_shape(part: Part, pad: Pad) -> tuple:
    x, y = transform(part.at, pad.x, pad.y)
    w, h = (pad.h, pad.w) if int(part.at[2]) % 180 == 90 else (pad.w, pad.h)
    if pad.shape == "circle":
        return ("circle", x, y, w / 2)
    if pad.shape == "oval":
        r = min(w, h) / 2
        dx, dy = max(w / 2 - r, 0.0), max(h / 2 - r, 0.0)
        return ("seg", x - dx, y - dy, x + dx, y + dy, r)
    return ("rect", x, y, w / 2, h / 2)


def _pad_sexpr(pad: Pad, angle: float, net: tuple[int, str] | None, pin: tuple[str, str] | None) -> list[object]:
    node: list[object] = [Sym("pad"), pad.number, Sym(pad.kind), Sym(pad.shape), S("at", pad.x, pad.y, angle),
                          S("size", pad.w, pad.h)]
    if pad.kind != "smd":
        if isinstance(pad.drill, tuple):
            node.append(S("drill", Sym("oval"), pad.drill[0], pad.drill[1]))
        else:
            node.append(S("drill", pad.drill))
        node.append(S("layers", "*.Cu", "*.Mask"))
        if pad.kind == "thru_hole":
            node.append(S("remove_unused_layers", Sym("no")))
    else:
        node.append(S("layers", *F_LAYERS))
    if pad.shape == "roundrect":
        node.append(S("roundrect_rratio", 0.25))
    if net is not None:
        node.append(S("net", net[0], net[1]))
    if pin is not None:
        node += [S("pinfunction", pin[0]), S("pintype", pin[1])]
    return node


def footprint_sexpr(fp: Footprint, part: Part | None, net_ids: dict[str, int] | None) -> list[object]:
    """A footprint, for the library (part None) or placed on the board."""
    at = part.at if part else (0.0, 0.0, 0.0)
    rot = at[2]
    uid = (lambda *k: S("uuid", stable_uuid("fp", part.ref if part else fp.name, *k)))
    ref = part.ref if part else "REF**"
    value = part.value if part else fp.name
    x1, y1, x2, y2 = fp.courtyard
    node: list[object] = [Sym("footprint"), f"{LIB}:{fp.name}" if part else fp.name]
    if not part:
        node += [S("version", PCB_VERSION), S("generator", "reemploi_gen")]
    node += [S("layer", "F.Cu")]
    if part:
        node += [uid("self"), S("at", at[0], at[1], rot) if rot else S("at", at[0], at[1])]
    node += [
        S("descr", fp.description),
        S("property", "Reference", ref, S("at", 0, y1 - 0.8, rot), S("layer", "F.Fab"), uid("ref"), _font(0.8, 0.12)),
        S("property", "Value", value, S("at", 0, y2 + 0.8, rot), S("layer", "F.Fab"), uid("val"), _font(0.8, 0.12)),
        S("property", "Footprint", f"{LIB}:{fp.name}" if part else "", S("at", 0, 0, rot), S("layer", "F.Fab"),
          S("hide", Sym("yes")), uid("fpf"), _font()),
        S("property", "Datasheet", "", S("at", 0, 0, rot), S("layer", "F.Fab"), S("hide", Sym("yes")), uid("ds"),
          _font()),
        S("property", "Description", "", S("at", 0, 0, rot), S("layer", "F.Fab"), S("hide", Sym("yes")),
          uid("desc"), _font()),
    ]
    if part and part.symbol in SYMBOLS and SYMBOLS[part.symbol].pins or (part and part.symbol == "MountingHole"):
        node += [S("path", f"/{sheet_uuid(part.sheet)}/{symbol_uuid(part.ref)}"),
                 S("sheetname", SHEET_NAMES[part.sheet]), S("sheetfile", f"{part.sheet}.kicad_sch")]
    attrs = [Sym("attr"), Sym("smd" if fp.smd else "through_hole")]
    if fp.name.startswith(("MountingHole", "TestPoint")):
        attrs = [Sym("attr"), Sym("exclude_from_pos_files"), Sym("exclude_from_bom")]
    node.append(attrs)
    node.append(S("fp_rect", S("start", x1, y1), S("end", x2, y2), S("stroke", S("width", 0.05), S("type", Sym("solid"))),
                  S("fill", Sym("none")), S("layer", "F.CrtYd"), uid("crt")))
    bx1, by1, bx2, by2 = fp.body
    node.append(S("fp_rect", S("start", bx1, by1), S("end", bx2, by2), S("stroke", S("width", 0.1), S("type", Sym("solid"))),
                  S("fill", Sym("none")), S("layer", "F.Fab"), uid("fab")))
    for k, (sx1, sy1, sx2, sy2) in enumerate(fp.silk):
        node.append(S("fp_line", S("start", sx1, sy1), S("end", sx2, sy2),
                      S("stroke", S("width", 0.12), S("type", Sym("solid"))), S("layer", "F.SilkS"), uid("silk", k)))
    for k, pad in enumerate(fp.pads):
        net = pin = None
        if part and net_ids is not None and pad.number:
            name = part.nets[pad.number]
            sym_pin = SYMBOLS[part.symbol].pin(pad.number)
            if name is None:
                name = nc_net_name(part, pad.number)
                ptype = sym_pin.etype if sym_pin.etype == "no_connect" else f"{sym_pin.etype}+no_connect"
            else:
                ptype = sym_pin.etype
            net, pin = (net_ids[name], name if name.startswith("unconnected-") else kicad_net_name(name)), \
                (sym_pin.name, ptype)
        pad_node = _pad_sexpr(pad, rot, net, pin)
        pad_node.append(uid("pad", k))
        node.append(pad_node)
    return node


def _net_class(name: str) -> str:
    if name == "VBUS":
        return "medium"  # the USB-C VBUS pads are only 0.6 mm wide
    return "power" if name in POWER_NETS else "signal"


def _terminals(router: Router, net_ids: dict[str, int]) -> dict[str, list[list[tuple[int, int]]]]:
    terms: dict[str, list[list[tuple[int, int]]]] = {}
    for part in PARTS:
        fp = FOOTPRINTS[part.footprint]
        for pad in fp.pads:
            shape = pad_shape(part, pad)
            layers = (0,) if pad.kind == "smd" else (0, 1)
            if pad.kind == "np_thru_hole":
                router.add_obstacle(shape, 0, (0, 1), clearance=0.3)
                router.add_hole(shape[1], shape[2], pad.w / 2)
                continue
            name = part.nets[pad.number]
            net = net_ids[name if name is not None else nc_net_name(part, pad.number)]
            cells = router.pad_cells(shape, net, layers, smd=pad.kind == "smd")
            if pad.kind == "thru_hole":
                drill = max(pad.drill) if isinstance(pad.drill, tuple) else pad.drill
                router.add_hole(shape[1], shape[2], drill / 2)
            if name is not None:
                terms.setdefault(name, []).append(cells)
    return terms


def _module_blocks(router: Router) -> list[tuple[float, float]]:
    """F.Cu stays free under the ESP32 module body; its ground pad reaches B.Cu by vias."""
    u1 = next(p for p in PARTS if p.ref == "U1")
    cx, cy = u1.at[0], u1.at[1]
    epad = FOOTPRINTS[u1.footprint].pad("39")
    ex, ey = cx + epad.x, cy + epad.y
    for rect in ((cx - 7.6, cy - 12.75, cx + 7.6, ey - 2.6), (cx - 7.6, ey + 2.6, cx + 7.6, cy + 11.4),
                 (cx - 7.6, ey - 2.6, ex - 2.6, ey + 2.6), (ex + 2.6, ey - 2.6, cx + 7.6, ey + 2.6)):
        x1, y1, x2, y2 = rect
        router.add_keepout(("rect", (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2), (0,), vias=False)
    return [(ex + dx, ey + dy) for dx in (-1.25, 0.0, 1.25) for dy in (-1.25, 0.0, 1.25)]


def epad_links(vias: list[tuple[float, float]]) -> list[tuple[float, float, float, float]]:
    """B.Cu segments tying the ground-pad vias together (rows, then the middle column)."""
    rows: dict[float, list[float]] = {}
    for x, y in vias:
        rows.setdefault(y, []).append(x)
    links = [(min(xs), y, max(xs), y) for y, xs in rows.items()]
    mid = sorted(vias)[len(vias) // 2][0]
    ys = sorted(rows)
    links.append((mid, ys[0], mid, ys[-1]))
    return links


ROUTE_FIRST = ("USB_DP", "USB_DN", "CC1", "CC2", "VBUS")


def route_board(order_hint: list[str] | None = None) -> tuple[list[Route], dict[str, int], list[tuple[float, float]]]:
    net_ids = net_table()
    last_error: Exception | None = None
    order = order_hint or []
    for attempt in range(12):
        router = Router(BOARD_W, BOARD_H)
        x1, y1, x2, y2 = KEEPOUT_ANTENNA
        router.add_keepout(("rect", (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2), (0, 1))
        epad_vias = _module_blocks(router)
        terms = _terminals(router, net_ids)
        gnd = net_ids["GND"]
        for vx, vy in epad_vias:
            router.add_obstacle(("circle", vx, vy, VIA_DIAMETER / 2), gnd, (0, 1))
            router.add_hole(vx, vy, VIA_DRILL / 2)
        for lx1, ly1, lx2, ly2 in epad_links(epad_vias):
            router.add_obstacle(("seg", lx1, ly1, lx2, ly2, 0.25), gnd, (1,))
        idx_of = lambda x, y: int(round(y / 0.25)) * router.nx + int(round(x / 0.25))  # noqa: E731
        terms["GND"].append([(1, idx_of(vx, vy)) for vx, vy in epad_vias])

        def span(name: str) -> float:
            pts = [router.xy(c[0][1]) for c in terms[name]]
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            return (max(xs) - min(xs)) + (max(ys) - min(ys))

        rest = sorted((n for n in terms if n not in order), key=lambda n: (n not in ROUTE_FIRST, span(n)))
        sequence = [n for n in order if n in terms] + rest
        routes: list[Route] = []
        try:
            for name in sequence:
                routes.append(_route_net(router, name, net_ids[name], terms[name]))
            return routes, net_ids, epad_vias
        except RoutingError as error:
            failed = str(error).split(":")[0]
            last_error = error
            order = [failed] + [n for n in sequence if n != failed]
            print(f"attempt {attempt + 1}: {error}; retrying with {failed} first")
    raise RoutingError(f"routing failed: {last_error}")


def _route_net(router: Router, name: str, net: int, pads: list[list[tuple[int, int]]]) -> Route:
    cls = _net_class(name)
    route = Route(net)
    tree = set(pads[0])
    remaining = [p for p in pads[1:] if p]

    def centre(cells: list[tuple[int, int]]) -> tuple[float, float]:
        return router.xy(cells[len(cells) // 2][1])

    while remaining:
        tx, ty = centre(list(tree))
        remaining.sort(key=lambda c: abs(centre(c)[0] - tx) + abs(centre(c)[1] - ty))
        pad = remaining.pop(0)
        if tree.intersection(pad):
            tree.update(pad)
            continue
        try:
            path = router.search(net, cls, pad, tree)
        except RoutingError as error:
            raise RoutingError(f"{name}: {error}") from None
        router.commit(net, cls, path, route)
        tree.update(path)
        tree.update(pad)
    return route


def board_sexpr(routes: list[Route], net_ids: dict[str, int], epad_vias: list[tuple[float, float]]) -> str:
    layers = [(0, "F.Cu", "signal"), (31, "B.Cu", "signal"), (32, "B.Adhes", "user", "B.Adhesive"),
              (33, "F.Adhes", "user", "F.Adhesive"), (34, "B.Paste", "user"), (35, "F.Paste", "user"),
              (36, "B.SilkS", "user", "B.Silkscreen"), (37, "F.SilkS", "user", "F.Silkscreen"),
              (38, "B.Mask", "user"), (39, "F.Mask", "user"), (40, "Dwgs.User", "user", "User.Drawings"),
              (41, "Cmts.User", "user", "User.Comments"), (44, "Edge.Cuts", "user"), (45, "Margin", "user"),
              (46, "B.CrtYd", "user", "B.Courtyard"), (47, "F.CrtYd", "user", "F.Courtyard"),
              (48, "B.Fab", "user"), (49, "F.Fab", "user")]
    doc: list[object] = [
        Sym("kicad_pcb"), S("version", PCB_VERSION), S("generator", "pcbnew"), S("generator_version", "8.0"),
        S("general", S("thickness", 1.6), S("legacy_teardrops", Sym("no"))),
        S("paper", "A4"),
        S("title_block", S("title", "Lecteur Réemploi"), S("rev", "1"),
          S("company", "Réemploi — Grenoble-Alpes Métropole")),
        [Sym("layers"), *[[l[0], l[1], Sym(l[2]), *l[3:]] for l in layers]],
        S("setup", S("pad_to_mask_clearance", 0), S("allow_soldermask_bridges_in_footprints", Sym("no"))),
        S("net", 0, ""),
        *[S("net", i, name if name.startswith("unconnected-") else kicad_net_name(name))
          for name, i in sorted(net_ids.items(), key=lambda kv: kv[1])],
    ]
    for part in PARTS:
        doc.append(footprint_sexpr(FOOTPRINTS[part.footprint], part, net_ids))
    doc.append(S("gr_rect", S("start", 0, 0), S("end", BOARD_W, BOARD_H),
                 S("stroke", S("width", 0.1), S("type", Sym("default"))), S("fill", Sym("none")),
                 S("layer", "Edge.Cuts"), S("uuid", stable_uuid("edge"))))
    for k, (text, x, y) in enumerate((("RÉEMPLOI NFC v1", 30, 31.5), ("RC522", 52.5, 29),
                                      ("PN532", 7.5, 29), ("RESET", 8.5, 26.5), ("BOOT", 51.5, 26.5))):
        doc.append(S("gr_text", text, S("at", x, y, 0), S("layer", "F.SilkS"), S("uuid", stable_uuid("txt", k)),
                     S("effects", S("font", S("size", 1, 1), S("thickness", 0.15)))))
    x1, y1, x2, y2 = KEEPOUT_ANTENNA
    doc.append(S("zone", S("net", 0), S("net_name", ""), S("layers", "F.Cu", "B.Cu"), S("uuid", stable_uuid("keepout")),
                 S("name", "antenne ESP32"), S("hatch", Sym("edge"), 0.5), S("connect_pads", S("clearance", 0)),
                 S("min_thickness", 0.25), S("filled_areas_thickness", Sym("no")),
                 S("keepout", S("tracks", Sym("not_allowed")), S("vias", Sym("not_allowed")),
                   S("pads", Sym("allowed")), S("copperpour", Sym("not_allowed")), S("footprints", Sym("allowed"))),
                 S("fill", S("thermal_gap", 0.5), S("thermal_bridge_width", 0.5)),
                 S("polygon", S("pts", S("xy", x1, y1), S("xy", x2, y1), S("xy", x2, y2), S("xy", x1, y2)))))
    layer_name = {0: "F.Cu", 1: "B.Cu"}
    gnd = net_ids["GND"]
    for k, (vx, vy) in enumerate(epad_vias):
        doc.append(S("via", S("at", vx, vy), S("size", VIA_DIAMETER), S("drill", VIA_DRILL), S("layers", "F.Cu", "B.Cu"),
                     S("net", gnd), S("uuid", stable_uuid("epad-via", k))))
    for k, (x1, y1, x2, y2) in enumerate(epad_links(epad_vias)):
        doc.append(S("segment", S("start", x1, y1), S("end", x2, y2), S("width", 0.5), S("layer", "B.Cu"),
                     S("net", gnd), S("uuid", stable_uuid("epad-link", k))))
    for route in routes:
        for k, (x1, y1, x2, y2, w, layer) in enumerate(route.segments):
            doc.append(S("segment", S("start", x1, y1), S("end", x2, y2), S("width", w), S("layer", layer_name[layer]),
                         S("net", route.net), S("uuid", stable_uuid("seg", route.net, k))))
        for k, (x, y) in enumerate(route.vias):
            doc.append(S("via", S("at", x, y), S("size", VIA_DIAMETER), S("drill", VIA_DRILL),
                         S("layers", "F.Cu", "B.Cu"), S("net", route.net), S("uuid", stable_uuid("via", route.net, k))))
    return dumps(doc) + "\n"


def footprint_library() -> dict[str, str]:
    return {f"{name}.kicad_mod": dumps(footprint_sexpr(fp, None, None)) + "\n" for name, fp in FOOTPRINTS.items()}
