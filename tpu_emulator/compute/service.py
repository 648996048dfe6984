"""Compute Engine for TPU fleets, over the emulator's fleet and clock (one Emulator)."""

from __future__ import annotations

from tpu_emulator.compute.admin import AdminMixin
from tpu_emulator.compute.places import PlacesMixin


class Compute(AdminMixin, PlacesMixin):
    """zones, machineTypes, instances, zoneOperations, instanceGroupManagers (+ resize
    requests), resourcePolicies, reservations (+ blocks, sub-blocks), futureReservations."""
