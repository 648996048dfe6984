"""The emulated Cloud TPU v1alpha1 service: nodes, operations, validation and faults.

Time is injected (`clock`), and operations advance lazily on each call, so tests can move time
instead of waiting. Every public method is one API method, takes and returns API JSON (camelCase
dicts), and raises ApiError in Google's error vocabulary.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import heapq
import ipaddress
import json
import random
import re
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tpu_emulator import catalog
from tpu_emulator.rules import NODE_ID, hosts_of, is_pod
from tpu_emulator.rules import rfc3339 as format_time

Json = dict[str, Any]
Clock = Callable[[], datetime]

API_VERSION = "v1alpha1"
TYPE_PREFIX = "type.googleapis.com/"
METADATA_TYPE = TYPE_PREFIX + "google.cloud.tpu.v1alpha1.OperationMetadata"
NODE_TYPE = TYPE_PREFIX + "google.cloud.tpu.v1alpha1.Node"
EMPTY_TYPE = TYPE_PREFIX + "google.protobuf.Empty"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

# HTTP status for each canonical error status, as Google's JSON errors carry them.
STATUS_HTTP = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ABORTED": 409,
    "ALREADY_EXISTS": 409,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "INTERNAL": 500,
    "UNKNOWN": 500,
    "NOT_IMPLEMENTED": 501,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
HTTP_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
RPC_CODES = {
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
}

_LOCATION = re.compile(r"^projects/([^/]+)/locations/([^/]+)$")
_NODE = re.compile(r"^projects/([^/]+)/locations/([^/]+)/nodes/([^/]+)$")
_OPERATION = re.compile(r"^projects/([^/]+)/locations/([^/]+)/operations/([^/]+)$")
_PROJECT = re.compile(r"^projects/([^/]+)$")


class ApiError(Exception):
    """An error in Google's vocabulary: HTTP code, canonical status, message."""

    def __init__(self, status: str, message: str, http: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.http = http if http is not None else STATUS_HTTP.get(status, 500)

    def to_json(self) -> Json:
        return {"error": {"code": self.http, "message": self.message, "status": self.status}}


@dataclass
class Faults:
    """Injected trouble. Errors hit API methods only (never the admin API)."""

    latency_ms: int = 0
    error_rate: float = 0.0
    error_code: int = 503
    fail_next: int = 0
    # Fail after the method took effect: the response is lost, as on a dropped connection.
    after_apply: bool = False
    methods: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    stockout: list[str] = field(default_factory=list)
    permission_denied: list[str] = field(default_factory=list)

    _FIELDS = {
        "latencyMs": "latency_ms",
        "errorRate": "error_rate",
        "errorCode": "error_code",
        "failNext": "fail_next",
        "afterApply": "after_apply",
        "methods": "methods",
        "unreachable": "unreachable",
        "stockout": "stockout",
        "permissionDenied": "permission_denied",
    }

    def update(self, data: Json) -> None:
        for key, value in data.items():
            attr = self._FIELDS.get(key)
            if attr is None:
                raise ApiError("INVALID_ARGUMENT", f"unknown fault {key!r}")
            current = getattr(self, attr)
            expected = list if isinstance(current, list) else type(current)
            if expected is float and isinstance(value, int):
                value = float(value)
            if not isinstance(value, expected) or (
                expected is not bool and isinstance(value, bool)
            ):
                raise ApiError("INVALID_ARGUMENT", f"fault {key!r} must be {expected.__name__}")
            setattr(self, attr, value)
        if self.error_code not in HTTP_STATUS:
            raise ApiError("INVALID_ARGUMENT", f"errorCode must be one of {sorted(HTTP_STATUS)}")

    def to_json(self) -> Json:
        return {key: getattr(self, attr) for key, attr in self._FIELDS.items()}


@dataclass
class _Op:
    name: str
    verb: str
    target: str
    created: datetime
    due: datetime
    previous_state: str | None = None
    new_version: str | None = None
    done: bool = False
    ended: datetime | None = None
    error: Json | None = None
    response: Json | None = None
    cancel_requested: bool = False

    def to_json(self) -> Json:
        metadata: Json = {
            "@type": METADATA_TYPE,
            "createTime": format_time(self.created),
            "target": self.target,
            "verb": self.verb,
            "apiVersion": API_VERSION,
            "cancelRequested": self.cancel_requested,
        }
        body: Json = {"name": self.name, "metadata": metadata}
        if self.done:
            # proto3 JSON leaves out false booleans: a running operation has no "done".
            body["done"] = True
            assert self.ended is not None
            metadata["endTime"] = format_time(self.ended)
            if self.error is not None:
                body["error"] = self.error
            elif self.response is not None:
                body["response"] = self.response
        return body


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _encode_token(payload: Json) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _decode_token(token: str, parent: str) -> str:
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if payload["p"] != parent:
            raise ValueError
        return str(payload["a"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError("INVALID_ARGUMENT", "Invalid page token") from None


def _page_size(value: int | None) -> int:
    if value is None or value == 0:
        return DEFAULT_PAGE_SIZE
    if value < 0:
        raise ApiError("INVALID_ARGUMENT", "page_size must not be negative")
    return min(value, MAX_PAGE_SIZE)


class Emulator:
    """Holds the emulated service's state; thread-safe (one lock, short critical sections)."""

    def __init__(
        self,
        *,
        clock: Clock = _utcnow,
        op_seconds: float = 5.0,
        fleet: int = 0,
        projects: int = 3,
        seed: int = 7,
        clean: bool = False,
    ) -> None:
        self.clock = clock
        self.op_seconds = op_seconds
        self._fleet = (fleet, projects, seed)
        self._clean = clean
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self.reset()

    # ----- admin -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the seeded fleet, no faults, no operations, zero counters."""
        with self._lock:
            self.faults = Faults()
            self.stats: Counter[str] = Counter()
            self._nodes: dict[str, Json] = {}
            self._names: dict[str, list[str]] = {}  # project -> sorted full node names
            self._ops: dict[str, _Op] = {}
            self._forgotten: set[str] = set()
            self._op_names: dict[str, list[str]] = {}  # project -> sorted operation names
            self._pending: list[tuple[datetime, str]] = []
            self._busy: dict[str, str] = {}  # node name -> running operation name
            self._request_ids: dict[tuple[str, str], str] = {}
            self._cidrs: dict[tuple[str, str], set[str]] = {}
            self._free_cidrs = catalog.cidr_blocks("10.128.0.0")
            count, projects, seed = self._fleet
            for seeded in catalog.seed_fleet(count, projects, self.clock(), seed):
                if self._clean:
                    seeded = catalog.SeedNode(
                        **{
                            **seeded.__dict__,
                            "state": "READY",
                            "health": "HEALTHY",
                            "health_description": "",
                            "symptoms": (),
                        }
                    )
                self._seed(seeded)

    def _seed(self, s: catalog.SeedNode) -> None:
        name = f"projects/{s.project}/locations/{s.zone}/nodes/{s.node_id}"
        body: Json = {
            "acceleratorType": s.accelerator_type,
            "tensorflowVersion": s.tensorflow_version,
            "description": f"{s.labels['team']} workload",
            "labels": dict(s.labels),
            "schedulingConfig": {"preemptible": s.preemptible},
        }
        node = self._new_node(name, body, s.state, s.create_time)
        if s.health:
            node["health"] = s.health
        if s.health_description:
            node["healthDescription"] = s.health_description
        if s.symptoms:
            node["symptoms"] = [
                {
                    "symptomType": kind,
                    "workerId": worker,
                    "details": details,
                    "createTime": format_time(s.create_time),
                }
                for kind, worker, details in s.symptoms
            ]
        self._insert(name, node)

    def set_faults(self, data: Json) -> Json:
        with self._lock:
            self.faults.update(data)
            return self.faults.to_json()

    def stats_json(self) -> Json:
        with self._lock:
            return {"requests": dict(self.stats), "nodes": len(self._nodes)}

    def inject(self, name: str, data: Json) -> Json:
        """Change a node as the service would on its own (preemption, health, symptoms)."""
        allowed = {"state", "health", "healthDescription", "symptoms"}
        unknown = set(data) - allowed
        if unknown:
            raise ApiError("INVALID_ARGUMENT", f"cannot inject {sorted(unknown)}")
        with self._lock:
            self._advance()
            node = self._node(name)
            for key in ("state", "health"):
                if key in data:
                    self._check_enum(key, data[key])
                    if data[key]:
                        node[key] = data[key]
                    else:
                        node.pop(key, None)
            if "healthDescription" in data:
                if data["healthDescription"]:
                    node["healthDescription"] = str(data["healthDescription"])
                else:
                    node.pop("healthDescription", None)
            if "symptoms" in data:
                symptoms = []
                for item in data["symptoms"] or []:
                    self._check_enum("symptomType", item.get("symptomType"))
                    symptoms.append(
                        {
                            "symptomType": item["symptomType"],
                            "workerId": str(item.get("workerId", "0")),
                            "details": str(item.get("details", "")),
                            "createTime": item.get("createTime") or format_time(self.clock()),
                        }
                    )
                if symptoms:
                    node["symptoms"] = symptoms
                else:
                    node.pop("symptoms", None)
            return json.loads(json.dumps(node))

    @staticmethod
    def _check_enum(key: str, value: object) -> None:
        allowed = {
            "state": {
                "CREATING",
                "READY",
                "RESTARTING",
                "REIMAGING",
                "DELETING",
                "REPAIRING",
                "STOPPED",
                "STOPPING",
                "STARTING",
                "PREEMPTED",
                "TERMINATED",
                "HIDING",
                "HIDDEN",
                "UNHIDING",
                "UNKNOWN",
            },
            "health": {
                "",
                "HEALTHY",
                "DEPRECATED_UNHEALTHY",
                "TIMEOUT",
                "UNHEALTHY_TENSORFLOW",
                "UNHEALTHY_MAINTENANCE",
            },
            "symptomType": set(catalog.SYMPTOMS) | {"PROJECT_ABUSE"},
        }[key]
        if value not in allowed:
            raise ApiError("INVALID_ARGUMENT", f"{key} {value!r} is not one of {sorted(allowed)}")

    def node_names(self, project: str | None = None) -> list[str]:
        with self._lock:
            if project is not None:
                return list(self._names.get(project, []))
            return sorted(self._nodes)

    # ----- request gate ----------------------------------------------------------------------

    def gate(self, method: str, resource: str) -> ApiError | None:
        """Count the call and apply injected faults; an error to raise after applying, if any."""
        with self._lock:
            self.stats[method] += 1
            faults = self.faults
            if not faults.methods or method in faults.methods:
                fail = False
                if faults.fail_next > 0:
                    faults.fail_next -= 1
                    fail = True
                elif faults.error_rate > 0 and self._rng.random() < faults.error_rate:
                    fail = True
                if fail:
                    code = faults.error_code
                    error = ApiError(HTTP_STATUS[code], "Injected fault", http=code)
                    if faults.after_apply:
                        return error
                    raise error
            project = resource.split("/")[1] if resource.startswith("projects/") else ""
            if project in faults.permission_denied:
                raise ApiError(
                    "PERMISSION_DENIED",
                    f"Permission 'tpu.nodes.list' denied on resource '{resource}' "
                    "(or it may not exist).",
                )
            return None

    # ----- internals -------------------------------------------------------------------------

    def _advance(self) -> None:
        now = self.clock()
        while self._pending and self._pending[0][0] <= now:
            due, name = heapq.heappop(self._pending)
            op = self._ops.get(name)
            if op is not None and not op.done:
                self._finish(op, due)

    def _finish(self, op: _Op, when: datetime) -> None:
        node = self._nodes.get(op.target)
        op.done, op.ended = True, when
        self._busy.pop(op.target, None)
        if node is None:  # deleted by someone else meanwhile
            op.error = {"code": 5, "message": f"Node {op.target} no longer exists."}
            return
        if op.verb == "create":
            zone = op.target.split("/")[3]
            if zone in self.faults.stockout:
                self._remove(op.target)
                op.error = {
                    "code": RPC_CODES["RESOURCE_EXHAUSTED"],
                    "message": f'There is no more capacity in the zone "{zone}"; you can try '
                    "in another zone where Cloud TPU Nodes are offered "
                    "(see https://cloud.google.com/tpu/docs/regions) [EID: 0x1a2b3c].",
                }
                return
            node["state"], node["health"] = "READY", "HEALTHY"
        elif op.verb == "stop":
            node["state"] = "STOPPED"
            node.pop("health", None)
        elif op.verb == "start":
            node["state"], node["health"] = "READY", "HEALTHY"
        elif op.verb == "reimage":
            node["state"], node["health"] = "READY", "HEALTHY"
            node["tensorflowVersion"] = op.new_version
        elif op.verb == "delete":
            self._remove(op.target)
            op.response = {"@type": EMPTY_TYPE}
            return
        op.response = {"@type": NODE_TYPE, **json.loads(json.dumps(node))}

    def _insert(self, name: str, node: Json) -> None:
        project = name.split("/")[1]
        self._nodes[name] = node
        bisect.insort(self._names.setdefault(project, []), name)
        if node.get("cidrBlock"):
            self._cidrs.setdefault((project, node["network"]), set()).add(node["cidrBlock"])

    def _remove(self, name: str) -> None:
        node = self._nodes.pop(name)
        project = name.split("/")[1]
        names = self._names[project]
        del names[bisect.bisect_left(names, name)]
        self._cidrs.get((project, node.get("network", "")), set()).discard(
            node.get("cidrBlock", "")
        )

    def _allocate_cidr(self, project: str, network: str) -> str:
        used = self._cidrs.get((project, network), set())
        while True:
            cidr = next(self._free_cidrs)
            if cidr not in used:
                return cidr

    def _new_node(self, name: str, body: Json, state: str, created: datetime) -> Json:
        project = name.split("/")[1]
        network = body.get("network") or "default"
        cidr = body.get("cidrBlock") or self._allocate_cidr(project, network)
        first = ipaddress.IPv4Network(cidr).network_address + 2
        endpoints = [
            {"ipAddress": str(first + i), "port": 8470}
            for i in range(hosts_of(body["acceleratorType"]))
        ]
        node: Json = {
            "name": name,
            "acceleratorType": body["acceleratorType"],
            "tensorflowVersion": body["tensorflowVersion"],
            "state": state,
            "network": network,
            "cidrBlock": cidr,
            "networkEndpoints": endpoints,
            "ipAddress": endpoints[0]["ipAddress"],
            "port": "8470",
            "serviceAccount": f"service-{abs(hash(project)) % 10**12:012d}"
            "@cloud-tpu.iam.gserviceaccount.com",
            "createTime": format_time(created),
            "apiVersion": "V1_ALPHA1",
            "schedulingConfig": {
                "preemptible": bool((body.get("schedulingConfig") or {}).get("preemptible")),
                "reserved": bool((body.get("schedulingConfig") or {}).get("reserved")),
            },
        }
        if state == "READY":
            node["health"] = "HEALTHY"
        for key in ("description", "labels", "useServiceNetworking"):
            if body.get(key):
                node[key] = body[key]
        return node

    def _location(self, parent: str, wildcard: bool = False) -> tuple[str, str]:
        match = _LOCATION.match(parent)
        if not match:
            raise ApiError("INVALID_ARGUMENT", f"Invalid resource name: {parent!r}")
        project, zone = match.groups()
        if zone == "-" and wildcard:
            return project, zone
        if zone not in catalog.ZONES:
            raise ApiError("NOT_FOUND", f"Location {parent} not found.")
        if zone in self.faults.unreachable:
            raise ApiError("UNAVAILABLE", f"The service is currently unavailable in {zone}.")
        return project, zone

    def _node(self, name: str) -> Json:
        match = _NODE.match(name)
        if not match:
            raise ApiError("INVALID_ARGUMENT", f"Invalid node name: {name!r}")
        self._location(name.rsplit("/nodes/", 1)[0])
        node = self._nodes.get(name)
        if node is None:
            raise ApiError("NOT_FOUND", f"Resource '{name}' was not found")
        return node

    def _start_op(
        self, verb: str, target: str, previous: str | None, new_version: str | None = None
    ) -> _Op:
        project, zone = target.split("/")[1], target.split("/")[3]
        now = self.clock()
        millis = int(now.timestamp() * 1000)
        name = (
            f"projects/{project}/locations/{zone}/operations/"
            f"operation-{millis}-{secrets.token_hex(8)}"
        )
        op = _Op(
            name=name,
            verb=verb,
            target=target,
            created=now,
            due=now + timedelta(seconds=self.op_seconds),
            previous_state=previous,
            new_version=new_version,
        )
        self._ops[name] = op
        bisect.insort(self._op_names.setdefault(project, []), name)
        heapq.heappush(self._pending, (op.due, name))
        self._busy[target] = name
        return op

    def _not_busy(self, name: str) -> None:
        running = self._busy.get(name)
        if running is not None:
            raise ApiError(
                "FAILED_PRECONDITION",
                f"Node {name} has an operation in progress ({running}); retry when it is done.",
            )

    def _page(self, names: list[str], prefix: str, parent: str, token: str | None, size: int):
        """One page of `names` (sorted) that start with `prefix`, after the token's name."""
        start = bisect.bisect_left(names, prefix)
        if token:
            after = _decode_token(token, parent)
            start = max(start, bisect.bisect_right(names, after))
        page: list[str] = []
        i = start
        while i < len(names) and len(page) < size and names[i].startswith(prefix):
            page.append(names[i])
            i += 1
        more = i < len(names) and names[i].startswith(prefix)
        next_token = _encode_token({"p": parent, "a": page[-1]}) if more and page else None
        return page, next_token

    # ----- nodes -----------------------------------------------------------------------------

    def list_nodes(self, parent: str, page_size: int | None, page_token: str | None) -> Json:
        with self._lock:
            self._advance()
            project, zone = self._location(parent, wildcard=True)
            names = self._names.get(project, [])
            prefix = f"projects/{project}/locations/" + ("" if zone == "-" else f"{zone}/")
            page, token = self._page(names, prefix, parent, page_token, _page_size(page_size))
            unreachable = sorted(self.faults.unreachable) if zone == "-" else []
            nodes = []
            for name in page:
                if name.split("/")[3] not in unreachable:
                    nodes.append(self._nodes[name])
            # Serialize under the lock: the dicts are live state.
            body: Json = json.loads(json.dumps({"nodes": nodes})) if nodes else {}
            if token:
                body["nextPageToken"] = token
            if unreachable:
                body["unreachable"] = [f"projects/{project}/locations/{z}" for z in unreachable]
            return body

    def get_node(self, name: str) -> Json:
        with self._lock:
            self._advance()
            return json.loads(json.dumps(self._node(name)))

    def create_node(
        self, parent: str, node_id: str | None, request_id: str | None, body: Json
    ) -> Json:
        with self._lock:
            self._advance()
            project, zone = self._location(parent)
            if request_id and (parent, request_id) in self._request_ids:
                return self._ops[self._request_ids[(parent, request_id)]].to_json()
            if not node_id:
                raise ApiError("INVALID_ARGUMENT", "nodeId is required.")
            if not NODE_ID.match(node_id):
                raise ApiError(
                    "INVALID_ARGUMENT",
                    f"Invalid nodeId {node_id!r}: use 1-63 lowercase letters, digits and "
                    "hyphens, starting with a letter and not ending with a hyphen.",
                )
            self._validate_create(project, zone, body)
            name = f"{parent}/nodes/{node_id}"
            if name in self._nodes:
                raise ApiError("ALREADY_EXISTS", f"Resource '{name}' already exists")
            node = self._new_node(name, body, "CREATING", self.clock())
            self._insert(name, node)
            op = self._start_op("create", name, None)
            if request_id:
                self._request_ids[(parent, request_id)] = op.name
            return op.to_json()

    def _validate_create(self, project: str, zone: str, body: Json) -> None:
        known = {
            "acceleratorType",
            "tensorflowVersion",
            "cidrBlock",
            "network",
            "description",
            "labels",
            "schedulingConfig",
            "useServiceNetworking",
            "name",
            "state",
            "health",
        }
        unknown = (
            set(body)
            - known
            - {
                "apiVersion",
                "createTime",
                "healthDescription",
                "ipAddress",
                "networkEndpoints",
                "port",
                "serviceAccount",
                "symptoms",
            }
        )
        if unknown:
            raise ApiError(
                "INVALID_ARGUMENT",
                f"Invalid JSON payload received. Unknown name {sorted(unknown)[0]!r}",
            )
        types, versions = catalog.ZONES[zone]
        accelerator_type = body.get("acceleratorType")
        if not accelerator_type:
            raise ApiError("INVALID_ARGUMENT", "acceleratorType is required.")
        if accelerator_type not in types:
            raise ApiError(
                "INVALID_ARGUMENT",
                f"Accelerator type {accelerator_type!r} is not available in zone {zone}; "
                f"available: {', '.join(types)}.",
            )
        version = body.get("tensorflowVersion")
        if not version:
            raise ApiError("INVALID_ARGUMENT", "tensorflowVersion is required.")
        if version not in versions:
            raise ApiError(
                "INVALID_ARGUMENT",
                f"TensorFlow version {version!r} is not available in zone {zone}; "
                f"available: {', '.join(versions)}.",
            )
        if len(str(body.get("description", ""))) > 512:
            raise ApiError("INVALID_ARGUMENT", "description must be at most 512 characters.")
        cidr = body.get("cidrBlock")
        if cidr and body.get("useServiceNetworking"):
            raise ApiError(
                "INVALID_ARGUMENT", "cidrBlock must not be set when useServiceNetworking is set."
            )
        if cidr:
            try:
                network = ipaddress.IPv4Network(cidr, strict=True)
            except ValueError:
                raise ApiError(
                    "INVALID_ARGUMENT", f"cidrBlock {cidr!r} is not a valid IPv4 CIDR block."
                ) from None
            if network.prefixlen != 29:
                raise ApiError("INVALID_ARGUMENT", f"cidrBlock {cidr!r} must be a /29 block.")
            used = self._cidrs.get((project, body.get("network") or "default"), set())
            if cidr in used:
                raise ApiError(
                    "INVALID_ARGUMENT",
                    f"cidrBlock {cidr} is already used by another TPU node in network "
                    f"{body.get('network') or 'default'}.",
                )
        labels = body.get("labels") or {}
        if not isinstance(labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
        ):
            raise ApiError("INVALID_ARGUMENT", "labels must map strings to strings.")

    def delete_node(self, name: str, request_id: str | None) -> Json:
        with self._lock:
            self._advance()
            if request_id and (name, request_id) in self._request_ids:
                return self._ops[self._request_ids[(name, request_id)]].to_json()
            node = self._node(name)
            self._not_busy(name)
            previous = node["state"]
            node["state"] = "DELETING"
            op = self._start_op("delete", name, previous)
            if request_id:
                self._request_ids[(name, request_id)] = op.name
            return op.to_json()

    def stop_node(self, name: str) -> Json:
        with self._lock:
            self._advance()
            node = self._node(name)
            if is_pod(node["acceleratorType"]):
                raise ApiError(
                    "FAILED_PRECONDITION",
                    f"Stop is only supported on single TPU nodes; {node['acceleratorType']} "
                    "is a TPU Pod.",
                )
            self._not_busy(name)
            if node["state"] != "READY":
                raise ApiError(
                    "FAILED_PRECONDITION",
                    f"Node {name} is {node['state']}; only a READY node can be stopped.",
                )
            node["state"] = "STOPPING"
            return self._start_op("stop", name, "READY").to_json()

    def start_node(self, name: str) -> Json:
        with self._lock:
            self._advance()
            node = self._node(name)
            self._not_busy(name)
            if node["state"] in ("PREEMPTED", "TERMINATED"):
                raise ApiError(
                    "FAILED_PRECONDITION",
                    f"Node {name} is {node['state']} and cannot be started; delete and "
                    "recreate it.",
                )
            if node["state"] != "STOPPED":
                raise ApiError(
                    "FAILED_PRECONDITION",
                    f"Node {name} is {node['state']}; only a STOPPED node can be started.",
                )
            node["state"] = "STARTING"
            return self._start_op("start", name, "STOPPED").to_json()

    def reimage_node(self, name: str, body: Json) -> Json:
        with self._lock:
            self._advance()
            node = self._node(name)
            version = body.get("tensorflowVersion")
            if not version:
                raise ApiError("INVALID_ARGUMENT", "tensorflowVersion is required.")
            zone = name.split("/")[3]
            if version not in catalog.ZONES[zone][1]:
                raise ApiError(
                    "INVALID_ARGUMENT",
                    f"TensorFlow version {version!r} is not available in zone {zone}.",
                )
            self._not_busy(name)
            if node["state"] != "READY":
                raise ApiError(
                    "FAILED_PRECONDITION",
                    f"Node {name} is {node['state']}; only a READY node can be reimaged.",
                )
            node["state"] = "REIMAGING"
            return self._start_op("reimage", name, "READY", new_version=version).to_json()

    # ----- operations ------------------------------------------------------------------------

    def _op(self, name: str) -> _Op:
        if not _OPERATION.match(name):
            raise ApiError("INVALID_ARGUMENT", f"Invalid operation name: {name!r}")
        op = self._ops.get(name)
        if op is None or name in self._forgotten:
            raise ApiError("NOT_FOUND", f"Operation '{name}' was not found")
        return op

    def get_operation(self, name: str) -> Json:
        with self._lock:
            self._advance()
            return self._op(name).to_json()

    def list_operations(self, name: str, page_size: int | None, page_token: str | None) -> Json:
        with self._lock:
            self._advance()
            project, zone = self._location(name, wildcard=True)
            names = self._op_names.get(project, [])
            prefix = f"projects/{project}/locations/" + ("" if zone == "-" else f"{zone}/")
            page, token = self._page(names, prefix, name, page_token, _page_size(page_size))
            body: Json = {}
            if page:
                body["operations"] = [self._ops[n].to_json() for n in page]
            if token:
                body["nextPageToken"] = token
            return body

    def cancel_operation(self, name: str) -> Json:
        with self._lock:
            self._advance()
            op = self._op(name)
            if op.done:
                raise ApiError("FAILED_PRECONDITION", f"Operation {name} is already done.")
            op.cancel_requested = True
            op.done, op.ended = True, self.clock()
            op.error = {"code": RPC_CODES["CANCELLED"], "message": "Operation was cancelled."}
            self._busy.pop(op.target, None)
            node = self._nodes.get(op.target)
            if node is not None:
                if op.verb == "create":
                    self._remove(op.target)
                elif op.previous_state:
                    node["state"] = op.previous_state
            return {}

    def delete_operation(self, name: str) -> Json:
        """Forget the record; like Google's DeleteOperation, the work itself goes on."""
        with self._lock:
            self._advance()
            self._op(name)
            self._forgotten.add(name)
            names = self._op_names[name.split("/")[1]]
            del names[bisect.bisect_left(names, name)]
            return {}

    # ----- catalog ---------------------------------------------------------------------------

    def list_locations(self, name: str, page_size: int | None, page_token: str | None) -> Json:
        with self._lock:
            match = _PROJECT.match(name)
            if not match:
                raise ApiError("INVALID_ARGUMENT", f"Invalid resource name: {name!r}")
            names = [f"{name}/locations/{zone}" for zone in sorted(catalog.ZONES)]
            page, token = self._page(names, name, name, page_token, _page_size(page_size))
            body: Json = {"locations": [self._location_json(n) for n in page]}
            if token:
                body["nextPageToken"] = token
            return body

    @staticmethod
    def _location_json(name: str) -> Json:
        zone = name.rsplit("/", 1)[1]
        return {
            "name": name,
            "locationId": zone,
            "displayName": zone,
            "labels": {},
            "metadata": {},
        }

    def get_location(self, name: str) -> Json:
        with self._lock:
            self._location(name)
            return self._location_json(name)

    def _catalog_list(
        self, parent: str, kind: str, page_size: int | None, page_token: str | None
    ) -> Json:
        with self._lock:
            _, zone = self._location(parent)
            types, versions = catalog.ZONES[zone]
            values = types if kind == "acceleratorTypes" else versions
            names = sorted(f"{parent}/{kind}/{v}" for v in values)
            page, token = self._page(
                names, f"{parent}/{kind}/", parent, page_token, _page_size(page_size)
            )
            field_name = "type" if kind == "acceleratorTypes" else "version"
            body: Json = {kind: [{"name": n, field_name: n.rsplit("/", 1)[1]} for n in page]}
            if token:
                body["nextPageToken"] = token
            return body

    def _catalog_get(self, name: str, kind: str) -> Json:
        with self._lock:
            parent, _, value = name.rpartition(f"/{kind}/")
            _, zone = self._location(parent)
            types, versions = catalog.ZONES[zone]
            if value not in (types if kind == "acceleratorTypes" else versions):
                raise ApiError("NOT_FOUND", f"Resource '{name}' was not found")
            field_name = "type" if kind == "acceleratorTypes" else "version"
            return {"name": name, field_name: value}

    def list_accelerator_types(self, parent: str, page_size: int | None, token: str | None) -> Json:
        return self._catalog_list(parent, "acceleratorTypes", page_size, token)

    def get_accelerator_type(self, name: str) -> Json:
        return self._catalog_get(name, "acceleratorTypes")

    def list_tensorflow_versions(
        self, parent: str, page_size: int | None, token: str | None
    ) -> Json:
        return self._catalog_list(parent, "tensorflowVersions", page_size, token)

    def get_tensorflow_version(self, name: str) -> Json:
        return self._catalog_get(name, "tensorflowVersions")
