"""What the Compute Engine scenarios share: a stack whose projects read both sources of TPUs, the
emulator's seeded Compute fleet read back through Google's own client, and small helpers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httplib2
from googleapiclient import discovery

from devstack.admin import admin
from devstack.clock import FakeClock
from devstack.stack import ALERTS, APPROVALS, CONFIG, Stack, start_stack
from localslack import Message
from tpu_emulator import Emulator
from tpu_emulator.server import serve

PROJECT = "ml-prod"  # the emulator's first project: the slice, flex group, GKE pool, reservation
SLICE_ZONE, FLEX_ZONE = "us-central1-c", "us-east5-b"
SLICE = f"projects/{PROJECT}/zones/{SLICE_ZONE}/instanceGroupManagers/ironwood-slice-a"
FLEX_GROUP = f"projects/{PROJECT}/zones/{FLEX_ZONE}/instanceGroupManagers/flex-v6e"
GKE_GROUP = "gke-research-tpu-v6e-pool-5f2c9a1e-grp"
RESERVATION = f"projects/{PROJECT}/zones/{SLICE_ZONE}/reservations/ironwood-reservation"
BLOCK = f"{RESERVATION}/reservationBlocks/ironwood-reservation-block-0001"
SUB_BLOCK_USED = f"{BLOCK}/reservationSubBlocks/ironwood-reservation-block-0001-subblock-0001"
SUB_BLOCK_SPARE = f"{BLOCK}/reservationSubBlocks/ironwood-reservation-block-0001-subblock-0002"
LLM = "C0LLM"  # where the llm team's TPUs (the slice's hosts) are routed

COMPUTE_CONFIG: dict[str, Any] = {
    **CONFIG,
    "projects": [
        # Both sources (the default): TPU Nodes of the TPU API and Compute Engine's TPU VMs.
        {"id": PROJECT, "api": "v1alpha1"},
        {"id": "ml-infra", "api": "v2"},
        {"id": "ml-research", "api": "v1alpha1", "sources": ["compute"]},
    ],
    "routes": [{"match": {"labels": {"team": "llm"}}, "channel": LLM}],
    "approvals": {"required_for": ["stop", "delete", "report-faulty", "maintenance"]},
    "watch": {
        "poll_seconds": 60,
        "capacity_seconds": 60,
        "queue_wait_minutes": 60,
        "storm_threshold": 5,
    },
}


@contextmanager
def compute_stack(
    tmp_path: Path, clock: FakeClock, op_seconds: float = 0, config: Any = None
) -> Iterator[Stack]:
    """Four emulator projects (ml-infra speaks v2); the bot reads both sources of TPUs."""
    emulator = Emulator(clock=clock, op_seconds=op_seconds, fleet=40, projects=4)
    server = serve(emulator)
    stack = start_stack(tmp_path, emulator, server, clock, config=config or COMPUTE_CONFIG)
    stack.ws.add_channel(LLM, "llm-alerts")
    try:
        yield stack
    finally:
        stack.close()


def google(stack: Stack) -> Any:
    """Google's own client (googleapiclient, compute v1) on the emulator: how the tests read
    the world, apart from the bot's adapter."""
    return discovery.build(
        "compute",
        "v1",
        static_discovery=True,
        http=httplib2.Http(timeout=30),
        client_options={"api_endpoint": f"{stack.emulator_server.url}/compute/v1/"},
    )


def instances(stack: Stack, project: str = PROJECT) -> list[dict[str, Any]]:
    listed = google(stack).instances().aggregatedList(project=project, maxResults=500).execute()
    return [i for scope in listed.get("items", {}).values() for i in scope.get("instances", [])]


def name_of(item: dict[str, Any]) -> str:
    link = str(item["selfLink"])
    return link[link.index("projects/") :]


def google_status(stack: Stack, name: str) -> str:
    project = name.split("/")[1]
    return next(i["status"] for i in instances(stack, project) if name_of(i) == name)


def standalone(stack: Stack, *, spot: bool, project: str = PROJECT) -> dict[str, Any]:
    """A RUNNING TPU VM of no group (not a slice's host, not GKE's), spot or not."""
    for item in instances(stack, project):
        scheduling = item.get("scheduling") or {}
        if (
            item["status"] == "RUNNING"
            and (scheduling.get("provisioningModel") == "SPOT") == spot
            and not item.get("resourcePolicies")
            and "-vm-" in item["name"]
            and not (item.get("resourceStatus") or {}).get("upcomingMaintenance")
            and (item.get("labels") or {}).get("team") != "llm"  # routed to ALERTS
        ):
            return item
    raise AssertionError(f"no running {'spot' if spot else 'standard'} VM in {project}")


def calls(stack: Stack, key: str) -> int:
    return int(admin(stack.emulator_server, "stats")["requests"].get(key, 0))


def roots(stack: Stack, channel: str = ALERTS) -> list[Message]:
    return [m for m in stack.bot_messages(channel) if not m.thread_ts and not m.ephemeral_for]


def thread(stack: Stack, root: Message) -> list[Message]:
    return [m for m in stack.bot_messages(root.channel) if m.thread_ts == root.ts]


def later(stack: Stack, minutes: float = 1) -> None:
    stack.clock.advance(minutes * 60)
    stack.tick()


def approval_roots(stack: Stack) -> list[Message]:
    return [m for m in stack.bot_messages(APPROVALS) if not m.thread_ts]
