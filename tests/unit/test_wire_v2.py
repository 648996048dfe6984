"""v2 JSON <-> models: TPU VMs, queued resources and operations; tolerant of the unknown."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.config import ConfigError, parse_bot_config
from bot.core.models import AcceleratorConfig, Health, NodeSpec, NodeState
from bot.core.queued import (
    QueuedNodeSpec,
    QueuedResourceRequest,
    QueuedState,
    StateInitiator,
)
from bot.tpu.wire_v2 import (
    node_body,
    node_from_api,
    operation_from_api,
    queued_body,
    queued_from_api,
)

VM = {
    "name": "projects/p/locations/us-east5-a/nodes/vm",
    "acceleratorType": "v5p-8",
    "acceleratorConfig": {"type": "V5P", "topology": "2x2x1"},
    "runtimeVersion": "v2-alpha-tpuv5",
    "state": "READY",
    "health": "UNHEALTHY_MAINTENANCE",
    "cidrBlock": "10.3.0.0/29",
    "networkConfig": {"network": "projects/p/global/networks/default", "subnetwork": "x"},
    "networkEndpoints": [{"ipAddress": "10.3.0.2", "port": 8470, "accessConfig": {}}],
    "serviceAccount": {"email": "sa@p.iam.gserviceaccount.com", "scope": ["cloud-platform"]},
    "schedulingConfig": {"spot": True},
    "queuedResource": "projects/p/locations/us-east5-a/queuedResources/qr",
    "multisliceNode": True,
    "apiVersion": "V2",
    "upcomingMaintenance": {
        "type": "SCHEDULED",
        "maintenanceStatus": "PENDING",
        "windowStartTime": "2026-11-26T09:00:00Z",
        "windowEndTime": "2026-11-26T13:00:00Z",
        "latestWindowStartTime": "2026-11-29T09:00:00Z",
        "canReschedule": True,
    },
    "symptoms": [{"symptomType": "HBM_OUT_OF_MEMORY", "workerId": "1"}],
    "labels": {"team": "rl"},
    "dataDisks": [{"sourceDisk": "d"}],
    "shieldedInstanceConfig": {"enableSecureBoot": True},
}


def test_vm_parses_every_field_the_bot_uses() -> None:
    node = node_from_api(VM)
    assert node.software_version == node.tensorflow_version == "v2-alpha-tpuv5"
    assert node.accelerator_config == AcceleratorConfig("V5P", "2x2x1")
    assert node.spot and not node.preemptible and not node.reserved
    assert node.queued_resource.endswith("/queuedResources/qr") and node.multislice_node
    assert node.health is Health.UNHEALTHY_MAINTENANCE and not node.is_healthy
    assert node.network == "projects/p/global/networks/default"
    assert node.service_account == "sa@p.iam.gserviceaccount.com"
    assert node.ip_addresses == ("10.3.0.2",) and node.labels == {"team": "rl"}
    maintenance = node.maintenance
    assert maintenance is not None and maintenance.can_reschedule
    assert (maintenance.type, maintenance.status) == ("SCHEDULED", "PENDING")
    assert maintenance.window_start == datetime(2026, 11, 26, 9, tzinfo=UTC)
    assert maintenance.latest_window_start == datetime(2026, 11, 29, 9, tzinfo=UTC)


def test_vm_tolerates_unknown_and_missing_fields() -> None:
    node = node_from_api(
        {
            "name": "projects/p/locations/z-a/nodes/n",
            "state": "FUTURE",
            "acceleratorConfig": {"type": "V9"},
            "upcomingMaintenance": {"type": "NEW_KIND", "windowStartTime": "soon"},
            "serviceAccount": "not-an-object",
            "somethingNew": [1],
        }
    )
    assert node.state is NodeState.STATE_UNSPECIFIED and node.software_version == ""
    assert node.accelerator_config == AcceleratorConfig("V9", "")
    assert node.maintenance is not None and node.maintenance.window_start is None
    assert node.service_account == "" and node.queued_resource == ""


def test_node_body_by_type_or_config() -> None:
    assert node_body(NodeSpec("v6e-8", "v2-alpha-tpuv6e", network="n", labels={"a": "b"})) == {
        "runtimeVersion": "v2-alpha-tpuv6e",
        "acceleratorType": "v6e-8",
        "networkConfig": {"network": "n"},
        "labels": {"a": "b"},
    }
    shaped = NodeSpec(
        "", "tpu-vm-v4-base", accelerator_config=AcceleratorConfig("V4", "2x2x1"), spot=True
    )
    assert node_body(shaped) == {
        "runtimeVersion": "tpu-vm-v4-base",
        "acceleratorConfig": {"type": "V4", "topology": "2x2x1"},
        "schedulingConfig": {"spot": True},
    }
    assert "tensorflowVersion" not in node_body(NodeSpec("v2-8", "tpu-vm-base"))


def test_operation_response_node_or_queued_resource() -> None:
    base = {"name": "projects/p/locations/z-a/operations/operation-1-ab", "done": True}
    with_node = operation_from_api(base | {"response": VM, "metadata": {"verb": "create"}})
    assert with_node.node is not None and with_node.node.software_version == "v2-alpha-tpuv5"
    queued = {"name": "projects/p/locations/z-a/queuedResources/qr", "state": {"state": "ACCEPTED"}}
    assert operation_from_api(base | {"response": queued}).node is None
    assert operation_from_api(base).succeeded


def test_queued_resource_parses_policy_failure_and_multislice() -> None:
    parent = "projects/p/locations/us-east5-a"
    queued = queued_from_api(
        {
            "name": f"{parent}/queuedResources/qr",
            "createTime": "2026-11-24T10:00:00Z",
            "tpu": {
                "nodeSpec": [
                    {
                        "parent": parent,
                        "node": {"acceleratorType": "v5p-8", "runtimeVersion": "v2-alpha-tpuv5"},
                        "multisliceParams": {"nodeCount": 2, "nodeIdPrefix": "ms"},
                    }
                ]
            },
            "guaranteed": {"minDuration": "3600s"},
            "queueingPolicy": {
                "validUntilDuration": "7200s",
                "validAfterTime": "2026-11-24T11:00:00Z",
            },
            "reservationName": "projects/p/reservations/r",
            "state": {
                "state": "FAILED",
                "stateInitiator": "SERVICE",
                "failedData": {"error": {"code": 8, "message": "Quota 'X' exhausted"}},
            },
            "unknownField": True,
        }
    )
    assert queued.state is QueuedState.FAILED and queued.state_initiator is StateInitiator.SERVICE
    assert queued.failure is not None and queued.failure.code_name == "RESOURCE_EXHAUSTED"
    assert queued.guaranteed and queued.guaranteed_min_seconds == 3600 and not queued.spot
    assert queued.reservation == "projects/p/reservations/r"
    policy = queued.queueing_policy
    assert policy is not None and policy.valid_until_seconds == 7200
    assert policy.valid_after == datetime(2026, 11, 24, 11, tzinfo=UTC)
    assert queued.node_names == (f"{parent}/nodes/ms-0", f"{parent}/nodes/ms-1")
    assert queued.node_specs[0].software_version == "v2-alpha-tpuv5"
    odd = queued_from_api({"name": f"{parent}/queuedResources/q2", "state": {"state": "NEW"}})
    assert odd.state is QueuedState.STATE_UNSPECIFIED and odd.node_specs == ()


def test_queued_body() -> None:
    parent = "projects/p/locations/us-west4-a"
    request = QueuedResourceRequest(
        node_specs=(
            QueuedNodeSpec(parent, "one", "v5litepod-4", software_version="v2-alpha-tpuv5-lite"),
            QueuedNodeSpec(parent, "", "v5litepod-4", None, "tpu-vm-pt-2.4", multislice_count=2),
        ),
        spot=True,
        valid_until_seconds=3600,
    )
    body = queued_body(request)
    assert body["spot"] == {} and body["queueingPolicy"] == {"validUntilDuration": "3600s"}
    first, second = body["tpu"]["nodeSpec"]
    assert first == {
        "parent": parent,
        "nodeId": "one",
        "node": {"runtimeVersion": "v2-alpha-tpuv5-lite", "acceleratorType": "v5litepod-4"},
    }
    assert second["multisliceParams"] == {"nodeCount": 2} and "nodeId" not in second
    assert "guaranteed" not in body and "reservationName" not in body


def test_project_api_defaults_to_v2() -> None:
    config = parse_bot_config(
        {
            "projects": [{"id": "ml-prod"}, {"id": "ml-old", "api": "v1alpha1"}],
            "channels": {"alerts": "C0A", "approvals": "C0B"},
        }
    )
    assert [p.api for p in config.projects] == ["v2", "v1alpha1"]
    with pytest.raises(ConfigError, match=r"projects\.0\.api"):
        parse_bot_config(
            {
                "projects": [{"id": "ml-prod", "api": "v1"}],
                "channels": {"alerts": "C0A", "approvals": "C0B"},
            }
        )
