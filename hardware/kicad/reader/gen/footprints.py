"""Footprint geometry, drawn from the manufacturers' recommended land patterns.

Coordinates are in millimetres, KiCad convention (x right, y down), relative to the
footprint origin. Only the shapes the board needs are described: pads, courtyard,
silkscreen outline and fabrication outline.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pad:
    number: str
    kind: str  # "smd", "thru_hole" or "np_thru_hole"
    shape: str  # "rect", "roundrect", "oval", "circle"
    x: float
    y: float
    w: float
    h: float
    drill: float | tuple[float, float] = 0.0


@dataclass(frozen=True)
class Footprint:
    name: str
    description: str
    pads: tuple[Pad, ...]
    courtyard: tuple[float, float, float, float]  # x1, y1, x2, y2
    body: tuple[float, float, float, float]  # fabrication outline
    silk: tuple[tuple[float, float, float, float], ...] = field(default=())  # lines
    smd: bool = True

    def pad(self, number: str) -> Pad:
        return next(p for p in self.pads if p.number == number)


def _two_terminal(name: str, desc: str, pitch: float, pw: float, ph: float,
                  body: tuple[float, float], court: tuple[float, float]) -> Footprint:
    half = pitch / 2
    return Footprint(
        name, desc,
        (Pad("1", "smd", "roundrect", -half, 0, pw, ph), Pad("2", "smd", "roundrect", half, 0, pw, ph)),
        (-court[0], -court[1], court[0], court[1]),
        (-body[0], -body[1], body[0], body[1]),
    )


def _sot23(n: int) -> Footprint:
    if n == 3:
        pads = (
            Pad("1", "smd", "roundrect", -1.1375, -0.95, 1.325, 0.6),
            Pad("2", "smd", "roundrect", -1.1375, 0.95, 1.325, 0.6),
            Pad("3", "smd", "roundrect", 1.1375, 0, 1.325, 0.6),
        )
        name = "SOT-23"
    else:
        ys = (-0.95, 0.0, 0.95)
        pads = tuple(
            [Pad(str(i + 1), "smd", "roundrect", -1.1375, ys[i], 1.325, 0.6) for i in range(3)]
            + [Pad(str(6 - i), "smd", "roundrect", 1.1375, ys[i], 1.325, 0.6) for i in range(3)]
        )
        name = "SOT-23-6"
    return Footprint(name, f"{name}, JEDEC TO-236", pads, (-2.05, -1.7, 2.05, 1.7), (-0.7, -1.45, 0.7, 1.45),
                     ((-0.75, -1.56, 0.75, -1.56), (-0.75, 1.56, 0.75, 1.56)))


def _soic16() -> Footprint:
    pads = []
    for i in range(8):
        y = -4.445 + 1.27 * i
        pads.append(Pad(str(i + 1), "smd", "roundrect", -2.475, y, 1.95, 0.6))
        pads.append(Pad(str(16 - i), "smd", "roundrect", 2.475, y, 1.95, 0.6))
    return Footprint("SOIC-16_3.9x9.9mm_P1.27mm", "SOIC-16 narrow body", tuple(pads),
                     (-3.7, -5.2, 3.7, 5.2), (-1.95, -4.95, 1.95, 4.95),
                     ((-1.95, -5.06, 1.95, -5.06), (-1.95, 5.06, 1.95, 5.06), (-3.45, -5.06, -1.95, -5.06)))


def _sot223() -> Footprint:
    pads = (
        Pad("1", "smd", "roundrect", -3.15, -2.3, 2.0, 1.5),
        Pad("2", "smd", "roundrect", -3.15, 0.0, 2.0, 1.5),
        Pad("3", "smd", "roundrect", -3.15, 2.3, 2.0, 1.5),
        Pad("2", "smd", "roundrect", 3.15, 0.0, 2.0, 3.8),
    )
    return Footprint("SOT-223-3_TabPin2", "SOT-223, tab on pin 2", pads, (-4.4, -3.6, 4.4, 3.6),
                     (-1.85, -3.35, 1.85, 3.35), ((-1.91, -3.46, 1.91, -3.46), (-1.91, 3.46, 1.91, 3.46)))


def _esp32_wroom_32e() -> Footprint:
    pads = []
    for i in range(14):  # pins 1..14, left side, top to bottom
        pads.append(Pad(str(i + 1), "smd", "rect", -8.75, -5.26 + 1.27 * i, 1.5, 0.9))
    for i in range(10):  # pins 15..24, bottom side, left to right
        pads.append(Pad(str(15 + i), "smd", "rect", -5.715 + 1.27 * i, 12.5, 0.9, 1.5))
    for i in range(14):  # pins 25..38, right side, bottom to top
        pads.append(Pad(str(25 + i), "smd", "rect", 8.75, 11.25 - 1.27 * i, 1.5, 0.9))
    pads.append(Pad("39", "smd", "rect", -1.0, 1.2, 4.0, 4.0))  # exposed ground pad
    return Footprint("ESP32-WROOM-32E", "Espressif ESP32-WROOM-32E module, 18 x 25.5 mm", tuple(pads),
                     (-9.75, -13.0, 9.75, 13.5), (-9.0, -12.75, 9.0, 12.75),
                     ((-9.12, -12.87, 9.12, -12.87), (-9.12, -12.87, -9.12, -6.0), (9.12, -12.87, 9.12, -6.0)))


def _usb_c() -> Footprint:
    """HRO TYPE-C-31-M-12, USB 2.0 Type-C receptacle, 16 contacts."""
    y = -4.045
    pads = [
        Pad("A1", "smd", "rect", -3.25, y, 0.6, 1.45), Pad("B12", "smd", "rect", -3.25, y, 0.6, 1.45),
        Pad("A4", "smd", "rect", -2.45, y, 0.6, 1.45), Pad("B9", "smd", "rect", -2.45, y, 0.6, 1.45),
        Pad("B8", "smd", "rect", -1.75, y, 0.3, 1.45), Pad("A5", "smd", "rect", -1.25, y, 0.3, 1.45),
        Pad("B7", "smd", "rect", -0.75, y, 0.3, 1.45), Pad("A6", "smd", "rect", -0.25, y, 0.3, 1.45),
        Pad("A7", "smd", "rect", 0.25, y, 0.3, 1.45), Pad("B6", "smd", "rect", 0.75, y, 0.3, 1.45),
        Pad("A8", "smd", "rect", 1.25, y, 0.3, 1.45), Pad("B5", "smd", "rect", 1.75, y, 0.3, 1.45),
        Pad("B4", "smd", "rect", 2.45, y, 0.6, 1.45), Pad("A9", "smd", "rect", 2.45, y, 0.6, 1.45),
        Pad("B1", "smd", "rect", 3.25, y, 0.6, 1.45), Pad("A12", "smd", "rect", 3.25, y, 0.6, 1.45),
        Pad("", "np_thru_hole", "circle", -2.89, -2.6, 0.65, 0.65, 0.65),
        Pad("", "np_thru_hole", "circle", 2.89, -2.6, 0.65, 0.65, 0.65),
        Pad("S1", "thru_hole", "oval", -4.32, -3.1, 1.0, 2.1, (0.6, 1.7)),
        Pad("S1", "thru_hole", "oval", 4.32, -3.1, 1.0, 2.1, (0.6, 1.7)),
        Pad("S1", "thru_hole", "oval", -4.32, 1.08, 1.0, 1.6, (0.6, 1.2)),
        Pad("S1", "thru_hole", "oval", 4.32, 1.08, 1.0, 1.6, (0.6, 1.2)),
    ]
    return Footprint("USB_C_Receptacle_HRO_TYPE-C-31-M-12", "USB 2.0 Type-C receptacle, HRO TYPE-C-31-M-12",
                     tuple(pads), (-5.32, -5.27, 5.32, 4.15), (-4.47, -3.65, 4.47, 3.65),
                     ((-4.47, -0.5, -4.47, -1.9), (4.47, -0.5, 4.47, -1.9)), smd=False)


def _tactile_6mm() -> Footprint:
    """Omron B3F-1000 style 6 x 6 mm through-hole tactile switch."""
    pads = (
        Pad("1", "thru_hole", "circle", -3.25, -2.25, 2.0, 2.0, 1.1),
        Pad("2", "thru_hole", "circle", 3.25, -2.25, 2.0, 2.0, 1.1),
        Pad("1", "thru_hole", "circle", -3.25, 2.25, 2.0, 2.0, 1.1),
        Pad("2", "thru_hole", "circle", 3.25, 2.25, 2.0, 2.0, 1.1),
    )
    return Footprint("SW_PUSH_6mm", "6 mm tactile switch, through hole", pads, (-4.5, -3.5, 4.5, 3.5),
                     (-3.0, -3.0, 3.0, 3.0), ((-2.0, -3.1, 2.0, -3.1), (-2.0, 3.1, 2.0, 3.1)), smd=False)


def _header_1x8() -> Footprint:
    pads = tuple(
        Pad(str(i + 1), "thru_hole", "rect" if i == 0 else "oval", 0, 2.54 * i, 1.7, 1.7, 1.0) for i in range(8)
    )
    return Footprint("PinSocket_1x08_P2.54mm_Vertical", "1x8 socket, 2.54 mm pitch", pads,
                     (-1.8, -1.8, 1.8, 19.6), (-1.27, -1.27, 1.27, 19.05),
                     ((-1.33, 1.27, -1.33, 19.11), (1.33, 1.27, 1.33, 19.11), (-1.33, 19.11, 1.33, 19.11),
                      (-1.33, -1.33, 0, -1.33)), smd=False)


def _buzzer_12mm() -> Footprint:
    pads = (
        Pad("1", "thru_hole", "rect", -3.8, 0, 1.8, 1.8, 1.0),
        Pad("2", "thru_hole", "circle", 3.8, 0, 1.8, 1.8, 1.0),
    )
    return Footprint("Buzzer_12x9.5RM7.6", "12 mm magnetic buzzer, 7.6 mm pitch", pads,
                     (-6.25, -6.25, 6.25, 6.25), (-6.0, -6.0, 6.0, 6.0),
                     ((-6.1, -6.1, 6.1, -6.1), (-6.1, 6.1, 6.1, 6.1), (-6.1, -6.1, -6.1, -1.2),
                      (6.1, -6.1, 6.1, -1.2), (-6.1, 1.2, -6.1, 6.1), (6.1, 1.2, 6.1, 6.1)), smd=False)


def _led_rgb_plcc6() -> Footprint:
    ys = (-0.95, 0.0, 0.95)
    pads = tuple(
        [Pad(str(i + 1), "smd", "roundrect", -1.55, ys[i], 1.1, 0.6) for i in range(3)]
        + [Pad(str(6 - i), "smd", "roundrect", 1.55, ys[i], 1.1, 0.6) for i in range(3)]
    )
    return Footprint("LED_RGB_PLCC-6_3.5x2.8mm", "RGB LED, PLCC-6 3.5 x 2.8 mm, separate dies", pads,
                     (-2.4, -1.75, 2.4, 1.75), (-1.75, -1.4, 1.75, 1.4),
                     ((-1.0, -1.6, 1.0, -1.6), (-1.0, 1.6, 1.0, 1.6), (-2.3, -1.6, -1.0, -1.6)))


def _test_point() -> Footprint:
    return Footprint("TestPoint_Pad_D1.5mm", "SMD test pad, 1.5 mm", (Pad("1", "smd", "circle", 0, 0, 1.5, 1.5),),
                     (-1.25, -1.25, 1.25, 1.25), (-0.75, -0.75, 0.75, 0.75))


def _mounting_hole() -> Footprint:
    return Footprint("MountingHole_3.2mm_M3", "M3 mounting hole, not plated",
                     (Pad("", "np_thru_hole", "circle", 0, 0, 3.2, 3.2, 3.2),),
                     (-3.45, -3.45, 3.45, 3.45), (-3.2, -3.2, 3.2, 3.2), smd=False)


FOOTPRINTS: dict[str, Footprint] = {
    fp.name: fp
    for fp in (
        _two_terminal("R_0603_1608Metric", "Resistor 0603", 1.65, 0.8, 0.95, (0.8, 0.4), (1.48, 0.73)),
        _two_terminal("C_0603_1608Metric", "Capacitor 0603", 1.65, 0.8, 0.95, (0.8, 0.4), (1.48, 0.73)),
        _two_terminal("C_0805_2012Metric", "Capacitor 0805", 1.9, 1.0, 1.45, (1.0, 0.625), (1.7, 0.98)),
        _two_terminal("Fuse_1206_3216Metric", "PTC fuse 1206", 2.925, 1.125, 1.75, (1.6, 0.8), (2.28, 1.12)),
        _two_terminal("D_SOD-123", "Diode SOD-123", 3.3, 0.9, 1.2, (1.4, 0.9), (2.35, 1.15)),
        _sot23(3), _sot23(6), _soic16(), _sot223(), _esp32_wroom_32e(), _usb_c(), _tactile_6mm(),
        _header_1x8(), _buzzer_12mm(), _led_rgb_plcc6(), _test_point(), _mounting_hole(),
    )
}
