"""Node methods both versions share (list, get, delete, stop, start), v1alpha1's own (create,
reimage), and what a finished node operation does."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import datetime

from tpu_emulator import catalog, wire_v1alpha1, wire_v2
from tpu_emulator.core import Core
from tpu_emulator.errors import ApiError, Json, quota_status, rpc_status, stockout_message
from tpu_emulator.model import APIS, V1, V1_ALPHA1, Node, Op
from tpu_emulator.rules import NODE_ID, hosts_of, is_pod

EMPTY_TYPE = "type.googleapis.com/google.protobuf.Empty"
_V1_INPUT = {
    "acceleratorType",
    "tensorflowVersion",
    "cidrBlock",
    "network",
    "description",
    "labels",
    "schedulingConfig",
    "useServiceNetworking",
}
_V1_OUTPUT = {
    "name",
    "state",
    "health",
    "apiVersion",
    "createTime",
    "healthDescription",
    "ipAddress",
    "networkEndpoints",
    "port",
    "serviceAccount",
    "symptoms",
}


def render(api: str) -> Callable[[Node], Json]:
    """v1alpha1 and v1 share the Node schema."""
    return wire_v2.node_json if api == "v2" else wire_v1alpha1.node_json


def check_node_id(node_id: str | None) -> str:
    if not node_id:
        raise ApiError("INVALID_ARGUMENT", "nodeId is required.", field="nodeId")
    if not NODE_ID.match(node_id):
        raise ApiError(
            "INVALID_ARGUMENT",
            f"Invalid nodeId {node_id!r}: use 1-63 lowercase letters, digits and "
            "hyphens, starting with a letter and not ending with a hyphen.",
            field="nodeId",
        )
    return node_id


def check_cidr(cidr: str, used: set[str], network: str) -> None:
    try:
        block = ipaddress.IPv4Network(cidr, strict=True)
    except ValueError:
        raise ApiError(
            "INVALID_ARGUMENT",
            f"cidrBlock {cidr!r} is not a valid IPv4 CIDR block.",
            field="cidrBlock",
        ) from None
    if block.prefixlen != 29:
        raise ApiError(
            "INVALID_ARGUMENT", f"cidrBlock {cidr!r} must be a /29 block.", field="cidrBlock"
        )
    if cidr in used:
        raise ApiError(
            "INVALID_ARGUMENT",
            f"cidrBlock {cidr} is already used by another TPU node in network {network}.",
            field="cidrBlock",
        )


def check_strings(value: object, what: str) -> None:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ApiError("INVALID_ARGUMENT", f"{what} must map strings to strings.")


class NodesMixin(Core):
    # ----- both versions ---------------------------------------------------------------------

    def _list_nodes(self, api: str, parent: str, size: int | None, token: str | None) -> Json:
        with self._lock:
            self._advance()
            names, next_token, unreachable = self._wildcard(self._names, parent, token, size)
            to_json = render(api)
            body: Json = {"nodes": [to_json(self._nodes[n]) for n in names]} if names else {}
            if next_token:
                body["nextPageToken"] = next_token
            if unreachable:
                body["unreachable"] = unreachable
            return body

    def _get_node(self, api: str, name: str) -> Json:
        with self._lock:
            self._advance()
            return render(api)(self._node(name))

    def _delete_node(self, api: str, name: str, request_id: str | None = None) -> Json:
        with self._lock:
            self._advance()
            replayed = self._replay((name, request_id or ""), request_id)
            if replayed is not None:
                return replayed
            node = self._node(name)
            self._not_busy(name)
            previous, node.state = node.state, "DELETING"
            op = self._start_op(api, "delete", name, previous)
            if request_id:
                self._request_ids[(name, request_id)] = op.name
            return op.to_json()

    def _stop_node(self, api: str, name: str) -> Json:
        with self._lock:
            self._advance()
            node = self._node(name)
            if is_pod(node.accelerator_type):
                raise ApiError(
                    "FAILED_PRECONDITION",
                    f"Stop is only supported on single TPU nodes; {node.accelerator_type} "
                    "is a TPU Pod.",
                )
            self._not_busy(name)
            if node.state != "READY":
                raise ApiError(
                    "FAILED_PRECONDITION",
                    f"Node {name} is {node.state}; only a READY node can be stopped.",
                )
            node.state = "STOPPING"
            return self._start_op(api, "stop", name, "READY").to_json()

    def _start_node(self, api: str, name: str) -> Json:
        with self._lock:
            self._advance()
            node = self._node(name)
            self._not_busy(name)
            if node.state in ("PREEMPTED", "TERMINATED"):
                raise ApiError(
                    "FAILED_PRECONDITION",
                    f"Node {name} is {node.state} and cannot be started; delete and recreate it.",
                )
            if node.state != "STOPPED":
                raise ApiError(
                    "FAILED_PRECONDITION",
                    f"Node {name} is {node.state}; only a STOPPED node can be started.",
                )
            node.state = "STARTING"
            return self._start_op(api, "start", name, "STOPPED").to_json()

    def _capacity_error(self, project: str, zone: str, accelerator_type: str) -> Json | None:
        """Why creation fails now, if it does: a stockout or an exhausted quota (both code 8)."""
        if zone in self.faults.stockout:
            return rpc_status("RESOURCE_EXHAUSTED", stockout_message(zone))
        if zone in self.faults.quota:
            return quota_status(project, zone, accelerator_type)
        return None

    def _finish_node_op(self, op: Op, when: datetime) -> None:
        node = self._nodes.get(op.target)
        if node is None:  # deleted by someone else meanwhile
            op.error = rpc_status("NOT_FOUND", f"Node {op.target} no longer exists.")
            return
        if op.verb == "delete":
            self._remove(op.target)
            self._node_gone(node)
            op.responses = {api: {"@type": EMPTY_TYPE} for api in APIS}
            return
        if op.verb == "create":
            op.error = self._capacity_error(node.project, node.zone, node.accelerator_type)
            if op.error is not None:
                self._remove(op.target)
                return
        if op.verb == "update":  # the node keeps its state; only the masked fields change
            for attr, value in op.changes.items():
                setattr(node, attr, value)
        elif op.verb == "stop":
            node.state, node.health = "STOPPED", ""
        else:
            node.state, node.health = "READY", "HEALTHY"
        if op.verb == "reimage":
            node.version = op.changes["version"]
        v1_body = wire_v1alpha1.node_json(node)
        op.responses = {
            "v1alpha1": {"@type": wire_v1alpha1.NODE_TYPE, **v1_body},
            "v1": {"@type": wire_v1alpha1.NODE_TYPE.replace(".v1alpha1.", ".v1."), **v1_body},
            "v2": {"@type": wire_v2.NODE_TYPE, **wire_v2.node_json(node)},
        }

    # ----- v1alpha1 --------------------------------------------------------------------------

    def list_nodes(self, parent: str, page_size: int | None, page_token: str | None) -> Json:
        return self._list_nodes("v1alpha1", parent, page_size, page_token)

    def get_node(self, name: str) -> Json:
        return self._get_node("v1alpha1", name)

    def delete_node(self, name: str, request_id: str | None) -> Json:
        return self._delete_node("v1alpha1", name, request_id)

    def stop_node(self, name: str) -> Json:
        return self._stop_node("v1alpha1", name)

    def start_node(self, name: str) -> Json:
        return self._start_node("v1alpha1", name)

    def create_node(
        self,
        parent: str,
        node_id: str | None,
        request_id: str | None,
        body: Json,
        api: str = "v1alpha1",
    ) -> Json:
        """A TPU Node through v1alpha1 or v1 (v1 has no requestId: the route never passes one)."""
        with self._lock:
            self._advance()
            project, zone = self._location(parent)
            replayed = self._replay((parent, request_id or ""), request_id)
            if replayed is not None:
                return replayed
            node_id = check_node_id(node_id)
            self._validate_v1_create(project, zone, body)
            name = f"{parent}/nodes/{node_id}"
            if name in self._nodes:
                raise ApiError("ALREADY_EXISTS", f"Resource '{name}' already exists")
            version = V1 if api == "v1" else V1_ALPHA1
            self._insert(self.v1_node(name, body, "CREATING", self.clock(), version))
            op = self._start_op(api, "create", name, None)
            if request_id:
                self._request_ids[(parent, request_id)] = op.name
            return op.to_json()

    def v1_node(
        self, name: str, body: Json, state: str, created: datetime, version: str = V1_ALPHA1
    ) -> Node:
        """A node as v1alpha1 (or v1) creates it (also how the seeded TPU Nodes are made)."""
        project = name.split("/")[1]
        network = body.get("network") or "default"
        cidr, endpoints = self._endpoints(
            project, network, body.get("cidrBlock", ""), hosts_of(body["acceleratorType"])
        )
        scheduling = body.get("schedulingConfig") or {}
        return Node(
            name=name,
            accelerator_type=body["acceleratorType"],
            version=body["tensorflowVersion"],
            state=state,
            created=created,
            api_version=version,
            cidr=cidr,
            endpoints=endpoints,
            network=network,
            health="HEALTHY" if state == "READY" else "",
            description=body.get("description") or "",
            labels=dict(body.get("labels") or {}),
            preemptible=bool(scheduling.get("preemptible")),
            reserved=bool(scheduling.get("reserved")),
            use_service_networking=bool(body.get("useServiceNetworking")),
        )

    def _validate_v1_create(self, project: str, zone: str, body: Json) -> None:
        unknown = set(body) - _V1_INPUT - _V1_OUTPUT
        if unknown:
            raise ApiError(
                "INVALID_ARGUMENT",
                f"Invalid JSON payload received. Unknown name {sorted(unknown)[0]!r}",
            )
        types, versions = catalog.ZONES.get(zone, ((), ()))
        accelerator_type = body.get("acceleratorType")
        if not accelerator_type:
            raise ApiError(
                "INVALID_ARGUMENT", "acceleratorType is required.", field="acceleratorType"
            )
        if accelerator_type not in types:
            raise ApiError(
                "INVALID_ARGUMENT",
                f"Accelerator type {accelerator_type!r} is not available in zone {zone}; "
                f"available: {', '.join(types)}.",
            )
        version = body.get("tensorflowVersion")
        if not version:
            raise ApiError(
                "INVALID_ARGUMENT", "tensorflowVersion is required.", field="tensorflowVersion"
            )
        if version not in versions:
            raise ApiError(
                "INVALID_ARGUMENT",
                f"TensorFlow version {version!r} is not available in zone {zone}; "
                f"available: {', '.join(versions)}.",
            )
        if len(str(body.get("description", ""))) > 512:
            raise ApiError(
                "INVALID_ARGUMENT",
                "description must be at most 512 characters.",
                field="description",
            )
        cidr = body.get("cidrBlock")
        if cidr and body.get("useServiceNetworking"):
            raise ApiError(
                "INVALID_ARGUMENT",
                "cidrBlock must not be set when useServiceNetworking is set.",
                field="cidrBlock",
            )
        if cidr:
            network = body.get("network") or "default"
            check_cidr(cidr, self._cidrs.get((project, network), set()), network)
        check_strings(body.get("labels") or {}, "labels")

    def reimage_node(self, name: str, body: Json, api: str = "v1alpha1") -> Json:
        with self._lock:
            self._advance()
            node = self._node(name)
            if node.api_version not in (V1_ALPHA1, V1):
                raise ApiError(
                    "FAILED_PRECONDITION",
                    f"Node {name} is a TPU VM (created through {node.api_version}); reimage is "
                    "only for TPU Nodes. Delete and recreate it with another runtime version.",
                )
            version = body.get("tensorflowVersion")
            if not version:
                raise ApiError(
                    "INVALID_ARGUMENT", "tensorflowVersion is required.", field="tensorflowVersion"
                )
            zone = name.split("/")[3]
            if version not in catalog.ZONES.get(zone, ((), ()))[1]:
                raise ApiError(
                    "INVALID_ARGUMENT",
                    f"TensorFlow version {version!r} is not available in zone {zone}.",
                )
            self._not_busy(name)
            if node.state != "READY":
                raise ApiError(
                    "FAILED_PRECONDITION",
                    f"Node {name} is {node.state}; only a READY node can be reimaged.",
                )
            node.state = "REIMAGING"
            return self._start_op(api, "reimage", name, "READY", {"version": version}).to_json()
