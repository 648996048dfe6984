from datetime import UTC, datetime

import pytest

from bot.core.models import (
    Health,
    NodeName,
    NodeSpec,
    NodeState,
    SymptomType,
    is_multi_host,
    parse_time,
)
from bot.tpu.wire_v1alpha1 import node_from_api, operation_from_api


def test_node_parses_full_api_json() -> None:
    node = node_from_api(
        {
            "name": "projects/p1/locations/us-central1-b/nodes/n1",
            "acceleratorType": "v3-8",
            "tensorflowVersion": "2.12.0",
            "state": "READY",
            "health": "TIMEOUT",
            "healthDescription": "agent silent",
            "schedulingConfig": {"preemptible": True},
            "labels": {"team": "vision"},
            "networkEndpoints": [{"ipAddress": "10.0.0.2", "port": 8470}],
            "symptoms": [{"symptomType": "OUT_OF_MEMORY", "workerId": "0", "details": "oom"}],
            "createTime": "2026-01-02T03:04:05.123456789Z",
        }
    )
    assert (node.project, node.zone, node.node_id) == ("p1", "us-central1-b", "n1")
    assert node.health is Health.TIMEOUT and not node.is_healthy
    assert node.preemptible and node.labels == {"team": "vision"}
    assert node.symptoms[0].symptom_type is SymptomType.OUT_OF_MEMORY
    assert node.ip_addresses == ("10.0.0.2",)
    assert node.create_time == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def test_node_tolerates_unknown_and_missing_fields() -> None:
    node = node_from_api(
        {
            "name": "projects/p/locations/z-a/nodes/n",
            "state": "SOME_FUTURE_STATE",
            "health": "ALSO_NEW",
            "brandNewField": {"x": 1},
            "symptoms": [{"symptomType": "NEW_SYMPTOM"}, "garbage"],
        }
    )
    assert node.state is NodeState.STATE_UNSPECIFIED
    assert node.health is Health.HEALTH_UNSPECIFIED
    assert node.accelerator_type == "" and node.labels == {}
    assert node.symptoms[0].symptom_type is SymptomType.SYMPTOM_TYPE_UNSPECIFIED


def test_operation_first_response_without_done_and_failure_status() -> None:
    running = operation_from_api(
        {"name": "projects/p/locations/z-a/operations/operation-1-ab", "metadata": {"verb": "stop"}}
    )
    assert not running.done and running.verb == "stop" and running.zone == "z-a"
    failed = operation_from_api(
        {
            "name": "projects/p/locations/z-a/operations/operation-2-cd",
            "done": True,
            "error": {"code": 8, "message": "no capacity"},
        }
    )
    assert failed.done and not failed.succeeded
    assert failed.error is not None and failed.error.code_name == "RESOURCE_EXHAUSTED"


@pytest.mark.parametrize(
    ("accelerator", "multi"),
    [("v2-8", False), ("v3-8", False), ("v2-32", True), ("v3-128", True), ("weird", False)],
)
def test_multi_host(accelerator: str, multi: bool) -> None:
    assert is_multi_host(accelerator) is multi


def test_spec_round_trip_keeps_what_recreate_needs() -> None:
    node = node_from_api(
        {
            "name": "projects/p/locations/z-a/nodes/n",
            "acceleratorType": "v2-8",
            "tensorflowVersion": "2.9.1",
            "cidrBlock": "10.1.0.0/29",
            "schedulingConfig": {"preemptible": True},
            "labels": {"a": "b"},
        }
    )
    body = node.spec.as_dict()
    assert body == {
        "acceleratorType": "v2-8",
        "tensorflowVersion": "2.9.1",
        "cidrBlock": "10.1.0.0/29",
        "labels": {"a": "b"},
        "schedulingConfig": {"preemptible": True, "reserved": False},
    }
    assert NodeSpec(accelerator_type="v2-8", tensorflow_version="x").as_dict() == {
        "acceleratorType": "v2-8",
        "tensorflowVersion": "x",
    }


def test_names_and_times() -> None:
    name = NodeName.parse("projects/p/locations/us-east1-d/nodes/n-1")
    assert name.short == "us-east1-d/n-1" and name.parent == "projects/p/locations/us-east1-d"
    with pytest.raises(ValueError):
        NodeName.parse("projects/p/nodes/n")
    assert parse_time("not a time") is None and parse_time(None) is None
