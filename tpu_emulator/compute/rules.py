"""Compute Engine's own rules for what a request may say, written from compute.v1.json and
Compute's documentation: resource names, labels, machine type URLs, scheduling defaults and
durations."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from tpu_emulator.compute import catalog
from tpu_emulator.compute.errors import invalid
from tpu_emulator.rules import parse_time

Json = dict[str, Any]

NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_MACHINE_TYPE = re.compile(
    r"^(?:https?://[^/]+/compute/v1/)?(?:projects/[^/]+/)?zones/([^/]+)/machineTypes/([^/]+)$"
)
# Compute's bounds on maxRunDuration: 30 seconds to 120 days.
MIN_RUN, MAX_RUN = 30, 120 * 24 * 3600


def check_name(name: object, field: str = "resource.name") -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise invalid(
            field,
            name,
            "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'",
        )
    return name


def check_labels(labels: object, field: str = "resource.labels") -> dict[str, str]:
    if labels is None:
        return {}
    if not isinstance(labels, dict) or len(labels) > 64:
        raise invalid(field, labels, "Labels must be a map of at most 64 entries.")
    for key, value in labels.items():
        if not _LABEL_KEY.match(str(key)) or not _LABEL_VALUE.match(str(value)):
            raise invalid(
                f"{field}.{key}",
                value,
                "Label keys start with a lowercase letter; keys and values use lowercase "
                "letters, digits, '_' and '-', at most 63 characters.",
            )
    return {str(k): str(v) for k, v in labels.items()}


def machine_type(zone: str, value: object) -> str:
    """`zones/Z/machineTypes/T` (optionally with a project or the whole URL), offered in Z."""
    match = _MACHINE_TYPE.match(str(value or ""))
    if match is None or match.group(1) != zone:
        raise invalid("resource.machineType", value, "Invalid machine type URL for this zone.")
    name = match.group(2)
    if not catalog.offered(zone, name):
        raise invalid(
            "resource.machineType",
            value,
            f"Machine type with name '{name}' does not exist in zone '{zone}'.",
        )
    return name


def duration_seconds(value: object, field: str) -> int:
    """A Duration message {seconds, nanos} -> whole seconds, within Compute's bounds."""
    if not isinstance(value, dict):
        raise invalid(field, value, "A duration is an object with 'seconds'.")
    try:
        seconds = int(value.get("seconds", 0))
    except (TypeError, ValueError):
        raise invalid(field, value, "'seconds' must be an integer.") from None
    if not MIN_RUN <= seconds <= MAX_RUN:
        raise invalid(field, seconds, f"Must be between {MIN_RUN} seconds and 120 days.")
    return seconds


def scheduling(given: Json) -> Json:
    """The Scheduling an instance ends up with: the provisioning model's defaults filled in.
    TPU VMs cannot live-migrate (onHostMaintenance TERMINATE)."""
    out = dict(given)
    model = out.get("provisioningModel") or ("SPOT" if out.get("preemptible") else "STANDARD")
    out["provisioningModel"] = model
    transient = model in ("SPOT", "FLEX_START")
    if transient and out.get("automaticRestart"):
        raise invalid(
            "resource.scheduling.automaticRestart",
            True,
            f"{model} VMs cannot restart on their own.",
        )
    if out.get("onHostMaintenance", "TERMINATE") != "TERMINATE":
        raise invalid(
            "resource.scheduling.onHostMaintenance",
            out["onHostMaintenance"],
            "TPU VMs cannot live-migrate; use TERMINATE.",
        )
    out["onHostMaintenance"] = "TERMINATE"
    out.setdefault("automaticRestart", not transient)
    out["preemptible"] = model == "SPOT"
    if model == "FLEX_START" and "maxRunDuration" not in out:
        raise invalid(
            "resource.scheduling.maxRunDuration", None, "Flex-start VMs need a maxRunDuration."
        )
    if "maxRunDuration" in out:
        seconds = duration_seconds(out["maxRunDuration"], "resource.scheduling.maxRunDuration")
        out["maxRunDuration"] = {"seconds": str(seconds)}
    if "terminationTime" in out:
        parse_time(out["terminationTime"], "resource.scheduling.terminationTime")
    if transient or "maxRunDuration" in out or "terminationTime" in out:
        default = "DELETE" if model == "FLEX_START" else "STOP"
        out.setdefault("instanceTerminationAction", default)
    return out


def run_end(sched: Json, started: datetime) -> datetime | None:
    """When maxRunDuration (counted from the start) or terminationTime ends a run."""
    ends = []
    if "maxRunDuration" in sched:
        ends.append(started + timedelta(seconds=int(sched["maxRunDuration"]["seconds"])))
    if "terminationTime" in sched:
        ends.append(parse_time(sched["terminationTime"], "terminationTime"))
    return min(ends) if ends else None


def reservation_name(affinity: Json | None) -> str | None:
    """The reservation a SPECIFIC_RESERVATION affinity names, if any."""
    if not affinity or affinity.get("consumeReservationType") != "SPECIFIC_RESERVATION":
        return None
    values = affinity.get("values") or []
    if affinity.get("key") != "compute.googleapis.com/reservation-name" or len(values) != 1:
        raise invalid(
            "resource.reservationAffinity",
            affinity,
            "A specific reservation is named by key 'compute.googleapis.com/reservation-name' "
            "and one value.",
        )
    return str(values[0]).rsplit("/", 1)[-1]
