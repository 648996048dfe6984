"""Nodes and queued resources in the v2 schema (`tpu.v2.json`). proto3 JSON leaves out false
booleans and empty values, as Google's responses do."""

from __future__ import annotations

import ipaddress

from tpu_emulator import catalog
from tpu_emulator.errors import Json
from tpu_emulator.model import Node, QueuedResource, project_number
from tpu_emulator.rules import rfc3339

API = "v2"
NODE_TYPE = "type.googleapis.com/google.cloud.tpu.v2.Node"
QUEUED_TYPE = "type.googleapis.com/google.cloud.tpu.v2.QueuedResource"
METADATA_TYPE = "type.googleapis.com/google.cloud.tpu.v2.OperationMetadata"
DEFAULT_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


def _external_ip(internal: str) -> str:
    """A stable, documentation-range public address per internal one."""
    offset = int(ipaddress.IPv4Address(internal)) % 65000
    return str(ipaddress.IPv4Address("203.0.0.0") + offset % 254 + 1 + (offset // 254) * 256)


def _network(node: Node) -> Json:
    region = node.zone.rsplit("-", 1)[0]
    config: Json = {
        "network": f"projects/{node.project}/global/networks/{node.network}",
        "subnetwork": f"projects/{node.project}/regions/{region}/subnetworks/{node.subnetwork}",
    }
    if node.enable_external_ips:
        config["enableExternalIps"] = True
    if node.can_ip_forward:
        config["canIpForward"] = True
    return config


def _endpoints(node: Node) -> list[Json]:
    endpoints = []
    for ip in node.endpoints:
        endpoint: Json = {"ipAddress": ip, "port": 8470}
        if node.enable_external_ips:
            endpoint["accessConfig"] = {"externalIp": _external_ip(ip)}
        endpoints.append(endpoint)
    return endpoints


def _scheduling(node: Node) -> Json:
    flags = {"preemptible": node.preemptible, "reserved": node.reserved, "spot": node.spot}
    return {key: True for key, value in flags.items() if value}


def _account(account: Json) -> Json:
    """An empty scope list is left out, as Google's proto3 JSON leaves empty lists."""
    out: Json = {"email": account["email"]}
    if account.get("scope"):
        out["scope"] = list(account["scope"])
    return out


def node_json(node: Node) -> Json:
    """A fresh dict in v2's Node schema; v1alpha1's tensorflowVersion shows as runtimeVersion."""
    account = node.service_account or {
        "email": f"{project_number(node.project)}-compute@developer.gserviceaccount.com",
        "scope": DEFAULT_SCOPES,
    }
    body: Json = {
        "name": node.name,
        "id": node.uid,
        "acceleratorType": node.accelerator_type,
        "acceleratorConfig": catalog.accelerator_config(node.accelerator_type),
        "runtimeVersion": node.version,
        "state": node.state,
        "cidrBlock": node.cidr,
        "networkConfig": _network(node),
        "networkEndpoints": _endpoints(node),
        "serviceAccount": _account(account),
        "createTime": rfc3339(node.created),
        "apiVersion": node.api_version,
        "schedulingConfig": _scheduling(node),
        "shieldedInstanceConfig": {"enableSecureBoot": True} if node.secure_boot else {},
    }
    optional: Json = {
        "health": node.health,
        "healthDescription": node.health_description,
        "symptoms": [dict(s) for s in node.symptoms],
        "description": node.description,
        "labels": dict(node.labels),
        "metadata": dict(node.metadata),
        "tags": list(node.tags),
        "dataDisks": [dict(d) for d in node.data_disks],
        "queuedResource": node.queued_resource,
        "multisliceNode": node.multislice,
        "upcomingMaintenance": dict(node.maintenance or {}),
    }
    body.update({key: value for key, value in optional.items() if value})
    return body


def queued_json(qr: QueuedResource) -> Json:
    """A fresh dict in v2's QueuedResource schema."""
    state: Json = {"state": qr.state}
    if qr.initiator:
        state["stateInitiator"] = qr.initiator
    data_key = {
        "CREATING": "creatingData",
        "ACCEPTED": "acceptedData",
        "PROVISIONING": "provisioningData",
        "FAILED": "failedData",
        "DELETING": "deletingData",
        "ACTIVE": "activeData",
        "SUSPENDING": "suspendingData",
        "SUSPENDED": "suspendedData",
    }.get(qr.state)
    if data_key == "failedData":
        state["failedData"] = {"error": dict(qr.failed)} if qr.failed else {}
    elif data_key:
        state[data_key] = {}
    body: Json = {
        "name": qr.name,
        "createTime": rfc3339(qr.created),
        "tpu": {"nodeSpec": [dict(spec) for spec in qr.specs]},
        "state": state,
    }
    if qr.spot:
        body["spot"] = {}
    if qr.guaranteed is not None:
        body["guaranteed"] = dict(qr.guaranteed)
    if qr.reservation:
        body["reservationName"] = qr.reservation
    if qr.policy:
        body["queueingPolicy"] = dict(qr.policy)
    return body


# Google's generated clients send enums as numbers ("enum-encoding=int"); these are the proto
# numbers of the enums a request body can carry (they differ from the discovery order).
_ACCELERATOR_TYPES = {0: "TYPE_UNSPECIFIED", 2: "V2", 4: "V3", 7: "V4", 9: "V5LITE_POD"}
_ACCELERATOR_TYPES |= {10: "V5P", 11: "V6E"}
_DISK_MODES = {0: "DISK_MODE_UNSPECIFIED", 1: "READ_WRITE", 2: "READ_ONLY"}


def _enum(value: object, names: dict[int, str]) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return names.get(value, value)
    return value


def node_request(body: Json) -> Json:
    """A node from a request body with its enums as names, whichever way they came."""
    node = dict(body)
    if isinstance(node.get("acceleratorConfig"), dict):
        config = dict(node["acceleratorConfig"])
        if "type" in config:
            config["type"] = _enum(config["type"], _ACCELERATOR_TYPES)
        node["acceleratorConfig"] = config
    if isinstance(node.get("dataDisks"), list):
        node["dataDisks"] = [
            {**d, "mode": _enum(d["mode"], _DISK_MODES)} if isinstance(d, dict) and "mode" in d
            else d
            for d in node["dataDisks"]
        ]  # fmt: skip
    return node
