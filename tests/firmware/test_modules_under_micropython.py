"""Firmware modules that need no network, run by their own tests under the real
MicroPython unix port and under CPython (the reader simulator runs on both)."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

pytestmark = pytest.mark.micropython

MODULES = ["nfc_tests", "storage_config_tests", "health_tests"]


@pytest.mark.parametrize("module", MODULES)
def test_module_under_micropython(run_mp: Callable[..., str], module: str) -> None:
    out = run_mp(module)
    assert "FAIL" not in out


@pytest.mark.parametrize("module", MODULES)
def test_module_under_cpython(run_mp: Callable[..., str], module: str) -> None:
    out = run_mp(module, interpreter=sys.executable)
    assert "FAIL" not in out
