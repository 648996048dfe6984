"""Waiting without sleeping to synchronize: poll a condition against a deadline; free ports.

Plain module (no pytest) so the benchmarks use the same helpers as the tests.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any


def eventually(
    predicate: Any, timeout: float = 10.0, what: str = "condition", interval: float = 0.01
) -> Any:
    """Poll `predicate` until it is truthy (its value) or the deadline passes (TimeoutError)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not met in {timeout} s")
        pause.wait(interval)


def free_port() -> int:
    """A port nothing listens on now, for a child process that must be told its port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
