"""The emulated Cloud TPU service (v1alpha1 and v2 over one fleet): admin, faults and stats.

Every public API method takes and returns API JSON (camelCase dicts) and raises ApiError in
Google's vocabulary. v1alpha1 methods keep their historic names (`list_nodes`, `create_node`...);
v2 ones are `v2_*` for nodes and `*_queued_resource(s)` for queued resources; operations and
locations are shared.
"""

from __future__ import annotations

from tpu_emulator import catalog, wire_v2
from tpu_emulator.compute import Compute
from tpu_emulator.core import Clock, utcnow
from tpu_emulator.errors import HTTP_STATUS, ApiError, Json
from tpu_emulator.faults import Faults
from tpu_emulator.locations import LocationsMixin
from tpu_emulator.model import V2, QueuedResource
from tpu_emulator.monitoring import MonitoringService, UtilizationTable, tpu_api_nodes
from tpu_emulator.monitoring.sources import compute_instances
from tpu_emulator.operations import OperationsMixin
from tpu_emulator.rules import (
    MAINTENANCE_STATUSES,
    MAINTENANCE_TYPES,
    NODE_STATES,
    QUEUED_STATES,
    STATE_INITIATORS,
    parse_time,
    rfc3339,
)
from tpu_emulator.seeding import SeedingMixin
from tpu_emulator.wire_v1alpha1 import node_json
from tpu_emulator.wire_v2 import queued_json

__all__ = ["ApiError", "Emulator", "Faults", "Json"]

_HEALTH = {"", "HEALTHY", "DEPRECATED_UNHEALTHY", "TIMEOUT", "UNHEALTHY_TENSORFLOW"}
_HEALTH |= {"UNHEALTHY_MAINTENANCE"}
UTILIZATION_KEYS = frozenset({"dutyCycle", "since"})
_SYMPTOMS = set(catalog.SYMPTOMS) | {"PROJECT_ABUSE"}


def _check(key: str, value: object, allowed: set[str] | frozenset[str]) -> None:
    if value not in allowed:
        raise ApiError("INVALID_ARGUMENT", f"{key} {value!r} is not one of {sorted(allowed)}")


class Emulator(SeedingMixin, OperationsMixin, LocationsMixin):
    """Holds the emulated service's state; thread-safe (one lock, short critical sections)."""

    def __init__(
        self,
        *,
        clock: Clock = utcnow,
        op_seconds: float = 5.0,
        fleet: int = 0,
        projects: int = 3,
        seed: int = 7,
        clean: bool = False,
        transition_seconds: float = 0.0,
    ) -> None:
        super().__init__(
            clock=clock, op_seconds=op_seconds, seed=seed, fleet=(fleet, projects, clean)
        )
        self.transition_seconds = transition_seconds
        # Injected duty cycles by TPU full name, for every kind of TPU; kept across reset()
        # as an object (cleared), since the Monitoring service holds it.
        self.utilization = UtilizationTable()
        self.monitoring = MonitoringService(self.clock, self.utilization)
        self.monitoring.add_source(tpu_api_nodes(self))
        # Compute Engine TPUs report on their own resource; `self.compute` is made by reset().
        self.monitoring.add_source(compute_instances(lambda: self.compute))
        self.reset()

    # ----- admin -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the seeded fleet, no faults, no operations, zero counters."""
        with self._lock:
            self._init_state()
            self.utilization.clear()
            count, projects, clean = self._fleet_args
            self._projects = self._seed(count, projects, self._seed_value, clean)
            self.compute = Compute(self)
            self.compute.seed(count, self._projects, self._seed_value, clean)

    def set_faults(self, data: Json) -> Json:
        with self._lock:
            self.faults.update(data)
            return self.faults.to_json()

    def stats_json(self) -> Json:
        """`requests` counts calls by method: v1alpha1 keys drop the discovery id's
        `tpu.projects.locations.` prefix (`nodes.list`, `locations.get`), v2 keys add `v2.`
        (`v2.nodes.list`, `v2.queuedResources.reset`, `v2.locations.generateServiceIdentity`).
        Monitoring and Compute keys are the discovery ids (`monitoring.projects.timeSeries.list`,
        `compute.instances.aggregatedList`). Also the seeded `projects`, how many `nodes`,
        `queuedResources` and Compute `instances` exist now, the Compute projects, and the
        `metricTypes` Monitoring serves."""
        with self._lock:
            return {
                "requests": dict(self.stats),
                "projects": list(self._projects),
                "nodes": len(self._nodes),
                "queuedResources": len(self._queued),
                "metricTypes": self.monitoring.metric_types(),
                "instances": self.compute.instance_count(),
                "computeProjects": list(self.compute.projects),
            }

    def node_names(self, project: str | None = None) -> list[str]:
        with self._lock:
            self._advance()
            if project is not None:
                return list(self._names.get(project, []))
            return sorted(self._nodes)

    def queued_resource_names(self, project: str | None = None) -> list[str]:
        with self._lock:
            self._advance()
            if project is not None:
                return list(self._queued_names.get(project, []))
            return sorted(self._queued)

    def inject(self, name: str, data: Json) -> Json:
        """Change a node or queued resource as the service would on its own. A node comes back
        in the schema of the version that created it (v1alpha1 for TPU Nodes, as before)."""
        if "/queuedResources/" in name:
            return self.inject_queued(name, data)
        if self.compute.is_compute_name(name):
            # A Compute Engine TPU's duty cycle too (DESIGN: `{dutyCycle}` "also for instances").
            usage = {k: v for k, v in data.items() if k in UTILIZATION_KEYS}
            rest = {k: v for k, v in data.items() if k not in UTILIZATION_KEYS}
            if usage and "/instances/" not in name:
                raise ApiError("INVALID_ARGUMENT", "dutyCycle goes with a TPU (an instance)")
            found = self.compute.inject(name, rest)
            self.inject_utilization(name, usage)
            return found
        allowed = {"state", "health", "healthDescription", "symptoms", "upcomingMaintenance"}
        unknown = set(data) - allowed - UTILIZATION_KEYS
        if unknown:
            raise ApiError("INVALID_ARGUMENT", f"cannot inject {sorted(unknown)}")
        with self._lock:
            self._advance()
            node = self._node(name)
            if "state" in data:
                _check("state", data["state"], NODE_STATES)
                node.state = data["state"]
                if node.state == "PREEMPTED":
                    self._node_preempted(node)
            if "health" in data:
                _check("health", data["health"], _HEALTH)
                node.health = data["health"] or ""
            if "healthDescription" in data:
                node.health_description = str(data["healthDescription"] or "")
            if "symptoms" in data:
                node.symptoms = [self._symptom(item) for item in data["symptoms"] or []]
            if "upcomingMaintenance" in data:
                node.maintenance = self._maintenance(data["upcomingMaintenance"])
            self.inject_utilization(name, data)
            return wire_v2.node_json(node) if node.api_version == V2 else node_json(node)

    def inject_utilization(self, name: str, data: Json) -> None:
        """`{dutyCycle: percent, since?: RFC 3339}`: the TPU's duty cycle from `since` (default
        now) on. Any kind of TPU: `name` is its full name, checked by the caller."""
        if "dutyCycle" not in data:
            if "since" in data:
                raise ApiError("INVALID_ARGUMENT", "since goes with dutyCycle")
            return
        percent = data["dutyCycle"]
        if isinstance(percent, bool) or not isinstance(percent, int | float):
            raise ApiError("INVALID_ARGUMENT", "dutyCycle must be a number (percent)")
        if not 0 <= percent <= 100:
            raise ApiError("INVALID_ARGUMENT", "dutyCycle must be within [0, 100]")
        since = parse_time(data["since"], "since") if data.get("since") else self.clock()
        self.utilization.set(name, float(percent), since)

    def _symptom(self, item: Json) -> Json:
        _check("symptomType", item.get("symptomType"), _SYMPTOMS)
        return {
            "symptomType": item["symptomType"],
            "workerId": str(item.get("workerId", "0")),
            "details": str(item.get("details", "")),
            "createTime": item.get("createTime") or rfc3339(self.clock()),
        }

    @staticmethod
    def _maintenance(value: object) -> Json | None:
        if not value:
            return None
        if not isinstance(value, dict):
            raise ApiError("INVALID_ARGUMENT", "upcomingMaintenance must be an object")
        _check("type", value.get("type", "SCHEDULED"), MAINTENANCE_TYPES)
        _check("maintenanceStatus", value.get("maintenanceStatus", "PENDING"), MAINTENANCE_STATUSES)
        out: Json = {"type": "SCHEDULED", "maintenanceStatus": "PENDING", **value}
        for key in ("windowStartTime", "windowEndTime", "latestWindowStartTime"):
            if key in out:
                out[key] = rfc3339(parse_time(out[key], key))
        unknown = set(out) - {"type", "maintenanceStatus", "canReschedule"} - {
            "windowStartTime", "windowEndTime", "latestWindowStartTime"
        }  # fmt: skip
        if unknown:
            raise ApiError("INVALID_ARGUMENT", f"upcomingMaintenance: unknown {sorted(unknown)}")
        return out

    def inject_queued(self, name: str, data: Json) -> Json:
        """{state?, stateInitiator?, createTime?, failedData?} -> the queued resource (v2)."""
        unknown = set(data) - {"state", "stateInitiator", "createTime", "failedData"}
        if unknown:
            raise ApiError("INVALID_ARGUMENT", f"cannot inject {sorted(unknown)}")
        with self._lock:
            self._advance()
            qr = self._queued_resource(name)
            if "createTime" in data:
                qr.created = parse_time(data["createTime"], "createTime")
            if "stateInitiator" in data:
                _check("stateInitiator", data["stateInitiator"], STATE_INITIATORS | {""})
                qr.initiator = data["stateInitiator"]
            if "failedData" in data:
                error = (data["failedData"] or {}).get("error") or {}
                qr.failed = {
                    "code": int(error.get("code", 8)),
                    "message": str(error.get("message", "")),
                }
            if "state" in data:
                _check("state", data["state"], QUEUED_STATES)
                self._move_queued(qr, data["state"])
            return queued_json(qr)

    def _move_queued(self, qr: QueuedResource, state: str) -> None:
        """An injected state, with what it implies for the request's nodes and schedule."""
        now = self.clock()
        qr.state, qr.due = state, None
        qr.held = state == "WAITING_FOR_RESOURCES"
        if qr.held:
            self._waiting.add(qr.name)
        else:
            self._waiting.discard(qr.name)
        if state == "ACCEPTED":
            self._schedule_queued(qr, now)
        elif state == "PROVISIONING":
            self._make_nodes(qr, "CREATING", now)
            self._schedule_queued(qr, now)
        elif state == "ACTIVE":
            self._make_nodes(qr, "READY", now)
            for node_name in qr.node_names:
                node = self._nodes.get(node_name)
                if node is not None and node.state == "READY" and not node.health:
                    node.health = "HEALTHY"
        elif state == "FAILED" and qr.failed is None:
            qr.failed = {"code": 8, "message": "Injected failure"}

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
