"""Pin map of the Réemploi reader board (hardware/kicad/reader, revision 1).

Each ``PIN_<NAME>`` is the ESP32 GPIO wired to the schematic net ``<NAME>``;
tests/hardware/test_pin_map.py checks this file against the KiCad netlist, so the
board and the firmware cannot change alone.
"""

try:
    from micropython import const
except ImportError:  # CPython (tests, tools)

    def const(__value):  # positional-only, like micropython.const (pyright checks it)
        return __value


# SPI bus (VSPI) shared by the RC522 module and the PN532 board
PIN_SPI_SCK = const(18)
PIN_SPI_MOSI = const(23)
PIN_SPI_MISO = const(19)

# RC522 (MFRC522) module socket J2
PIN_RC522_SS = const(5)
PIN_RC522_RST = const(22)
PIN_RC522_IRQ = const(34)  # input only, MFRC522 IRQ is push-pull

# PN532 board socket J3 (SPI mode)
PIN_PN532_SS = const(27)
PIN_PN532_RST = const(26)
PIN_PN532_IRQ = const(35)  # input only

# RGB status LED D2 (separate dies, cathodes to ground: active high)
PIN_LED_R = const(25)
PIN_LED_G = const(32)
PIN_LED_B = const(33)

# Magnetic buzzer BZ1 through NPN Q3 (active high)
PIN_BUZZER = const(13)

# BOOT button SW2 (active low, 10 kOhm pull-up); usable as a user button after boot
PIN_BUTTON_BOOT = const(0)

# UART0, wired to the CH340C USB-serial bridge
PIN_UART_TX = const(1)
PIN_UART_RX = const(3)
