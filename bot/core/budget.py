"""Pure: a request budget (a token bucket) that takes `now`.

Commands spend TPU API requests from a budget of their own, apart from the watcher's, so no burst
of listings by people can spend the quota the watcher needs."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class RequestBudget:
    """`per_minute` requests a minute, in bursts of up to `burst` (default: a tenth of a minute's
    worth, at least 10). Thread-safe; `now` is in seconds (any monotonic clock)."""

    per_minute: float
    burst: float = 0.0
    _level: float | None = field(default=None, init=False)
    _since: float = field(default=0.0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        if self.burst <= 0:
            self.burst = max(10.0, self.per_minute / 10)

    def take(self, now: float) -> float:
        """Spend one request: 0.0 when granted, else the seconds until one is available."""
        rate = self.per_minute / 60.0
        with self._lock:
            level = self.burst if self._level is None else self._level
            level = min(self.burst, level + max(0.0, now - self._since) * rate)
            self._since = now
            if level >= 1.0:
                self._level = level - 1.0
                return 0.0
            self._level = level
            return (1.0 - level) / rate
