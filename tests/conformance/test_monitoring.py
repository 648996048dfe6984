"""Cloud Monitoring v3 as googleapiclient's `monitoring.v3.json` describes it, over the
emulator's fleet: every response validated against the document's schemas."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httplib2
import pytest
from googleapiclient import discovery
from googleapiclient.errors import HttpError

from devstack.admin import admin
from devstack.clock import FakeClock
from tests.conformance.schema import SchemaChecker
from tpu_emulator import Emulator
from tpu_emulator.http import RunningServer
from tpu_emulator.rules import rfc3339
from tpu_emulator.server import serve

V3 = SchemaChecker("v3", "monitoring")
check = V3.check
DUTY = "tpu.googleapis.com/accelerator/duty_cycle"
PROJECT = "ml-infra"  # v2 TPU VMs, single- and multi-host
THREE_HOURS = 3 * 3600


@pytest.fixture
def emu(clock: FakeClock) -> Emulator:
    return Emulator(clock=clock, op_seconds=0, fleet=60, projects=5)


@pytest.fixture
def server(emu: Emulator) -> Iterator[RunningServer]:
    running = serve(emu)
    yield running
    running.close()


@pytest.fixture
def api(server: RunningServer) -> Any:
    return discovery.build(
        "monitoring",
        "v3",
        static_discovery=True,
        http=httplib2.Http(timeout=10),
        client_options={"api_endpoint": server.url},
    )


def window(clock: FakeClock, seconds: int = THREE_HOURS) -> dict[str, str]:
    now = clock()
    return {
        "interval_startTime": rfc3339(now - timedelta(seconds=seconds)),
        "interval_endTime": rfc3339(now),
    }


def list_series(api: Any, clock: FakeClock, project: str = PROJECT, **params: Any) -> Any:
    # The Cloud TPU API's nodes (the project's Compute Engine TPU VMs report on their own
    # resource, GceTpuWorker: see test_compute_engine_vms_report_on_their_own_resource).
    params.setdefault("filter", f'metric.type = "{DUTY}" AND resource.type = "tpu_worker"')
    for key, value in window(clock).items():
        params.setdefault(key, value)
    response = api.projects().timeSeries().list(name=f"projects/{project}", **params).execute()
    check(response, "ListTimeSeriesResponse")
    return response


def per_tpu_means(api: Any, clock: FakeClock, project: str = PROJECT) -> dict[str, float]:
    """The bot's call: one aggregated request, a 3 h mean per TPU (workers collapsed)."""
    response = list_series(
        api,
        clock,
        project,
        aggregation_alignmentPeriod=f"{THREE_HOURS}s",
        aggregation_perSeriesAligner="ALIGN_MEAN",
        aggregation_crossSeriesReducer="REDUCE_MEAN",
        aggregation_groupByFields=["resource.labels.zone", "resource.labels.node_id"],
    )
    out = {}
    for series in response["timeSeries"]:
        assert len(series["points"]) == 1  # window == alignment period: one point per TPU
        labels = series["resource"]["labels"]
        assert set(labels) == {"zone", "node_id"}
        out[labels["node_id"]] = series["points"][0]["value"]["doubleValue"]
    return out


def running_workers(emu: Emulator, project: str = PROJECT) -> set[tuple[str, str]]:
    nodes = emu.v2_list_nodes(f"projects/{project}/locations/-", 1000, None)["nodes"]
    return {
        (n["name"].rsplit("/", 1)[1], str(worker))
        for n in nodes
        if n["state"] == "READY"
        for worker in range(len(n["networkEndpoints"]))
    }


def test_every_served_method_conforms(api: Any, server: RunningServer, clock: FakeClock) -> None:
    projects = api.projects()
    raw = list_series(api, clock, interval_startTime=rfc3339(clock() - timedelta(minutes=5)))
    assert all(len(s["points"]) == 6 for s in raw["timeSeries"])  # a sample a minute, 5 min
    newest, oldest = raw["timeSeries"][0]["points"][0], raw["timeSeries"][0]["points"][-1]
    assert newest["interval"]["endTime"] > oldest["interval"]["endTime"]  # newest first
    headers = list_series(api, clock, view="HEADERS")
    assert headers["timeSeries"] and all("points" not in s for s in headers["timeSeries"])
    used = list_series(
        api,
        clock,
        filter='metric.type = "tpu.googleapis.com/accelerator/memory_used"',
        aggregation_alignmentPeriod="3600s",
        aggregation_perSeriesAligner="ALIGN_MAX",
    )
    assert all(len(s["points"]) == 3 for s in used["timeSeries"])
    assert used["timeSeries"][0]["valueType"] == "INT64"
    assert int(used["timeSeries"][0]["points"][0]["value"]["int64Value"]) > 0

    descriptors = projects.metricDescriptors().list(name=f"projects/{PROJECT}").execute()
    check(descriptors, "ListMetricDescriptorsResponse")
    name = f"projects/{PROJECT}/metricDescriptors/{DUTY}"
    descriptor = projects.metricDescriptors().get(name=name).execute()
    check(descriptor, "MetricDescriptor")
    assert descriptor["type"] == DUTY and "tpu_worker" in descriptor["monitoredResourceTypes"]
    resources = projects.monitoredResourceDescriptors().list(name=f"projects/{PROJECT}").execute()
    check(resources, "ListMonitoredResourceDescriptorsResponse")
    for item in resources["resourceDescriptors"]:
        got = projects.monitoredResourceDescriptors().get(name=item["name"]).execute()
        check(got, "MonitoredResourceDescriptor")
    worker = next(r for r in resources["resourceDescriptors"] if r["type"] == "tpu_worker")
    assert [label["key"] for label in worker["labels"]] == [
        "project_id", "zone", "node_id", "worker_id"
    ]  # fmt: skip

    stats = admin(server, "stats")
    served = {k for k in stats["requests"] if k.startswith("monitoring.")}
    assert served == {
        "monitoring.projects.timeSeries.list",
        "monitoring.projects.metricDescriptors.list",
        "monitoring.projects.metricDescriptors.get",
        "monitoring.projects.monitoredResourceDescriptors.list",
        "monitoring.projects.monitoredResourceDescriptors.get",
    }
    assert stats["requests"]["monitoring.projects.timeSeries.list"] == 3
    assert stats["metricTypes"] == [d["type"] for d in descriptors["metricDescriptors"]]


def test_series_are_one_per_worker_of_each_running_tpu(
    api: Any, emu: Emulator, clock: FakeClock
) -> None:
    expected = running_workers(emu)
    multi_host = {node for node, worker in expected if worker == "1"}
    stopped = {
        n["name"].rsplit("/", 1)[1]
        for n in emu.v2_list_nodes(f"projects/{PROJECT}/locations/-", 1000, None)["nodes"]
        if n["state"] != "READY"
    }
    assert multi_host and stopped  # the seeded fleet has both
    series = list_series(api, clock, view="HEADERS")["timeSeries"]
    got = [
        (s["resource"]["labels"]["node_id"], s["resource"]["labels"]["worker_id"]) for s in series
    ]
    assert len(got) == len(set(got)) and set(got) == expected
    assert {s["resource"]["type"] for s in series} == {"tpu_worker"}
    assert all(s["resource"]["labels"]["project_id"] == PROJECT for s in series)
    assert per_tpu_means(api, clock).keys() == {node for node, _ in expected}


def test_patterns_are_deterministic_busy_bursty_and_idle(api: Any, clock: FakeClock) -> None:
    means = per_tpu_means(api, clock)
    clock.advance(1800)
    later = per_tpu_means(api, clock)
    other = Emulator(clock=clock, op_seconds=0, fleet=60, projects=5)
    with_other = serve(other)
    try:
        again = per_tpu_means(
            discovery.build(
                "monitoring",
                "v3",
                static_discovery=True,
                http=httplib2.Http(timeout=10),
                client_options={"api_endpoint": with_other.url},
            ),
            clock,
        )
    finally:
        with_other.close()
    assert again == later  # the same fleet at the same time: the same numbers
    assert later != means  # and time moves them
    assert all(0 <= v <= 100 for v in means.values())
    assert any(v < 2 for v in means.values()), "some TPUs idle"
    assert any(v > 60 for v in means.values()), "some TPUs busy"
    assert any(5 < v < 60 for v in means.values()), "some TPUs bursty"


def test_aligners_and_reducers_agree(api: Any, clock: FakeClock) -> None:
    def values(aligner: str, reducer: str = "REDUCE_NONE", **extra: Any) -> list[float]:
        response = list_series(
            api,
            clock,
            aggregation_alignmentPeriod="3600s",
            aggregation_perSeriesAligner=aligner,
            aggregation_crossSeriesReducer=reducer,
            **extra,
        )
        key = (
            "int64Value" if aligner == "ALIGN_COUNT" or reducer == "REDUCE_COUNT" else "doubleValue"
        )
        return [float(p["value"][key]) for s in response["timeSeries"] for p in s["points"]]

    low, mean, high = values("ALIGN_MIN"), values("ALIGN_MEAN"), values("ALIGN_MAX")
    assert len(low) == len(mean) == len(high) and len(mean) > 3
    assert all(a <= b <= c for a, b, c in zip(low, mean, high, strict=True))
    assert set(values("ALIGN_COUNT")) == {60.0}  # a sample a minute in each hour
    total = values("ALIGN_MEAN", "REDUCE_SUM")
    count = values("ALIGN_MEAN", "REDUCE_COUNT")
    assert len(total) == 3 and len(count) == 3  # every series in one group: one per hour
    assert [t / c for t, c in zip(total, count, strict=True)] == pytest.approx(
        values("ALIGN_MEAN", "REDUCE_MEAN")
    )


def test_injected_duty_cycle_sets_the_series_from_then_on(
    api: Any, server: RunningServer, emu: Emulator, clock: FakeClock
) -> None:
    means = per_tpu_means(api, clock)
    busy = max(means, key=lambda node: means[node])
    name = next(n for n in emu.node_names(PROJECT) if n.endswith(f"/nodes/{busy}"))
    node = admin(server, f"{name}:inject", {"dutyCycle": 0})
    assert node["name"] == name and node["state"] == "READY"
    changed = means[busy] - per_tpu_means(api, clock)[busy]
    assert 0 < changed <= 100 / 180  # the past stays: only this instant's sample is new
    clock.advance(THREE_HOURS)
    assert per_tpu_means(api, clock)[busy] == 0.0
    since = rfc3339(clock() - timedelta(hours=1))
    admin(server, f"{name}:inject", {"dutyCycle": 42.5, "since": since})
    hourly = list_series(
        api,
        clock,
        filter=f'metric.type = "{DUTY}" AND resource.labels.node_id = "{busy}"',
        aggregation_alignmentPeriod="3600s",
        aggregation_perSeriesAligner="ALIGN_MEAN",
    )
    for series in hourly["timeSeries"]:
        # Periods are (end - 1 h, end]: the sample at `since` ends the middle hour.
        hours = [p["value"]["doubleValue"] for p in series["points"]]
        assert hours == pytest.approx([42.5, 42.5 / 60, 0.0])


@pytest.mark.parametrize(
    "body", [{"dutyCycle": 101}, {"dutyCycle": "high"}, {"since": "2026-01-01T00:00:00Z"}]
)
def test_a_bad_duty_cycle_inject_is_refused(
    server: RunningServer, emu: Emulator, body: dict[str, Any]
) -> None:
    name = emu.node_names(PROJECT)[0]
    http = httplib2.Http(timeout=10)
    response, _ = http.request(
        f"{server.url}/emulator/v1/{name}:inject", "POST", body=json.dumps(body)
    )
    assert response.status == 400


def test_pages_follow_with_list_next(api: Any, clock: FakeClock) -> None:
    everything = list_series(api, clock, view="HEADERS")["timeSeries"]
    request = (
        api.projects()
        .timeSeries()
        .list(
            name=f"projects/{PROJECT}",
            filter=f'metric.type = "{DUTY}" AND resource.type = "tpu_worker"',
            view="HEADERS",
            pageSize=4,
            **window(clock),
        )
    )
    pages = []
    while request is not None:
        response = request.execute()
        check(response, "ListTimeSeriesResponse")
        pages.append(response["timeSeries"])
        request = api.projects().timeSeries().list_next(request, response)
    assert len(pages) == -(-len(everything) // 4) and all(len(p) <= 4 for p in pages)
    assert [s for page in pages for s in page] == everything


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"filter": f'metric.type = "{DUTY}" OR resource.type = "tpu_worker"'}, 400),
        ({"filter": f'NOT metric.type = "{DUTY}"'}, 400),
        ({"filter": f'metric.type = "{DUTY}" AND metadata.user_labels.team = "x"'}, 400),
        (
            {
                "filter": f'metric.type = "{DUTY}" AND '
                'resource.labels.zone = monitoring.regex.full_match("us.*")'
            },
            400,
        ),
        ({"filter": 'resource.type = "tpu_worker"'}, 400),
        ({"filter": 'metric.type = "tpu.googleapis.com/nope"'}, 404),
        ({"orderBy": "metric.type"}, 400),
        ({"secondaryAggregation_perSeriesAligner": "ALIGN_MEAN"}, 400),
        ({"aggregation_perSeriesAligner": "ALIGN_RATE", "aggregation_alignmentPeriod": "60s"}, 400),
        ({"aggregation_perSeriesAligner": "ALIGN_MEAN"}, 400),
        ({"aggregation_crossSeriesReducer": "REDUCE_MEAN"}, 400),
        ({"interval_startTime": "2030-01-01T00:00:00Z"}, 400),
        ({"pageToken": "forged"}, 400),
    ],
)
def test_what_the_emulator_does_not_implement_is_refused(
    api: Any, clock: FakeClock, params: dict[str, Any], status: int
) -> None:
    with pytest.raises(HttpError) as caught:
        list_series(api, clock, **params)
    error = json.loads(caught.value.content)["error"]
    assert caught.value.resp.status == status == error["code"]
    assert error["details"][0]["domain"] == "monitoring.googleapis.com"
    kinds = {d["@type"].rsplit(".", 1)[1] for d in error["details"]}
    assert ("BadRequest" in kinds) == (status == 400)


def test_faults_apply_to_monitoring(api: Any, server: RunningServer, clock: FakeClock) -> None:
    admin(server, "faults", {"errorRate": 1.0, "errorCode": 503})
    with pytest.raises(HttpError) as caught:
        list_series(api, clock)
    assert caught.value.resp.status == 503
    admin(server, "faults", {"errorRate": 0.0, "methods": ["monitoring.projects.timeSeries.list"]})
    admin(server, "faults", {"failNext": 1, "errorCode": 429})
    with pytest.raises(HttpError) as limited:
        list_series(api, clock)
    assert limited.value.resp.status == 429
    assert list_series(api, clock)["timeSeries"]


def test_compute_engine_vms_report_on_their_own_resource(
    api: Any, emu: Emulator, clock: FakeClock
) -> None:
    vms = emu.compute.running_tpus(PROJECT)
    assert vms  # the seeded fleet has running TPU VMs on Compute Engine too
    flt = f'metric.type = "{DUTY}" AND resource.type = "tpu.googleapis.com/GceTpuWorker"'
    series = list_series(api, clock, filter=flt, view="HEADERS")["timeSeries"]
    got = {
        (s["resource"]["labels"]["location"], s["resource"]["labels"]["worker_id"]) for s in series
    }
    assert got == {(zone, uid) for _, zone, uid, _, _, _ in vms}
    assert {s["resource"]["labels"]["resource_container"] for s in series} == {PROJECT}
