"""Schematic symbols of the reader board, embedded in the schematic (lib_symbols).

A symbol is a rectangle with pins on its sides. Library coordinates: y up, grid 2.54 mm.
"""

from __future__ import annotations

from dataclasses import dataclass

GRID = 2.54
PIN_LENGTH = 2.54


@dataclass(frozen=True)
class Pin:
    number: str
    name: str
    etype: str  # KiCad electrical type: input, output, bidirectional, passive, power_in, ...
    x: float  # connection point, library coordinates (y up)
    y: float
    angle: int  # 0: pin on the left pointing right, 180: on the right, 90: bottom, 270: top
    hidden: bool = False


@dataclass(frozen=True)
class Symbol:
    name: str
    prefix: str
    description: str
    pins: tuple[Pin, ...]
    body: tuple[float, float, float, float]  # x1, y1, x2, y2 (library coordinates)
    show_pin_names: bool = True
    power: bool = False

    def pin(self, number: str) -> Pin:
        return next(p for p in self.pins if p.number == number)


Side = list[tuple[str, str, str] | None]


def box(name: str, prefix: str, description: str, left: Side = (), right: Side = (),
        top: Side = (), bottom: Side = (), width: int | None = None) -> Symbol:
    """A rectangular symbol; each side lists (number, name, type) or None for a gap."""
    rows = max(len(left), len(right), 1)
    cols = max(len(top), len(bottom), 1)
    longest = max([len(p[1]) for p in (*left, *right) if p] + [1])
    w_units = width or max(cols + 1, 2 * ((longest * 2 + 7) // 6))
    w_units += w_units % 2
    h_units = rows + 1 + (rows % 2 == 0)
    half_w, half_h = w_units * GRID / 2, h_units * GRID / 2
    pins: list[Pin] = []
    top_y = (rows - 1) * GRID / 2
    for i, p in enumerate(left):
        if p:
            pins.append(Pin(p[0], p[1], p[2], -half_w - PIN_LENGTH, _snap(top_y - i * GRID), 0))
    for i, p in enumerate(right):
        if p:
            pins.append(Pin(p[0], p[1], p[2], half_w + PIN_LENGTH, _snap(top_y - i * GRID), 180))
    left_x = -(cols - 1) * GRID / 2
    for i, p in enumerate(top):
        if p:
            pins.append(Pin(p[0], p[1], p[2], _snap(left_x + i * GRID), half_h + PIN_LENGTH, 270))
    for i, p in enumerate(bottom):
        if p:
            pins.append(Pin(p[0], p[1], p[2], _snap(left_x + i * GRID), -half_h - PIN_LENGTH, 90))
    return Symbol(name, prefix, description, tuple(pins), (-half_w, -half_h, half_w, half_h))


def _snap(v: float) -> float:
    return round(v / (GRID / 2)) * (GRID / 2)


def two_pin(name: str, prefix: str, description: str, etypes: tuple[str, str] = ("passive", "passive"),
            names: tuple[str, str] = ("~", "~")) -> Symbol:
    """Vertical two-terminal part: pin 1 on top, pin 2 at the bottom."""
    pins = (Pin("1", names[0], etypes[0], 0, 3 * GRID / 2 + PIN_LENGTH - GRID / 2, 270),
            Pin("2", names[1], etypes[1], 0, -(3 * GRID / 2 + PIN_LENGTH - GRID / 2), 90))
    return Symbol(name, prefix, description, pins, (-1.016, -2.54, 1.016, 2.54), show_pin_names=False)


def power_symbol(net: str, flag: bool = False) -> Symbol:
    name = "PWR_FLAG" if flag else net
    etype = "power_out" if flag else "power_in"
    return Symbol(name, "#FLG" if flag else "#PWR", "Power flag" if flag else f"Power net {net}",
                  (Pin("1", "~" if flag else net, etype, 0, 0, 90 if flag else 270, hidden=not flag),),
                  (-1.0, 0.0, 1.0, 1.5) if not flag else (-1.0, 0.0, 1.0, 2.0), show_pin_names=False,
                  power=True)


_ESP32_LEFT: Side = [
    ("1", "GND", "power_in"), ("2", "3V3", "power_in"), ("3", "EN", "input"),
    ("4", "SENSOR_VP", "input"), ("5", "SENSOR_VN", "input"), ("6", "IO34", "input"), ("7", "IO35", "input"),
    ("8", "IO32", "bidirectional"), ("9", "IO33", "bidirectional"), ("10", "IO25", "bidirectional"),
    ("11", "IO26", "bidirectional"), ("12", "IO27", "bidirectional"), ("13", "IO14", "bidirectional"),
    ("14", "IO12", "bidirectional"), ("15", "GND", "passive"), ("16", "IO13", "bidirectional"),
    ("17", "SHD/SD2", "no_connect"), ("18", "SWP/SD3", "no_connect"), ("19", "SCS/CMD", "no_connect"),
]
_ESP32_RIGHT: Side = [
    ("38", "GND", "passive"), ("37", "IO23", "bidirectional"), ("36", "IO22", "bidirectional"),
    ("35", "TXD0", "bidirectional"), ("34", "RXD0", "bidirectional"), ("33", "IO21", "bidirectional"),
    ("32", "NC", "no_connect"), ("31", "IO19", "bidirectional"), ("30", "IO18", "bidirectional"),
    ("29", "IO5", "bidirectional"), ("28", "IO17", "bidirectional"), ("27", "IO16", "bidirectional"),
    ("26", "IO4", "bidirectional"), ("25", "IO0", "bidirectional"), ("24", "IO2", "bidirectional"),
    ("23", "IO15", "bidirectional"), ("22", "SDI/SD1", "no_connect"), ("21", "SDO/SD0", "no_connect"),
    ("20", "SCK/CLK", "no_connect"),
]

SYMBOLS: dict[str, Symbol] = {
    s.name: s
    for s in (
        two_pin("R", "R", "Resistor"),
        two_pin("C", "C", "Capacitor"),
        two_pin("Polyfuse", "F", "Resettable PTC fuse"),
        two_pin("D", "D", "Diode", names=("K", "A")),
        box("ESP32-WROOM-32E", "U", "Espressif ESP32-WROOM-32E Wi-Fi/Bluetooth module",
            left=_ESP32_LEFT, right=_ESP32_RIGHT, bottom=[("39", "GND", "passive")], width=10),
        box("USB_C_Receptacle_USB2.0", "J", "USB 2.0 Type-C receptacle (16 contacts)",
            left=[("A4", "VBUS", "passive"), ("B9", "VBUS", "passive"), ("A9", "VBUS", "passive"),
                  ("B4", "VBUS", "passive"), None, ("A5", "CC1", "bidirectional"), ("B5", "CC2", "bidirectional"),
                  None, ("A8", "SBU1", "bidirectional"), ("B8", "SBU2", "bidirectional")],
            right=[("A6", "D+", "bidirectional"), ("B6", "D+", "bidirectional"), ("A7", "D-", "bidirectional"),
                   ("B7", "D-", "bidirectional")],
            bottom=[("A1", "GND", "passive"), ("A12", "GND", "passive"), ("B1", "GND", "passive"),
                    ("B12", "GND", "passive"), ("S1", "SHIELD", "passive")]),
        box("USBLC6-2SC6", "U", "ESD protection for USB 2.0 data lines, 2 channels",
            left=[("1", "I/O1", "passive"), ("3", "I/O2", "passive")],
            right=[("6", "I/O1", "passive"), ("4", "I/O2", "passive")],
            top=[("5", "VBUS", "passive")], bottom=[("2", "GND", "passive")]),
        box("AP7361C-33E", "U", "1 A low-dropout 3.3 V regulator, SOT-223",
            left=[("1", "IN", "power_in")], right=[("3", "OUT", "power_out")], bottom=[("2", "GND", "power_in")]),
        box("CH340C", "U", "WCH CH340C USB to serial bridge, internal clock, SOIC-16",
            left=[("5", "UD+", "bidirectional"), ("6", "UD-", "bidirectional"), None, ("9", "~{CTS}", "input"),
                  ("10", "~{DSR}", "input"), ("11", "~{RI}", "input"), ("12", "~{DCD}", "input"),
                  ("15", "R232", "input")],
            right=[("2", "TXD", "output"), ("3", "RXD", "input"), None, ("13", "~{DTR}", "output"),
                   ("14", "~{RTS}", "output"), None, ("7", "NC", "no_connect"), ("8", "NC", "no_connect")],
            top=[("16", "VCC", "power_in"), ("4", "V3", "passive")], bottom=[("1", "GND", "power_in")]),
        box("Q_NPN_BEC", "Q", "NPN transistor, SOT-23 (1 B, 2 E, 3 C)",
            left=[("1", "B", "input")], top=[("3", "C", "passive")], bottom=[("2", "E", "passive")], width=4),
        box("SW_Push", "SW", "Push button, normally open",
            left=[("1", "1", "passive")], right=[("2", "2", "passive")], width=4),
        box("LED_RGB_6", "D", "RGB LED, separate dies (PLCC-6)",
            left=[("1", "RA", "passive"), ("2", "GA", "passive"), ("3", "BA", "passive")],
            right=[("6", "RK", "passive"), ("5", "GK", "passive"), ("4", "BK", "passive")], width=6),
        box("Buzzer", "BZ", "Magnetic buzzer", left=[("1", "+", "passive"), ("2", "-", "passive")], width=4),
        box("Conn_RC522", "J", "Socket for the common RC522 (MFRC522) module",
            left=[("1", "SDA", "passive"), ("2", "SCK", "passive"), ("3", "MOSI", "passive"),
                  ("4", "MISO", "passive"), ("5", "IRQ", "passive"), ("6", "GND", "passive"),
                  ("7", "RST", "passive"), ("8", "3.3V", "passive")], width=6),
        box("Conn_PN532", "J", "Socket for a PN532 board wired for SPI",
            left=[("1", "GND", "passive"), ("2", "VCC", "passive"), ("3", "SCK", "passive"),
                  ("4", "MISO", "passive"), ("5", "MOSI", "passive"), ("6", "SS", "passive"),
                  ("7", "IRQ", "passive"), ("8", "RSTPDN", "passive")], width=6),
        box("TestPoint", "TP", "Test point", bottom=[("1", "1", "passive")], width=2),
        Symbol("MountingHole", "H", "Mounting hole, not plated", (), (-1.27, -1.27, 1.27, 1.27)),
        power_symbol("GND"), power_symbol("VBUS"), power_symbol("+5V"), power_symbol("+3V3"),
        power_symbol("", flag=True),
    )
}
