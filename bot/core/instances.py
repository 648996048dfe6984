"""Pure: the third kind of TPU, a VM instance with a TPU machine type, and the capacity around it:
the groups that hold instances (a multi-host slice is a group placed by a workload policy),
flex-start requests for more hosts in a group, and reservations with their blocks and sub-blocks.

Neutral like `bot.core.models`: reading the API's JSON lives in `bot.tpu`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.core.models import Maintenance, _TolerantEnum
from bot.core.names import Kind, Named, ResourceName
from bot.core.usage import Generation, chips_of, generation_of

# Labels GKE puts on the instances of its node pools (act on those through GKE).
GKE_CLUSTER, GKE_NODE_POOL, GKE_LOCATION = (
    "goog-k8s-cluster-name",
    "goog-k8s-node-pool-name",
    "goog-k8s-cluster-location",
)


class InstanceStatus(_TolerantEnum):
    STATUS_UNSPECIFIED = "STATUS_UNSPECIFIED"
    PROVISIONING = "PROVISIONING"
    STAGING = "STAGING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    SUSPENDING = "SUSPENDING"
    SUSPENDED = "SUSPENDED"
    REPAIRING = "REPAIRING"
    TERMINATED = "TERMINATED"
    PENDING_STOP = "PENDING_STOP"
    DEPROVISIONING = "DEPROVISIONING"
    PENDING = "PENDING"


class ProvisioningModel(_TolerantEnum):
    STANDARD = "STANDARD"
    SPOT = "SPOT"
    FLEX_START = "FLEX_START"
    RESERVATION_BOUND = "RESERVATION_BOUND"


# Not running and not on its way: stopped by someone, or ended by the service.
DOWN = frozenset({InstanceStatus.TERMINATED, InstanceStatus.STOPPED, InstanceStatus.SUSPENDED})


@dataclass(frozen=True)
class Gke:
    """The GKE node pool an instance belongs to: act on it there, not on the instance."""

    cluster: str
    node_pool: str
    location: str = ""


@dataclass(frozen=True)
class Instance(Named):
    """A TPU VM instance as the bot sees it."""

    name: str  # projects/P/zones/Z/instances/N
    machine_type: str  # the short name: ct6e-standard-4t, tpu7x-standard-4t
    status: InstanceStatus
    uid: str = ""  # the numeric id (what Monitoring names it by)
    provisioning: ProvisioningModel = ProvisioningModel.STANDARD
    labels: Mapping[str, str] = field(default_factory=dict)
    label_fingerprint: str = ""
    maintenance: Maintenance | None = None
    create_time: datetime | None = None
    last_start: datetime | None = None
    status_message: str = ""
    termination_action: str = ""  # STOP | DELETE (spot and flex-start)
    termination_time: datetime | None = None  # when a flex-start or timed run ends
    reservation: str = ""  # the reservation it consumes (full name)
    sub_block: str = ""  # the reservation sub-block its host is in (full name)
    host: str = ""  # its physical host, /cluster/block/sub-block/host
    placement_policy: str = ""  # the workload policy that placed it (a slice's host)
    group: str = ""  # the instance group that manages it, when known (full name)
    topology: str = ""  # the slice's accelerator topology, when it is a slice's host

    @property
    def node_id(self) -> str:
        """Its name in its zone (what people type), as a node's id."""
        return self.ref.id

    @property
    def chips(self) -> int | None:
        return chips_of(machine_type=self.machine_type)

    @property
    def generation(self) -> Generation | None:
        return generation_of(machine_type=self.machine_type)

    @property
    def spot(self) -> bool:
        return self.provisioning is ProvisioningModel.SPOT

    @property
    def gke(self) -> Gke | None:
        cluster = self.labels.get(GKE_CLUSTER)
        if not cluster:
            return None
        return Gke(cluster, self.labels.get(GKE_NODE_POOL, ""), self.labels.get(GKE_LOCATION, ""))

    @property
    def is_healthy(self) -> bool:
        return self.status is InstanceStatus.RUNNING and self.maintenance is None


@dataclass(frozen=True)
class InstanceListing:
    """One project's TPU instances; `unreachable` zones make it partial."""

    instances: Sequence[Instance]
    unreachable: Sequence[str] = ()

    @property
    def complete(self) -> bool:
        return not self.unreachable


# ----- groups and slices ---------------------------------------------------------------------


@dataclass(frozen=True)
class Host:
    """One instance of a group, as the group lists it."""

    name: str  # the instance's full name
    status: InstanceStatus


@dataclass(frozen=True)
class InstanceGroup(Named):
    """A managed group of instances; with a workload policy's topology, a multi-host slice."""

    name: str  # projects/P/zones/Z/instanceGroupManagers/M
    wanted: int  # the group's target size
    hosts: tuple[Host, ...] = ()  # by name
    topology: str = ""  # the accelerator topology its workload policy asks for ("" not a slice)
    topology_state: str = ""  # ACTIVE | ACTIVE_DEGRADED | INCOMPLETE | ACTIVATING
    policy: str = ""  # the workload policy (full name)
    create_time: datetime | None = None
    machine_type: str = ""  # its hosts', when known
    labels: Mapping[str, str] = field(default_factory=dict)  # its hosts', for routing

    @property
    def is_slice(self) -> bool:
        return bool(self.topology)

    @property
    def running(self) -> int:
        return sum(1 for h in self.hosts if h.status is InstanceStatus.RUNNING)

    def down(self, statuses: Mapping[str, InstanceStatus] | None = None) -> list[tuple[int, str]]:
        """(1-based position, what became of it) of each host not RUNNING, with `statuses`
        (instance name -> status now) over the group's own; a host short of the target size
        counts as down too."""
        now = statuses or {}
        found = []
        for position, host in enumerate(self.hosts, start=1):
            status = now.get(host.name, host.status)
            if status is not InstanceStatus.RUNNING:
                found.append((position, f"{ResourceName.parse(host.name).id} is {status.value}"))
        for position in range(len(self.hosts) + 1, self.wanted + 1):
            found.append((position, "is missing"))
        return found

    @property
    def gke(self) -> Gke | None:
        cluster = self.labels.get(GKE_CLUSTER)
        return Gke(cluster, self.labels.get(GKE_NODE_POOL, "")) if cluster else None


class FlexState(_TolerantEnum):
    STATE_UNSPECIFIED = "STATE_UNSPECIFIED"
    ACCEPTED = "ACCEPTED"
    CREATING = "CREATING"
    PROVISIONING = "PROVISIONING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


# Over: the request can be deleted (it keeps the hosts it brought).
FLEX_OVER = frozenset({FlexState.SUCCEEDED, FlexState.FAILED, FlexState.CANCELLED})


@dataclass(frozen=True)
class FlexRequest(Named):
    """A flex-start request for more hosts in a group: queued until capacity frees up, then its
    hosts run for the duration asked."""

    name: str  # projects/P/zones/Z/instanceGroupManagers/M/resizeRequests/R
    state: FlexState
    count: int = 0  # hosts asked for
    run_seconds: int | None = None
    create_time: datetime | None = None
    error: str = ""  # why it failed
    last_error: str = ""  # why the last attempt did not get capacity (still queued)
    description: str = ""
    machine_type: str = ""  # its group's hosts', when known
    labels: Mapping[str, str] = field(default_factory=dict)  # its group's hosts', for routing

    @property
    def group(self) -> str:
        owner = self.ref.owner
        return owner.full if owner is not None else ""

    def waited_seconds(self, now: datetime) -> float:
        return (now - self.create_time).total_seconds() if self.create_time else 0.0

    def as_body(self) -> dict[str, object]:
        """What it asked for, to ask for it again (the API's field names)."""
        body: dict[str, object] = {"name": self.id, "resizeBy": self.count}
        if self.run_seconds is not None:
            body["requestedRunDuration"] = {"seconds": str(self.run_seconds)}
        if self.description:
            body["description"] = self.description
        return body


# ----- reservations --------------------------------------------------------------------------


@dataclass(frozen=True)
class SubBlock(Named):
    """A reservation's smallest unit of hosts, with its health and maintenance."""

    name: str  # .../reservations/R/reservationBlocks/B/reservationSubBlocks/S
    count: int
    in_use: int = 0
    degraded: int = 0  # hosts
    maintenance: Maintenance | None = None  # pending or under way
    create_time: datetime | None = None

    @property
    def healthy(self) -> int:
        return max(0, self.count - self.degraded)


@dataclass(frozen=True)
class ReservationBlock(Named):
    name: str
    count: int
    in_use: int = 0
    sub_blocks: tuple[SubBlock, ...] = ()


@dataclass(frozen=True)
class Reservation(Named):
    name: str  # projects/P/zones/Z/reservations/R
    machine_type: str
    count: int
    in_use: int = 0
    blocks: tuple[ReservationBlock, ...] = ()
    create_time: datetime | None = None

    @property
    def sub_blocks(self) -> tuple[SubBlock, ...]:
        return tuple(s for b in self.blocks for s in b.sub_blocks)


@dataclass(frozen=True)
class CapacityListing:
    """One project's groups, flex-start requests and reservations; partial with `unreachable`."""

    project: str
    groups: Sequence[InstanceGroup] = ()
    flex: Sequence[FlexRequest] = ()
    reservations: Sequence[Reservation] = ()
    unreachable: Sequence[str] = ()
    requests: int = 0  # API requests it took

    @property
    def slices(self) -> list[InstanceGroup]:
        return [g for g in self.groups if g.is_slice]


@dataclass(frozen=True)
class SystemEvent:
    """Something the service did to an instance on its own: preempted it, or met a host error."""

    instance: str  # full name
    kind: str  # PREEMPTED | HOST_ERROR
    at: datetime | None = None


PREEMPTED, HOST_ERROR = "PREEMPTED", "HOST_ERROR"


def instance_name(project: str, zone: str, name: str) -> str:
    return ResourceName.of(project, zone, Kind.INSTANCE, name).full


def joined(instance: Instance, groups: Sequence[InstanceGroup]) -> Instance:
    """The instance with the group that manages it (and its slice's topology), when listed."""
    for group in groups:
        if any(h.name == instance.name for h in group.hosts):
            return replace(instance, group=group.name, topology=group.topology)
    return instance
