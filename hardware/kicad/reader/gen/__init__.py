"""Generator of the Réemploi reader board (KiCad 9 schematic and PCB)."""
