"""Chaos for Compute Engine's TPU VMs, through the emulator's own methods and admin side: preempt
a spot VM, break a host in a slice, degrade a reservation sub-block, leave a flex-start request
stuck; and heal them all."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from tpu_emulator import Emulator

Json = dict[str, Any]
Watched = Callable[[str], bool]
PARTIAL = {"returnPartialSuccess": "true", "maxResults": "500"}


def _name(item: Json) -> str:
    link = str(item["selfLink"])
    return link[link.index("projects/") :]


def _aggregated(
    method: Callable[[str, dict[str, str]], Json], project: str, key: str
) -> Iterator[Json]:
    token = ""
    while True:
        page = method(project, {**PARTIAL, **({"pageToken": token} if token else {})})
        for scope in (page.get("items") or {}).values():
            yield from scope.get(key, [])
        token = page.get("nextPageToken", "")
        if not token:
            return


def _projects(emulator: Emulator) -> list[str]:
    return list(emulator.compute.projects)


def instances(emulator: Emulator, watched: Watched) -> list[Json]:
    cut = set(emulator.faults.unreachable)
    found = []
    for project in _projects(emulator):
        for item in _aggregated(emulator.compute.aggregated_instances, project, "instances"):
            name = _name(item)
            if watched(name) and name.split("/")[3] not in cut:
                found.append(item)
    return found


def groups(emulator: Emulator, watched: Watched) -> list[Json]:
    migs = emulator.compute.aggregated_migs
    cut = set(emulator.faults.unreachable)
    return [
        item
        for project in _projects(emulator)
        for item in _aggregated(migs, project, "instanceGroupManagers")
        if watched(_name(item)) and _name(item).split("/")[3] not in cut
    ]


def sub_blocks(emulator: Emulator, watched: Watched) -> list[Json]:
    compute, found = emulator.compute, []
    for project in _projects(emulator):
        for res in _aggregated(compute.aggregated_reservations, project, "reservations"):
            zone = _name(res).split("/")[3]
            if not watched(_name(res)) or zone in emulator.faults.unreachable:
                continue
            for block in compute.list_blocks(project, zone, res["name"], {}).get("items", []):
                parent = f"reservations/{res['name']}/reservationBlocks/{block['name']}"
                found += compute.list_sub_blocks(project, zone, parent, {}).get("items", [])
    return found


def flex_requests(emulator: Emulator, mig: Json) -> list[Json]:
    project, zone = _name(mig).split("/")[1], _name(mig).split("/")[3]
    listed = emulator.compute.list_resize_requests(project, zone, mig["name"], {})
    return list(listed.get("items", []))


# ----- breaking ----------------------------------------------------------------------------------


def _preempt_spot(emulator: Emulator, watched: Watched, rng: random.Random) -> str:
    spot = [
        i
        for i in instances(emulator, watched)
        if i["status"] == "RUNNING" and i["scheduling"].get("provisioningModel") == "SPOT"
    ]
    if not spot:
        return "no running spot VM to preempt"
    victim = _name(rng.choice(spot))
    emulator.inject(victim, {"preempted": True})
    return f"preempted spot VM {victim.rsplit('/', 1)[1]}"


def _break_host(emulator: Emulator, watched: Watched, rng: random.Random) -> str:
    slices = [g for g in groups(emulator, watched) if g.get("resourcePolicies")]
    if not slices:
        return "no slice to break a host of"
    mig = _name(rng.choice(slices))
    emulator.inject(mig, {"brokenHosts": 1})
    return f"broke a host of slice {mig.rsplit('/', 1)[1]}"


def _degrade_sub_block(emulator: Emulator, watched: Watched, rng: random.Random) -> str:
    healthy = [s for s in sub_blocks(emulator, watched) if not s["healthInfo"]["degradedHostCount"]]
    if not healthy:
        return "no healthy reservation sub-block left"
    sub = _name(rng.choice(healthy))
    emulator.inject(sub, {"degradedHosts": 1})
    return f"degraded sub-block {sub.rsplit('/', 1)[1]}"


def _flex_stuck(emulator: Emulator, watched: Watched, rng: random.Random) -> str:
    """A flex-start request for hosts that do not come, asked for two hours ago."""
    flexible = [g for g in groups(emulator, watched) if flex_requests(emulator, g)]
    if not flexible:
        return "no flex-start group here"
    mig = rng.choice(flexible)
    project, zone = _name(mig).split("/")[1], _name(mig).split("/")[3]
    name = f"stuck-{rng.randrange(10**6):06d}"
    body = {"name": name, "resizeBy": 2, "requestedRunDuration": {"seconds": "7200"}}
    emulator.compute.insert_resize_request(project, zone, mig["name"], body, None)
    asked = (emulator.clock() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    request = f"{_name(mig)}/resizeRequests/{name}"
    emulator.inject(request, {"state": "stuck", "createTime": asked})
    return f"flex-start stuck: {name} waits for 2 hosts in {zone}"


COMPUTE_CHAOS: dict[str, Callable[[Emulator, Watched, random.Random], str]] = {
    "spot-preempt": _preempt_spot,
    "break-host": _break_host,
    "degrade-sub-block": _degrade_sub_block,
    "flex-stuck": _flex_stuck,
}


# ----- healing -----------------------------------------------------------------------------------


def heal(emulator: Emulator, watched: Watched) -> str:
    """Preempted and repairing VMs running again, maintenance cleared, sub-blocks healthy,
    flex-start requests granted."""
    fixed = 0
    for item in instances(emulator, watched):
        down = item["status"] == "TERMINATED" and item["scheduling"].get("provisioningModel") in (
            "SPOT",
            "FLEX_START",
        )
        change: Json = {}
        if down or item["status"] == "REPAIRING":
            change["status"] = "RUNNING"
        if (item.get("resourceStatus") or {}).get("upcomingMaintenance"):
            change["upcomingMaintenance"] = None
        if change:
            emulator.inject(_name(item), change)
            fixed += 1
    for sub in sub_blocks(emulator, watched):
        upkeep = sub.get("reservationSubBlockMaintenance") or {}
        if sub["healthInfo"]["degradedHostCount"] or upkeep.get("upcomingGroupMaintenance"):
            emulator.inject(_name(sub), {"degradedHosts": 0, "upcomingMaintenance": None})
            fixed += 1
    granted = 0
    for mig in groups(emulator, watched):
        for request in flex_requests(emulator, mig):
            if request["state"] in ("ACCEPTED", "FAILED"):
                emulator.inject(_name(request), {"state": "granted"})
                granted += 1
    return f"healed {fixed} TPU VMs and sub-blocks, granted {granted} flex-start requests"
