"""Limits on what reaches the bot, as pure rules that take `now` (seconds on any monotonic clock).

- `RateLimiter`: a token bucket per key (a Slack user): `burst` at once, then `per_minute`.
- `DrainRate`: how fast the work queue empties, to tell a refused user when to come back.
- `Recently`: whether a key was seen within a window (one audit line a minute, not per request).
- `wait_words`: "12 s", "2 min" - how long to wait, said the way the refusals say it.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """Whether a request may go ahead; if not, when the next one would (seconds from now)."""

    allowed: bool
    retry_after: float = 0.0


@dataclass
class _Bucket:
    tokens: float
    at: float
    scale: float


class RateLimiter:
    """Token buckets per key. A key seen for the first time starts with a full bucket; buckets
    that have refilled are the ones forgotten first when more than `max_keys` are held (a full
    bucket and a fresh one are the same)."""

    def __init__(self, per_minute: float, burst: int, max_keys: int = 10_000) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be > 0 and burst >= 1")
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, now: float, scale: float = 1.0) -> Verdict:
        """Spend one token of `key`'s bucket if it has one; `scale` multiplies rate and burst
        (a higher allowance for some keys)."""
        rate, burst = self.rate * scale, self.burst * scale
        bucket = self._buckets.get(key)
        if bucket is None:
            self._forget(now)
            bucket = _Bucket(tokens=burst, at=now, scale=scale)
            self._buckets[key] = bucket
        else:
            self._buckets.move_to_end(key)
            bucket.scale = scale
        elapsed = max(0.0, now - bucket.at)
        bucket.tokens = min(burst, bucket.tokens + elapsed * rate)
        bucket.at = max(bucket.at, now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return Verdict(True)
        return Verdict(False, (1.0 - bucket.tokens) / rate)

    def _forget(self, now: float) -> None:
        """Making room for one more: drop the buckets that are full again (a fresh bucket is the
        same)."""
        if len(self._buckets) < self.max_keys:
            return
        for key, bucket in list(self._buckets.items()):
            refilled = bucket.tokens + (now - bucket.at) * self.rate * bucket.scale
            if refilled >= self.burst * bucket.scale:
                del self._buckets[key]
        # Then the least recently used, down to 90% so the next new key does not scan again.
        while len(self._buckets) >= self.max_keys * 0.9:
            self._buckets.popitem(last=False)


class DrainRate:
    """Completions over the last `window` seconds: how long a queue of `depth` takes to empty."""

    def __init__(self, window: float = 60.0, unknown: float = 30.0, most: float = 600.0) -> None:
        self.window = window
        self.unknown = unknown  # said when nothing finished lately (the workers are all stuck)
        self.most = most
        self._done: deque[float] = deque()

    def finished(self, now: float) -> None:
        self._done.append(now)
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._done and self._done[0] < now - self.window:
            self._done.popleft()

    def per_second(self, now: float) -> float | None:
        """Jobs finished per second lately; None when too few finished to say."""
        self._trim(now)
        if len(self._done) < 2:
            return None
        span = max(now - self._done[0], 1.0)
        return len(self._done) / span

    def retry_after(self, depth: int, now: float) -> float:
        """Seconds until `depth` queued jobs are done at the recent rate (at least 1)."""
        rate = self.per_second(now)
        if rate is None:
            return self.unknown
        return min(self.most, max(1.0, depth / rate))


class Recently:
    """Keys seen within the last `window` seconds (bounded: the oldest are forgotten first)."""

    def __init__(self, window: float, max_keys: int = 10_000) -> None:
        self.window = window
        self.max_keys = max_keys
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first(self, key: str, now: float) -> bool:
        """True if `key` was not seen in the window (and remember it from now)."""
        last = self._seen.get(key)
        if last is not None and now - last < self.window:
            return False
        self._seen[key] = now
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)
        return True


def wait_words(seconds: float) -> str:
    """A wait, rounded up: "1 s", "12 s", "2 min" (whole minutes from 2 minutes on)."""
    whole = max(1, math.ceil(seconds - 1e-9))
    if whole < 120:
        return f"{whole} s"
    return f"{math.ceil(whole / 60)} min"
