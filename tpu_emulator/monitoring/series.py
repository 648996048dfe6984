"""Time series of running TPUs, their points computed from the duty-cycle patterns on demand.

A Track is one TPU's duty cycle for one request: its workers run in lockstep, so the statistics
of a period are computed once per TPU and shared by its workers' series (and by every metric
derived from the duty cycle)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tpu_emulator.errors import Json
from tpu_emulator.monitoring.aggregation import Aggregation, align, period_ends
from tpu_emulator.monitoring.descriptors import MetricType
from tpu_emulator.monitoring.patterns import (
    SAMPLE_SECONDS,
    Override,
    Stats,
    duty_at,
    duty_stats,
    first_sample,
    last_sample,
    wave_of,
)
from tpu_emulator.monitoring.sources import RunningTpu
from tpu_emulator.rules import rfc3339


@dataclass
class Track:
    """One running TPU's duty cycle over the samples that exist (from `since` to `latest`)."""

    tpu: RunningTpu
    override: Override | None
    latest: int  # the newest sample that exists (now's)
    _periods: dict[tuple[datetime, datetime, float], list[tuple[datetime, Stats]]] = field(
        default_factory=dict
    )

    def periods(
        self, start: datetime, end: datetime, agg: Aggregation
    ) -> list[tuple[datetime, Stats]]:
        """The duty cycle's statistics per aligned period that holds samples, newest first."""
        assert agg.period is not None
        key = (start, end, agg.period.total_seconds())
        found = self._periods.get(key)
        if found is None:
            wave, earliest = wave_of(self.tpu.name), first_sample(self.tpu.since)
            found = []
            for period_end in period_ends(start, end, agg.period):
                first = max(earliest, last_sample(period_end - agg.period) + 1)
                stats = duty_stats(
                    wave, self.override, first, min(self.latest, last_sample(period_end))
                )
                if stats.count:
                    found.append((period_end, stats))
            self._periods[key] = found
        return found

    def samples(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, float]]:
        """Every sample in [start, end], newest first."""
        wave = wave_of(self.tpu.name)
        first = max(first_sample(start), first_sample(self.tpu.since))
        for k in range(min(last_sample(end), self.latest), first - 1, -1):
            yield datetime.fromtimestamp(k * SAMPLE_SECONDS, UTC), duty_at(wave, self.override, k)


@dataclass(frozen=True)
class Series:
    """One worker of one running TPU, for one metric type."""

    metric: MetricType
    track: Track
    worker: int

    @property
    def tpu(self) -> RunningTpu:
        return self.track.tpu

    @property
    def labels(self) -> dict[str, str]:
        return self.tpu.workers[self.worker]

    def fields(self) -> dict[str, str]:
        """What a filter or groupByFields can name."""
        out = {
            "metric.type": self.metric.type,
            "resource.type": self.tpu.resource_type,
            "project": self.labels.get("project_id") or self.labels.get("resource_container", ""),
        }
        out.update({f"resource.labels.{k}": v for k, v in self.labels.items()})
        return out

    def header(self, value_type: str) -> Json:
        return {
            "metric": {"type": self.metric.type},
            "resource": {"type": self.tpu.resource_type, "labels": dict(self.labels)},
            "metricKind": "GAUGE",
            "valueType": value_type,
            "unit": self.metric.unit,
        }

    def _line(self) -> tuple[float, float]:
        """(base, slope): the metric's value is base + slope * duty cycle (percent)."""
        hbm = float(self.tpu.hbm_bytes)
        derive = self.metric.derive
        if derive == "duty":
            return 0.0, 1.0
        if derive == "tensorcore":
            return 0.0, 0.8
        if derive == "hbm_used":
            return 0.02 * hbm, 0.009 * hbm
        return hbm, 0.0

    def _stats(self, duty: Stats) -> Stats:
        """The metric's statistics from the duty cycle's."""
        base, slope = self._line()
        if (base, slope) == (0.0, 1.0):
            return duty
        return Stats(
            duty.count,
            base * duty.count + slope * duty.total,
            base * base * duty.count + 2 * base * slope * duty.total + slope * slope * duty.squares,
            base + slope * duty.low,
            base + slope * duty.high,
        )

    def raw(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, float]]:
        base, slope = self._line()
        for when, duty in self.track.samples(start, end):
            yield when, base + slope * duty

    def aligned(
        self, start: datetime, end: datetime, agg: Aggregation
    ) -> list[tuple[datetime, float]]:
        """One value per aligned period that holds samples, newest first."""
        return [
            (when, align(self._stats(duty), agg.aligner))
            for when, duty in self.track.periods(start, end, agg)
        ]


def typed(value: float, value_type: str) -> Json:
    if value_type == "INT64":
        return {"int64Value": str(round(value))}
    return {"doubleValue": value}


def point(when: datetime, value: float, value_type: str) -> Json:
    stamp = rfc3339(when)
    return {"interval": {"startTime": stamp, "endTime": stamp}, "value": typed(value, value_type)}
