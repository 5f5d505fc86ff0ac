"""bench/_fleet.punctual_timers: the paced sender's thread gets a 1 ns timer slack, so
its waits end on time instead of up to 50 µs late (Linux's default slack)."""

from __future__ import annotations

import ctypes
import sys
import threading

import pytest
from _fleet import punctual_timers

PR_GET_TIMERSLACK = 30


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl: Linux only")
def test_punctual_timers_sets_the_calling_threads_slack_only() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    ours = libc.prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0)
    assert ours > 1  # inherited from the parent: Linux's default is 50,000 ns
    seen: dict[str, int] = {}

    def sender() -> None:
        seen["before"] = libc.prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0)
        seen["set"] = punctual_timers()
        seen["after"] = libc.prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0)

    thread = threading.Thread(target=sender)
    thread.start()
    thread.join()
    assert seen["before"] == ours  # a new thread starts with its creator's slack
    assert seen["set"] is True and seen["after"] == 1
    assert libc.prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0) == ours  # this thread untouched
