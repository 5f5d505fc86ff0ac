"""Fill the board's zones with KiCad's own filler and re-save it (run with KiCad's Python)."""

from __future__ import annotations

import sys

import pcbnew


def main(path: str) -> None:
    board = pcbnew.LoadBoard(path)
    filler = pcbnew.ZONE_FILLER(board)
    filler.Fill(board.Zones())
    board.Save(path)
    print(f"filled {len(list(board.Zones()))} zones, saved {path}")


if __name__ == "__main__":
    main(sys.argv[1])
