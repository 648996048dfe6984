"""Queued resources: a request for TPU capacity that, once granted, becomes one or more nodes.

Neutral like `bot.core.models`: parsing the API's JSON lives in `bot.tpu`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.core.models import AcceleratorConfig, _TolerantEnum
from bot.core.operations import OperationError

_QR_NAME = re.compile(r"^projects/([^/]+)/locations/([^/]+)/queuedResources/([^/]+)$")


class QueuedState(_TolerantEnum):
    STATE_UNSPECIFIED = "STATE_UNSPECIFIED"
    CREATING = "CREATING"
    ACCEPTED = "ACCEPTED"
    PROVISIONING = "PROVISIONING"
    FAILED = "FAILED"
    DELETING = "DELETING"
    ACTIVE = "ACTIVE"
    SUSPENDING = "SUSPENDING"
    SUSPENDED = "SUSPENDED"
    WAITING_FOR_RESOURCES = "WAITING_FOR_RESOURCES"


class StateInitiator(_TolerantEnum):
    STATE_INITIATOR_UNSPECIFIED = "STATE_INITIATOR_UNSPECIFIED"
    USER = "USER"
    SERVICE = "SERVICE"


# Still waiting for capacity (nothing to run on yet).
WAITING = frozenset({QueuedState.CREATING, QueuedState.ACCEPTED, QueuedState.WAITING_FOR_RESOURCES})
# Stay until someone deletes them, holding quota meanwhile.
STUCK = frozenset({QueuedState.FAILED, QueuedState.SUSPENDED})


@dataclass(frozen=True)
class QueuedNodeSpec:
    """One node (or one multislice group of nodes) a queued resource asks for."""

    parent: str
    node_id: str = ""
    accelerator_type: str = ""
    accelerator_config: AcceleratorConfig | None = None
    software_version: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    multislice_count: int = 0
    multislice_prefix: str = ""

    def node_ids(self, default_prefix: str = "") -> tuple[str, ...]:
        """The nodes this spec makes: one, or `<prefix>-0..N-1` for a multislice (the prefix
        defaults to the queued resource's id)."""
        if self.multislice_count:
            prefix = self.multislice_prefix or default_prefix
            return tuple(f"{prefix}-{i}" for i in range(self.multislice_count))
        return (self.node_id,) if self.node_id else ()


@dataclass(frozen=True)
class QueueingPolicy:
    """When a request may be granted; durations in seconds, absolute times as datetimes."""

    valid_after: datetime | None = None
    valid_until: datetime | None = None
    valid_after_seconds: float | None = None
    valid_until_seconds: float | None = None


@dataclass(frozen=True)
class QueuedResource:
    name: str
    state: QueuedState
    state_initiator: StateInitiator = StateInitiator.STATE_INITIATOR_UNSPECIFIED
    create_time: datetime | None = None
    node_specs: Sequence[QueuedNodeSpec] = ()
    spot: bool = False
    guaranteed: bool = False
    guaranteed_min_seconds: float | None = None
    queueing_policy: QueueingPolicy | None = None
    reservation: str = ""
    failure: OperationError | None = None

    def _parts(self) -> tuple[str, str, str]:
        match = _QR_NAME.match(self.name)
        if not match:
            raise ValueError(f"not a queued resource name: {self.name!r}")
        project, zone, qr_id = match.groups()
        return project, zone, qr_id

    @property
    def project(self) -> str:
        return self._parts()[0]

    @property
    def zone(self) -> str:
        return self._parts()[1]

    @property
    def id(self) -> str:
        return self._parts()[2]

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(
            f"{spec.parent}/nodes/{node_id}"
            for spec in self.node_specs
            for node_id in spec.node_ids(self.id)
        )

    @property
    def is_multislice(self) -> bool:
        return any(spec.multislice_count for spec in self.node_specs)

    @property
    def is_waiting(self) -> bool:
        return self.state in WAITING

    def waited_seconds(self, now: datetime) -> float:
        """How long it has been queued (0 when the create time is unknown)."""
        return (now - self.create_time).total_seconds() if self.create_time else 0.0


@dataclass(frozen=True)
class QueuedResourceRequest:
    """What it takes to create a queued resource (one node spec per slice group)."""

    node_specs: Sequence[QueuedNodeSpec]
    spot: bool = False
    guaranteed: bool = False
    reservation: str = ""
    valid_until_seconds: float | None = None
    valid_after_seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The request as approvals store it (JSON), and as its card lists it field by field."""
        specs = []
        for spec in self.node_specs:
            body: dict[str, Any] = {
                "parent": spec.parent,
                "nodeId": spec.node_id,
                "acceleratorType": spec.accelerator_type,
                "runtimeVersion": spec.software_version,
                "labels": dict(spec.labels),
                "description": spec.description,
                "multisliceCount": spec.multislice_count,
                "multislicePrefix": spec.multislice_prefix,
            }
            if spec.accelerator_config is not None:
                config = spec.accelerator_config
                body["acceleratorConfig"] = {"type": config.type, "topology": config.topology}
            specs.append(body)
        return {
            "nodeSpecs": specs,
            "spot": self.spot,
            "guaranteed": self.guaranteed,
            "reservation": self.reservation,
            "validUntilSeconds": self.valid_until_seconds,
        }

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> QueuedResourceRequest:
        specs = []
        for spec in body.get("nodeSpecs", []):
            config = spec.get("acceleratorConfig")
            specs.append(
                QueuedNodeSpec(
                    parent=spec["parent"],
                    node_id=spec.get("nodeId", ""),
                    accelerator_type=spec.get("acceleratorType", ""),
                    accelerator_config=AcceleratorConfig(config["type"], config["topology"])
                    if config
                    else None,
                    software_version=spec.get("runtimeVersion", ""),
                    labels=spec.get("labels") or {},
                    description=spec.get("description", ""),
                    multislice_count=int(spec.get("multisliceCount") or 0),
                    multislice_prefix=spec.get("multislicePrefix", ""),
                )
            )
        return cls(
            node_specs=tuple(specs),
            spot=bool(body.get("spot")),
            guaranteed=bool(body.get("guaranteed")),
            reservation=body.get("reservation", ""),
            valid_until_seconds=body.get("validUntilSeconds"),
        )


@dataclass(frozen=True)
class QueuedListing:
    """One project's queued resources; `unreachable` locations mean the listing is partial."""

    queued_resources: Sequence[QueuedResource]
    unreachable: Sequence[str] = ()

    @property
    def complete(self) -> bool:
        return not self.unreachable
