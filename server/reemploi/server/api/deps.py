"""Typed dependencies shared by the routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection

from .state import AppState


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.reemploi
    return state


def get_conn(request: Request) -> Iterator[Connection]:
    state: AppState = request.app.state.reemploi
    with state.engine.connect() as conn:
        yield conn


StateDep = Annotated[AppState, Depends(get_state)]
ConnDep = Annotated[Connection, Depends(get_conn)]
