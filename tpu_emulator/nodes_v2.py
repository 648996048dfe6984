"""v2 node methods: create (TPU VMs), patch with updateMask, getGuestAttributes, and the v2
faces of list/get/delete/stop/start. v2 takes no requestId on create or delete: the node id and
ALREADY_EXISTS are the idempotency."""

from __future__ import annotations

from datetime import datetime

from tpu_emulator import catalog, wire_v2
from tpu_emulator.errors import ApiError, Json
from tpu_emulator.model import V2, Node
from tpu_emulator.nodes import NodesMixin, check_cidr, check_node_id, check_strings
from tpu_emulator.rules import hosts_of

_INPUT = {
    "acceleratorType",
    "acceleratorConfig",
    "runtimeVersion",
    "cidrBlock",
    "networkConfig",
    "networkConfigs",
    "description",
    "labels",
    "metadata",
    "tags",
    "dataDisks",
    "schedulingConfig",
    "serviceAccount",
    "shieldedInstanceConfig",
    "bootDiskConfig",
}
# Output-only fields: a client may send a node back as it got it (the patch body does).
_OUTPUT = {
    "name",
    "id",
    "state",
    "health",
    "healthDescription",
    "createTime",
    "apiVersion",
    "networkEndpoints",
    "symptoms",
    "queuedResource",
    "multisliceNode",
    "upcomingMaintenance",
    "protectionTier",
}
# updateMask paths v2 supports (the discovery document's list), JSON or proto spelling.
_MASKABLE = {
    "description": "description",
    "tags": "tags",
    "labels": "labels",
    "metadata": "metadata",
    "networkConfig.enableExternalIps": "enable_external_ips",
    "network_config.enable_external_ips": "enable_external_ips",
}
_DISK_MODES = {"READ_WRITE", "READ_ONLY", "DISK_MODE_UNSPECIFIED"}


def resolve_type(zone: str, body: Json) -> str:
    """The accelerator type a v2 body asks for (by name or by AcceleratorConfig)."""
    by_name = body.get("acceleratorType")
    config = body.get("acceleratorConfig")
    by_config = catalog.type_for_config(config) if isinstance(config, dict) else None
    if config and by_config is None:
        raise ApiError(
            "INVALID_ARGUMENT",
            f"acceleratorConfig {config} is not a known shape.",
            field="acceleratorConfig",
        )
    if by_name and by_config and by_name != by_config:
        raise ApiError(
            "INVALID_ARGUMENT",
            "acceleratorType and acceleratorConfig ask for different TPUs.",
            field="acceleratorType",
        )
    wanted = by_name or by_config
    if not wanted:
        raise ApiError(
            "INVALID_ARGUMENT",
            "acceleratorType or acceleratorConfig is required.",
            field="acceleratorType",
        )
    offered = catalog.v2_types(zone)
    if wanted not in offered:
        raise ApiError(
            "INVALID_ARGUMENT",
            f"Accelerator type {wanted!r} is not available in zone {zone}; "
            f"available: {', '.join(offered) or 'none'}.",
        )
    return str(wanted)


def validate_v2_body(zone: str, body: Json) -> str:
    """Refuse what Google refuses; the accelerator type on success."""
    unknown = set(body) - _INPUT - _OUTPUT
    if unknown:
        raise ApiError(
            "INVALID_ARGUMENT",
            f"Invalid JSON payload received. Unknown name {sorted(unknown)[0]!r}",
        )
    accelerator_type = resolve_type(zone, body)
    version = body.get("runtimeVersion")
    if not version:
        raise ApiError("INVALID_ARGUMENT", "runtimeVersion is required.", field="runtimeVersion")
    allowed = catalog.GENERATIONS[catalog.generation(accelerator_type)][2]
    if version not in allowed:
        raise ApiError(
            "INVALID_ARGUMENT",
            f"Runtime version {version!r} is not available for {accelerator_type} in zone "
            f"{zone}; available: {', '.join(allowed)}.",
        )
    if body.get("networkConfig") and body.get("networkConfigs"):
        raise ApiError(
            "INVALID_ARGUMENT",
            "networkConfig and networkConfigs are mutually exclusive.",
            field="networkConfig",
        )
    if len(str(body.get("description", ""))) > 512:
        raise ApiError(
            "INVALID_ARGUMENT", "description must be at most 512 characters.", field="description"
        )
    check_strings(body.get("labels") or {}, "labels")
    check_strings(body.get("metadata") or {}, "metadata")
    tags = body.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ApiError("INVALID_ARGUMENT", "tags must be a list of strings.", field="tags")
    for disk in body.get("dataDisks") or []:
        if not isinstance(disk, dict) or not disk.get("sourceDisk"):
            raise ApiError(
                "INVALID_ARGUMENT", "dataDisks[].sourceDisk is required.", field="dataDisks"
            )
        if disk.get("mode", "READ_WRITE") not in _DISK_MODES:
            raise ApiError(
                "INVALID_ARGUMENT", f"dataDisks[].mode {disk.get('mode')!r}", field="dataDisks"
            )
    scheduling = body.get("schedulingConfig") or {}
    if scheduling.get("spot") and (scheduling.get("preemptible") or scheduling.get("reserved")):
        raise ApiError(
            "INVALID_ARGUMENT",
            "schedulingConfig.spot excludes preemptible and reserved.",
            field="schedulingConfig",
        )
    return accelerator_type


def _short(path: str) -> str:
    """projects/P/global/networks/N -> N (the emulator keys networks by short name)."""
    return path.rsplit("/", 1)[-1] if path else "default"


class NodesV2Mixin(NodesMixin):
    def v2_node(self, name: str, body: Json, state: str, created: datetime) -> Node:
        """A node as v2 creates it: a TPU VM (also how seeded VMs and queued nodes are made)."""
        zone = name.split("/")[3]
        accelerator_type = resolve_type(zone, body)
        network = body.get("networkConfig") or (body.get("networkConfigs") or [{}])[0]
        scheduling = body.get("schedulingConfig") or {}
        cidr, endpoints = self._endpoints(
            name.split("/")[1],
            _short(network.get("network", "")),
            body.get("cidrBlock", ""),
            hosts_of(accelerator_type),
        )
        return Node(
            name=name,
            accelerator_type=accelerator_type,
            version=body["runtimeVersion"],
            state=state,
            created=created,
            api_version=V2,
            cidr=cidr,
            endpoints=endpoints,
            network=_short(network.get("network", "")),
            subnetwork=_short(network.get("subnetwork", "")),
            health="HEALTHY" if state == "READY" else "",
            description=body.get("description") or "",
            labels=dict(body.get("labels") or {}),
            preemptible=bool(scheduling.get("preemptible")),
            reserved=bool(scheduling.get("reserved")),
            spot=bool(scheduling.get("spot")),
            metadata=dict(body.get("metadata") or {}),
            tags=list(body.get("tags") or []),
            data_disks=[
                {"sourceDisk": d["sourceDisk"], "mode": d.get("mode", "READ_WRITE")}
                for d in body.get("dataDisks") or []
            ],
            enable_external_ips=bool(network.get("enableExternalIps")),
            can_ip_forward=bool(network.get("canIpForward")),
            service_account=body.get("serviceAccount") or None,
            secure_boot=bool((body.get("shieldedInstanceConfig") or {}).get("enableSecureBoot")),
        )

    def v2_list_nodes(self, parent: str, page_size: int | None, page_token: str | None) -> Json:
        return self._list_nodes("v2", parent, page_size, page_token)

    def v2_get_node(self, name: str) -> Json:
        return self._get_node("v2", name)

    def v2_delete_node(self, name: str) -> Json:
        return self._delete_node("v2", name)

    def v2_stop_node(self, name: str) -> Json:
        return self._stop_node("v2", name)

    def v2_start_node(self, name: str) -> Json:
        return self._start_node("v2", name)

    def v2_create_node(self, parent: str, node_id: str | None, body: Json) -> Json:
        with self._lock:
            self._advance()
            project, zone = self._location(parent)
            node_id = check_node_id(node_id)
            body = wire_v2.node_request(body)
            validate_v2_body(zone, body)
            network = _short((body.get("networkConfig") or {}).get("network", ""))
            if body.get("cidrBlock"):
                used = self._cidrs.get((project, network), set())
                check_cidr(body["cidrBlock"], used, network)
            name = f"{parent}/nodes/{node_id}"
            if name in self._nodes:
                raise ApiError("ALREADY_EXISTS", f"Resource '{name}' already exists")
            self._insert(self.v2_node(name, body, "CREATING", self.clock()))
            return self._start_op("v2", "create", name, None).to_json()

    def v2_patch_node(self, name: str, update_mask: str | None, body: Json) -> Json:
        """Update the masked fields; the change shows when the operation is done."""
        with self._lock:
            self._advance()
            paths = [p.strip() for p in (update_mask or "").split(",") if p.strip()]
            if not paths:
                raise ApiError("INVALID_ARGUMENT", "updateMask is required.", field="updateMask")
            node = self._node(name)
            changes: Json = {}
            for path in paths:
                attr = _MASKABLE.get(path)
                if attr is None:
                    raise ApiError(
                        "INVALID_ARGUMENT",
                        f"updateMask path {path!r} is not supported; supported: description, "
                        "tags, labels, metadata, network_config.enable_external_ips.",
                        field="description",
                    )
                changes[attr] = self._masked_value(attr, body)
            self._not_busy(name)
            if node.state not in ("READY", "STOPPED"):
                raise ApiError(
                    "FAILED_PRECONDITION", f"Node {name} is {node.state}; it cannot be updated."
                )
            return self._start_op("v2", "update", name, node.state, changes).to_json()

    @staticmethod
    def _masked_value(attr: str, body: Json) -> object:
        if attr == "enable_external_ips":
            return bool((body.get("networkConfig") or {}).get("enableExternalIps"))
        if attr == "description":
            value = str(body.get("description") or "")
            if len(value) > 512:
                raise ApiError(
                    "INVALID_ARGUMENT",
                    "description must be at most 512 characters.",
                    field="description",
                )
            return value
        if attr == "tags":
            return list(body.get("tags") or [])
        mapping = dict(body.get(attr) or {})
        check_strings(mapping, attr)
        return mapping

    def v2_guest_attributes(self, name: str, body: Json) -> Json:
        """Per worker: the guest attributes under `queryPath` (namespace/key prefix)."""
        with self._lock:
            self._advance()
            node = self._node(name)
            if node.state not in ("READY", "STOPPED", "REPAIRING"):
                raise ApiError(
                    "FAILED_PRECONDITION", f"Node {name} is {node.state}; no guest attributes."
                )
            query = str(body.get("queryPath") or "")
            wanted = [str(w) for w in body.get("workerIds") or []]
            workers = [str(i) for i in range(len(node.endpoints))]
            if any(w not in workers for w in wanted):
                raise ApiError(
                    "INVALID_ARGUMENT", f"workerIds must be among {workers}.", field="workerIds"
                )
            attributes = []
            for worker in wanted or workers:
                ip = node.endpoints[int(worker)]
                items = [
                    {"namespace": "tpu", "key": "worker-id", "value": worker},
                    {"namespace": "tpu", "key": "internal-ip", "value": ip},
                    {"namespace": "tpu", "key": "runtime-version", "value": node.version},
                ]
                items = [i for i in items if f"{i['namespace']}/{i['key']}".startswith(query)]
                # Empty strings and lists are left out, as Google's proto3 JSON leaves them.
                value: Json = {"items": items} if items else {}
                attributes.append(
                    {"queryPath": query, "queryValue": value} if query else {"queryValue": value}
                )
            return {"guestAttributes": attributes}
