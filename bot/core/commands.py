"""Pure: the `/tpu` commands as data, their usage lines, and the error a bad one raises
(`bot.core.parsing` turns text into them)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.core.models import Health, NodeState
from bot.core.noderef import NodeRef
from bot.core.queued import QueuedState

USAGE: dict[str, str] = {
    "help": "/tpu help [COMMAND]",
    "list": "/tpu list [project=P] [zone=Z] [state=S] [health=H] [label.K=V ...]",
    "get": "/tpu get NODE",
    "stop": "/tpu stop NODE [reason]",
    "start": "/tpu start NODE",
    "reimage": "/tpu reimage NODE VERSION",
    "delete": "/tpu delete NODE [reason]",
    "create": (
        "/tpu create NAME zone=Z type=T version=V [project=P] [preemptible] [cidr=C] "
        "[network=N] [label.K=V ...] [description=...]"
    ),
    "ops": "/tpu ops [NODE]",
    "types": "/tpu types ZONE",
    "versions": "/tpu versions ZONE",
    "audit": "/tpu audit [N]",
    "recreate": "/tpu recreate NODE [runtime=R]",
    "label": "/tpu label NODE key=value ...",
    "queue list": "/tpu queue list [project=P] [zone=Z] [state=S]",
    "queue get": "/tpu queue get NAME",
    "queue create": (
        "/tpu queue create NAME zone=Z type=T runtime=R [project=P] [spot] [nodes=N] "
        "[valid-for=DURATION]"
    ),
    "queue delete": "/tpu queue delete NAME [force]",
    "queue reset": "/tpu queue reset NAME",
    "requeue": "/tpu requeue NAME",
    "approve": "/tpu approve REQUEST",
    "deny": "/tpu deny REQUEST",
    "ack": "/tpu ack ALERT",
    "mute": "/tpu mute ALERT",
}
SUMMARY: dict[str, str] = {
    "help": "this help, or one command's",
    "list": "nodes across the managed projects and zones, with filters",
    "get": "one node's card",
    "stop": "stop a single-host node (approval may be needed)",
    "start": "start a STOPPED node",
    "reimage": "reimage a node to a TensorFlow version (approval may be needed)",
    "delete": "delete a node (approval may be needed)",
    "create": "create a node (approval may be needed)",
    "ops": "recent long-running operations, of one node or all",
    "types": "accelerator types offered in a zone",
    "versions": "TensorFlow versions offered in a zone",
    "audit": "the latest audit entries (default 20)",
    "recreate": (
        "delete a PREEMPTED or TERMINATED node and create it again; with runtime=R any TPU VM, "
        "on that runtime version (may need approval)"
    ),
    "label": "set labels on a TPU VM (v2); key=value, value empty removes the key",
    "queue list": "queued resources (requests for capacity): waiting, failed, suspended first",
    "queue get": "one queued resource's card",
    "queue create": (
        "queue a request for TPU VMs (nodes=N: a multislice of N); valid-for like 6h or 2d "
        "(approval may be needed)"
    ),
    "queue delete": "delete a queued resource; force also deletes its nodes",
    "queue reset": "queue a FAILED or SUSPENDED request again",
    "requeue": (
        "delete a FAILED/SUSPENDED queued resource or a preempted spot VM and queue the same "
        "request again (what the Delete & requeue button runs)"
    ),
    "approve": "approve a pending request (what the Approve button runs)",
    "deny": "deny a pending request (what the Deny button runs)",
    "ack": "acknowledge an alert: it shows it is yours (what the Acknowledge button runs)",
    "mute": "mute an alert for an hour (what the Mute button runs)",
}
QUEUE_HELP = "NAME is `id`, `zone/id`, `project/zone/id` or a full queued resource name."
NODE_HELP = "NODE is `name`, `zone/name`, `project/zone/name` or a full resource name."
MAX_REASON = 500
MAX_AUDIT = 100


class Verb(enum.StrEnum):
    """The actions that change a node: what approvals, operations and the audit log speak of."""

    STOP = "stop"
    START = "start"
    REIMAGE = "reimage"
    DELETE = "delete"
    CREATE = "create"
    RECREATE = "recreate"
    LABEL = "label"
    QUEUE_CREATE = "queue-create"
    QUEUE_DELETE = "queue-delete"
    QUEUE_RESET = "queue-reset"
    REQUEUE = "requeue"  # delete a queued resource or a preempted spot VM, queue it again

    @property
    def on_queued_resource(self) -> bool:
        """Whether the action's target is a queued resource (else a node; requeue: either)."""
        return self in (Verb.QUEUE_CREATE, Verb.QUEUE_DELETE, Verb.QUEUE_RESET)


class UsageError(Exception):
    """What was wrong, the subcommand's usage, and a hint toward the right form."""

    def __init__(self, subcommand: str | None, problem: str, hint: str = "") -> None:
        super().__init__(problem)
        self.subcommand = subcommand
        self.problem = problem
        self.hint = hint

    @property
    def usage(self) -> str:
        if self.subcommand in USAGE:
            return USAGE[self.subcommand]
        return "/tpu help"


@dataclass(frozen=True)
class Help:
    topic: str | None = None


@dataclass(frozen=True)
class ListNodes:
    project: str | None = None
    zone: str | None = None
    state: NodeState | None = None
    health: Health | None = None
    labels: tuple[tuple[str, str], ...] = ()
    page: int = 0

    def to_text(self) -> str:
        """Back to `/tpu list` arguments: what a Next button carries."""
        parts = ["list"]
        for key, value in (("project", self.project), ("zone", self.zone)):
            if value:
                parts.append(f"{key}={value}")
        if self.state:
            parts.append(f"state={self.state.value}")
        if self.health:
            parts.append(f"health={self.health.value}")
        parts += [f"label.{k}={v}" for k, v in self.labels]
        return " ".join(parts)


@dataclass(frozen=True)
class GetNode:
    node: NodeRef


@dataclass(frozen=True)
class Stop:
    node: NodeRef
    reason: str = ""


@dataclass(frozen=True)
class Start:
    node: NodeRef


@dataclass(frozen=True)
class Reimage:
    node: NodeRef
    version: str | None = None  # None: offer the zone's versions to pick from


@dataclass(frozen=True)
class Delete:
    node: NodeRef
    reason: str = ""


@dataclass(frozen=True)
class Create:
    node_id: str
    zone: str
    accelerator_type: str
    version: str
    project: str | None = None
    preemptible: bool = False
    cidr: str = ""
    network: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Ops:
    node: NodeRef | None = None


@dataclass(frozen=True)
class Types:
    zone: str


@dataclass(frozen=True)
class Versions:
    zone: str


@dataclass(frozen=True)
class Audit:
    limit: int = 20


@dataclass(frozen=True)
class Recreate:
    node: NodeRef
    runtime: str | None = None  # a TPU VM created again on this runtime version


@dataclass(frozen=True)
class Label:
    node: NodeRef
    labels: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class QueueList:
    project: str | None = None
    zone: str | None = None
    state: QueuedState | None = None
    page: int = 0

    def to_text(self) -> str:
        """Back to `/tpu queue list` arguments: what a Next button carries."""
        parts = ["queue list"]
        for key, value in (("project", self.project), ("zone", self.zone)):
            if value:
                parts.append(f"{key}={value}")
        if self.state:
            parts.append(f"state={self.state.value}")
        return " ".join(parts)


@dataclass(frozen=True)
class QueueGet:
    name: NodeRef  # a queued resource is named like a node: id, zone/id, project/zone/id


@dataclass(frozen=True)
class QueueCreate:
    queued_id: str
    zone: str
    accelerator_type: str
    runtime: str
    project: str | None = None
    spot: bool = False
    nodes: int = 0  # > 0: a multislice of that many slices
    valid_for_seconds: int | None = None


@dataclass(frozen=True)
class QueueDelete:
    name: NodeRef
    force: bool = False


@dataclass(frozen=True)
class QueueReset:
    name: NodeRef


@dataclass(frozen=True)
class Requeue:
    name: NodeRef  # a queued resource, or a preempted spot VM
    node: bool = False  # named by its full node name: the VM, not a queued resource


@dataclass(frozen=True)
class Decide:
    """Approve or deny a pending request."""

    approval_id: str
    approve: bool


@dataclass(frozen=True)
class Acknowledge:
    incident_id: str


@dataclass(frozen=True)
class Mute:
    incident_id: str


Command = (
    Help
    | ListNodes
    | GetNode
    | Stop
    | Start
    | Reimage
    | Delete
    | Create
    | Ops
    | Types
    | Versions
    | Audit
    | Recreate
    | Label
    | QueueList
    | QueueGet
    | QueueCreate
    | QueueDelete
    | QueueReset
    | Requeue
    | Decide
    | Acknowledge
    | Mute
)
MUTATIONS = (
    Stop,
    Start,
    Reimage,
    Delete,
    Create,
    Recreate,
    Label,
    QueueCreate,
    QueueDelete,
    QueueReset,
    Requeue,
)
ACTION_OF: dict[type, Verb] = {
    Stop: Verb.STOP,
    Start: Verb.START,
    Reimage: Verb.REIMAGE,
    Delete: Verb.DELETE,
    Create: Verb.CREATE,
    Recreate: Verb.RECREATE,
    Label: Verb.LABEL,
    QueueCreate: Verb.QUEUE_CREATE,
    QueueDelete: Verb.QUEUE_DELETE,
    QueueReset: Verb.QUEUE_RESET,
    Requeue: Verb.REQUEUE,
}
