"""Waiting on the exact condition a test asserts, in one place."""
from __future__ import annotations

import time
from typing import Callable
from typing import TypeVar

T = TypeVar("T")


def until(probe: Callable[[], T], timeout_s: float = 10.0,
          step_s: float = 0.05,
          ready: Callable[[T], object] = bool) -> T:
    """``probe()`` every ``step_s`` until ``ready`` of its value holds
    (its truth by default) or ``timeout_s`` has passed; its last value,
    for the test to assert on (and show when it fails)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if ready(value) or time.monotonic() >= deadline:
            return value
        time.sleep(step_s)
