"""Instances with TPU machine types: list, aggregatedList, get, insert, delete, start, stop,
setLabels, reportHostAsFaulty, performMaintenance, and what the service does on its own
(PROVISIONING -> STAGING -> RUNNING, a host error's REPAIRING, preemption, the end of a run)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tpu_emulator.compute import listing, rules
from tpu_emulator.compute.errors import (
    already_exists,
    bad_request,
    fingerprint_mismatch,
    not_ready,
    quota,
    stockout,
)
from tpu_emulator.compute.events import EventsMixin
from tpu_emulator.compute.model import Instance
from tpu_emulator.compute.operations import mutation
from tpu_emulator.compute.wire import instance_json, instance_path, zone_path

Json = dict[str, Any]
# Input fields an instance keeps and shows back.
_ECHO = (
    "description",
    "disks",
    "networkInterfaces",
    "metadata",
    "tags",
    "serviceAccounts",
    "reservationAffinity",
    "resourcePolicies",
    "deletionProtection",
)


class InstancesMixin(EventsMixin):
    # ----- reads -------------------------------------------------------------------------------

    def render_instance(self, project: str, key: str) -> Json:
        return instance_json(self.by_key(project, key))

    def list_instances(self, project: str, zone: str, params: dict[str, str]) -> Json:
        path = f"{zone_path(project, zone)}/instances"
        q = listing.query(params, path, "Instance")
        with self._lock:
            self.advance()
            self.zone(project, zone)
            keys = self.instance_keys(project, zone)
            items, token = listing.page(keys, lambda k: self.render_instance(project, k), q)
            return listing.list_body("compute#instanceList", path, items, token)

    def aggregated_instances(self, project: str, params: dict[str, str]) -> Json:
        path = f"projects/{project}/aggregated/instances"
        q = listing.query(params, path, "Instance")
        partial = params.get("returnPartialSuccess", "false") == "true"
        with self._lock:
            self.advance()
            unreachable = self.unreachable_scopes(partial)
            keys = self.instance_keys(project)
            if unreachable:
                keys = [k for k in keys if k.rsplit("/", 1)[0] not in unreachable]
            items, token = listing.page(keys, lambda k: self.render_instance(project, k), q)
            return listing.aggregated_body(
                "compute#instanceAggregatedList", path, "instances", items, token,
                self.zone_scopes(), unreachable,
            )  # fmt: skip

    def get_instance(self, project: str, zone: str, name: str) -> Json:
        with self._lock:
            self.advance()
            return instance_json(self.instance(project, zone, name))

    # ----- insert, delete ----------------------------------------------------------------------

    @mutation
    def insert_instance(self, project: str, zone: str, body: Json, request_id: str | None) -> Json:
        self.zone(project, zone)
        name = rules.check_name(body.get("name"))
        if (project, f"{zone}/{name}") in self.instances:
            raise already_exists(f"{zone_path(project, zone)}/instances/{name}")
        inst = self.new_instance(
            project,
            zone,
            name,
            rules.machine_type(zone, body.get("machineType")),
            {k: body[k] for k in _ECHO if k in body},
            rules.scheduling(body.get("scheduling") or {}),
            rules.check_labels(body.get("labels")),
        )
        return self.boot(inst, "insert", request_id)

    def new_instance(
        self,
        project: str,
        zone: str,
        name: str,
        machine_type: str,
        spec: Json,
        scheduling: Json,
        labels: dict[str, str],
        status: str = "PROVISIONING",
        created: datetime | None = None,
    ) -> Instance:
        """Add an instance (reserving a sub-block slot if it names a reservation)."""
        inst = Instance(
            project=project,
            zone=zone,
            name=name,
            machine_type=machine_type,
            status=status,
            created=created or self.clock(),
            uid=self.new_id(),
            spec=spec,
            scheduling=scheduling,
            labels=labels,
        )
        reservation = rules.reservation_name(spec.get("reservationAffinity"))
        if scheduling["provisioningModel"] == "RESERVATION_BOUND" and reservation is None:
            raise bad_request("RESERVATION_BOUND instances must name a specific reservation.")
        if reservation is not None:
            inst.consumed = self.claim(project, zone, reservation, machine_type)
        inst.host = self.placement(inst)
        self.add_instance(inst)
        return inst

    def placement(self, inst: Instance) -> Json:
        """Where the instance runs (resourceStatus.physicalHostTopology)."""
        cluster = f"{inst.zone}-c{int(inst.uid) % 7 + 1}"
        block, sub = f"b{int(inst.uid) % 13:04x}", f"s{int(inst.uid) % 31:04x}"
        if inst.consumed is not None:
            block, sub = inst.consumed[1], inst.consumed[2]
        return {
            "cluster": cluster,
            "block": block,
            "subblock": sub,
            "host": f"h{int(inst.uid) % 100003:05x}",
        }

    def boot(self, inst: Instance, op_type: str, request_id: str | None) -> Json:
        """PROVISIONING (or STAGING) now, RUNNING when the operation finishes; a stocked-out or
        out-of-quota zone fails it (an inserted instance then disappears)."""
        gen = inst.gen
        self.later(self._host.op_seconds / 2, lambda due: self._staging(inst, gen))

        def running(due: datetime) -> Json | None:
            if inst.gen != gen:
                return None
            failure = self._capacity_error(inst)
            if failure is not None:
                if op_type == "insert":
                    self.remove_instance(inst)
                else:
                    inst.status = "TERMINATED"
                return failure
            self.start_running(inst, due)
            return None

        return self.start_op(
            inst.project, inst.zone, op_type, self.target(inst), running, request_id
        )

    def _staging(self, inst: Instance, gen: int) -> None:
        if inst.gen == gen and inst.status == "PROVISIONING":
            inst.status = "STAGING"

    def _capacity_error(self, inst: Instance) -> Json | None:
        if inst.consumed is not None:
            return None  # reserved capacity is not subject to stockouts
        if inst.zone in self.faults.stockout:
            return stockout(inst.project, inst.zone)
        if inst.zone in self.faults.quota:
            family = inst.machine_type.split("-", 1)[0].upper()
            return quota(inst.zone.rsplit("-", 1)[0], f"TPUS_{family}_PER_PROJECT_PER_REGION")
        return None

    @mutation
    def delete_instance(self, project: str, zone: str, name: str, request_id: str | None) -> Json:
        inst = self.instance(project, zone, name)
        if inst.spec.get("deletionProtection"):
            raise bad_request(f"Invalid resource usage: '{instance_path(inst)}' is protected.")
        inst.gen += 1
        inst.status = "STOPPING"
        gen = inst.gen

        def gone(due: datetime) -> Json | None:
            if inst.gen == gen:
                self.remove_instance(inst)
            return None

        return self.start_op(project, zone, "delete", self.target(inst), gone, request_id)

    # ----- start, stop, labels -----------------------------------------------------------------

    @mutation
    def stop_instance(self, project: str, zone: str, name: str, request_id: str | None) -> Json:
        inst = self.instance(project, zone, name)
        if inst.status == "TERMINATED":
            return self.start_op(project, zone, "stop", self.target(inst), None, request_id)
        inst.gen += 1
        inst.status = "STOPPING"
        gen = inst.gen

        def stopped(due: datetime) -> Json | None:
            if inst.gen == gen:
                self.stop_now(inst, due)
            return None

        return self.start_op(project, zone, "stop", self.target(inst), stopped, request_id)

    @mutation
    def start_instance(self, project: str, zone: str, name: str, request_id: str | None) -> Json:
        inst = self.instance(project, zone, name)
        if inst.status in ("RUNNING", "STAGING", "PROVISIONING"):
            return self.start_op(project, zone, "start", self.target(inst), None, request_id)
        if inst.status == "SUSPENDED":
            raise bad_request(f"Instance '{name}' is suspended: resume it instead.")
        if inst.status != "TERMINATED":
            raise not_ready(instance_path(inst), f"the instance is {inst.status}.")
        inst.gen += 1
        inst.status, inst.status_message = "STAGING", ""
        return self.boot(inst, "start", request_id)

    @mutation
    def set_labels(
        self, project: str, zone: str, name: str, body: Json, request_id: str | None
    ) -> Json:
        """The caller must send the current labelFingerprint: a stale or missing one is
        refused with 412, so two writers cannot lose each other's labels."""
        inst = self.instance(project, zone, name)
        if body.get("labelFingerprint") != inst.label_fingerprint:
            raise fingerprint_mismatch()
        inst.labels = rules.check_labels(body.get("labels"), "labels")
        return self.start_op(project, zone, "setLabels", self.target(inst), None, request_id)

    # ----- faults and maintenance --------------------------------------------------------------

    @mutation
    def report_host_as_faulty(
        self, project: str, zone: str, name: str, body: Json, request_id: str | None
    ) -> Json:
        """IMMEDIATE: the instance goes REPAIRING and comes back on another host; FUTURE: an
        unscheduled maintenance (FAILURE_CUSTOMER_REPORTED) is pending on it."""
        inst = self.instance(project, zone, name)
        if inst.status != "RUNNING":
            raise not_ready(instance_path(inst), f"the instance is {inst.status}.")
        if body.get("disruptionSchedule") == "FUTURE":
            inst.maintenance = {
                "type": "UNSCHEDULED",
                "maintenanceStatus": "PENDING",
                "canReschedule": True,
                "maintenanceReasons": ["FAILURE_CUSTOMER_REPORTED"],
            }
        else:
            self.repair(inst, "Instance host was reported faulty; moving it to a new host.")
        return self.start_op(
            project, zone, "reportHostAsFaulty", self.target(inst), None, request_id
        )

    @mutation
    def perform_maintenance(
        self, project: str, zone: str, name: str, request_id: str | None
    ) -> Json:
        inst = self.instance(project, zone, name)
        if inst.maintenance is None:
            raise bad_request(f"No maintenance is pending for instance '{name}'.")
        inst.maintenance["maintenanceStatus"] = "ONGOING"
        inst.gen += 1
        inst.status = "REPAIRING"
        gen = inst.gen

        def done(due: datetime) -> Json | None:
            if inst.gen == gen:
                inst.maintenance = None
                self.start_running(inst, due)
            return None

        return self.start_op(
            project, zone, "performMaintenance", self.target(inst), done, request_id
        )
