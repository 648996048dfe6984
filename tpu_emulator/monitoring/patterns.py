"""What a TPU's duty cycle is at any time, computed on demand: no stored history.

Samples are taken every SAMPLE_SECONDS on the epoch grid (sample k at k * 60 s). Each TPU follows a
two-level square wave chosen from a hash of its full name (busy, bursty or idle), so the count,
sum, minimum and maximum of any run of samples have a closed form: a 3-hour mean over 10,000 TPUs
costs 10,000 small formulas, not 1.8 million samples. An injected duty cycle replaces the pattern
from its `since` on (the utilization table, keyed by the TPU's full name, shared by every kind of
TPU the emulator serves).
"""

from __future__ import annotations

import functools
import math
import threading
import zlib
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

SAMPLE_SECONDS = 60


class Pattern(Enum):
    BUSY = "busy"
    BURSTY = "bursty"
    IDLE = "idle"


@dataclass(frozen=True)
class Wave:
    """`high` for `on` samples, then `low` for `off` samples, shifted by `phase` samples."""

    high: float
    low: float
    on: int
    off: int
    phase: int

    def value(self, k: int) -> float:
        return self.high if (k + self.phase) % (self.on + self.off) < self.on else self.low

    def highs(self, first: int, last: int) -> int:
        """How many samples in [first, last] are high."""

        def upto(m: int) -> int:  # high samples among 0..m-1 of the shifted wave
            period = self.on + self.off
            return (m // period) * self.on + min(m % period, self.on)

        return upto(last + 1 + self.phase) - upto(first + self.phase)


def pattern_of(name: str) -> Pattern:
    """Half the fleet busy, three in ten bursty, two in ten idle: stable per name."""
    bucket = zlib.crc32(name.encode()) % 10
    return Pattern.IDLE if bucket < 2 else Pattern.BURSTY if bucket < 5 else Pattern.BUSY


@functools.lru_cache(maxsize=65536)
def wave_of(name: str) -> Wave:
    """The TPU's wave; the workers of one TPU run in lockstep."""
    seed = zlib.crc32(f"wave:{name}".encode())
    jitter = (seed >> 8) % 100 / 100  # 0.00 .. 0.99
    phase = seed % 97
    pattern = pattern_of(name)
    if pattern is Pattern.IDLE:
        return Wave(high=1.0 + jitter, low=0.0, on=3, off=14, phase=phase)
    if pattern is Pattern.BURSTY:
        # About 40 minutes of work, then about an hour of nothing, around the clock (periods
        # that do not divide 3 hours, so a 3-hour mean moves with time).
        return Wave(high=85.0 + 10 * jitter, low=0.5, on=37, off=61, phase=phase)
    return Wave(high=92.0 + 5 * jitter, low=70.0 + 10 * jitter, on=47, off=11, phase=phase)


@dataclass(frozen=True)
class Stats:
    """Count, sum, sum of squares, minimum and maximum of a run of samples."""

    count: int = 0
    total: float = 0.0
    squares: float = 0.0
    low: float = math.inf
    high: float = -math.inf

    def __add__(self, other: Stats) -> Stats:
        return Stats(
            self.count + other.count,
            self.total + other.total,
            self.squares + other.squares,
            min(self.low, other.low),
            max(self.high, other.high),
        )


def _constant(value: float, count: int) -> Stats:
    if count <= 0:
        return Stats()
    return Stats(count, value * count, value * value * count, value, value)


def _wave_stats(wave: Wave, first: int, last: int) -> Stats:
    if last < first:
        return Stats()
    highs = wave.highs(first, last)
    return _constant(wave.high, highs) + _constant(wave.low, last - first + 1 - highs)


@dataclass(frozen=True)
class Override:
    """Injected duty cycles: from sample `k` on, `percent` (until the next step)."""

    steps: tuple[tuple[int, float], ...]  # (first sample, percent), by sample


class UtilizationTable:
    """Injected duty cycles by TPU full name; thread-safe. An inject with `since` keeps what
    was true before it (the pattern, or earlier injects) and replaces what came after."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, Override] = {}

    def set(self, name: str, percent: float, since: datetime) -> None:
        k = first_sample(since)
        with self._lock:
            kept = self._items[name].steps if name in self._items else ()
            self._items[name] = Override((*(s for s in kept if s[0] < k), (k, percent)))

    def get(self, name: str) -> Override | None:
        with self._lock:
            return self._items.get(name)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def first_sample(moment: datetime) -> int:
    """The first sample at or after `moment`."""
    return math.ceil(moment.timestamp() / SAMPLE_SECONDS)


def last_sample(moment: datetime) -> int:
    """The last sample at or before `moment`."""
    return math.floor(moment.timestamp() / SAMPLE_SECONDS)


def duty_stats(wave: Wave, override: Override | None, first: int, last: int) -> Stats:
    """Statistics of the duty cycle over samples first..last (inclusive)."""
    if override is None:
        return _wave_stats(wave, first, last)
    steps = override.steps
    stats = _wave_stats(wave, first, min(last, steps[0][0] - 1))
    for i, (start, percent) in enumerate(steps):
        end = steps[i + 1][0] - 1 if i + 1 < len(steps) else last
        stats = stats + _constant(percent, min(last, end) - max(first, start) + 1)
    return stats


def duty_at(wave: Wave, override: Override | None, k: int) -> float:
    value = wave.value(k)
    for start, percent in override.steps if override is not None else ():
        if k >= start:
            value = percent
    return value
