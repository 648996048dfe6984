"""Neutral messages about TPU VM instances and the capacity around them (slices, reservations),
before `render` turns them into Slack blocks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.instances import Instance, InstanceGroup, Reservation
from bot.core.records import TrackedOperation
from bot.core.usage_messages import UsageDetail

SLICES_PER_PAGE = 20


@dataclass(frozen=True)
class InstanceDetail:
    """One TPU VM instance, with the group (a slice) it belongs to, if any."""

    instance: Instance
    operations: Sequence[TrackedOperation] = ()
    group: InstanceGroup | None = None
    usage: UsageDetail | None = None  # its utilization, when Cloud Monitoring is read


@dataclass(frozen=True)
class SliceList:
    """Multi-host slices: hosts healthy of wanted, topology; broken ones first."""

    slices: Sequence[InstanceGroup]
    now: datetime
    unreachable: Sequence[str] = ()
    total: int = 0  # all that matched (more than shown: narrow the query)


@dataclass(frozen=True)
class ReservationList:
    """Reservations with their blocks and sub-blocks: degraded hosts, maintenance."""

    reservations: Sequence[Reservation]
    now: datetime
    unreachable: Sequence[str] = ()
