"""The emulator's own records. A node is ONE resource whichever API version made it; the wire
modules show it in each version's schema."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime

from tpu_emulator.errors import Json
from tpu_emulator.rules import rfc3339

V1_ALPHA1 = "V1_ALPHA1"
V1 = "V1"
V2 = "V2"
# The API versions whose paths the emulator serves; each shows operations in its own schema.
APIS = ("v1alpha1", "v1", "v2")


def parts(name: str) -> tuple[str, str, str]:
    """(project, zone, id) of `projects/P/locations/Z/<collection>/ID`."""
    bits = name.split("/")
    return bits[1], bits[3], bits[5]


def project_number(project: str) -> int:
    """A stable 12-digit number per project id (real projects have one)."""
    return 100000000000 + zlib.crc32(project.encode()) % 900000000000


@dataclass
class Node:
    name: str
    accelerator_type: str
    # tensorflowVersion in v1alpha1, runtimeVersion in v2: the software the node runs.
    version: str
    state: str
    created: datetime
    api_version: str
    cidr: str
    endpoints: list[str]  # one internal IP per worker host
    network: str = "default"
    subnetwork: str = "default"
    health: str = ""
    health_description: str = ""
    symptoms: list[Json] = field(default_factory=list)
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    preemptible: bool = False
    reserved: bool = False
    spot: bool = False
    use_service_networking: bool = False
    metadata: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    data_disks: list[Json] = field(default_factory=list)
    enable_external_ips: bool = False
    can_ip_forward: bool = False
    service_account: Json | None = None  # v2 ServiceAccount {email, scope}, if one was given
    secure_boot: bool = False
    queued_resource: str = ""
    multislice: bool = False
    maintenance: Json | None = None  # v2 UpcomingMaintenance

    @property
    def project(self) -> str:
        return self.name.split("/")[1]

    @property
    def zone(self) -> str:
        return self.name.split("/")[3]

    @property
    def uid(self) -> str:
        """The output-only numeric `id`, stable for a name."""
        return str(zlib.crc32(self.name.encode()) * 1000003 + 7)


@dataclass
class QueuedResource:
    name: str
    specs: list[Json]  # the request's tpu.nodeSpec, as given (node bodies in v2 JSON)
    node_names: list[str]  # the nodes it asks for, in order
    created: datetime
    state: str = "CREATING"
    initiator: str = ""
    failed: Json | None = None  # google.rpc.Status of failedData.error
    spot: bool = False
    guaranteed: Json | None = None
    reservation: str = ""
    policy: Json = field(default_factory=dict)  # queueingPolicy as given
    valid_after: datetime | None = None
    valid_until: datetime | None = None
    # Waits for capacity the emulator never frees on its own (seeded waiters): only an admin
    # inject moves it on.
    held: bool = False
    # When the current state's automatic step is due (ACCEPTED -> PROVISIONING -> ACTIVE).
    due: datetime | None = None
    busy: str = ""  # running operation, if any

    @property
    def zone(self) -> str:
        return self.name.split("/")[3]


@dataclass
class Op:
    """A long-running operation. One store serves both versions: each path shows it in its own
    schema (metadata and response `@type`), while `apiVersion` tells which version started it."""

    name: str
    api: str  # "v1alpha1", "v1" or "v2": the version that started it
    verb: str
    target: str
    created: datetime
    due: datetime
    previous_state: str | None = None
    # What the operation changes when it finishes (reimage: version; update: masked fields).
    changes: Json = field(default_factory=dict)
    done: bool = False
    ended: datetime | None = None
    error: Json | None = None
    # The result as each version shows it (a node differs; an Empty or a queued resource not).
    responses: dict[str, Json] | None = None
    cancel_requested: bool = False

    def to_json(self, view: str | None = None) -> Json:
        """The operation as `view` ("v1alpha1", "v1" or "v2"; default: its own version) shows
        it."""
        view = view or self.api
        metadata: Json = {
            "@type": f"type.googleapis.com/google.cloud.tpu.{view}.OperationMetadata",
            "createTime": rfc3339(self.created),
            "target": self.target,
            "verb": self.verb,
            "apiVersion": self.api,
        }
        # v1alpha1 and v1 always wrote cancelRequested; v2 follows proto3 JSON (false left out).
        if view != "v2" or self.cancel_requested:
            metadata["cancelRequested"] = self.cancel_requested
        body: Json = {"name": self.name, "metadata": metadata}
        if self.done:
            # proto3 JSON leaves out false booleans: a running operation has no "done".
            body["done"] = True
            assert self.ended is not None
            metadata["endTime"] = rfc3339(self.ended)
            if self.error is not None:
                body["error"] = self.error
            elif self.responses is not None:
                body["response"] = dict(self.responses[view])
        return body
