"""Compute Engine's state beside the Cloud TPU API's, on the same emulator: its lock, clock,
faults and request counters are the Emulator's. Nothing runs in the background: every call
first brings the world to `clock()` by running the steps that fell due, in time order."""

from __future__ import annotations

import bisect
import heapq
import itertools
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from tpu_emulator.compute import catalog
from tpu_emulator.compute.errors import not_found, zone_unavailable
from tpu_emulator.compute.model import (
    ComputeOp,
    FutureReservation,
    Instance,
    Mig,
    Reservation,
    ResizeRequest,
    ResourcePolicy,
)
from tpu_emulator.faults import Faults

Json = dict[str, Any]
Step = Callable[[datetime], None]


class Host(Protocol):
    """What Compute shares with the emulator that holds it."""

    clock: Callable[[], datetime]
    op_seconds: float
    faults: Faults
    _lock: Any


class ComputeCore:
    # How long a host error or a reported host keeps an instance REPAIRING.
    repair_seconds = 60.0
    # How long zoneOperations.wait blocks (Google: up to 2 minutes) before answering anyway.
    wait_seconds = 120.0

    def __init__(self, host: Host) -> None:
        self._host = host
        self._lock = host._lock
        self.instances: dict[tuple[str, str], Instance] = {}  # (project, zone/name)
        self._instance_keys: dict[str, list[str]] = {}  # project -> sorted zones/Z/name keys
        self.ops: dict[tuple[str, str, str], ComputeOp] = {}  # (project, zone, name)
        self._op_keys: dict[str, list[str]] = {}  # project -> sorted zones/Z/name keys
        self._request_ids: dict[tuple[str, str], ComputeOp] = {}
        self.migs: dict[tuple[str, str, str], Mig] = {}  # (project, zone, name)
        self.policies: dict[tuple[str, str, str], ResourcePolicy] = {}  # (project, region, name)
        self.reservations: dict[tuple[str, str, str], Reservation] = {}
        self.futures: dict[tuple[str, str, str], FutureReservation] = {}
        self.waiting: list[ResizeRequest] = []  # resize requests held by a stockout
        self.projects: list[str] = []
        self._timers: list[tuple[datetime, int, Step]] = []
        self._seq = itertools.count()
        self._ids = itertools.count(7_000_000_000_000_000_000, 7919)

    # ----- time --------------------------------------------------------------------------------

    @property
    def clock(self) -> Callable[[], datetime]:
        return self._host.clock

    @property
    def faults(self) -> Faults:
        return self._host.faults

    def later(self, seconds: float, step: Step, start: datetime | None = None) -> datetime:
        due = (start or self.clock()) + timedelta(seconds=seconds)
        self.at(due, step)
        return due

    def at(self, due: datetime, step: Step) -> None:
        heapq.heappush(self._timers, (due, next(self._seq), step))

    def advance(self) -> None:
        now = self.clock()
        while self._timers and self._timers[0][0] <= now:
            due, _, step = heapq.heappop(self._timers)
            step(due)

    # ----- names -------------------------------------------------------------------------------

    def new_id(self) -> str:
        return str(next(self._ids))

    def op_name(self) -> str:
        """`operation-<ms>-<13 hex>-<8 hex>-<8 hex>`, as Compute names them."""
        millis = int(self.clock().timestamp() * 1000)
        hexes = secrets.token_hex(7)[:13], secrets.token_hex(4), secrets.token_hex(4)
        return f"operation-{millis}-" + "-".join(hexes)

    def zone(self, project: str, zone: str) -> None:
        """A known zone the caller can reach, else 404 or 503."""
        if zone not in catalog.ZONES:
            raise not_found(f"projects/{project}/zones/{zone}")
        if zone in self.faults.unreachable:
            raise zone_unavailable(zone)

    def region(self, project: str, region: str) -> None:
        if region not in catalog.REGIONS:
            raise not_found(f"projects/{project}/regions/{region}")

    def zone_scopes(self) -> list[str]:
        return [f"zones/{z}" for z in catalog.ZONES]

    def unreachable_scopes(self, partial: bool) -> list[str]:
        """Zones the `unreachable` fault hides: named when the caller asked for partial
        success, else the whole aggregated call fails, as Google's does."""
        zones = sorted(z for z in self.faults.unreachable if z in catalog.ZONES)
        if zones and not partial:
            raise zone_unavailable(zones[0])
        return [f"zones/{z}" for z in zones]

    # ----- instances' index --------------------------------------------------------------------

    def instance(self, project: str, zone: str, name: str) -> Instance:
        self.zone(project, zone)
        inst = self.instances.get((project, f"{zone}/{name}"))
        if inst is None:
            raise not_found(f"projects/{project}/zones/{zone}/instances/{name}")
        return inst

    def add_instance(self, inst: Instance) -> None:
        self.instances[(inst.project, inst.key)] = inst
        bisect.insort(self._instance_keys.setdefault(inst.project, []), f"zones/{inst.key}")

    def drop_instance(self, inst: Instance) -> None:
        del self.instances[(inst.project, inst.key)]
        keys = self._instance_keys[inst.project]
        del keys[bisect.bisect_left(keys, f"zones/{inst.key}")]
        inst.gen += 1

    def instance_keys(self, project: str, zone: str | None = None) -> list[str]:
        keys = self._instance_keys.get(project, [])
        if zone is None:
            return keys
        lo = bisect.bisect_left(keys, f"zones/{zone}/")
        hi = bisect.bisect_left(keys, f"zones/{zone}0")  # "0" sorts right after "/"
        return keys[lo:hi]

    def by_key(self, project: str, key: str) -> Instance:
        return self.instances[(project, key.removeprefix("zones/"))]

    # ----- operations' index -------------------------------------------------------------------

    def add_op(self, op: ComputeOp) -> None:
        self.ops[(op.project, op.zone, op.name)] = op
        bisect.insort(self._op_keys.setdefault(op.project, []), f"zones/{op.zone}/{op.name}")

    def op_keys(self, project: str, zone: str) -> list[str]:
        keys = self._op_keys.get(project, [])
        lo = bisect.bisect_left(keys, f"zones/{zone}/")
        hi = bisect.bisect_left(keys, f"zones/{zone}0")
        return keys[lo:hi]

    def forget_op(self, op: ComputeOp) -> None:
        del self.ops[(op.project, op.zone, op.name)]
        keys = self._op_keys[op.project]
        del keys[bisect.bisect_left(keys, f"zones/{op.zone}/{op.name}")]
