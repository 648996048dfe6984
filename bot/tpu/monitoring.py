"""Cloud Monitoring v3 (googleapiclient, static discovery of the bundled `monitoring.v3.json`)
read as core.usage's `UsageListing`: how busy each TPU of a project was.

One aggregated `projects.timeSeries.list` per metric per kind of TPU per project (plus its
pages): the filter names the metric type and the monitored resource type, each worker's series
is aligned to `step`-long means (ALIGN_MEAN), and a cross-series reducer grouped by the TPU's
zone and id labels gives one series per TPU however many hosts it has. The two kinds (Cloud TPU
API nodes on `tpu_worker`, Compute Engine TPU VMs on `tpu.googleapis.com/GceTpuWorker`) are
separate requests because their identity labels differ: grouping by one kind's labels would
split or merge the other's series.

Failures (HTTP errors after the library's retries, an unreachable endpoint, an answer that does
not parse) make that kind's usage unknown for the project, with the reason, logged: never idle.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from google.auth.credentials import Credentials

from bot.core.usage import Metric, Point, TpuKind, TpuUsage, UsageKey, UsageListing
from bot.tpu.transport import CallObserver, Transport, make_credentials
from bot.usecases.ports import TpuError

log = logging.getLogger(__name__)

GOOGLE_ENDPOINT = "https://monitoring.googleapis.com/"
LIST_METHOD = "monitoring.projects.timeSeries.list"  # the discovery id (the emulator's stats key)
MAX_PAGE_SIZE = 100_000  # "If page_size is empty or more than 100,000 results, ... 100,000"


@dataclass(frozen=True)
class ResourceKind:
    """A monitored resource type TPUs report against, and which of its labels name the TPU."""

    kind: TpuKind
    resource_type: str
    zone_label: str
    id_label: str

    @property
    def group_by(self) -> list[str]:
        return [f"resource.labels.{self.zone_label}", f"resource.labels.{self.id_label}"]


@dataclass(frozen=True)
class MetricQuery:
    """A metric type and how it is aligned per worker and reduced over a TPU's workers."""

    type: str
    aligner: str = "ALIGN_MEAN"
    reducer: str = "REDUCE_MAX"


# Defaults: what the emulator serves (docs/emulator.md, "Monitoring", with the sources of each
# type and label; whether Google reports Cloud TPU API VMs on tpu_worker or GceTpuWorker today,
# and what worker_id holds on GceTpuWorker, were not found: configure them if they differ).
TPU_WORKER = ResourceKind(TpuKind.NODE, "tpu_worker", "zone", "node_id")
GCE_TPU_WORKER = ResourceKind(
    TpuKind.INSTANCE, "tpu.googleapis.com/GceTpuWorker", "location", "worker_id"
)
_ACCELERATOR = "tpu.googleapis.com/accelerator/"
DEFAULT_METRICS: Mapping[Metric, MetricQuery] = {
    # REDUCE_MAX: a multi-host TPU is as busy as its busiest worker, so one working host is
    # enough to keep it from being called idle.
    Metric.DUTY_CYCLE: MetricQuery(_ACCELERATOR + "duty_cycle"),
    Metric.TENSORCORE: MetricQuery(_ACCELERATOR + "tensorcore_utilization"),
    # HBM: bytes per worker, summed over the TPU's workers.
    Metric.HBM_USED: MetricQuery(_ACCELERATOR + "memory_used", "ALIGN_MEAN", "REDUCE_SUM"),
    Metric.HBM_TOTAL: MetricQuery(_ACCELERATOR + "memory_total", "ALIGN_MAX", "REDUCE_SUM"),
}


@dataclass(frozen=True)
class MonitoringConfig:
    metrics: Mapping[Metric, MetricQuery] = field(default_factory=lambda: dict(DEFAULT_METRICS))
    resources: tuple[ResourceKind, ...] = (TPU_WORKER, GCE_TPU_WORKER)


# A node id or an instance's numeric id: what may go inside a filter's quotes.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


MAX_PARALLEL = 8  # reads of one `usage` call at once (kinds x metrics: at most 8 by default)


class MalformedAnswer(ValueError):
    """A response that does not say what monitoring.v3.json says it should."""


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(span: timedelta) -> str:
    return f"{int(span.total_seconds())}s"


class MonitoringClient:
    """Thread-safe reader of TPU utilization. Build once; share between threads."""

    def __init__(
        self,
        endpoint: str = GOOGLE_ENDPOINT,
        credentials: Credentials | None = None,
        *,
        config: MonitoringConfig | None = None,
        timeout: float = 30.0,
        retries: int = 2,
        backoff_seconds: float = 1.0,
        page_size: int = MAX_PAGE_SIZE,
        parallel: int = MAX_PARALLEL,
        sleep: Callable[[float], None] = time.sleep,
        observer: CallObserver | None = None,
    ) -> None:
        self.endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
        self.config = config or MonitoringConfig()
        if Metric.DUTY_CYCLE not in self.config.metrics:
            raise ValueError("the monitoring configuration must name the duty cycle's metric type")
        self.page_size = min(page_size, MAX_PAGE_SIZE)
        self.parallel = max(1, parallel)  # reads of one call at once (1: in order)
        self.transport = Transport(
            self.endpoint,
            credentials or make_credentials(self.endpoint),
            timeout=timeout,
            retries=retries,
            backoff_seconds=backoff_seconds,
            sleep=sleep,
            observer=observer,
            label="Cloud Monitoring",
        )
        self.service: Any = self.transport.build("v3", api="monitoring")

    def usage(
        self,
        project: str,
        window: timedelta,
        now: datetime,
        *,
        step: timedelta | None = None,
        metrics: Collection[Metric] = (Metric.DUTY_CYCLE,),
        kinds: Collection[TpuKind] | None = None,
        ids: Collection[str] = (),
    ) -> UsageListing:
        """Each TPU's utilization over the `window` ending `now`, in `step`-long periods
        (default: one period, the whole window). The duty cycle is always read; other
        `metrics` cost one more request each (per kind), and their failure only leaves them
        out (`missing`). `kinds` narrows which kinds of TPU are read (default: all configured);
        `ids` which TPUs (their node ids or instance ids; default: all), so a card's usage
        reads its own series, not its project's.
        """
        step = step or window
        if step < timedelta(seconds=60) or window < step:
            raise ValueError("the step must be at least 60 s and no longer than the window")
        wanted = [Metric.DUTY_CYCLE, *(m for m in metrics if m is not Metric.DUTY_CYCLE)]
        for metric in wanted:
            if metric not in self.config.metrics:
                raise ValueError(f"no metric type is configured for {metric.value}")
        for tpu_id in ids:
            if not _ID.match(tpu_id):
                raise ValueError(f"not a TPU's id: {tpu_id!r}")
        read = _Read(project, now - window, now, step, tuple(sorted(ids)))
        reads = [
            (resource, metric)
            for resource in self.config.resources
            if kinds is None or resource.kind in kinds
            for metric in wanted
        ]
        # Side by side: a card waits for the slowest read, not for their sum.
        if len(reads) == 1 or self.parallel == 1:
            done = [self._fetch(read, *pair) for pair in reads]
        else:
            with ThreadPoolExecutor(min(len(reads), self.parallel), "tpu-bot-monitoring") as pool:
                done = list(pool.map(lambda pair: self._fetch(read, *pair), reads))
        for resource, metric, found, failure in done:
            if failure:
                self._failed(read, resource, metric, failure)
            else:
                read.series[metric].update(found)
        return UsageListing(
            project=project,
            end=now,
            span=window,
            step=step,
            usages={key: read.usage(key) for key in read.duty_keys()},
            unknown=read.unknown,
            missing=read.missing,
            requests=read.requests,
        )

    def _fetch(self, read: _Read, resource: ResourceKind, metric: Metric) -> _Fetched:
        """One metric of one kind of TPU, every page; a failure is returned with its reason."""
        try:
            return resource, metric, self._series(read, resource, metric), ""
        except (TpuError, ValueError) as exc:
            reason = getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
            return resource, metric, {}, reason

    @staticmethod
    def _failed(read: _Read, resource: ResourceKind, metric: Metric, reason: str) -> None:
        """Without the duty cycle a kind's usage is unknown; another metric is only missing."""
        kind = resource.kind
        if metric is Metric.DUTY_CYCLE:
            log.warning("usage of %s %ss unknown: %s", read.project, kind.value, reason)
            read.unknown[kind] = f"Cloud Monitoring: {reason}"
            return
        log.warning("%s of %s %ss not read: %s", metric, read.project, kind, reason)
        read.missing[metric] = f"Cloud Monitoring: {reason}"

    def _series(
        self, read: _Read, resource: ResourceKind, metric: Metric
    ) -> dict[UsageKey, tuple[Point, ...]]:
        query = self.config.metrics[metric]
        where = f'metric.type = "{query.type}" AND resource.type = "{resource.resource_type}"'
        if read.ids:
            quoted = ", ".join(f'"{tpu_id}"' for tpu_id in read.ids)
            where += f" AND resource.labels.{resource.id_label} = one_of({quoted})"
        params = dict(
            name=f"projects/{read.project}",
            filter=where,
            interval_startTime=rfc3339(read.start),
            interval_endTime=rfc3339(read.end),
            aggregation_alignmentPeriod=_seconds(read.step),
            aggregation_perSeriesAligner=query.aligner,
            aggregation_crossSeriesReducer=query.reducer,
            aggregation_groupByFields=resource.group_by,
            view="FULL",
            pageSize=self.page_size,
        )
        found: dict[UsageKey, tuple[Point, ...]] = {}
        for page in self._pages(params):
            read.counted()
            for series in page.get("timeSeries", []):
                key, points = _parse_series(read.project, resource, series)
                found[key] = found.get(key, ()) + points
        return found

    def _pages(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every page, each asked for with the same query and the last page's token.
        Not `list_next`: it rebuilds the URL with a check that refuses repeated query
        parameters, and `aggregation.groupByFields` repeats ("URL-encoded content contains a
        repeated value", googleapis/google-api-python-client#667, still so in 2.202)."""
        token = ""
        while True:
            collection = self.service.projects().timeSeries()
            request = collection.list(**params, **({"pageToken": token} if token else {}))
            page = self.transport.execute(LIST_METHOD, request)
            if not isinstance(page, dict):
                raise MalformedAnswer("a page that is not a ListTimeSeriesResponse")
            yield page
            token = str(page.get("nextPageToken") or "")
            if not token:
                return


@dataclass
class _Read:
    """One `usage` call's state: the query's interval and what came back so far."""

    project: str
    start: datetime
    end: datetime
    step: timedelta
    ids: tuple[str, ...] = ()  # only these TPUs (none: all)
    series: dict[Metric, dict[UsageKey, tuple[Point, ...]]] = field(
        default_factory=lambda: {m: {} for m in Metric}
    )
    unknown: dict[TpuKind, str] = field(default_factory=dict)
    missing: dict[Metric, str] = field(default_factory=dict)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def counted(self) -> None:
        """One more request sent (reads run side by side)."""
        with self.lock:
            self.requests += 1

    def duty_keys(self) -> list[UsageKey]:
        return [k for k in self.series[Metric.DUTY_CYCLE] if k.kind not in self.unknown]

    def usage(self, key: UsageKey) -> TpuUsage:
        return TpuUsage(
            key=key,
            step=self.step,
            duty=self.series[Metric.DUTY_CYCLE][key],
            tensorcore=self.series[Metric.TENSORCORE].get(key, ()),
            hbm_used=self.series[Metric.HBM_USED].get(key, ()),
            hbm_total=self.series[Metric.HBM_TOTAL].get(key, ()),
        )


def _parse_series(
    project: str, resource: ResourceKind, series: Any
) -> tuple[UsageKey, tuple[Point, ...]]:
    """One reduced series -> the TPU it belongs to and its points, newest first."""
    try:
        monitored = series["resource"]
        if monitored["type"] != resource.resource_type:
            raise MalformedAnswer(f"a series of {monitored['type']!r}, not the one asked for")
        labels = monitored["labels"]
        key = UsageKey(
            resource.kind, project, str(labels[resource.zone_label]), str(labels[resource.id_label])
        )
        points = tuple(_parse_point(p) for p in series.get("points", []))
    except (KeyError, TypeError, AttributeError) as exc:
        raise MalformedAnswer(f"a time series without {exc}") from None
    return key, tuple(sorted(points, key=lambda p: p[0], reverse=True))


def _parse_point(point: Any) -> Point:
    end = datetime.fromisoformat(str(point["interval"]["endTime"]))
    value = point["value"]
    if "doubleValue" in value:
        number = float(value["doubleValue"])
    elif "int64Value" in value:
        number = float(int(value["int64Value"]))
    else:
        raise MalformedAnswer(f"a point value of neither DOUBLE nor INT64: {sorted(value)}")
    if not math.isfinite(number):
        raise MalformedAnswer(f"a point value of {number}")
    return end, number


# What one read gave: its kind and metric, the series by TPU, and why it failed ('' if not).
_Fetched = tuple[ResourceKind, Metric, dict[UsageKey, tuple[Point, ...]], str]
