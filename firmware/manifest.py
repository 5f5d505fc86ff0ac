# What goes on the board: (source in the repository, destination on the board's flash).
# Used by scripts/flash-reader.sh-style tooling, by firmware/README.md's mpremote steps
# and by the tests (every file here is compiled with mpy-cross -march=xtensawin).
# The simulator (lib/reader/sim) stays on the PC.
APP = [
    "__init__.py", "app.py", "ble_scanner.py", "commands.py", "config.py", "esp32.py", "feedback.py",
    "iso14443a.py", "isodep.py", "mfrc522.py", "mqtt_client.py", "mqtt_packet.py",
    "nfc_reader.py", "ntag.py", "portable.py", "scan_queue.py", "sequence.py", "board.py",
    "watchdog.py",
]
PROTOCOL = ["__init__.py", "wire.py", "ndef.py", "ble.py"]

FILES = (
    [("firmware/boot.py", "boot.py"), ("firmware/main.py", "main.py")]
    + [("firmware/lib/reader/" + name, "lib/reader/" + name) for name in APP]
    + [("core/reemploi/protocol/" + name, "lib/reemploi/protocol/" + name) for name in PROTOCOL]
)
# Site files the installer copies from the provisioning bundle (never in the repository):
SITE_FILES = ["config.json", "ca.crt"]
