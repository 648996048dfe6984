from datetime import UTC, datetime

import pytest

from bot.core.models import (
    AcceleratorConfig,
    Health,
    NodeName,
    NodeSpec,
    NodeState,
    SymptomType,
    is_multi_host,
    parse_time,
)
from bot.core.queued import QueuedNodeSpec, QueuedResource, QueuedState
from bot.tpu import wire_v1alpha1
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
    assert NodeSpec.from_dict(body) == node.spec
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


def test_software_version_keeps_its_old_name() -> None:
    old = NodeSpec(accelerator_type="v3-8", tensorflow_version="2.12.0")
    new = NodeSpec("v3-8", "2.12.0")
    assert old == new and old.software_version == old.tensorflow_version == "2.12.0"
    node = node_from_api(
        {"name": "projects/p/locations/z-a/nodes/n", "tensorflowVersion": "2.9.1", "state": "READY"}
    )
    assert node.software_version == node.tensorflow_version == "2.9.1"
    assert (
        node.spec.software_version == "2.9.1"
        and node.spec.as_dict()["tensorflowVersion"] == "2.9.1"
    )


def test_spec_stores_v2_choices() -> None:
    spec = NodeSpec(
        accelerator_type="",
        software_version="v2-alpha-tpuv6e",
        accelerator_config=AcceleratorConfig("V6E", "2x4"),
        spot=True,
    )
    assert spec.as_dict() == {
        "acceleratorType": "",
        "tensorflowVersion": "v2-alpha-tpuv6e",
        "acceleratorConfig": {"type": "V6E", "topology": "2x4"},
        "schedulingConfig": {"spot": True},
    }
    assert NodeSpec.from_dict(spec.as_dict()) == spec
    # v1alpha1 has neither spot nor acceleratorConfig: a spot VM is asked as preemptible.
    assert wire_v1alpha1.node_body(spec) == {
        "acceleratorType": "",
        "tensorflowVersion": "v2-alpha-tpuv6e",
        "schedulingConfig": {"preemptible": True},
    }


def test_queued_resource_names_and_waiting() -> None:
    parent = "projects/p/locations/us-east5-a"
    queued = QueuedResource(
        name=f"{parent}/queuedResources/qr",
        state=QueuedState.WAITING_FOR_RESOURCES,
        create_time=datetime(2026, 1, 1, tzinfo=UTC),
        node_specs=(
            QueuedNodeSpec(parent, node_id="one"),
            QueuedNodeSpec(parent, multislice_count=2),
        ),
    )
    assert (queued.project, queued.zone, queued.id) == ("p", "us-east5-a", "qr")
    assert queued.node_names == (
        f"{parent}/nodes/one",
        f"{parent}/nodes/qr-0",
        f"{parent}/nodes/qr-1",
    )
    assert queued.is_waiting and queued.is_multislice
    assert queued.waited_seconds(datetime(2026, 1, 1, 1, tzinfo=UTC)) == 3600
    with pytest.raises(ValueError):
        _ = QueuedResource(name="nodes/x", state=QueuedState.ACTIVE).project
    assert QueuedState("NEW_STATE") is QueuedState.STATE_UNSPECIFIED
