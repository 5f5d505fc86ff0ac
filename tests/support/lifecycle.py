"""How the pytest fixtures hold a service: start it or fail loudly, always close it."""

from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path
from typing import Protocol, TypeVar

import pytest

from .processes import ServiceError


class Service(Protocol):
    folder: Path

    @property
    def pid(self) -> int | None: ...
    def start(self) -> object: ...
    def close(self) -> None: ...


ServiceT = TypeVar("ServiceT", bound=Service)


def start_or_fail(make: Callable[[], ServiceT]) -> ServiceT:
    """Build and start a service, or FAIL the current test — never skip it.

    A missing program is a broken machine, and the fix is the install script, which the
    message names.
    """
    try:
        service = make()
        service.start()
    except ServiceError as exc:
        pytest.fail(str(exc), pytrace=False)
    return service


def running(make: Callable[[], ServiceT]) -> Generator[ServiceT, None, None]:
    """Generator body for a yield-fixture: the service is closed (PID stopped) afterwards."""
    service = start_or_fail(make)
    try:
        yield service
    finally:
        service.close()
