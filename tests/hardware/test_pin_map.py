"""One pin map: firmware/lib/reader/board.py agrees with the schematic's netlist.

Convention: ``PIN_<NAME>`` is the ESP32 GPIO on the schematic net ``<NAME>``. The GPIO
number is read from the module symbol's pin function (``IO18``, ``TXD0``...) in the
netlist exported by kicad-cli, not from the generator's tables.
"""

from __future__ import annotations

import re
import runpy

import pytest
from kicad_project import ROOT

BOARD_MODULE = ROOT / "firmware" / "lib" / "reader" / "board.py"
MODULE_REF = "U1"
SPECIAL_FUNCTIONS = {"TXD0": 1, "RXD0": 3, "SENSOR_VP": 36, "SENSOR_VN": 39}
NOT_FIRMWARE_NETS = {"GND", "+3V3", "EN"}  # wired to the module, but not GPIOs the firmware drives


def parse_sexpr(text: str) -> list[object]:
    tokens = re.findall(r'\(|\)|"(?:[^"\\]|\\.)*"|[^\s()]+', text)
    stack: list[list[object]] = [[]]
    for token in tokens:
        if token == "(":
            stack.append([])
        elif token == ")":
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(token[1:-1].replace('\\"', '"') if token.startswith('"') else token)
    return stack[0]


def _field(node: list[object], key: str) -> str | None:
    for child in node:
        if isinstance(child, list) and child and child[0] == key:
            return str(child[1])
    return None


def module_gpio_nets(netlist: str) -> dict[str, int]:
    """Net name (sheet path removed) -> GPIO of the ESP32 module pin on it."""
    root = parse_sexpr(netlist)[0]
    assert isinstance(root, list) and root[0] == "export"
    nets = next(c for c in root if isinstance(c, list) and c[0] == "nets")
    result: dict[str, int] = {}
    for net in nets[1:]:
        assert isinstance(net, list)
        name = str(_field(net, "name")).rsplit("/", 1)[-1]
        for node in (c for c in net if isinstance(c, list) and c[0] == "node"):
            if _field(node, "ref") != MODULE_REF:
                continue
            function = str(_field(node, "pinfunction"))
            match = re.fullmatch(r"IO(\d+)", function)
            gpio = int(match.group(1)) if match else SPECIAL_FUNCTIONS.get(function)
            if gpio is not None and not name.startswith("unconnected-"):
                assert name not in result, f"net {name} reaches two module GPIOs"
                result[name] = gpio
    return result


def firmware_pins() -> dict[str, int]:
    names = runpy.run_path(str(BOARD_MODULE))
    return {k.removeprefix("PIN_"): v for k, v in names.items() if k.startswith("PIN_")}


def pin_map_mismatches(firmware: dict[str, int], schematic: dict[str, int]) -> list[str]:
    problems = []
    for name, gpio in sorted(firmware.items()):
        if name not in schematic:
            problems.append(f"PIN_{name}: no net {name} on an ESP32 GPIO in the schematic")
        elif schematic[name] != gpio:
            problems.append(
                f"PIN_{name} = {gpio} but the schematic wires net {name} to GPIO{schematic[name]}"
            )
    for name in sorted(set(schematic) - set(firmware) - NOT_FIRMWARE_NETS):
        problems.append(f"net {name} (GPIO{schematic[name]}) has no PIN_{name} in board.py")
    return problems


def test_firmware_pin_map_matches_the_schematic_netlist(netlist_text: str) -> None:
    schematic = module_gpio_nets(netlist_text)
    firmware = firmware_pins()
    assert not pin_map_mismatches(firmware, schematic), "\n".join(
        pin_map_mismatches(firmware, schematic)
    )
    # the pins the issue lists are all there
    for name in (
        "SPI_SCK",
        "SPI_MOSI",
        "SPI_MISO",
        "RC522_SS",
        "RC522_RST",
        "RC522_IRQ",
        "LED_R",
        "LED_G",
        "LED_B",
        "BUZZER",
        "BUTTON_BOOT",
    ):
        assert name in firmware


def test_board_module_values_are_distinct_valid_gpios() -> None:
    pins = firmware_pins()
    assert len(set(pins.values())) == len(pins), pins
    flash_pins = set(range(6, 12))  # wired to the module's SPI flash
    for name, gpio in pins.items():
        assert isinstance(gpio, int) and 0 <= gpio <= 39 and gpio not in flash_pins, (name, gpio)
        if name.endswith(("_SS", "_RST", "SCK", "MOSI", "LED_R", "LED_G", "LED_B", "BUZZER")):
            assert gpio < 34, f"PIN_{name}: GPIO{gpio} is input only"


@pytest.mark.parametrize(
    ("firmware", "expected"),
    [
        ({"SPI_SCK": 18}, []),
        ({"SPI_SCK": 5}, ["PIN_SPI_SCK = 5 but the schematic wires net SPI_SCK to GPIO18"]),
        (
            {"SPI_SCK": 18, "NFC_POWER": 4},
            ["PIN_NFC_POWER: no net NFC_POWER on an ESP32 GPIO in the schematic"],
        ),
        ({}, ["net SPI_SCK (GPIO18) has no PIN_SPI_SCK in board.py"]),
    ],
)
def test_mismatches_are_reported(firmware: dict[str, int], expected: list[str]) -> None:
    assert pin_map_mismatches(firmware, {"SPI_SCK": 18, "EN": 99}) == expected


def test_netlist_parser_reads_module_pins() -> None:
    netlist = """(export (version "E") (nets
      (net (code "1") (name "/Sheet/LED_R") (class "Default")
        (node (ref "U1") (pin "10") (pinfunction "IO25") (pintype "bidirectional"))
        (node (ref "R7") (pin "1") (pinfunction "") (pintype "passive")))
      (net (code "2") (name "UART_TX")
        (node (ref "U1") (pin "35") (pinfunction "TXD0") (pintype "bidirectional")))
      (net (code "3") (name "unconnected-(U1-IO2-Pad24)")
        (node (ref "U1") (pin "24") (pinfunction "IO2") (pintype "bidirectional")))))"""
    assert module_gpio_nets(netlist) == {"LED_R": 25, "UART_TX": 1}
