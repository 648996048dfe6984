"""Aligners and reducers of `projects.timeSeries.list` (the `aggregation.*` parameters).

Aligned periods end at `interval.endTime` and step back by the alignment period while they end
after `interval.startTime`; each covers the samples in (end - period, end]. Points come newest
first, as Google returns them. What the emulator does not implement is refused (400)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tpu_emulator.errors import ApiError
from tpu_emulator.monitoring.patterns import Stats

# Per-series aligners: what a period's statistics become, and the value type they give
# ("same" keeps the metric's).
ALIGNERS: dict[str, tuple[Callable[[Stats], float], str]] = {
    "ALIGN_MEAN": (lambda s: s.total / s.count, "DOUBLE"),
    "ALIGN_MAX": (lambda s: s.high, "same"),
    "ALIGN_MIN": (lambda s: s.low, "same"),
    "ALIGN_SUM": (lambda s: s.total, "same"),
    "ALIGN_COUNT": (lambda s: float(s.count), "INT64"),
    "ALIGN_STDDEV": (
        lambda s: math.sqrt(max(0.0, s.squares / s.count - (s.total / s.count) ** 2)),
        "DOUBLE",
    ),
}
REDUCERS: dict[str, tuple[Callable[[list[float]], float], str]] = {
    "REDUCE_MEAN": (statistics.fmean, "DOUBLE"),
    "REDUCE_MAX": (max, "same"),
    "REDUCE_MIN": (min, "same"),
    "REDUCE_SUM": (math.fsum, "same"),
    "REDUCE_COUNT": (lambda values: float(len(values)), "INT64"),
    "REDUCE_STDDEV": (statistics.pstdev, "DOUBLE"),
}
_GROUPABLE = ("resource.labels.", "metric.labels.", "resource.label.", "metric.label.")


def _refuse(message: str, param: str) -> ApiError:
    return ApiError("INVALID_ARGUMENT", message, field=param)


@dataclass(frozen=True)
class Aggregation:
    period: timedelta | None = None
    aligner: str = "ALIGN_NONE"
    reducer: str = "REDUCE_NONE"
    group_by: tuple[str, ...] = field(default=())

    @property
    def aligned(self) -> bool:
        return self.aligner != "ALIGN_NONE"

    @property
    def reduced(self) -> bool:
        return self.reducer != "REDUCE_NONE"

    def value_type(self, metric_value_type: str) -> str:
        kind = "same"
        if self.aligned:
            kind = ALIGNERS[self.aligner][1]
        kind = kind if kind != "same" else metric_value_type
        if self.reduced:
            reduced = REDUCERS[self.reducer][1]
            kind = reduced if reduced != "same" else kind
        return kind


def aggregation(
    period: timedelta | None, aligner: str, reducer: str, group_by: list[str]
) -> Aggregation:
    """Validate the `aggregation.*` parameters as Cloud Monitoring does."""
    aligner, reducer = aligner or "ALIGN_NONE", reducer or "REDUCE_NONE"
    if aligner != "ALIGN_NONE" and aligner not in ALIGNERS:
        raise _refuse(
            f"The emulator does not implement perSeriesAligner {aligner}; it implements "
            f"ALIGN_NONE, {', '.join(ALIGNERS)}.",
            "aggregation.perSeriesAligner",
        )
    if reducer != "REDUCE_NONE" and reducer not in REDUCERS:
        raise _refuse(
            f"The emulator does not implement crossSeriesReducer {reducer}; it implements "
            f"REDUCE_NONE, {', '.join(REDUCERS)}.",
            "aggregation.crossSeriesReducer",
        )
    if period is not None and period < timedelta(seconds=60):
        raise _refuse(
            "The alignment period must be at least 60 seconds.", "aggregation.alignmentPeriod"
        )
    if aligner != "ALIGN_NONE" and period is None:
        raise _refuse(
            "An alignment period is required when a per-series aligner is set.",
            "aggregation.alignmentPeriod",
        )
    if reducer != "REDUCE_NONE" and aligner == "ALIGN_NONE":
        raise _refuse(
            "A per-series aligner other than ALIGN_NONE is required with a cross-series reducer.",
            "aggregation.perSeriesAligner",
        )
    if group_by and reducer == "REDUCE_NONE":
        raise _refuse("groupByFields needs a cross-series reducer.", "aggregation.groupByFields")
    for path in group_by:
        if not path.startswith(_GROUPABLE) and path not in ("resource.type", "metric.type"):
            raise _refuse(f"Cannot group by {path!r}.", "aggregation.groupByFields")
    normal = tuple(p.replace(".label.", ".labels.") for p in group_by)
    return Aggregation(period, aligner, reducer, normal)


def period_ends(start: datetime, end: datetime, period: timedelta) -> list[datetime]:
    """The ends of the aligned periods, newest first."""
    ends, current = [end], end - period
    while current > start:
        ends.append(current)
        current -= period
    return ends


def align(stats: Stats, aligner: str) -> float:
    return ALIGNERS[aligner][0](stats)


def reduce_values(values: list[float], reducer: str) -> float:
    return REDUCERS[reducer][0](values)
