"""Compute Engine records: instances, zone operations, managed instance groups and their resize
requests, resource policies, reservations (blocks, sub-blocks) and future reservations. The
wire module shows them in the discovery document's schemas."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Json = dict[str, Any]


def fingerprint(value: object) -> str:
    """An 8-byte base64 fingerprint of a value, as Compute writes `labelFingerprint`."""
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).digest()
    return base64.b64encode(digest[:8]).decode()


@dataclass
class Instance:
    project: str
    zone: str
    name: str
    machine_type: str
    status: str
    created: datetime
    uid: str
    spec: Json  # the inputs Compute echoes back (description, disks, metadata, tags...)
    scheduling: Json  # Scheduling, with the defaults Compute fills in
    labels: dict[str, str] = field(default_factory=dict)
    status_message: str = ""
    last_start: datetime | None = None
    last_stop: datetime | None = None
    maintenance: Json | None = None  # UpcomingMaintenance
    host: Json = field(default_factory=dict)  # ResourceStatusPhysicalHostTopology
    consumed: tuple[str, str, str] | None = None  # (reservation, block, sub-block) names
    mig: str = ""  # the managing instance group, in the same zone
    run_until: datetime | None = None  # when maxRunDuration / terminationTime ends it
    # Bumped by every change a scheduled step must not override (a stale timer checks it).
    gen: int = 0
    # The parts of its JSON that never change after creation (rendered once; read only).
    fixed: Json | None = None

    @property
    def key(self) -> str:
        return f"{self.zone}/{self.name}"

    @property
    def label_fingerprint(self) -> str:
        return fingerprint(self.labels)


@dataclass
class ComputeOp:
    project: str
    zone: str
    name: str
    uid: str
    op_type: str  # insert, stop, compute.instances.preempted...
    target_link: str
    target_id: str
    created: datetime
    user: str = "tpu-bot-emulator@example.com"
    status: str = "RUNNING"
    ended: datetime | None = None
    error: Json | None = None  # error, httpErrorStatusCode, httpErrorMessage
    status_message: str = ""
    # What finishing does to its target; None once done or for system events.
    on_done: Callable[[datetime], Json | None] | None = None


@dataclass
class ResizeRequest:
    project: str
    zone: str
    mig: str
    name: str
    uid: str
    created: datetime
    count: int
    names: list[str]  # instance names asked for (`instances`), else generated
    run_seconds: int | None  # requestedRunDuration
    description: str = ""
    state: str = "ACCEPTED"
    held: bool = False  # waits for capacity that only an admin inject brings
    waiting: bool = False  # waits for a stocked-out zone to have capacity again
    error: Json | None = None  # status.error
    last_error: Json | None = None  # status.lastAttempt.error
    made: list[str] = field(default_factory=list)
    gen: int = 0


@dataclass
class Mig:
    project: str
    zone: str
    name: str
    uid: str
    created: datetime
    base_name: str
    template: str
    # What a new member is made of: its machine type, scheduling, labels and echoed inputs.
    machine_type: str
    scheduling: Json
    labels: dict[str, str] = field(default_factory=dict)
    spec: Json = field(default_factory=dict)
    target_size: int = 0
    members: list[str] = field(default_factory=list)  # instance names
    policy: str = ""  # resource policy name (a workload policy), same region
    topology: str = ""  # its accelerator topology
    description: str = ""
    requests: dict[str, ResizeRequest] = field(default_factory=dict)


@dataclass
class ResourcePolicy:
    project: str
    region: str
    name: str
    uid: str
    created: datetime
    workload: Json  # ResourcePolicyWorkloadPolicy
    description: str = ""


@dataclass
class SubBlock:
    name: str
    uid: str
    created: datetime
    count: int  # VMs (hosts) it holds
    in_use: int = 0
    degraded: int = 0  # hosts reported or found faulty
    maintenance: Json | None = None  # UpcomingMaintenance of the sub-block
    ongoing: bool = False


@dataclass
class Block:
    name: str
    uid: str
    created: datetime
    sub_blocks: dict[str, SubBlock] = field(default_factory=dict)


@dataclass
class Reservation:
    project: str
    zone: str
    name: str
    uid: str
    created: datetime
    machine_type: str
    blocks: dict[str, Block] = field(default_factory=dict)
    description: str = ""

    def sub_blocks(self) -> list[tuple[Block, SubBlock]]:
        return [(b, s) for b in self.blocks.values() for s in b.sub_blocks.values()]


@dataclass
class FutureReservation:
    project: str
    zone: str
    name: str
    uid: str
    created: datetime
    machine_type: str
    total: int
    start: datetime
    end: datetime
    procurement: str = "APPROVED"
    reservation: str = ""  # the reservation it creates at its start time
