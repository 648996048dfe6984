"""What Compute Engine does to instances on its own: a run starts and ends (maxRunDuration,
terminationTime), a host fails and is repaired, a SPOT VM is preempted, an instance goes and
its group may want it back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tpu_emulator.compute import rules
from tpu_emulator.compute.errors import bad_request
from tpu_emulator.compute.model import Instance
from tpu_emulator.compute.reservations import ReservationsMixin
from tpu_emulator.compute.wire import instance_path, link

Json = dict[str, Any]
PREEMPTED = "Instance was preempted."
HOST_ERROR = (
    "Instance terminated by Compute Engine due to a host error; restarting it on a healthy host."
)


class EventsMixin(ReservationsMixin):
    def target(self, inst: Instance) -> tuple[str, str]:
        return link(instance_path(inst)), inst.uid

    def start_running(self, inst: Instance, when: datetime) -> None:
        inst.gen += 1
        inst.status, inst.status_message, inst.last_start = "RUNNING", "", when
        inst.run_until = rules.run_end(inst.scheduling, when)
        if inst.run_until is not None:
            gen = inst.gen
            self.at(inst.run_until, lambda due: self._run_ended(inst, gen, due))

    def _run_ended(self, inst: Instance, gen: int, due: datetime) -> None:
        """maxRunDuration or terminationTime reached: the termination action runs."""
        if inst.gen != gen or inst.status != "RUNNING":
            return
        if inst.scheduling.get("instanceTerminationAction") == "DELETE":
            self.remove_instance(inst, shrink=True)
        else:
            self.stop_now(inst, due, "Instance was stopped at the end of its run duration.")

    def stop_now(self, inst: Instance, when: datetime, message: str = "") -> None:
        inst.gen += 1
        inst.status, inst.last_stop, inst.run_until = "TERMINATED", when, None
        inst.status_message = message

    def remove_instance(self, inst: Instance, shrink: bool = False) -> None:
        """Gone; its reservation slot is free. A group recreates a member it still wants,
        unless `shrink` (the group itself let it go)."""
        self.drop_instance(inst)
        self.release(inst.project, inst.zone, inst.consumed)
        self.member_gone(inst, shrink)

    def member_gone(self, inst: Instance, shrink: bool) -> None:
        """Implemented by the groups mixin."""

    def repair(self, inst: Instance, message: str) -> None:
        """REPAIRING for `repair_seconds`, then RUNNING on a new host (or TERMINATED for an
        instance that does not restart on its own). A consumed sub-block counts the host as
        degraded meanwhile."""
        inst.gen += 1
        inst.status, inst.status_message = "REPAIRING", message
        sub = self._sub_block_of(inst.project, inst.zone, inst.consumed) if inst.consumed else None
        if sub is not None:
            sub.degraded = min(sub.count, sub.degraded + 1)
        gen = inst.gen

        def repaired(due: datetime) -> None:
            if sub is not None and sub.degraded > 0:
                sub.degraded -= 1
            if inst.gen != gen:
                return
            inst.host = {
                **inst.host,
                "host": f"h{(int(inst.host['host'][1:], 16) + 1) % 100003:05x}",
            }
            if inst.scheduling.get("automaticRestart", True):
                self.start_running(inst, due)
            else:
                self.stop_now(inst, due, message)

        self.later(self.repair_seconds, repaired)

    def preempt(self, inst: Instance) -> None:
        """A SPOT (or preemptible) VM is reclaimed: TERMINATED (or deleted, by its
        instanceTerminationAction), with a `compute.instances.preempted` system operation."""
        if inst.scheduling.get("provisioningModel") != "SPOT" and not inst.scheduling.get(
            "preemptible"
        ):
            raise bad_request(f"Instance '{inst.name}' is not a SPOT or preemptible VM.")
        self.system_op(
            inst.project, inst.zone, "compute.instances.preempted", self.target(inst), PREEMPTED
        )
        if inst.scheduling.get("instanceTerminationAction") == "DELETE":
            self.remove_instance(inst, shrink=True)
        else:
            self.stop_now(inst, self.clock(), PREEMPTED)

    def host_error(self, inst: Instance) -> None:
        """The host failed: a `compute.instances.hostError` system operation, REPAIRING."""
        self.system_op(
            inst.project, inst.zone, "compute.instances.hostError", self.target(inst), HOST_ERROR
        )
        self.repair(inst, HOST_ERROR)
