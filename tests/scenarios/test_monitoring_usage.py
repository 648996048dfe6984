"""The Monitoring adapter (bot/tpu/monitoring.py) over real HTTP: the emulator's Cloud
Monitoring v3 through googleapiclient, requests counted by the emulator's stats, utilization
injected through its admin API, faults that must end in "unknown", never in "idle"."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from bot.core.usage import (
    DEFAULT_EXEMPT_LABELS,
    Metric,
    TpuFacts,
    TpuKind,
    UsageKey,
    Why,
    facts_of_node,
    idle_verdict,
)
from bot.tpu.monitoring import LIST_METHOD, MonitoringClient
from bot.tpu.wire_v2 import node_from_api
from devstack.admin import admin
from devstack.clock import FakeClock
from tpu_emulator import Emulator
from tpu_emulator.http import RunningServer
from tpu_emulator.monitoring.sources import GIB, hbm_per_worker
from tpu_emulator.rules import rfc3339
from tpu_emulator.server import serve

WINDOW = timedelta(hours=3)
PROJECTS = ["ml-prod", "ml-research", "ml-sandbox", "ml-infra", "ml-vision"]


@pytest.fixture
def emu(clock: FakeClock) -> Emulator:
    emulator = Emulator(clock=clock, op_seconds=0, fleet=60, projects=5)
    clock.advance(26 * 3600)  # every seeded TPU has a day of history
    return emulator


@pytest.fixture
def server(emu: Emulator) -> Iterator[RunningServer]:
    running = serve(emu)
    yield running
    running.close()


def client(url: str, **options: Any) -> MonitoringClient:
    options.setdefault("retries", 0)
    return MonitoringClient(url, sleep=lambda _: None, timeout=10, **options)


def listed(server: RunningServer) -> int:
    return int(admin(server, "stats")["requests"].get(LIST_METHOD, 0))


def ready_nodes(emu: Emulator, project: str) -> list[dict[str, Any]]:
    nodes = emu.v2_list_nodes(f"projects/{project}/locations/-", 1000, None).get("nodes", [])
    return [n for n in nodes if n["state"] == "READY"]


def key_of(node: dict[str, Any]) -> UsageKey:
    _, project, _, zone, _, node_id = node["name"].split("/")
    return UsageKey(TpuKind.NODE, project, zone, node_id)


def facts(node: dict[str, Any]) -> TpuFacts:
    return facts_of_node(node_from_api(node))


def test_one_request_per_project_per_metric(emu: Emulator, server: RunningServer) -> None:
    monitoring = client(server.url)
    before = listed(server)
    for project in PROJECTS:
        listing = monitoring.usage(project, WINDOW, emu.clock(), kinds={TpuKind.NODE})
        assert listing.requests == 1 and listing.known
        assert set(listing.usages) == {key_of(n) for n in ready_nodes(emu, project)}
        assert all(len(u.duty) == 1 for u in listing.usages.values())  # one 3 h mean each
    assert listed(server) - before == len(PROJECTS)
    before = listed(server)
    metrics = (Metric.DUTY_CYCLE, Metric.HBM_USED, Metric.HBM_TOTAL)
    for project in PROJECTS:
        assert monitoring.usage(project, WINDOW, emu.clock(), metrics=metrics).requests == 6
    # three metrics, two kinds of TPU (Cloud TPU nodes, Compute Engine VMs): 6 a project
    assert listed(server) - before == 6 * len(PROJECTS)


def test_a_card_reads_only_its_own_tpus_series(emu: Emulator, server: RunningServer) -> None:
    monitoring = client(server.url)
    whole = monitoring.usage("ml-infra", WINDOW, emu.clock(), kinds={TpuKind.NODE})
    first, second = sorted(whole.usages, key=lambda k: k.id)[:2]
    before = listed(server)
    metrics = (Metric.DUTY_CYCLE, Metric.HBM_USED)
    narrowed = monitoring.usage(
        "ml-infra", WINDOW, emu.clock(), kinds={TpuKind.NODE}, metrics=metrics,
        ids=[first.id, second.id],
    )  # fmt: skip
    assert set(narrowed.usages) == {first, second} and len(whole.usages) > 2
    assert narrowed.usages[first].duty == whole.usages[first].duty
    assert narrowed.requests == 2 == listed(server) - before  # one per metric, one page each
    with pytest.raises(ValueError, match="not a TPU's id"):
        monitoring.usage("ml-infra", WINDOW, emu.clock(), ids=['x" OR metric.type = "y'])
    assert listed(server) - before == 2  # a hostile id is refused before any request


def test_reads_side_by_side_give_what_reads_in_order_give(
    emu: Emulator, server: RunningServer
) -> None:
    metrics = tuple(Metric)
    before = listed(server)
    together = client(server.url).usage("ml-infra", WINDOW, emu.clock(), metrics=metrics)
    in_order = client(server.url, parallel=1).usage(
        "ml-infra", WINDOW, emu.clock(), metrics=metrics
    )
    assert together.usages == in_order.usages and together.usages
    assert together.requests == in_order.requests == 8  # 4 metrics x 2 kinds, a page each
    assert listed(server) - before == 16


def test_pages_are_followed_and_counted(emu: Emulator, server: RunningServer) -> None:
    whole = client(server.url).usage("ml-infra", WINDOW, emu.clock(), kinds={TpuKind.NODE})
    before = listed(server)
    paged = client(server.url, page_size=3).usage(
        "ml-infra", WINDOW, emu.clock(), kinds={TpuKind.NODE}
    )
    assert paged.requests == math.ceil(len(whole.usages) / 3) > 1
    assert listed(server) - before == paged.requests
    assert paged.usages == whole.usages


def test_multi_host_tpus_give_one_point_and_their_whole_hbm(
    emu: Emulator, server: RunningServer
) -> None:
    metrics = (Metric.HBM_TOTAL, Metric.HBM_USED, Metric.TENSORCORE)
    listing = client(server.url).usage("ml-infra", WINDOW, emu.clock(), metrics=metrics)
    nodes = ready_nodes(emu, "ml-infra")
    multi = [n for n in nodes if len(n["networkEndpoints"]) > 1]
    assert multi, "the seeded project has multi-host TPUs"
    for node in nodes:
        usage = listing.usages[key_of(node)]
        hosts = len(node["networkEndpoints"])
        assert len(usage.duty) == 1
        assert usage.hbm_total_bytes == hosts * hbm_per_worker(node["acceleratorType"])
        used, total, duty = usage.hbm_used_bytes, usage.hbm_total_bytes, usage.duty[0][1]
        assert used is not None and 0 < used < total
        assert usage.tensorcore_percent == pytest.approx(0.8 * duty)  # the emulator's line


def test_an_injected_duty_cycle_makes_a_tpu_idle_over_the_window(
    emu: Emulator, server: RunningServer, clock: FakeClock
) -> None:
    monitoring = client(server.url)
    nodes = ready_nodes(emu, "ml-infra")
    first = monitoring.usage("ml-infra", WINDOW, clock(), kinds={TpuKind.NODE})
    busy = max(nodes, key=lambda n: first.usages[key_of(n)].duty[0][1])
    assert first.usages[key_of(busy)].duty[0][1] > 50
    assert not _verdict(first.usage_of(key_of(busy)), facts(busy), clock).idle

    admin(server, f"{busy['name']}:inject", {"dutyCycle": 0})
    clock.advance(WINDOW.total_seconds() / 2)
    halfway = monitoring.usage("ml-infra", WINDOW, clock(), kinds={TpuKind.NODE})
    assert not _verdict(halfway.usage_of(key_of(busy)), facts(busy), clock).idle  # half busy

    clock.advance(WINDOW.total_seconds() / 2)
    later = monitoring.usage("ml-infra", WINDOW, clock(), kinds={TpuKind.NODE})
    assert later.usages[key_of(busy)].duty[0][1] == 0.0
    verdict = _verdict(later.usage_of(key_of(busy)), facts(busy), clock)
    assert verdict.why is Why.IDLE, verdict.reason


def _verdict(usage: Any, tpu: TpuFacts, clock: FakeClock) -> Any:
    return idle_verdict(usage, tpu, 2.0, 180, 0, DEFAULT_EXEMPT_LABELS, clock())


def test_hourly_periods_over_a_day(emu: Emulator, server: RunningServer, clock: FakeClock) -> None:
    node = ready_nodes(emu, "ml-infra")[0]
    since = clock() - timedelta(hours=5)
    admin(server, f"{node['name']}:inject", {"dutyCycle": 40, "since": rfc3339(since)})
    listing = client(server.url).usage(
        "ml-infra", timedelta(days=1), clock(), step=timedelta(hours=1), kinds={TpuKind.NODE}
    )
    usage = listing.usages[key_of(node)]
    assert len(usage.duty) == 24 and usage.duty[0][0] == clock()  # newest first
    assert usage.duty_1h == 40.0
    assert [v for _, v in usage.duty[:5]] == [40.0] * 5
    assert usage.duty_24h == pytest.approx(sum(v for _, v in usage.duty) / 24)


def test_a_fault_makes_usage_unknown_never_idle(
    emu: Emulator, server: RunningServer, clock: FakeClock
) -> None:
    node = ready_nodes(emu, "ml-infra")[0]
    admin(server, f"{node['name']}:inject", {"dutyCycle": 0, "since": rfc3339(clock() - WINDOW)})
    admin(server, "faults", {"errorRate": 1.0, "errorCode": 503})
    before = listed(server)
    listing = client(server.url, retries=2).usage("ml-infra", WINDOW, clock())
    assert listed(server) - before == 2 * 3  # each kind's request, tried three times
    assert not listing.known and not listing.usages
    assert set(listing.unknown) == {TpuKind.NODE, TpuKind.INSTANCE}
    assert "Injected fault" in listing.unknown[TpuKind.NODE]
    verdict = _verdict(listing.usage_of(key_of(node)), facts(node), clock)
    assert verdict.why is Why.UNKNOWN and not verdict.idle
    admin(server, "faults", {"errorRate": 0.0})
    recovered = client(server.url).usage("ml-infra", WINDOW, clock())
    assert _verdict(recovered.usage_of(key_of(node)), facts(node), clock).idle


def test_one_kind_failing_leaves_the_other_known(
    emu: Emulator, server: RunningServer, clock: FakeClock
) -> None:
    admin(server, "faults", {"failNext": 1, "errorCode": 500})  # the nodes' request
    # In order (parallel=1), so that the failure lands on the first read, the nodes'.
    listing = client(server.url, parallel=1).usage("ml-infra", WINDOW, clock())
    assert set(listing.unknown) == {TpuKind.NODE}
    assert listing.unknown[TpuKind.NODE].startswith("Cloud Monitoring: ")
    key = key_of(ready_nodes(emu, "ml-infra")[0])
    assert listing.usage_of(key).unknown == listing.unknown[TpuKind.NODE]


def test_an_optional_metric_failing_only_goes_missing(
    emu: Emulator, server: RunningServer, clock: FakeClock
) -> None:
    metrics = (Metric.DUTY_CYCLE, Metric.HBM_TOTAL)

    def observe(method: str, outcome: str) -> None:
        """After the first request (the duty cycle, read first), fail the next one (HBM)."""
        if outcome == "ok" and not seen:
            seen.append(method)
            emu.set_faults({"failNext": 1, "errorCode": 503})

    seen: list[str] = []
    monitoring = client(server.url, observer=observe, parallel=1)  # in order: duty, then HBM
    before = listed(server)
    listing = monitoring.usage("ml-infra", WINDOW, clock(), metrics=metrics, kinds={TpuKind.NODE})
    assert listed(server) - before == 2
    assert listing.known and set(listing.missing) == {Metric.HBM_TOTAL}
    assert listing.usages and all(u.hbm_total_bytes is None for u in listing.usages.values())
    assert all(u.known for u in listing.usages.values())


def test_compute_engine_tpus_on_their_own_resource(
    emu: Emulator, server: RunningServer, clock: FakeClock
) -> None:
    """The emulator's Compute Engine TPU VMs report GceTpuWorker series (resource_container,
    location, worker_id = the instance id); an instance's injected duty cycle shows there."""
    vms = emu.compute.running_tpus("ml-infra")
    assert vms, "the seeded fleet has running TPU VMs on Compute Engine"
    name, zone, uid, family, _, chips = vms[0]
    hbm_gib = {"tpu7x": 192, "v6e": 32, "v5p": 95, "v5e": 16}[family]
    emu.inject(name, {"dutyCycle": 0.5, "since": rfc3339(clock() - WINDOW)})
    listing = client(server.url).usage("ml-infra", WINDOW, clock(), metrics=(Metric.HBM_TOTAL,))
    key = UsageKey(TpuKind.INSTANCE, "ml-infra", zone, uid)
    usage = listing.usage_of(key)
    assert usage.duty == ((clock(), 0.5),) and usage.hbm_total_bytes == chips * hbm_gib * GIB
    assert {k.kind for k in listing.usages} == {TpuKind.NODE, TpuKind.INSTANCE}
    only_vms = client(server.url).usage("ml-infra", WINDOW, clock(), kinds={TpuKind.INSTANCE})
    assert {k.kind for k in only_vms.usages} == {TpuKind.INSTANCE} and only_vms.requests == 1
    assert len(only_vms.usages) == len(vms)


def test_an_unreachable_endpoint_is_unknown(clock: FakeClock) -> None:
    closed = make_server("127.0.0.1", 0, lambda env, start: [])
    port = closed.server_address[1]
    closed.server_close()
    listing = client(f"http://127.0.0.1:{port}").usage("ml-infra", WINDOW, clock())
    assert set(listing.unknown) == {TpuKind.NODE, TpuKind.INSTANCE}
    assert "Cloud Monitoring at http://127.0.0.1" in listing.unknown[TpuKind.NODE]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log."""


@pytest.mark.parametrize(
    "body",
    [
        {"timeSeries": [{"resource": {"type": "tpu_worker"}, "points": []}]},  # no labels
        {"timeSeries": [{"resource": {"type": "gce_instance", "labels": {}}}]},
        {
            "timeSeries": [
                {
                    "resource": {"type": "tpu_worker", "labels": {"zone": "z", "node_id": "n"}},
                    "points": [{"interval": {"endTime": "2026-11-24T09:00:00Z"}, "value": {}}],
                }
            ]
        },
        {
            "timeSeries": [
                {
                    "resource": {"type": "tpu_worker", "labels": {"zone": "z", "node_id": "n"}},
                    "points": [
                        {
                            "interval": {"endTime": "2026-11-24T09:00:00Z"},
                            "value": {"doubleValue": "NaN"},
                        }
                    ],
                }
            ]
        },
        "not json at all",
    ],
)
def test_a_malformed_answer_is_unknown(body: Any, clock: FakeClock) -> None:
    """A small stand-in that answers 200 with something monitoring.v3.json does not allow."""
    payload = (body if isinstance(body, str) else json.dumps(body)).encode()

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [payload]

    httpd = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        listing = client(url).usage("ml-infra", WINDOW, clock(), kinds={TpuKind.NODE})
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
    assert set(listing.unknown) == {TpuKind.NODE} and not listing.usages
    assert listing.unknown[TpuKind.NODE].startswith("Cloud Monitoring: ")
