"""The reader board as data: parts, their pins' nets, PCB placement and purchase data.

This is the single source from which the schematic, the PCB and the BOM are generated.
Net names of ESP32 GPIOs match the firmware pin constants (``PIN_<NET>`` in
firmware/lib/reader/board.py); tests/hardware checks that they agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NC = None  # pin left unconnected (a no-connect flag in the schematic)

POWER_NETS = ("GND", "VBUS", "+5V", "+3V3")

SHEETS = (
    ("power", "Alimentation USB-C"),
    ("mcu", "ESP32-WROOM-32E"),
    ("usb_serial", "USB-série CH340C"),
    ("nfc", "Lecteurs NFC"),
    ("ui", "LED et buzzer"),
)


@dataclass(frozen=True)
class Part:
    ref: str
    symbol: str
    footprint: str
    value: str
    sheet: str
    nets: dict[str, str | None]
    at: tuple[float, float, float]  # PCB position x, y (mm) and rotation (degrees)
    manufacturer: str = ""
    mpn: str = ""
    price_eur: float = 0.0  # indicative unit price, quantity 10, excluding VAT
    fitted: bool = True  # False: not a purchased part (test pad, hole): out of BOM and placement
    extra: dict[str, str] = field(default_factory=dict)


def _r(ref: str, value: str, a: str, b: str, sheet: str, at: tuple[float, float, float], mpn: str) -> Part:
    return Part(ref, "R", "R_0603_1608Metric", value, sheet, {"1": a, "2": b}, at, "Yageo", mpn, 0.01)


def _c(ref: str, value: str, a: str, b: str, sheet: str, at: tuple[float, float, float], mpn: str,
       size: str = "0603", price: float = 0.01) -> Part:
    return Part(ref, "C", f"C_{size}_{'1608' if size == '0603' else '2012'}Metric", value, sheet,
                {"1": a, "2": b}, at, "Samsung Electro-Mechanics", mpn, price)


_ESP32_NETS: dict[str, str | None] = {
    "1": "GND", "2": "+3V3", "3": "EN", "4": NC, "5": NC, "6": "RC522_IRQ", "7": "PN532_IRQ",
    "8": "LED_G", "9": "LED_B", "10": "LED_R", "11": "PN532_RST", "12": "PN532_SS", "13": NC, "14": NC,
    "15": "GND", "16": "BUZZER", "17": NC, "18": NC, "19": NC, "20": NC, "21": NC, "22": NC, "23": NC,
    "24": NC, "25": "BUTTON_BOOT", "26": NC, "27": NC, "28": NC, "29": "RC522_SS", "30": "SPI_SCK",
    "31": "SPI_MISO", "32": NC, "33": NC, "34": "UART_RX", "35": "UART_TX", "36": "RC522_RST",
    "37": "SPI_MOSI", "38": "GND", "39": "GND",
}

_USB_NETS: dict[str, str | None] = {
    "A1": "GND", "A12": "GND", "B1": "GND", "B12": "GND", "S1": "GND",
    "A4": "VBUS", "A9": "VBUS", "B4": "VBUS", "B9": "VBUS",
    "A5": "CC1", "B5": "CC2", "A6": "USB_DP", "B6": "USB_DP", "A7": "USB_DN", "B7": "USB_DN",
    "A8": NC, "B8": NC,
}

PARTS: tuple[Part, ...] = (
    # --- power: USB-C input, ESD, fuse, 3.3 V LDO -------------------------------------------
    Part("J1", "USB_C_Receptacle_USB2.0", "USB_C_Receptacle_HRO_TYPE-C-31-M-12", "USB-C", "power", _USB_NETS,
         (30, 68.5, 0), "HRO", "TYPE-C-31-M-12", 0.30),
    _r("R1", "5.1k", "CC1", "GND", "power", (27, 60.5, 90), "RC0603FR-075K1L"),
    _r("R2", "5.1k", "CC2", "GND", "power", (33, 60.5, 90), "RC0603FR-075K1L"),
    Part("U2", "USBLC6-2SC6", "SOT-23-6", "USBLC6-2SC6", "power",
         {"1": "USB_DP", "6": "USB_DP", "3": "USB_DN", "4": "USB_DN", "5": "VBUS", "2": "GND"},
         (30, 55, 0), "STMicroelectronics", "USBLC6-2SC6", 0.35),
    Part("F1", "Polyfuse", "Fuse_1206_3216Metric", "1.1A", "power", {"1": "VBUS", "2": "+5V"},
         (21, 60, 90), "Littelfuse", "1206L110THYR", 0.15),
    Part("U3", "AP7361C-33E", "SOT-223-3_TabPin2", "AP7361C-33E", "power", {"1": "+5V", "2": "GND", "3": "+3V3"},
         (44, 61, 0), "Diodes Incorporated", "AP7361C-33E-13", 0.35),
    _c("C1", "10u", "+5V", "GND", "power", (37.5, 56, 0), "CL21A106KAYNNNE", "0805", 0.03),
    _c("C2", "22u", "+3V3", "GND", "power", (39, 67, 0), "CL21A226MAQNNNE", "0805", 0.06),
    _c("C3", "100n", "+3V3", "GND", "power", (50, 56, 90), "CL10B104KB8NNNC"),
    Part("TP1", "TestPoint", "TestPoint_Pad_D1.5mm", "+5V", "power", {"1": "+5V"}, (16, 66, 0), fitted=False),
    Part("TP2", "TestPoint", "TestPoint_Pad_D1.5mm", "+3V3", "power", {"1": "+3V3"}, (48, 67, 0), fitted=False),
    Part("TP3", "TestPoint", "TestPoint_Pad_D1.5mm", "GND", "power", {"1": "GND"}, (12, 66, 0), fitted=False),
    *(Part(f"H{i + 1}", "MountingHole", "MountingHole_3.2mm_M3", "M3", "power", {}, at, fitted=False)
      for i, at in enumerate(((3.5, 3.5, 0), (56.5, 3.5, 0), (3.5, 68.5, 0), (56.5, 68.5, 0)))),
    # --- ESP32 module, reset and boot -----------------------------------------------------
    Part("U1", "ESP32-WROOM-32E", "ESP32-WROOM-32E", "ESP32-WROOM-32E-N4", "mcu", _ESP32_NETS,
         (30, 14.5, 0), "Espressif Systems", "ESP32-WROOM-32E-N4", 3.10),
    _c("C4", "22u", "+3V3", "GND", "mcu", (17, 13, 0), "CL21A226MAQNNNE", "0805", 0.06),
    _c("C5", "100n", "+3V3", "GND", "mcu", (17, 10.5, 0), "CL10B104KB8NNNC"),
    _r("R3", "10k", "+3V3", "EN", "mcu", (12.5, 13.5, 90), "RC0603FR-0710KL"),
    _c("C6", "1u", "EN", "GND", "mcu", (15.5, 16.5, 90), "CL10A105KB8NNNC"),
    Part("SW1", "SW_Push", "SW_PUSH_6mm", "RESET", "mcu", {"1": "EN", "2": "GND"}, (8.5, 21.5, 0),
         "Omron", "B3F-1000", 0.25),
    _r("R4", "10k", "+3V3", "BUTTON_BOOT", "mcu", (45, 27, 0), "RC0603FR-0710KL"),
    Part("SW2", "SW_Push", "SW_PUSH_6mm", "BOOT", "mcu", {"1": "BUTTON_BOOT", "2": "GND"}, (51.5, 21.5, 0),
         "Omron", "B3F-1000", 0.25),
    Part("TP4", "TestPoint", "TestPoint_Pad_D1.5mm", "EN", "mcu", {"1": "EN"}, (8, 12, 0), fitted=False),
    Part("TP5", "TestPoint", "TestPoint_Pad_D1.5mm", "BOOT", "mcu", {"1": "BUTTON_BOOT"}, (44.5, 12, 0), fitted=False),
    # --- USB-serial bridge with DTR/RTS auto-programming ------------------------------------
    Part("U4", "CH340C", "SOIC-16_3.9x9.9mm_P1.27mm", "CH340C", "usb_serial",
         {"1": "GND", "2": "UART_RX", "3": "UART_TX", "4": "+3V3", "5": "USB_DP", "6": "USB_DN", "7": NC,
          "8": NC, "9": NC, "10": NC, "11": NC, "12": NC, "13": "DTR", "14": "RTS", "15": NC, "16": "+3V3"},
         (42, 42, 0), "WCH", "CH340C", 0.55),
    _c("C7", "100n", "+3V3", "GND", "usb_serial", (42, 34.5, 0), "CL10B104KB8NNNC"),
    _r("R5", "10k", "DTR", "Q1_B", "usb_serial", (50.5, 33, 0), "RC0603FR-0710KL"),
    Part("Q1", "Q_NPN_BEC", "SOT-23", "MMBT3904", "usb_serial", {"1": "Q1_B", "2": "RTS", "3": "EN"},
         (50.5, 37, 0), "onsemi", "MMBT3904LT1G", 0.04),
    _r("R6", "10k", "RTS", "Q2_B", "usb_serial", (50.5, 42, 0), "RC0603FR-0710KL"),
    Part("Q2", "Q_NPN_BEC", "SOT-23", "MMBT3904", "usb_serial", {"1": "Q2_B", "2": "DTR", "3": "BUTTON_BOOT"},
         (50.5, 46, 0), "onsemi", "MMBT3904LT1G", 0.04),
    Part("TP6", "TestPoint", "TestPoint_Pad_D1.5mm", "TXD0", "usb_serial", {"1": "UART_TX"}, (35, 36, 0), fitted=False),
    Part("TP7", "TestPoint", "TestPoint_Pad_D1.5mm", "RXD0", "usb_serial", {"1": "UART_RX"}, (35, 39.5, 0), fitted=False),
    # --- NFC: RC522 module socket (practical choice) and PN532 board socket ----------------
    Part("J2", "Conn_RC522", "PinSocket_1x08_P2.54mm_Vertical", "RC522", "nfc",
         {"1": "RC522_SS", "2": "SPI_SCK", "3": "SPI_MOSI", "4": "SPI_MISO", "5": "RC522_IRQ", "6": "GND",
          "7": "RC522_RST", "8": "+3V3"},
         (56.5, 30, 0), "Sullins Connector Solutions", "PPTC081LFBN-RC", 0.60),
    Part("J3", "Conn_PN532", "PinSocket_1x08_P2.54mm_Vertical", "PN532", "nfc",
         {"1": "GND", "2": "+3V3", "3": "SPI_SCK", "4": "SPI_MISO", "5": "SPI_MOSI", "6": "PN532_SS",
          "7": "PN532_IRQ", "8": "PN532_RST"},
         (3.5, 30, 0), "Sullins Connector Solutions", "PPTC081LFBN-RC", 0.60),
    _c("C8", "10u", "+3V3", "GND", "nfc", (52.5, 50, 90), "CL21A106KAYNNNE", "0805", 0.03),
    _c("C9", "100n", "+3V3", "GND", "nfc", (8, 41, 90), "CL10B104KB8NNNC"),
    # --- status LED and buzzer ------------------------------------------------------------
    Part("D2", "LED_RGB_6", "LED_RGB_PLCC-6_3.5x2.8mm", "RGB", "ui",
         {"1": "LED_R_A", "2": "LED_G_A", "3": "LED_B_A", "4": "GND", "5": "GND", "6": "GND"},
         (13, 33, 0), "Kingbright", "AAA3528LSEEZGKQBKS", 0.30),
    _r("R7", "150", "LED_R", "LED_R_A", "ui", (18.5, 30.5, 0), "RC0603FR-07150RL"),
    _r("R8", "100", "LED_G", "LED_G_A", "ui", (18.5, 33, 0), "RC0603FR-07100RL"),
    _r("R9", "100", "LED_B", "LED_B_A", "ui", (18.5, 35.5, 0), "RC0603FR-07100RL"),
    Part("BZ1", "Buzzer", "Buzzer_12x9.5RM7.6", "Buzzer", "ui", {"1": "+5V", "2": "BUZ_N"}, (13.5, 54, 0),
         "CUI Devices", "CEM-1203(42)", 1.10),
    Part("D1", "D", "D_SOD-123", "1N4148W", "ui", {"1": "+5V", "2": "BUZ_N"}, (16, 44.5, 0),
         "Diodes Incorporated", "1N4148W-7-F", 0.04),
    Part("Q3", "Q_NPN_BEC", "SOT-23", "MMBT3904", "ui", {"1": "Q3_B", "2": "GND", "3": "BUZ_N"},
         (25, 47, 0), "onsemi", "MMBT3904LT1G", 0.04),
    _r("R10", "1k", "BUZZER", "Q3_B", "ui", (25, 42, 0), "RC0603FR-071KL"),
    _r("R11", "10k", "Q3_B", "GND", "ui", (21, 48, 90), "RC0603FR-0710KL"),
)


def nets() -> dict[str, list[tuple[str, str]]]:
    """Net name -> list of (reference, pin number)."""
    result: dict[str, list[tuple[str, str]]] = {}
    for part in PARTS:
        for pin, net in part.nets.items():
            if net is not None:
                result.setdefault(net, []).append((part.ref, pin))
    return result


def sheets_of_net() -> dict[str, set[str]]:
    by_ref = {p.ref: p.sheet for p in PARTS}
    return {net: {by_ref[ref] for ref, _ in nodes} for net, nodes in nets().items()}


def check() -> None:
    """Consistency of the description: every connected net has two pins or more."""
    for net, nodes in nets().items():
        if len(nodes) < 2:
            raise ValueError(f"net {net} has a single pin: {nodes}")
