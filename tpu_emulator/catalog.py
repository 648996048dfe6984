"""What each emulated zone offers (v1alpha1 TPU Nodes, v2 TPU VMs), and the v1alpha1 seed."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from tpu_emulator.rules import hosts_of

V2 = ("v2-8", "v2-32", "v2-128", "v2-256", "v2-512")
V3 = ("v3-8", "v3-32", "v3-64", "v3-128", "v3-256", "v3-512")
VERSIONS = ("1.15.5", "2.8.0", "2.9.1", "2.10.0", "2.11.0", "2.12.0", "pytorch-1.13", "pytorch-2.0")

# zone -> (accelerator types, tensorflow versions); shaped after the zones that offered TPU nodes.
ZONES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "us-central1-a": (V3, VERSIONS),
    "us-central1-b": (V2 + V3, VERSIONS),
    "us-central1-c": (V2, VERSIONS),
    "us-central1-f": (V2 + V3, VERSIONS),
    "us-east1-d": (("v2-8", "v3-8"), VERSIONS[:-1]),
    "europe-west4-a": (V2 + V3, VERSIONS),
    "asia-east1-c": (V2, VERSIONS[:-2]),
    "us-central2-b": (("v3-8", "v3-32"), VERSIONS),
}

# v2 (TPU VMs): per generation, the types, their AcceleratorConfig type, and runtime versions.
# Topologies count chips; v2-v5p name cores (2 per chip), v5e and v6e name chips.
_CHIPS_2D = {
    1: "1x1",
    4: "2x2",
    8: "2x4",
    16: "4x4",
    32: "4x8",
    64: "8x8",
    128: "8x16",
    256: "16x16",
}
_CHIPS_3D = {4: "2x2x1", 8: "2x2x2", 16: "2x2x4", 32: "2x4x4", 64: "4x4x4", 128: "4x4x8"}
BASE = "tpu-ubuntu2204-base"
GENERATIONS: dict[str, tuple[str, tuple[int, ...], tuple[str, ...]]] = {
    # prefix: (AcceleratorConfig.type, sizes in the type name, runtime versions)
    "v2": ("V2", (8, 32, 128), (BASE, "tpu-vm-base", "tpu-vm-tf-2.16.1-pjrt", "tpu-vm-pt-2.0")),
    "v3": ("V3", (8, 32, 128), (BASE, "tpu-vm-base", "tpu-vm-tf-2.16.1-pjrt", "tpu-vm-pt-2.0")),
    "v4": (
        "V4",
        (8, 16, 32, 64, 128),
        (
            BASE,
            "tpu-vm-v4-base",
            "tpu-vm-tf-2.16.1-pjrt",
            "tpu-vm-tf-2.16.1-pod-pjrt",
            "tpu-vm-pt-2.4",
        ),
    ),
    "v5litepod": (
        "V5LITE_POD",
        (1, 4, 8, 16, 32, 64, 128, 256),
        (BASE, "v2-alpha-tpuv5-lite", "tpu-vm-tf-2.16.1-pjrt", "tpu-vm-pt-2.4"),
    ),
    "v5p": ("V5P", (8, 16, 32, 64, 128), (BASE, "v2-alpha-tpuv5", "tpu-vm-pt-2.4")),
    "v6e": ("V6E", (1, 4, 8, 16, 32, 64, 128, 256), (BASE, "v2-alpha-tpuv6e", "tpu-vm-pt-2.4")),
}
# zone -> generations offered to TPU VMs; shaped after where Google offers them.
V2_ZONES: dict[str, tuple[str, ...]] = {
    "us-central1-a": ("v3", "v5litepod"),
    "us-central1-b": ("v2", "v3"),
    "us-central1-c": ("v2",),
    "us-central1-f": ("v2", "v3"),
    "us-east1-d": ("v6e",),
    "europe-west4-a": ("v2", "v3", "v6e"),
    "asia-east1-c": ("v2",),
    "us-central2-b": ("v4",),
    "us-west4-a": ("v5litepod",),
    "us-east5-a": ("v5p",),
    "us-east5-b": ("v6e",),
    "europe-west4-b": ("v5litepod", "v5p"),
    "asia-northeast1-b": ("v6e",),
}
ALL_ZONES = tuple(sorted(set(ZONES) | set(V2_ZONES)))


def v2_types(zone: str) -> list[str]:
    """Accelerator types a zone offers to v2, e.g. v5litepod-16."""
    return [f"{g}-{n}" for g in V2_ZONES.get(zone, ()) for n in GENERATIONS[g][1]]


def v2_runtime_versions(zone: str) -> list[str]:
    return sorted({v for g in V2_ZONES.get(zone, ()) for v in GENERATIONS[g][2]})


def generation(accelerator_type: str) -> str:
    return accelerator_type.rsplit("-", 1)[0]


def accelerator_config(accelerator_type: str) -> dict[str, str]:
    """The v2 AcceleratorConfig for a type name ({"type": "V5P", "topology": "2x2x1"})."""
    prefix, _, size = accelerator_type.rpartition("-")
    kind, _, _ = GENERATIONS.get(prefix, ("TYPE_UNSPECIFIED", (), ()))
    count = int(size) if size.isdigit() else 0
    chips = count if prefix in ("v5litepod", "v6e") else max(1, count // 2)
    table = _CHIPS_3D if prefix in ("v4", "v5p") else _CHIPS_2D
    return {"type": kind, "topology": table.get(chips, f"{chips}x1")}


def type_for_config(config: dict[str, str]) -> str | None:
    """The type name an AcceleratorConfig asks for, or None if no offered type matches."""
    for prefix, (kind, sizes, _) in GENERATIONS.items():
        if kind != config.get("type"):
            continue
        for size in sizes:
            if accelerator_config(f"{prefix}-{size}")["topology"] == config.get("topology"):
                return f"{prefix}-{size}"
    return None


PROJECT_NAMES = ("ml-prod", "ml-research", "ml-sandbox", "ml-infra", "ml-vision", "ml-speech")
TEAMS = ("vision", "nlp", "speech", "rl", "recsys", "infra")
PURPOSES = ("train", "eval", "serve", "sweep", "bench", "dev")
SYMPTOMS = (
    "LOW_MEMORY",
    "OUT_OF_MEMORY",
    "EXECUTE_TIMED_OUT",
    "MESH_BUILD_FAIL",
    "HBM_OUT_OF_MEMORY",
)
UNHEALTHY = ("TIMEOUT", "UNHEALTHY_TENSORFLOW", "UNHEALTHY_MAINTENANCE")


def project_names(count: int) -> list[str]:
    names = list(PROJECT_NAMES[:count])
    names += [f"ml-team-{i:02d}" for i in range(len(names), count)]
    return names


def cidr_blocks(start: str = "10.0.0.0") -> Iterator[str]:
    """Consecutive /29 blocks."""
    base = int(ipaddress.IPv4Address(start))
    i = 0
    while True:
        yield f"{ipaddress.IPv4Address(base + 8 * i)}/29"
        i += 1


@dataclass(frozen=True)
class SeedNode:
    project: str
    zone: str
    node_id: str
    accelerator_type: str
    tensorflow_version: str
    state: str
    health: str
    health_description: str
    preemptible: bool
    labels: dict[str, str]
    symptoms: tuple[tuple[str, str, str], ...]  # (type, worker, details)
    create_time: datetime


def seed_fleet(count: int, projects: int, now: datetime, seed: int = 7) -> list[SeedNode]:
    """A deterministic, realistic fleet: mostly READY and HEALTHY, some stopped, a few ailing."""
    rng = random.Random(seed)
    names = project_names(max(1, projects))
    zones = list(ZONES)
    fleet: list[SeedNode] = []
    for i in range(count):
        project = names[i % len(names)]
        zone = zones[(i // len(names)) % len(zones)]
        types, versions = ZONES[zone]
        # Single-host types dominate real fleets.
        accelerator_type = rng.choices(
            types, weights=[8 if t.endswith("-8") else 1 for t in types]
        )[0]
        team = rng.choice(TEAMS)
        roll = rng.random()
        state, health, description = "READY", "HEALTHY", ""
        symptoms: tuple[tuple[str, str, str], ...] = ()
        preemptible = rng.random() < 0.3
        if roll < 0.04:
            state, health = "STOPPED", ""
        elif roll < 0.055 and preemptible:
            state, health = "PREEMPTED", ""
        elif roll < 0.07:
            health = rng.choice(UNHEALTHY)
            description = f"{health.lower().replace('_', ' ')} reported by the node agent"
            symptoms = (
                (rng.choice(SYMPTOMS), str(rng.randrange(hosts_of(accelerator_type))), "seeded"),
            )
        fleet.append(
            SeedNode(
                project=project,
                zone=zone,
                node_id=f"{team}-{rng.choice(PURPOSES)}-{i:05d}",
                accelerator_type=accelerator_type,
                tensorflow_version=rng.choice(versions),
                state=state,
                health=health,
                health_description=description,
                preemptible=preemptible,
                labels={"team": team, "env": "prod" if project == "ml-prod" else "research"},
                symptoms=symptoms,
                create_time=now - timedelta(hours=rng.randrange(1, 24 * 90)),
            )
        )
    return fleet
