"""`tpu-bot emulator` as a user runs it, read by a plain googleapiclient Cloud Monitoring
program (static discovery, anonymous credentials), pagination through list_next."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from google.auth.credentials import AnonymousCredentials
from googleapiclient import discovery

from devstack.replicas import emulator_process

DUTY = "tpu.googleapis.com/accelerator/duty_cycle"


@pytest.fixture
def emulator_url() -> Iterator[str]:
    with emulator_process("--fleet", "120", "--projects", "5", "--op-seconds", "0") as url:
        yield url


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_googleapiclient_program_reads_the_fleet_usage(emulator_url: str) -> None:
    monitoring = discovery.build(
        "monitoring",
        "v3",
        static_discovery=True,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": emulator_url},
    )
    end = datetime.now(UTC)
    series = monitoring.projects().timeSeries()
    request = series.list(
        name="projects/ml-infra",
        filter=f'metric.type = "{DUTY}" AND resource.type = "tpu_worker"',
        interval_startTime=stamp(end - timedelta(hours=3)),
        interval_endTime=stamp(end),
        aggregation_alignmentPeriod="10800s",
        aggregation_perSeriesAligner="ALIGN_MEAN",
        aggregation_crossSeriesReducer="REDUCE_MAX",
        aggregation_groupByFields=["resource.labels.node_id"],
        pageSize=3,
    )
    means: dict[str, float] = {}
    pages = 0
    while request is not None:
        response = request.execute()
        pages += 1
        for item in response.get("timeSeries", []):
            (point,) = item["points"]
            means[item["resource"]["labels"]["node_id"]] = point["value"]["doubleValue"]
        request = series.list_next(request, response)

    with urllib.request.urlopen(f"{emulator_url}/emulator/v1/stats", timeout=10) as answer:
        stats = json.loads(answer.read())
    assert stats["requests"]["monitoring.projects.timeSeries.list"] == pages > 1
    assert DUTY in stats["metricTypes"]
    nodes = (
        discovery.build(
            "tpu",
            "v2",
            static_discovery=True,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": emulator_url + "/"},
        )
        .projects()
        .locations()
        .nodes()
    )
    listing = nodes.list(parent="projects/ml-infra/locations/-").execute()["nodes"]
    ready = {n["name"].rsplit("/", 1)[1] for n in listing if n["state"] == "READY"}
    assert set(means) == ready and all(0 <= v <= 100 for v in means.values())
