"""Whether a TPU does any work: its utilization as Cloud Monitoring reports it, what it is (kind,
chips, generation, provisioning), and the idle verdict with its reason.

Pure: no I/O, time comes in as `now`. The Monitoring adapter (bot/tpu/monitoring.py) fills a
`UsageListing` per project; the use cases join it with `TpuFacts` (from a node or a Compute
Engine instance) and ask `idle_verdict`. Unknown usage is never idle.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core.models import Node, NodeState
from bot.core.names import short_name

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# GCP label keys and values hold only lowercase letters, digits, `_` and `-` ("Keys and values
# can contain only lowercase letters, numeric characters, underscores, and dashes", Google
# Cloud's label requirements, e.g. cloud.google.com/kms/docs/labeling-keys): `tpu-bot/keep`
# cannot exist, so the default exemption is `tpu-bot-keep=true`.
DEFAULT_EXEMPT_LABELS: Mapping[str, str] = {"tpu-bot-keep": "true"}


class TpuKind(enum.StrEnum):
    NODE = "node"  # a Cloud TPU API node (TPU Node or TPU VM)
    INSTANCE = "instance"  # a Compute Engine instance with a TPU machine type


class Metric(enum.StrEnum):
    """What the Monitoring adapter can read (the metric types themselves are configuration)."""

    DUTY_CYCLE = "duty_cycle"
    TENSORCORE = "tensorcore_utilization"
    HBM_USED = "hbm_used"
    HBM_TOTAL = "hbm_total"


class Generation(enum.StrEnum):
    V2 = "v2"
    V3 = "v3"
    V4 = "v4"
    V5E = "v5e"
    V5P = "v5p"
    V6E = "v6e"
    TPU7X = "tpu7x"


class Provisioning(enum.StrEnum):
    ON_DEMAND = "on-demand"
    SPOT = "spot"  # spot and preemptible alike
    RESERVED = "reserved"  # reserved / committed capacity (RESERVATION_BOUND)
    FLEX_START = "flex-start"


# ----- chips and generations ---------------------------------------------------------------

# Accelerator types name TensorCores for v2, v3, v4 and v5p and chips for v5e and v6e:
# - v2: "specify the TPU version and the number of TPU cores ... v2-8"; a v2 Pod is "256 chips
#   (512 TensorCores)" (docs.cloud.google.com/tpu/docs/v2);
# - v3: "Each v3 TPU chip contains two TensorCores"; "v3-128" is 128 TensorCores
#   (cloud.google.com/tpu/docs/v3);
# - v4: "Each TPU v4 chip contains two TensorCores" (cloud.google.com/tpu/docs/v4); "v4-128
#   specifies ... 128 TensorCores" (cloud.google.com/tpu/docs/types-topologies);
# - v5p: topology 2x2x1 = 8 cores, 4 chips (cloud.google.com/tpu/docs/v5p);
# - v5e: AcceleratorType is "v$VERSION_NUMBER-$CHIP_COUNT" (cloud.google.com/tpu/docs/
#   supported-versions), one TensorCore per chip (cloud.google.com/tpu/docs/v5e);
# - v6e: one TensorCore per chip, chip-counted like v5e (docs.cloud.google.com/tpu/docs/v6e).
# - TPU7x: two TensorCores per chip (docs.cloud.google.com/tpu/docs/tpu7x); how a `tpu7x-N`
#   accelerator type counts was not found: its chips come from the topology or machine type.
# An AcceleratorConfig topology is "Topology of TPU in chips" (TPU API v2alpha1 reference), and
# a Compute Engine TPU machine type ends in its chip count (`ct6e-standard-4t`: 4 chips; see
# docs/emulator.md, Compute Engine facts).
_CORES_NAMED = {"v2": Generation.V2, "v3": Generation.V3, "v4": Generation.V4}
_CORES_NAMED["v5p"] = Generation.V5P
_CHIPS_NAMED = {"v5litepod": Generation.V5E, "v5e": Generation.V5E, "v6e": Generation.V6E}
_OTHER_NAMED = {"tpu7x": Generation.TPU7X}
_CONFIG_TYPES = {
    "V2": Generation.V2,
    "V3": Generation.V3,
    "V4": Generation.V4,
    "V5LITE_POD": Generation.V5E,
    "V5P": Generation.V5P,
    "V6E": Generation.V6E,
}
_MACHINE_PREFIXES = {
    "ct5lp-": Generation.V5E,
    "ct5p-": Generation.V5P,
    "ct6e-": Generation.V6E,
    "tpu7x-": Generation.TPU7X,
}
_ACCELERATOR = re.compile(r"^([a-z0-9]+?)-(\d+)$")
_MACHINE_CHIPS = re.compile(r"-(\d+)t$")
_TOPOLOGY = re.compile(r"^\d+(x\d+){1,2}$")


def chips_of(accelerator_type: str = "", topology: str = "", machine_type: str = "") -> int | None:
    """How many TPU chips: from the topology (chips by definition), else a Compute Engine
    machine type's `-<N>t`, else the accelerator type's name; None when none of them tells."""
    if _TOPOLOGY.match(topology):
        return math.prod(int(d) for d in topology.split("x"))
    found = _MACHINE_CHIPS.search(machine_type)
    if found:
        return int(found.group(1))
    match = _ACCELERATOR.match(accelerator_type)
    if match is None:
        return None
    family, size = match.group(1), int(match.group(2))
    if family in _CORES_NAMED:
        return max(1, size // 2)
    if family in _CHIPS_NAMED:
        return size
    return None


def generation_of(
    accelerator_type: str = "", config_type: str = "", machine_type: str = ""
) -> Generation | None:
    if config_type in _CONFIG_TYPES:
        return _CONFIG_TYPES[config_type]
    for prefix, generation in _MACHINE_PREFIXES.items():
        if machine_type.startswith(prefix):
            return generation
    match = _ACCELERATOR.match(accelerator_type)
    family = match.group(1) if match else ""
    return _CORES_NAMED.get(family) or _CHIPS_NAMED.get(family) or _OTHER_NAMED.get(family)


# ----- what a TPU is ------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageKey:
    """How Monitoring names a TPU: its project, zone and id (a node's id, or a Compute Engine
    instance's numeric id, which is what its `worker_id` label holds)."""

    kind: TpuKind
    project: str
    zone: str
    id: str


@dataclass(frozen=True)
class TpuFacts:
    """What the usage logic needs to know about one TPU, whichever API made it."""

    name: str  # full resource name
    ref: str  # what people type and buttons carry: P/Z/N
    key: UsageKey
    accelerator: str  # accelerator type (v5litepod-16) or machine type (ct6e-standard-4t)
    chips: int | None
    generation: Generation | None
    provisioning: Provisioning
    running: bool  # READY (a node) or RUNNING (an instance): it reports, and it costs
    created: datetime | None
    labels: Mapping[str, str] = field(default_factory=dict)
    can_stop: bool = False
    kept_until: datetime | None = None  # an active "keep for 24 h"


def facts_of_node(node: Node, kept_until: datetime | None = None) -> TpuFacts:
    config = node.accelerator_config
    if node.spot or node.preemptible:
        provisioning = Provisioning.SPOT
    elif node.reserved:
        provisioning = Provisioning.RESERVED
    else:
        provisioning = Provisioning.ON_DEMAND
    return TpuFacts(
        name=node.name,
        ref=short_name(node.name),
        key=UsageKey(TpuKind.NODE, node.project, node.zone, node.node_id),
        accelerator=node.accelerator_type,
        chips=chips_of(node.accelerator_type, config.topology if config else ""),
        generation=generation_of(node.accelerator_type, config.type if config else ""),
        provisioning=provisioning,
        running=node.state is NodeState.READY,
        created=node.create_time,
        labels=dict(node.labels),
        # Only single-host TPUs can be stopped (DESIGN.md: not pods).
        can_stop=node.state is NodeState.READY and not node.is_multi_host,
        kept_until=kept_until,
    )


_PROVISIONING_MODELS = {
    "STANDARD": Provisioning.ON_DEMAND,
    "SPOT": Provisioning.SPOT,
    "RESERVATION_BOUND": Provisioning.RESERVED,
    "FLEX_START": Provisioning.FLEX_START,
}


def facts_of_instance(
    *,
    project: str,
    zone: str,
    name: str,
    instance_id: str,
    machine_type: str,
    status: str,
    provisioning_model: str = "STANDARD",
    created: datetime | None = None,
    labels: Mapping[str, str] | None = None,
    kept_until: datetime | None = None,
    can_stop: bool = False,
) -> TpuFacts:
    """A Compute Engine TPU instance (`machine_type` is the short name, e.g. ct6e-standard-4t;
    `instance_id` the numeric id Monitoring reports it by; `can_stop`: a single VM that is
    neither a slice's host nor a GKE node, which the caller knows)."""
    return TpuFacts(
        name=f"projects/{project}/zones/{zone}/instances/{name}",
        ref=f"{project}/{zone}/{name}",
        key=UsageKey(TpuKind.INSTANCE, project, zone, instance_id),
        accelerator=machine_type,
        chips=chips_of(machine_type=machine_type),
        generation=generation_of(machine_type=machine_type),
        provisioning=_PROVISIONING_MODELS.get(provisioning_model, Provisioning.ON_DEMAND),
        running=status == "RUNNING",
        created=created,
        labels=dict(labels or {}),
        can_stop=can_stop and status == "RUNNING",
        kept_until=kept_until,
    )


# ----- what Monitoring said -----------------------------------------------------------------

Point = tuple[datetime, float]  # the end of an aligned period and the period's value


def _mean(points: Sequence[Point]) -> float | None:
    return math.fsum(v for _, v in points) / len(points) if points else None


@dataclass(frozen=True)
class TpuUsage:
    """One TPU's utilization: per-period values (newest first, `step` long each), reduced over
    its workers. Percentages for the duty cycle and TensorCore utilization, bytes for HBM."""

    key: UsageKey
    step: timedelta
    duty: tuple[Point, ...] = ()
    tensorcore: tuple[Point, ...] = ()
    hbm_used: tuple[Point, ...] = ()
    hbm_total: tuple[Point, ...] = ()
    unknown: str = ""  # why the usage is unknown ('' when it was read)

    @property
    def known(self) -> bool:
        return not self.unknown and bool(self.duty)

    def duty_over(self, span: timedelta) -> float | None:
        """The mean duty cycle over the newest `span` (None when unknown, or when a period is
        longer than `span`: a 3-hour mean says nothing of the last hour)."""
        if not self.known or self.step > span:
            return None
        periods = max(1, round(span / self.step))
        return _mean(self.duty[:periods])

    @property
    def duty_1h(self) -> float | None:
        return self.duty_over(HOUR)

    @property
    def duty_24h(self) -> float | None:
        return self.duty_over(DAY)

    @property
    def tensorcore_percent(self) -> float | None:
        return _mean(self.tensorcore)

    def hbm_used_over(self, span: timedelta) -> float | None:
        """Mean HBM used over the newest `span` (None when not read, or periods too long)."""
        if not self.hbm_used or self.step > span:
            return None
        return _mean(self.hbm_used[: max(1, round(span / self.step))])

    @property
    def hbm_used_bytes(self) -> float | None:
        return self.hbm_used[0][1] if self.hbm_used else None

    @property
    def hbm_total_bytes(self) -> float | None:
        return self.hbm_total[0][1] if self.hbm_total else None


@dataclass(frozen=True)
class UsageListing:
    """What one project's Monitoring said over `span` ending at `end`, in `step` periods.
    A kind of TPU it could not read is in `unknown` with the reason: its TPUs' usage is unknown,
    never idle. `missing` names optional metrics that could not be read."""

    project: str
    end: datetime
    span: timedelta
    step: timedelta
    usages: Mapping[UsageKey, TpuUsage] = field(default_factory=dict)
    unknown: Mapping[TpuKind, str] = field(default_factory=dict)
    missing: Mapping[Metric, str] = field(default_factory=dict)
    requests: int = 0  # API requests sent (pages included)

    @property
    def known(self) -> bool:
        return not self.unknown

    def usage_of(self, key: UsageKey) -> TpuUsage:
        if key.kind in self.unknown:
            return TpuUsage(key, self.step, unknown=self.unknown[key.kind])
        found = self.usages.get(key)
        if found is None:
            return TpuUsage(key, self.step, unknown="no utilization was reported for it")
        return found


# ----- the verdict --------------------------------------------------------------------------


class Why(enum.StrEnum):
    NOT_RUNNING = "not-running"
    EXEMPT = "exempt"
    KEPT = "kept"
    TOO_SMALL = "too-small"
    TOO_YOUNG = "too-young"
    UNKNOWN = "unknown"
    BUSY = "busy"
    IDLE = "idle"


@dataclass(frozen=True)
class Verdict:
    idle: bool
    reason: str
    why: Why


def percent(value: float) -> str:
    return f"{value:.1f} %"


def idle_verdict(
    usage: TpuUsage,
    facts: TpuFacts,
    threshold_percent: float,
    minutes: int,
    min_chips: int,
    exempt_labels: Mapping[str, str],
    now: datetime,
) -> Verdict:
    """Idle = running, not exempt or kept, at least `min_chips` chips, older than the window,
    and a known mean duty cycle below the threshold over the last `minutes`."""
    if not facts.running:
        return Verdict(False, "not running", Why.NOT_RUNNING)
    for key, value in exempt_labels.items():
        if facts.labels.get(key) == value:
            return Verdict(False, f"exempt by its label {key}={value}", Why.EXEMPT)
    if facts.kept_until is not None and now < facts.kept_until:
        return Verdict(False, f"kept until {facts.kept_until:%Y-%m-%d %H:%M} UTC", Why.KEPT)
    if facts.chips is not None and facts.chips < min_chips:
        return Verdict(
            False, f"{facts.chips} chips, fewer than the {min_chips} checked", Why.TOO_SMALL
        )
    window = timedelta(minutes=minutes)
    if facts.created is not None and now - facts.created < window:
        age = int((now - facts.created).total_seconds() // 60)
        return Verdict(
            False, f"running for {age} min, less than the {minutes} min window", Why.TOO_YOUNG
        )
    if not usage.known:
        return Verdict(False, f"usage unknown: {usage.unknown or 'no data'}", Why.UNKNOWN)
    duty = usage.duty_over(window)
    if duty is None:
        step = int(usage.step.total_seconds() // 60)
        return Verdict(
            False, f"usage unknown: read in {step} min periods, not over {minutes} min", Why.UNKNOWN
        )
    over = f"mean duty cycle {percent(duty)} over the last {minutes} min"
    if duty < threshold_percent:
        return Verdict(True, f"idle: {over} (below {threshold_percent:g} %)", Why.IDLE)
    return Verdict(False, f"busy: {over}", Why.BUSY)
