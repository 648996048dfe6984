"""A clock that tests, benches and the demo move by hand instead of sleeping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class FakeClock:
    """Callable like `datetime.now(UTC)`; `advance(seconds)` moves it."""

    def __init__(self, start: datetime = T0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now
