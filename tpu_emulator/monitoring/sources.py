"""The seam between the fleet and its metrics: a source lists a project's running TPUs, each
with its monitored resource per worker. The Cloud TPU API nodes are one source; another kind of
TPU (Compute Engine instances with TPU machine types) plugs in as another function of the same
shape, reporting `tpu.googleapis.com/GceTpuWorker` resources."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tpu_emulator.core import Core
from tpu_emulator.monitoring.descriptors import GCE_TPU_WORKER, TPU_WORKER
from tpu_emulator.rules import hosts_of

GIB = 1 << 30
# HBM per chip by generation (GiB), from Google's TPU system architecture pages; see
# docs/emulator.md. Cores-named generations (v2-v4, v5p) have two cores per chip.
_HBM_GIB = {"v2": 16, "v3": 32, "v4": 32, "v5litepod": 16, "v5p": 95, "v6e": 32, "tpu7x": 192}
_CORES_NAMED = {"v2", "v3", "v4", "v5p"}
_TYPE = re.compile(r"^([a-z0-9]+?)-(\d+)$")
# Node states in which a TPU's workers run and report (not STOPPED, PREEMPTED, CREATING...).
RUNNING_STATES = frozenset({"READY"})


@dataclass(frozen=True)
class RunningTpu:
    """One running TPU: its full name (the utilization table's key), the monitored resource
    of each of its workers (one series per worker), since when it reports, HBM per worker."""

    name: str
    resource_type: str
    workers: tuple[dict[str, str], ...]
    since: datetime
    hbm_bytes: int


# A source: project id -> that project's running TPUs, in a stable order.
Source = Callable[[str], Sequence[RunningTpu]]


def hbm_per_worker(accelerator_type: str) -> int:
    """Bytes of HBM on one worker host of `accelerator_type` (unknown shapes: 16 GiB)."""
    match = _TYPE.match(accelerator_type)
    if match is None:
        return 16 * GIB
    family, size = match.group(1), int(match.group(2))
    chips = size // 2 if family in _CORES_NAMED else size
    per_host = max(1, chips // hosts_of(accelerator_type))
    return per_host * _HBM_GIB.get(family, 16) * GIB


def tpu_api_nodes(core: Core) -> Source:
    """The Cloud TPU API's READY nodes of a project (TPU Nodes and TPU VMs): `tpu_worker`."""

    def running(project: str) -> list[RunningTpu]:
        with core._lock:
            core._advance()
            nodes = [core._nodes[n] for n in core._names.get(project, [])]
            nodes = [n for n in nodes if n.state in RUNNING_STATES]
        return [
            RunningTpu(
                name=node.name,
                resource_type=TPU_WORKER,
                workers=tuple(
                    {
                        "project_id": node.project,
                        "zone": node.zone,
                        "node_id": node.name.rsplit("/", 1)[1],
                        "worker_id": str(i),
                    }
                    for i in range(len(node.endpoints))
                ),
                since=node.created,
                hbm_bytes=hbm_per_worker(node.accelerator_type),
            )
            for node in nodes
        ]

    return running


# HBM per chip (GiB) of the Compute Engine TPU families (see _HBM_GIB's source).
_FAMILY_HBM_GIB = {"tpu7x": 192, "v6e": 32, "v5p": 95, "v5e": 16}


class ComputeFleet(Protocol):
    """What the Compute side offers this seam (tpu_emulator.compute.Compute)."""

    def running_tpus(self, project: str) -> Sequence[tuple[str, str, str, str, datetime, int]]:
        """(full name, zone, instance id, family, started, chips) of each RUNNING TPU VM."""
        ...


def compute_instances(fleet: Callable[[], ComputeFleet]) -> Source:
    """Compute Engine's RUNNING TPU VMs of a project: one `GceTpuWorker` each (a VM is a host),
    labelled by project (`resource_container`), zone (`location`) and the VM's id."""

    def running(project: str) -> list[RunningTpu]:
        return [
            RunningTpu(
                name=name,
                resource_type=GCE_TPU_WORKER,
                workers=({"resource_container": project, "location": zone, "worker_id": uid},),
                since=started,
                hbm_bytes=chips * _FAMILY_HBM_GIB.get(family, 16) * GIB,
            )
            for name, zone, uid, family, started, chips in fleet().running_tpus(project)
        ]

    return running
