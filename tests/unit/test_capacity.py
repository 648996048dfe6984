"""RESOURCE_EXHAUSTED told apart by its message: stockout, quota or reservation."""

from __future__ import annotations

import pytest

from bot.core.capacity import CapacityProblem, capacity_problem

STOCKOUT = [
    'There is no more capacity in the zone "us-central2-b"; you can try in another zone where '
    "Cloud TPU Nodes are offered (see https://cloud.google.com/tpu/docs/regions) [EID: 0x1a2b].",
    "The zone 'projects/ml-prod/zones/us-east5-a' does not have enough resources available to "
    "fulfill the request. Try a different zone, or try again later.",
    "Insufficient capacity for v5p-128 in us-east5-a.",
]
QUOTA = [
    "Quota limit 'TPUV5sLitepodPerProjectPerZoneForTPUAPI' has been exceeded for project "
    "ml-infra in us-west4: quota metric 'tpu.googleapis.com/v5litepod' is exhausted.",
    "Quota 'TPUV4PodPerProjectPerZoneForTPUAPI' exhausted. Limit 32 in zone us-central2-b.",
    "You have reached TPUV6EPerProjectPerZoneForTPUAPI in us-east5-b.",
    "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of service "
    "'tpu.googleapis.com' for consumer 'project_number:123'.",
]
RESERVATION = [
    "Reservation projects/ml-prod/reservations/tpu-v5p not found.",
    "The specified reservation 'tpu-res-1' does not have enough capacity for the request.",
    "Reservation tpu-v6e is exhausted: all 64 chips are in use.",
]


@pytest.mark.parametrize(
    ("message", "expected"),
    [(m, CapacityProblem.STOCKOUT) for m in STOCKOUT]
    + [(m, CapacityProblem.QUOTA) for m in QUOTA]
    + [(m, CapacityProblem.RESERVATION) for m in RESERVATION],
)
def test_classifies_real_message_shapes(message: str, expected: CapacityProblem) -> None:
    assert capacity_problem(message) is expected


@pytest.mark.parametrize(
    "message", ["", "Too many requests, try again later.", "Operation was cancelled."]
)
def test_other_messages_are_none(message: str) -> None:
    assert capacity_problem(message) is None
