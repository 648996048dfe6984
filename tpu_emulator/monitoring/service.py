"""Cloud Monitoring v3 for the emulated fleet: `projects.timeSeries.list`, metric and monitored
resource descriptors. Every method takes the query as googleapiclient sends it and returns the
response body of `monitoring.v3.json`."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime

from tpu_emulator.errors import ApiError, Json
from tpu_emulator.monitoring import descriptors, filters
from tpu_emulator.monitoring.aggregation import Aggregation, aggregation, reduce_values
from tpu_emulator.monitoring.descriptors import BY_TYPE, METRICS, RESOURCE_TYPES
from tpu_emulator.monitoring.patterns import UtilizationTable, last_sample
from tpu_emulator.monitoring.series import Series, Track, point
from tpu_emulator.monitoring.sources import Source
from tpu_emulator.paging import decode_offset, encode_token, page_items
from tpu_emulator.rules import parse_duration, parse_time

_PROJECT = re.compile(r"^projects/([^/]+)$")
MAX_PAGE = 100_000  # points (view FULL) or series (HEADERS), as Cloud Monitoring counts them
_UNSUPPORTED = ("secondaryAggregation.", "orderBy")


def project_of(name: str) -> str:
    match = _PROJECT.match(name)
    if not match:
        raise ApiError("INVALID_ARGUMENT", f"Invalid resource name: {name!r}", field="name")
    return match.group(1)


class MonitoringService:
    """Series from every registered source (see sources.py), points from the patterns."""

    def __init__(self, clock: Callable[[], datetime], utilization: UtilizationTable) -> None:
        self.clock = clock
        self.utilization = utilization
        self.sources: list[Source] = []

    def add_source(self, source: Source) -> None:
        self.sources.append(source)

    @staticmethod
    def metric_types() -> list[str]:
        return [m.type for m in METRICS]

    # ----- timeSeries.list -------------------------------------------------------------------

    def list_time_series(self, name: str, query: Mapping[str, str]) -> Json:
        project = project_of(name)
        for key in query:
            if key.startswith(_UNSUPPORTED) and query[key]:
                raise ApiError(
                    "INVALID_ARGUMENT",
                    f"The emulator does not implement {key}"
                    + (" (Cloud Monitoring requires it blank)." if key == "orderBy" else "."),
                    field=key,
                )
        conditions = filters.parse(query.get("filter", ""))
        metric = _metric_of(conditions)
        start, end = _interval(query)
        agg = _aggregation(query)
        view = query.get("view") or "FULL"
        if view not in ("FULL", "HEADERS"):
            raise ApiError("INVALID_ARGUMENT", f"Invalid view {view!r}.", field="view")
        series = self._series(project, metric, last_sample(self.clock()))
        others = [c for c in conditions if c.selector != "metric.type"]
        if others:
            series = [s for s in series if filters.matches(others, s.fields())]
        bodies = self._bodies(series, start, end, agg, view)
        return _page(bodies, query, view)

    def _series(self, project: str, metric: descriptors.MetricType, latest: int) -> list[Series]:
        out = []
        for source in self.sources:
            for tpu in source(project):
                track = Track(tpu, self.utilization.get(tpu.name), latest)
                out += [Series(metric, track, w) for w in range(len(tpu.workers))]
        return out

    def _bodies(
        self, series: list[Series], start: datetime, end: datetime, agg: Aggregation, view: str
    ) -> list[Json]:
        if not series:
            return []
        value_type = agg.value_type(series[0].metric.value_type)
        if agg.reduced:
            return _reduced(series, start, end, agg, value_type, view)
        bodies = []
        for s in series:
            body = s.header(value_type)
            if view == "FULL":
                values = s.aligned(start, end, agg) if agg.aligned else list(s.raw(start, end))
                if not values:
                    continue  # no point in the interval: Google leaves the series out
                body["points"] = [point(t, v, value_type) for t, v in values]
            bodies.append(body)
        return bodies

    # ----- descriptors -----------------------------------------------------------------------

    def list_metric_descriptors(self, name: str, query: Mapping[str, str]) -> Json:
        project = project_of(name)
        conditions = filters.parse(query.get("filter", ""))
        items = [
            m.descriptor(project)
            for m in METRICS
            if filters.matches(conditions, {"metric.type": m.type, "project": project})
        ]
        return _page_items(items, "metricDescriptors", query)

    def get_metric_descriptor(self, name: str) -> Json:
        project_name, _, metric_type = name.partition("/metricDescriptors/")
        project = project_of(project_name)
        if metric_type not in BY_TYPE:
            raise ApiError("NOT_FOUND", f"Could not find descriptor for metric '{metric_type}'.")
        return BY_TYPE[metric_type].descriptor(project)

    def list_resource_descriptors(self, name: str, query: Mapping[str, str]) -> Json:
        project = project_of(name)
        conditions = filters.parse(query.get("filter", ""))
        items = [
            descriptors.resource_descriptor(project, t)
            for t in RESOURCE_TYPES
            if filters.matches(conditions, {"resource.type": t, "project": project})
        ]
        return _page_items(items, "resourceDescriptors", query)

    def get_resource_descriptor(self, name: str) -> Json:
        project_name, _, resource_type = name.partition("/monitoredResourceDescriptors/")
        project = project_of(project_name)
        if resource_type not in RESOURCE_TYPES:
            raise ApiError(
                "NOT_FOUND", f"Could not find monitored resource descriptor '{resource_type}'."
            )
        return descriptors.resource_descriptor(project, resource_type)


def _metric_of(conditions: list[filters.Condition]) -> descriptors.MetricType:
    """timeSeries.list needs exactly one metric type, named with `metric.type = "..."`."""
    named = [c for c in conditions if c.selector == "metric.type"]
    if len(named) != 1 or named[0].function != "equals" or named[0].negated:
        raise ApiError(
            "INVALID_ARGUMENT",
            'The filter must name exactly one metric type: metric.type = "...".',
            field="filter",
        )
    wanted = named[0].args[0]
    if wanted not in BY_TYPE:
        raise ApiError("NOT_FOUND", f'Cannot find metric(s) that match type = "{wanted}".')
    return BY_TYPE[wanted]


def _interval(query: Mapping[str, str]) -> tuple[datetime, datetime]:
    if not query.get("interval.endTime"):
        raise ApiError(
            "INVALID_ARGUMENT", "interval.endTime is required.", field="interval.endTime"
        )
    end = parse_time(query["interval.endTime"], "interval.endTime")
    start = end
    if query.get("interval.startTime"):
        start = parse_time(query["interval.startTime"], "interval.startTime")
    if start > end:
        raise ApiError(
            "INVALID_ARGUMENT",
            "The start time must not be later than the end time.",
            field="interval.startTime",
        )
    return start, end


def _aggregation(query: Mapping[str, str]) -> Aggregation:
    period = None
    if query.get("aggregation.alignmentPeriod"):
        period = parse_duration(query["aggregation.alignmentPeriod"], "aggregation.alignmentPeriod")
    group_by = [g for g in query.get("aggregation.groupByFields", "").split(",") if g]
    return aggregation(
        period,
        query.get("aggregation.perSeriesAligner", ""),
        query.get("aggregation.crossSeriesReducer", ""),
        group_by,
    )


def _reduced(
    series: list[Series],
    start: datetime,
    end: datetime,
    agg: Aggregation,
    value_type: str,
    view: str,
) -> list[Json]:
    """One series per group of the groupByFields values, its points reduced across members.
    A TPU's workers run in lockstep: their values are computed once and counted per worker."""
    groups: dict[tuple[str, ...], tuple[Series, dict[datetime, list[float]]]] = {}
    per_worker = "resource.labels.worker_id" in agg.group_by
    for _, same_tpu in itertools.groupby(series, key=lambda s: id(s.track)):
        members = list(same_tpu)
        values = members[0].aligned(start, end, agg)
        parts = [[m] for m in members] if per_worker else [members]
        for part in parts:
            fields = part[0].fields()
            key = tuple(fields.get(f, "") for f in agg.group_by)
            _, by_end = groups.setdefault(key, (part[0], {}))
            for when, value in values:
                by_end.setdefault(when, []).extend([value] * len(part))
    bodies = []
    for key in sorted(groups):
        first, by_end = groups[key]
        if not by_end:
            continue
        body = _group_header(first, dict(zip(agg.group_by, key, strict=True)), value_type)
        if view == "FULL":
            body["points"] = [
                point(when, reduce_values(by_end[when], agg.reducer), value_type)
                for when in sorted(by_end, reverse=True)
            ]
        bodies.append(body)
    return bodies


def _group_header(first: Series, grouped: dict[str, str], value_type: str) -> Json:
    """The reduced series keeps only the grouped labels (and the types)."""
    metric: Json = {"type": first.metric.type}
    resource: Json = {"type": first.tpu.resource_type}
    resource_labels = {
        k.split(".", 2)[2]: v for k, v in grouped.items() if k.startswith("resource.labels.")
    }
    metric_labels = {
        k.split(".", 2)[2]: v for k, v in grouped.items() if k.startswith("metric.labels.")
    }
    if resource_labels:
        resource["labels"] = resource_labels
    if metric_labels:
        metric["labels"] = metric_labels
    return {
        "metric": metric,
        "resource": resource,
        "metricKind": "GAUGE",
        "valueType": value_type,
        "unit": first.metric.unit,
    }


def _query_key(query: Mapping[str, str]) -> str:
    """A page token only works for the query it came from."""
    kept = {k: v for k, v in query.items() if k not in ("pageToken", "pageSize")}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]


def _page_size(query: Mapping[str, str]) -> int:
    raw = query.get("pageSize") or "0"
    try:
        size = int(raw)
    except ValueError:
        raise ApiError(
            "INVALID_ARGUMENT",
            f"Invalid value at 'page_size' (TYPE_INT32), \"{raw}\"",
            field="pageSize",
        ) from None
    if size < 0:
        raise ApiError("INVALID_ARGUMENT", "pageSize must not be negative.", field="pageSize")
    return min(size, MAX_PAGE) if size else MAX_PAGE


def _page(bodies: list[Json], query: Mapping[str, str], view: str) -> Json:
    """Whole series per page: up to pageSize points (FULL) or series (HEADERS)."""
    key, limit = _query_key(query), _page_size(query)
    offset = decode_offset(query["pageToken"], key) if query.get("pageToken") else 0
    taken: list[Json] = []
    used = 0
    for body in bodies[offset:]:
        cost = len(body.get("points", [])) if view == "FULL" else 1
        if taken and used + cost > limit:
            break
        taken.append(body)
        used += cost
    out: Json = {}
    if taken:
        out["timeSeries"] = taken
    if offset + len(taken) < len(bodies):
        out["nextPageToken"] = encode_token({"p": key, "o": offset + len(taken)})
    return out


def _page_items(items: list[Json], key: str, query: Mapping[str, str]) -> Json:
    found, token = page_items(items, _query_key(query), query.get("pageToken"), _page_size(query))
    out: Json = {key: found} if found else {}
    if token:
        out["nextPageToken"] = token
    return out
