"""Nodes in the v1alpha1 schema (`tpu.v1alpha1.json`), whichever API version created them."""

from __future__ import annotations

from tpu_emulator.errors import Json
from tpu_emulator.model import Node, project_number
from tpu_emulator.rules import rfc3339

API = "v1alpha1"
NODE_TYPE = "type.googleapis.com/google.cloud.tpu.v1alpha1.Node"
METADATA_TYPE = "type.googleapis.com/google.cloud.tpu.v1alpha1.OperationMetadata"


def node_json(node: Node) -> Json:
    """A fresh dict (never live state). v2's runtimeVersion shows as tensorflowVersion, so
    v1alpha1 clients keep working on TPU VMs; a spot VM shows as preemptible."""
    body: Json = {
        "name": node.name,
        "acceleratorType": node.accelerator_type,
        "tensorflowVersion": node.version,
        "state": node.state,
        "network": node.network,
        "cidrBlock": node.cidr,
        "networkEndpoints": [{"ipAddress": ip, "port": 8470} for ip in node.endpoints],
        "ipAddress": node.endpoints[0],
        "port": "8470",
        "serviceAccount": f"service-{project_number(node.project)}"
        "@cloud-tpu.iam.gserviceaccount.com",
        "createTime": rfc3339(node.created),
        # v1alpha1's enum stops at V2_ALPHA1: a v2-made TPU VM shows as the nearest it knows.
        "apiVersion": "V2_ALPHA1" if node.api_version == "V2" else node.api_version,
        "schedulingConfig": {
            "preemptible": node.preemptible or node.spot,
            "reserved": node.reserved,
        },
    }
    if node.health:
        body["health"] = node.health
    if node.health_description:
        body["healthDescription"] = node.health_description
    if node.symptoms:
        body["symptoms"] = [dict(s) for s in node.symptoms]
    if node.description:
        body["description"] = node.description
    if node.labels:
        body["labels"] = dict(node.labels)
    if node.use_service_networking:
        body["useServiceNetworking"] = True
    return body
