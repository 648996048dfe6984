"""Cloud Monitoring v3 REST paths of `monitoring.v3.json` that the emulator serves. Stats keys
are the discovery method ids (`monitoring.projects.timeSeries.list`)."""

from __future__ import annotations

from tpu_emulator.routes import LIST, route

_PROJECT = r"projects/[^/]+"
_AGGREGATION = tuple(
    f"{prefix}.{name}"
    for prefix in ("aggregation", "secondaryAggregation")
    for name in ("alignmentPeriod", "perSeriesAligner", "crossSeriesReducer", "groupByFields")
)
# Query parameters a client may repeat (googleapiclient sends one per value).
REPEATED = frozenset({"aggregation.groupByFields", "secondaryAggregation.groupByFields"})

ROUTES = [
    route(
        "GET",
        f"{_PROJECT}/timeSeries",
        "monitoring.projects.timeSeries.list",
        (
            "filter",
            "interval.startTime",
            "interval.endTime",
            "orderBy",
            "view",
            *_AGGREGATION,
            *LIST,
        ),
        lambda e, n, q, b: e.monitoring.list_time_series(n.rsplit("/timeSeries", 1)[0], q),
    ),
    route(
        "GET",
        f"{_PROJECT}/metricDescriptors",
        "monitoring.projects.metricDescriptors.list",
        ("filter", "activeOnly", *LIST),
        lambda e, n, q, b: e.monitoring.list_metric_descriptors(
            n.rsplit("/metricDescriptors", 1)[0], q
        ),
    ),
    route(
        "GET",
        f"{_PROJECT}/metricDescriptors/.+",
        "monitoring.projects.metricDescriptors.get",
        (),
        lambda e, n, q, b: e.monitoring.get_metric_descriptor(n),
    ),
    route(
        "GET",
        f"{_PROJECT}/monitoredResourceDescriptors",
        "monitoring.projects.monitoredResourceDescriptors.list",
        ("filter", *LIST),
        lambda e, n, q, b: e.monitoring.list_resource_descriptors(
            n.rsplit("/monitoredResourceDescriptors", 1)[0], q
        ),
    ),
    route(
        "GET",
        f"{_PROJECT}/monitoredResourceDescriptors/.+",
        "monitoring.projects.monitoredResourceDescriptors.get",
        (),
        lambda e, n, q, b: e.monitoring.get_resource_descriptor(n),
    ),
]
