"""Compute Engine for TPU fleets, over the emulator's fleet and clock (one Emulator)."""

from __future__ import annotations

from datetime import datetime

from tpu_emulator.compute.admin import AdminMixin
from tpu_emulator.compute.catalog import MACHINE_TYPES
from tpu_emulator.compute.places import PlacesMixin


class Compute(AdminMixin, PlacesMixin):
    """zones, machineTypes, instances, zoneOperations, instanceGroupManagers (+ resize
    requests), resourcePolicies, reservations (+ blocks, sub-blocks), futureReservations."""

    def running_tpus(self, project: str) -> list[tuple[str, str, str, str, datetime, int]]:
        """(full name, zone, instance id, family, started, chips) of each RUNNING TPU VM of
        `project`: what Cloud Monitoring reports on (monitoring.sources.compute_instances)."""
        with self._lock:
            self.advance()
            found = []
            for (owner, _), inst in sorted(self.instances.items()):
                spec = MACHINE_TYPES.get(inst.machine_type)
                if owner != project or inst.status != "RUNNING" or spec is None:
                    continue
                name = f"projects/{project}/zones/{inst.zone}/instances/{inst.name}"
                started = inst.last_start or inst.created
                found.append((name, inst.zone, inst.uid, spec.family, started, spec.chips))
            return found
