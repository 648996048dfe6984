"""Neutral, API-version-free data types shared by every layer of the bot (parsing the API's JSON
lives in `bot.tpu.wire_*`)."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.core.names import NODE_ID, NodeName

__all__ = ["NODE_ID", "NodeName"]  # re-exported: models speak of names too


class _TolerantEnum(enum.StrEnum):
    """A string enum mapping values it does not know to its first ('unspecified') member."""

    @classmethod
    def _missing_(cls, value: object) -> _TolerantEnum:
        return next(iter(cls))


class NodeState(_TolerantEnum):
    STATE_UNSPECIFIED = "STATE_UNSPECIFIED"
    CREATING = "CREATING"
    READY = "READY"
    RESTARTING = "RESTARTING"
    REIMAGING = "REIMAGING"
    DELETING = "DELETING"
    REPAIRING = "REPAIRING"
    STOPPED = "STOPPED"
    STOPPING = "STOPPING"
    STARTING = "STARTING"
    PREEMPTED = "PREEMPTED"
    TERMINATED = "TERMINATED"
    HIDING = "HIDING"
    HIDDEN = "HIDDEN"
    UNHIDING = "UNHIDING"
    UNKNOWN = "UNKNOWN"


class Health(_TolerantEnum):
    HEALTH_UNSPECIFIED = "HEALTH_UNSPECIFIED"
    HEALTHY = "HEALTHY"
    DEPRECATED_UNHEALTHY = "DEPRECATED_UNHEALTHY"
    TIMEOUT = "TIMEOUT"
    UNHEALTHY_TENSORFLOW = "UNHEALTHY_TENSORFLOW"
    UNHEALTHY_MAINTENANCE = "UNHEALTHY_MAINTENANCE"


class SymptomType(_TolerantEnum):
    SYMPTOM_TYPE_UNSPECIFIED = "SYMPTOM_TYPE_UNSPECIFIED"
    LOW_MEMORY = "LOW_MEMORY"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    EXECUTE_TIMED_OUT = "EXECUTE_TIMED_OUT"
    MESH_BUILD_FAIL = "MESH_BUILD_FAIL"
    HBM_OUT_OF_MEMORY = "HBM_OUT_OF_MEMORY"
    PROJECT_ABUSE = "PROJECT_ABUSE"


UNHEALTHY = frozenset(set(Health) - {Health.HEALTH_UNSPECIFIED, Health.HEALTHY})
# States a node cannot be started from again: it must be deleted and recreated.
UNRECOVERABLE = frozenset({NodeState.PREEMPTED, NodeState.TERMINATED})
TRANSITIONAL = frozenset(
    {
        NodeState.CREATING,
        NodeState.RESTARTING,
        NodeState.REIMAGING,
        NodeState.DELETING,
        NodeState.REPAIRING,
        NodeState.STOPPING,
        NodeState.STARTING,
        NodeState.HIDING,
        NodeState.UNHIDING,
    }
)


def parse_time(value: object) -> datetime | None:
    """RFC 3339 timestamp (as Google APIs write it) -> aware datetime; None when absent or bad."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    # Python < 3.11 style fractional seconds longer than 6 digits: trim to microseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    """Aware datetime -> RFC 3339 with 'Z', as Google APIs write it."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Symptom:
    symptom_type: SymptomType
    worker_id: str = ""
    details: str = ""
    create_time: datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        """What makes a symptom new: its type on a worker."""
        return (self.symptom_type.value, self.worker_id)


@dataclass(frozen=True)
class AcceleratorConfig:
    """A TPU shape by generation and topology (`V5LITE_POD`, `4x4`), as v2 can ask for one."""

    type: str
    topology: str


@dataclass(frozen=True)
class Maintenance:
    """Upcoming maintenance announced on a node."""

    type: str = ""  # SCHEDULED | UNSCHEDULED | UNKNOWN_TYPE
    status: str = ""  # PENDING | ONGOING | UNKNOWN
    window_start: datetime | None = None
    window_end: datetime | None = None
    latest_window_start: datetime | None = None
    can_reschedule: bool = False


@dataclass(frozen=True)
class _NodeSpecFields:
    accelerator_type: str
    software_version: str
    cidr_block: str = ""
    network: str = ""
    description: str = ""
    preemptible: bool = False
    reserved: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    use_service_networking: bool = False
    spot: bool = False
    accelerator_config: AcceleratorConfig | None = None


class NodeSpec(_NodeSpecFields):
    """What it takes to create a node: also what 'recreate' needs to remember.

    `software_version` is the TensorFlow version of a TPU Node or the runtime version of a TPU
    VM; `tensorflow_version` is its old name, still accepted and readable.
    """

    def __init__(self, *args: Any, tensorflow_version: str | None = None, **kwargs: Any) -> None:
        if tensorflow_version is not None:
            kwargs["software_version"] = tensorflow_version
        super().__init__(*args, **kwargs)

    @property
    def tensorflow_version(self) -> str:
        return self.software_version

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NodeSpec:
        """The inverse of `as_dict` (what approvals stored -> the spec to create)."""
        scheduling = data.get("schedulingConfig") or {}
        config = data.get("acceleratorConfig") or {}
        return cls(
            accelerator_type=str(data.get("acceleratorType", "")),
            software_version=str(data.get("tensorflowVersion") or data.get("runtimeVersion", "")),
            cidr_block=str(data.get("cidrBlock", "")),
            network=str(data.get("network", "")),
            description=str(data.get("description", "")),
            preemptible=bool(scheduling.get("preemptible")),
            reserved=bool(scheduling.get("reserved")),
            labels=dict(data.get("labels") or {}),
            use_service_networking=bool(data.get("useServiceNetworking")),
            spot=bool(scheduling.get("spot")),
            accelerator_config=(
                AcceleratorConfig(str(config.get("type", "")), str(config.get("topology", "")))
                if config
                else None
            ),
        )

    def as_dict(self) -> dict[str, Any]:
        """The spec as approvals store it (the API's field names; `tensorflowVersion` holds
        the software version whichever API will create it)."""
        body: dict[str, Any] = {
            "acceleratorType": self.accelerator_type,
            "tensorflowVersion": self.software_version,
        }
        if self.accelerator_config is not None:
            body["acceleratorConfig"] = {
                "type": self.accelerator_config.type,
                "topology": self.accelerator_config.topology,
            }
        if self.cidr_block:
            body["cidrBlock"] = self.cidr_block
        if self.network:
            body["network"] = self.network
        if self.description:
            body["description"] = self.description
        if self.labels:
            body["labels"] = dict(self.labels)
        if self.preemptible or self.reserved:
            body["schedulingConfig"] = {"preemptible": self.preemptible, "reserved": self.reserved}
        if self.spot:
            body["schedulingConfig"] = {"spot": True}
        if self.use_service_networking:
            body["useServiceNetworking"] = True
        return body


@dataclass(frozen=True)
class _NodeFields:
    name: str
    accelerator_type: str
    software_version: str
    state: NodeState
    health: Health = Health.HEALTH_UNSPECIFIED
    health_description: str = ""
    cidr_block: str = ""
    network: str = ""
    description: str = ""
    preemptible: bool = False
    reserved: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    symptoms: Sequence[Symptom] = ()
    ip_addresses: Sequence[str] = ()
    service_account: str = ""
    create_time: datetime | None = None
    spot: bool = False
    accelerator_config: AcceleratorConfig | None = None
    queued_resource: str = ""  # full name of the queued resource that made it, if any
    multislice_node: bool = False
    maintenance: Maintenance | None = None


class Node(_NodeFields):
    """A TPU node as the bot sees it (a TPU Node or a TPU VM, whichever API made it).

    `software_version` is the TensorFlow or runtime version; `tensorflow_version` is its old
    name, still accepted and readable.
    """

    def __init__(self, *args: Any, tensorflow_version: str | None = None, **kwargs: Any) -> None:
        if tensorflow_version is not None:
            kwargs["software_version"] = tensorflow_version
        super().__init__(*args, **kwargs)

    @property
    def tensorflow_version(self) -> str:
        return self.software_version

    @property
    def ref(self) -> NodeName:
        return NodeName.parse(self.name)

    @property
    def project(self) -> str:
        return self.ref.project

    @property
    def zone(self) -> str:
        return self.ref.zone

    @property
    def node_id(self) -> str:
        return self.ref.node_id

    @property
    def is_healthy(self) -> bool:
        return self.state is NodeState.READY and self.health not in UNHEALTHY

    @property
    def is_multi_host(self) -> bool:
        return is_multi_host(self.accelerator_type)

    @property
    def spec(self) -> NodeSpec:
        return NodeSpec(
            accelerator_type=self.accelerator_type,
            software_version=self.software_version,
            cidr_block=self.cidr_block,
            network=self.network,
            description=self.description,
            preemptible=self.preemptible,
            reserved=self.reserved,
            labels=dict(self.labels),
            spot=self.spot,
        )


def is_multi_host(accelerator_type: str) -> bool:
    """v2-8 and v3-8 are one host; v2-32, v3-128 ... are pods. Unknown shapes count as one host."""
    match = re.match(r"^v\d+[a-z]*-(\d+)$", accelerator_type)
    return match is not None and int(match.group(1)) > 8


@dataclass(frozen=True)
class ProjectScope:
    """A project and the locations the bot watches there (`-` = every zone)."""

    project: str
    locations: Sequence[str] = ("-",)


@dataclass(frozen=True)
class NodeListing:
    """One project's nodes; `unreachable` locations mean the listing is partial."""

    nodes: Sequence[Node]
    unreachable: Sequence[str] = ()

    @property
    def complete(self) -> bool:
        return not self.unreachable


@dataclass(frozen=True)
class Location:
    name: str
    location_id: str
    display_name: str = ""


@dataclass(frozen=True)
class AcceleratorType:
    name: str
    type: str


@dataclass(frozen=True)
class TensorFlowVersion:
    """A software version a zone offers: a TensorFlow version (TPU Nodes) or a runtime version
    (TPU VMs)."""

    name: str
    version: str


RuntimeVersion = TensorFlowVersion
