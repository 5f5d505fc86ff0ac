"""A tiny S-expression writer for KiCad files.

Values are written as: ``Sym`` -> bare token, ``str`` -> quoted string,
``float``/``int`` -> number with at most 4 decimals, ``list``/``tuple`` -> list.
"""

from __future__ import annotations

import uuid as _uuid


class Sym(str):
    """A bare (unquoted) S-expression token."""


def num(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dumps(node: object, indent: int = 0) -> str:
    if isinstance(node, Sym):
        return str(node)
    if isinstance(node, bool):
        return "yes" if node else "no"
    if isinstance(node, str):
        return quote(node)
    if isinstance(node, (int, float)):
        return num(float(node))
    if isinstance(node, (list, tuple)):
        parts = [dumps(child, indent + 1) for child in node]
        flat = "(" + " ".join(parts) + ")"
        has_nested_list = any(isinstance(c, (list, tuple)) and len(c) > 3 for c in node)
        if len(flat) <= 100 and not has_nested_list:
            return flat
        pad = "\t" * (indent + 1)
        head = []
        rest = []
        for child, text in zip(node, parts, strict=True):
            if not rest and not isinstance(child, (list, tuple)):
                head.append(text)
            else:
                rest.append(text)
        return "(" + " ".join(head) + "".join("\n" + pad + t for t in rest) + "\n" + "\t" * indent + ")"
    raise TypeError(f"cannot serialise {type(node).__name__}")


def S(*items: object) -> list[object]:
    """Build a list whose first element is a bare token: S("at", 1, 2)."""
    head, *rest = items
    return [Sym(str(head)), *rest]


_namespace = _uuid.UUID("6f1c0f1e-9a51-4bde-a5a8-2b7f4e3c0d11")


def stable_uuid(*key: object) -> str:
    """A UUID derived from a key, so that regenerating gives identical files."""
    return str(_uuid.uuid5(_namespace, "/".join(str(k) for k in key)))
