# Réemploi reader firmware: the application package copied to /lib/reader on the board.
# Everything here runs under MicroPython (ESP32 and the unix port) and under CPython
# (the reader simulator); hardware sits behind reader.hardware interfaces.
FIRMWARE_VERSION = "0.1.0"
